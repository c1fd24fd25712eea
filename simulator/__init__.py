"""The simulated myPizza world: a chain of pizza bakeries and the source systems it writes.

``simulate(world_dir, days=..., stores=...)`` creates or advances a deterministic world
whose point-of-sale database (any SQLAlchemy URL; ``pos.sqlite`` in the world folder by
default) looks like a real POS: orders hour by hour, late deliveries confirmed next
morning, refunds days later, price changes, loyalty customers. ``pos_url_for(world_dir)``
says where a world's POS database is. Each store's inventory system drops CSV and Parquet
files into a bucket (a folder of the world); ``bucket_url_for(world_dir)`` is its URL.
Never imports the pipelines or the command line.
The world's feedback platform (reviews, social mentions) is served over HTTP by
``FeedbackApiServer(world_dir, ...)``.
The franchise stores (another POS) write CSV exports into their own bucket, a folder of
the world; ``franchise_bucket_url_for(world_dir)`` is its URL.
"""

from simulator.feedback_api import FeedbackApiServer
from simulator.franchise import franchise_bucket_url_for
from simulator.inventory import bucket_url_for
from simulator.run import SimulationReport, simulate
from simulator.world import pos_url_for

__all__ = [
    "FeedbackApiServer",
    "SimulationReport",
    "bucket_url_for",
    "franchise_bucket_url_for",
    "pos_url_for",
    "simulate",
]
