"""Create, advance or restart a simulated world: :func:`simulate` and its report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from simulator import feedback, inventory, iot
from simulator.catalog import MAX_STORES, STORES
from simulator.franchise import write_exports as write_franchise_exports
from simulator.pos import writer
from simulator.pos.generate import PosState, StoreContext, initial_rows, simulate_day
from simulator.pos.schema import POS_TABLES
from simulator.world import (
    POS_FILE,
    WORLD_FILE,
    World,
    default_pos_url,
    load_world,
    save_world,
)

DEFAULT_STORES = 3
DEFAULT_DAYS = 90
DEFAULT_SEED = 42


@dataclass
class SimulationReport:
    """What one call of :func:`simulate` did, and how big the world is now."""

    world_dir: Path
    pos_url: str
    stores: int
    start: date
    end: date | None  # last simulated business day (None: no day simulated yet)
    days_simulated_now: int
    days_total: int
    inserted: dict[str, int] = field(default_factory=dict)  # rows inserted by this call
    updated: dict[str, int] = field(default_factory=dict)  # rows updated by this call
    totals: dict[str, int] = field(default_factory=dict)  # rows per table now
    seconds: float = 0.0
    created: bool = False

    def __str__(self) -> str:
        url = make_url(self.pos_url).render_as_string(hide_password=True)
        span = f"{self.start} .. {self.end}" if self.end else f"from {self.start}, no day yet"
        verb = "created" if self.created else "advanced" if self.days_simulated_now else "kept"
        lines = [
            f"world {verb}: {self.world_dir} ({self.stores} stores, {self.days_total} days, "
            f"{span})",
            f"POS database: {url}",
            f"this run: {self.days_simulated_now} day(s) in {self.seconds:.1f}s",
            f"  {'table':<12} {'inserted':>10} {'updated':>9} {'total':>10}",
        ]
        for t in POS_TABLES:
            lines.append(
                f"  {t:<12} {self.inserted.get(t, 0):>10,} {self.updated.get(t, 0):>9,} "
                f"{self.totals.get(t, 0):>10,}"
            )
        return "\n".join(lines)


def _store_contexts(codes: list[str]) -> list[StoreContext]:
    by_code = {s.code: s for s in STORES}
    return [
        StoreContext(i + 1, by_code[code], ZoneInfo(by_code[code].timezone))
        for i, code in enumerate(codes)
    ]


def _same_url(a: str, b: str) -> bool:
    return make_url(a).render_as_string(hide_password=False) == make_url(b).render_as_string(
        hide_password=False
    )


def _discard(world_dir: Path, world: World | None, url: str | None) -> None:
    """Throw a world away: its POS tables (wherever they live) and the folder contents."""
    urls = [u for u in (world.url(world_dir) if world else None, url) if u]
    for u in dict.fromkeys(urls):
        if _same_url(u, default_pos_url(world_dir)):
            continue  # the file goes with the folder
        engine = writer.connect(u)
        try:
            writer.drop_tables(engine)
        finally:
            engine.dispose()
    if not world_dir.exists():
        return
    if world is not None:
        for child in world_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    else:  # not a world folder (yet): only remove what the simulator would have made
        for child in world_dir.glob(POS_FILE + "*"):
            child.unlink()
        (world_dir / WORLD_FILE).unlink(missing_ok=True)


def _check_knobs(
    world: World,
    world_dir: Path,
    stores: int | None,
    start: date | None,
    seed: int | None,
    pos_url: str | None,
) -> None:
    wrong = []
    if stores is not None and stores != len(world.stores):
        wrong.append(f"stores={stores} (the world has {len(world.stores)})")
    if start is not None and start != world.start:
        wrong.append(f"start={start} (the world starts {world.start})")
    if seed is not None and seed != world.seed:
        wrong.append(f"seed={seed} (the world's seed is {world.seed})")
    if pos_url is not None and not _same_url(pos_url, world.url(world_dir)):
        wrong.append("pos_url (the world's POS is elsewhere)")
    if wrong:
        raise ValueError(
            f"The world in {world_dir} was made with other settings: {', '.join(wrong)}. "
            "Leave them out to advance it, or pass fresh=True (mypizza simulate --fresh) "
            "to discard it and start over."
        )


def simulate(
    world_dir: Path,
    *,
    days: int | None = None,
    stores: int | None = None,
    start: date | None = None,
    seed: int | None = None,
    fresh: bool = False,
    pos_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulationReport:
    """Create, advance or restart the simulated myPizza world in ``world_dir``.

    No world yet (or ``fresh``): make one with ``stores`` stores (default 3), first day
    ``start`` (default: ``days`` before today, so it ends yesterday) and ``seed`` (default
    42), and simulate ``days`` days (default 90). An existing world is advanced by ``days``
    days, or left as it is when ``days`` is None; ``stores``/``start``/``seed``/``pos_url``
    that differ from the world's raise ValueError. ``fresh`` discards the world first (its
    folder contents and its POS tables); a fresh world keeps the old POS URL unless
    ``pos_url`` is given. ``progress`` gets a short line per simulated day (every 7th day
    on runs over a month).
    """
    started = perf_counter()
    world_dir = Path(world_dir)
    if days is not None and days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    if stores is not None and not 1 <= stores <= MAX_STORES:
        raise ValueError(f"stores must be between 1 and {MAX_STORES}, not {stores}")

    world = load_world(world_dir)
    if not fresh:
        from simulator.live import check_no_partial_day

        check_no_partial_day(world_dir)
    if fresh:
        if world is not None and pos_url is None:
            pos_url = world.url(world_dir)
        _discard(world_dir, world, pos_url)
        world = None

    created = world is None
    if world is None:
        days = DEFAULT_DAYS if days is None else days
        start = start or (date.today() - timedelta(days=days))
        custom = pos_url if pos_url and not _same_url(pos_url, default_pos_url(world_dir)) else None
        world = World(
            seed=DEFAULT_SEED if seed is None else seed,
            stores=[s.code for s in STORES[: stores or DEFAULT_STORES]],
            start=start,
            pos_url=custom,
        )
    else:
        _check_knobs(world, world_dir, stores, start, seed, pos_url)
        days = days or 0

    url = world.url(world_dir)
    world_dir.mkdir(parents=True, exist_ok=True)
    # the kitchen devices (simulator/iot.py): a new world has them for its last days
    iot.configure(world.extra, world.start, world.next_day, days, created)
    contexts = _store_contexts(world.stores)
    inserted = dict.fromkeys(POS_TABLES, 0)
    updated: dict[str, set] = {t: set() for t in POS_TABLES}
    engine = writer.connect(url)
    try:
        _reach(engine, url)
        if created:
            state = _create(engine, world, world_dir, url, contexts, inserted)
        else:
            _require_tables(engine, world_dir, url)
            if days:
                state = _reopen(engine, world, world_dir, progress)

        every = 1 if days <= 31 else 7
        for i in range(days):
            day = world.next_day
            changes = simulate_day(world.seed, world.start, day, contexts, state)
            writer.assign_payment_ids(changes, state)
            # the feedback platform first: a day it holds is skipped if the POS must redo it
            feedback.record_day(world_dir, world.seed, day, contexts, changes, state)
            iot.record_day(world_dir, world.seed, world.extra, day, contexts, changes, state)
            with engine.begin() as conn:
                writer.write_day(conn, changes)
            world.days_simulated += 1
            save_world(world_dir, world)
            for t, rows in changes.inserts.items():
                inserted[t] += len(rows)
            for t, rows in changes.updates.items():
                updated[t].update(r["b_id"] for r in rows)
            if progress and ((i + 1) % every == 0 or i + 1 == days):
                orders = len(changes.inserts.get("orders", []))
                progress(f"simulated {day} (day {i + 1}/{days}): {orders:,} orders")
        write_files_to_last_day(engine, world, world_dir, progress)
        with engine.connect() as conn:
            totals = writer.row_counts(conn)
    finally:
        engine.dispose()

    return SimulationReport(
        world_dir=world_dir,
        pos_url=url,
        stores=len(world.stores),
        start=world.start,
        end=world.end,
        days_simulated_now=days,
        days_total=world.days_simulated,
        inserted=inserted,
        updated={t: len(ids) for t, ids in updated.items()},
        totals=totals,
        seconds=perf_counter() - started,
        created=created,
    )


def write_files_to_last_day(
    engine: Engine, world: World, world_dir: Path, progress: Callable[[str], None] | None = None
) -> None:
    """Bring the world's files up to its last simulated day: the franchise stores' CSV
    exports (another POS), then the stores' inventory files, which follow from the sales in
    the POS (every day without them yet)."""
    write_franchise_exports(world_dir, seed=world.seed, start=world.start, end=world.end)
    inventory.write_bucket(
        world_dir,
        seed=world.seed,
        start=world.start,
        store_codes=world.stores,
        end=world.end,
        engine=engine,
        progress=progress,
    )


def _create(
    engine: Engine,
    world: World,
    world_dir: Path,
    url: str,
    contexts: list[StoreContext],
    inserted: dict[str, int],
) -> PosState:
    """Make the POS tables and the world's first rows; write ``world.json``."""
    present = writer.existing_tables(engine)
    if present:
        with engine.connect() as conn:
            counts = writer.row_counts(conn, present)
        if any(counts.values()):
            raise ValueError(
                f"The POS database {make_url(url).render_as_string(hide_password=True)} "
                f"already holds POS tables with rows but {world_dir / WORLD_FILE} does not "
                "exist. Pass fresh=True (mypizza simulate --fresh) to drop them and start over."
            )
    writer.create_tables(engine)
    state = PosState()
    rows = initial_rows(world.seed, world.start, contexts, state)
    with engine.begin() as conn:
        writer.write_rows(conn, rows)
    for t, r in rows.items():
        inserted[t] += len(r)
    save_world(world_dir, world)
    return state


