"""The simulated point-of-sale system: its database schema (``schema``), the day-by-day
generation of what the tills record (``generate``) and the writer that puts it into any
SQLAlchemy database (``writer``). The other systems of the world (inventory, feedback,
franchise exports, kitchen devices) read the POS's sales; the seeded randomness they share
with it is ``simulator.randomness``."""