def _reach(engine: Engine, url: str) -> None:
    """Connect once, so an unreachable POS server is a one-line error naming the URL."""
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect():
            pass
    except OperationalError as error:
        from ingestion.pos import unreachable

        raise unreachable(url, error) from error


def _require_tables(engine: Engine, world_dir: Path, url: str) -> None:
    if len(writer.existing_tables(engine)) != len(POS_TABLES):
        raise ValueError(
            f"The POS database of the world in {world_dir} "
            f"({make_url(url).render_as_string(hide_password=True)}) is missing or incomplete. "
            "Pass fresh=True (mypizza simulate --fresh) to start over."
        )


def _reopen(
    engine: Engine, world: World, world_dir: Path, progress: Callable[[str], None] | None
) -> PosState:
    """Read the state of an existing world back from its POS database.

    A run stopped between committing a day and writing ``world.json`` leaves the database
    one day ahead; that day's writes are all stamped after 06:00 UTC of the day, later than
    anything before it, so the day is recognised and counted as done.
    """
    with engine.connect() as conn:
        last = writer.last_write(conn)
    if last is not None and last >= datetime.combine(world.next_day, time(3)):
        if last >= datetime.combine(world.next_day + timedelta(days=1), time(3)):
            raise ValueError(
                f"The POS database has rows written up to {last}, days after the end of the "
                f"world recorded in {world_dir / WORLD_FILE} ({world.end}): they do not "
                "belong together. Pass fresh=True (mypizza simulate --fresh) to start over."
            )
        if progress:
            progress(f"{world.next_day} was simulated by an interrupted run: keeping it")
        world.days_simulated += 1
        save_world(world_dir, world)
    with engine.connect() as conn:
        return writer.load_state(conn, world.seed, world.end)
