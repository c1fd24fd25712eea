"""The world as it happens: ``simulate_live`` writes the POS event by event, in time.

A day is first simulated whole, exactly as ``simulate`` does (the same seeded draws, the
same ids), then its rows are written the way a till writes them, each when its moment
comes on the simulated clock, which runs ``speed`` times faster than the wall clock:

- an order is inserted ``placed`` with its lines when it is taken; its payment when it is
  paid; it becomes ``completed``, ``in_delivery`` or ``voided`` when that happens (a line
  taken back is voided a minute later);
- yesterday's late deliveries are confirmed, refunds taken, loyalty customers change and
  sign up, menu prices change, each at its own time.

Every row is written with ``updated_at`` = its moment, in time order, so a reader that
loads incrementally on ``updated_at`` (the POS pipeline) never misses a row. Once a day's
last event is written the day is closed like a batch day (world.json, the feedback
platform, the kitchen devices, the franchise exports and the inventory bucket): a later
``mypizza simulate`` or ``mypizza run`` continues the same world, and the POS holds exactly
what a batch simulation of the same days writes. The clock skips the night: after a day's
last event it jumps to the next day's first.

Stopping (``stop`` set, on SIGINT or SIGTERM) writes the rest of the current day at once
and closes it, so the world is whole. A process killed with SIGKILL mid-day leaves a
partial day: the next start refuses to continue it (``live.sqlite`` says so).

Each order's commit time (wall clock) goes to ``live_commits`` in ``live.sqlite`` in the
world folder, beside the POS, not in it: the freshness benchmark reads it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path

from sqlalchemy import Engine, bindparam

from simulator import feedback, iot
from simulator.pos import writer
from simulator.pos.generate import DayChanges, PosState, simulate_day
from simulator.run import (
    _reach,
    _reopen,
    _require_tables,
    _store_contexts,
    write_files_to_last_day,
)
from simulator.world import WORLD_FILE, World, load_world, save_world

LIVE_FILE = "live.sqlite"
MAX_SLEEP = 0.25  # seconds: how soon a stop request is noticed

# what happens first among events at the same moment
INSERT_ORDER, INSERT_LINE, INSERT_PAYMENT, UPDATE = 0, 1, 2, 3


def live_path(world_dir: Path) -> Path:
    """The live simulator's own file in a world folder (not part of the POS)."""
    return Path(world_dir) / LIVE_FILE


def _connect_live(world_dir: Path) -> sqlite3.Connection:
    con = sqlite3.connect(live_path(world_dir), timeout=30)
    con.execute("pragma journal_mode=wal")
    con.execute(
        "create table if not exists live_commits (order_id integer primary key, "
        "store_id integer not null, business_date text not null, ordered_at text not null, "
        "committed_at real not null, catch_up integer not null default 0)"
    )
    con.execute(
        "create table if not exists live_days (business_date text primary key, "
        "started_at real not null, closed_at real)"
    )
    con.commit()
    return con


def read_commits(world_dir: Path) -> list[tuple[int, int, str, float, int]]:
    """(order id, store id, business date, commit time in unix seconds, catch_up) of every
    order the live simulator wrote, in order id order; ``catch_up`` is 1 for orders written
    at once (before ``--clock``, or the rest of a day at a stop), not as they happened."""
    path = live_path(world_dir)
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=30) as con:
        try:
            return con.execute(
                "select order_id, store_id, business_date, committed_at, catch_up "
                "from live_commits order by order_id"
            ).fetchall()
        except sqlite3.OperationalError as error:  # the simulator is creating the file
            if "no such table" in str(error):
                return []
            raise


@dataclass
class Event:
    at: datetime  # the simulated moment (naive UTC), also the row's updated_at
    kind: int
    seq: int
    table: str
    row: dict
    update: bool = False


@dataclass
class LiveReport:
    days_closed: list[date] = field(default_factory=list)
    orders: int = 0
    events: int = 0
    seconds: float = 0.0
    stopped_mid_day: date | None = None

    def __str__(self) -> str:
        days = ", ".join(map(str, self.days_closed)) or "none"
        mid = (
            f"; {self.stopped_mid_day} was written to its end at the stop"
            if self.stopped_mid_day
            else ""
        )
        return (
            f"live: {self.orders:,} orders ({self.events:,} POS writes) in "
            f"{self.seconds:.0f} s; days closed: {days}{mid}"
        )


def day_events(changes: DayChanges) -> list[Event]:
    """The day's rows as the till writes them, in time order."""
    events: list[Event] = []
    seq = 0

    def add(at: datetime, kind: int, table: str, row: dict, update: bool = False) -> None:
        nonlocal seq
        seq += 1
        events.append(Event(at, kind, seq, table, row, update))

    for row in changes.inserts.get("products", []):
        add(row["updated_at"], INSERT_ORDER, "products", row)
    for table in ("products", "customers", "orders"):
        for row in changes.updates.get(table, []):
            add(row["b_updated_at"], UPDATE, table, row, update=True)
    for row in changes.inserts.get("customers", []):
        add(row["updated_at"], INSERT_ORDER, "customers", row)
    for row in changes.inserts.get("orders", []):
        taken = row["ordered_at"]
        placed = {**row, "status": "placed", "completed_at": None, "updated_at": taken}
        add(taken, INSERT_ORDER, "orders", placed)
        if row["status"] != "placed":
            add(
                row["updated_at"],
                UPDATE,
                "orders",
                {
                    "b_id": row["order_id"],
                    "b_status": row["status"],
                    "b_completed_at": row["completed_at"],
                    "b_updated_at": row["updated_at"],
                },
                update=True,
            )
    for row in changes.inserts.get("order_items", []):
        taken = min(row["updated_at"], _ordered_at(changes, row["order_id"]))
        add(taken, INSERT_LINE, "order_items", {**row, "is_voided": False, "updated_at": taken})
        if row["is_voided"]:
            void = {"b_id": row["order_item_id"], "b_updated_at": row["updated_at"]}
            add(row["updated_at"], UPDATE, "order_items", void, update=True)
    for row in changes.inserts.get("payments", []):
        add(row["updated_at"], INSERT_PAYMENT, "payments", row)
    events.sort(key=lambda e: (e.at, e.kind, e.seq))
    return events


def _ordered_at(changes: DayChanges, order_id: int) -> datetime:
    index = changes.__dict__.setdefault("_ordered_at", None)
    if index is None:
        index = {o["order_id"]: o["ordered_at"] for o in changes.inserts.get("orders", [])}
        changes.__dict__["_ordered_at"] = index
    return index[order_id]


def _write(engine: Engine, events: list[Event]) -> None:
    """Apply events in one transaction, in their order."""
    tables = writer.TABLES
    with engine.begin() as conn:
        for e in events:
            table = tables[e.table]
            if not e.update:
                conn.execute(table.insert(), [e.row])
            elif e.table == "order_items":
                conn.execute(
                    table.update()
                    .where(table.c.order_item_id == bindparam("b_id"))
                    .values(is_voided=True, updated_at=bindparam("b_updated_at")),
                    [e.row],
                )
            else:
                conn.execute(writer._update_statement(e.table), [e.row])
        writer.advance_sequences(conn)


def _check_no_partial_day(con: sqlite3.Connection, world: World, world_dir: Path) -> None:
    open_day = con.execute("select business_date from live_days where closed_at is null").fetchone()
    if open_day and world.next_day <= date.fromisoformat(open_day[0]):
        raise ValueError(
            f"The live simulator is writing {open_day[0]} of the world in {world_dir}, or "
            "was killed while writing it (its POS then holds part of that day). Stop it "
            "first (Ctrl-C writes the rest of the day); if it was killed, start over with "
            "`mypizza simulate --fresh`."
        )


def check_no_partial_day(world_dir: Path) -> None:
    """Refuse a world whose POS holds part of a day (the live simulator was killed)."""
    world = load_world(world_dir)
    if world is None or not live_path(world_dir).exists():
        return
    con = _connect_live(world_dir)
    try:
        _check_no_partial_day(con, world, world_dir)
    finally:
        con.close()


def simulate_live(
    world_dir: Path,
    *,
    speed: float = 1.0,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    max_days: int | None = None,
    clock: dt_time | None = None,
) -> LiveReport:
    """Write the world's next days into its POS as they happen, ``speed`` times faster than
    real time, until ``stop`` is set (or ``max_days`` days are closed). ``clock`` (UTC)
    starts the first day's clock at that time: what happened before is written at once."""
    if speed <= 0:
        raise ValueError(f"speed must be more than 0, not {speed}")
    world_dir = Path(world_dir)
    world = load_world(world_dir)
    if world is None:
        raise ValueError(
            f"No world in {world_dir} ({WORLD_FILE} is missing): create one first with "
            "`mypizza simulate`."
        )
    stop = stop or threading.Event()
    report = LiveReport()
    started = time.time()
    url = world.url(world_dir)
    contexts = _store_contexts(world.stores)
    live = _connect_live(world_dir)
    engine = writer.connect(url)
    try:
        _check_no_partial_day(live, world, world_dir)
        _reach(engine, url)
        _require_tables(engine, world_dir, url)
        iot.configure(world.extra, world.start, world.next_day, 1, False)
        state = _reopen(engine, world, world_dir, progress)
        while not stop.is_set() and (max_days is None or len(report.days_closed) < max_days):
            _live_day(
                engine,
                live,
                world,
                world_dir,
                contexts,
                state,
                speed,
                stop,
                report,
                progress,
                clock,
            )
            clock = None
    finally:
        engine.dispose()
        live.close()
    report.seconds = time.time() - started
    return report


def _live_day(
    engine: Engine,
    live: sqlite3.Connection,
    world: World,
    world_dir: Path,
    contexts: list,
    state: PosState,
    speed: float,
    stop: threading.Event,
    report: LiveReport,
    progress: Callable[[str], None] | None,
    clock: dt_time | None = None,
) -> None:
    day = world.next_day
    changes = simulate_day(world.seed, world.start, day, contexts, state)
    writer.assign_payment_ids(changes, state)
    # the other systems of the day first, as a batch day does
    feedback.record_day(world_dir, world.seed, day, contexts, changes, state)
    iot.record_day(world_dir, world.seed, world.extra, day, contexts, changes, state)
    events = day_events(changes)
    live.execute(
        "insert or replace into live_days values (?, ?, null)", (day.isoformat(), time.time())
    )
    live.commit()
    if progress:
        progress(f"live: {day} begins ({len(changes.inserts['orders']):,} orders)")
    i = 0
    if events:
        sim0, wall0 = events[0].at, time.monotonic()
        catch_up = False
        if clock is not None:
            sim0 = max(sim0, datetime.combine(day, clock))
            catch_up = True  # the first batch: everything before the clock, at once
        while i < len(events):
            if stop.is_set():
                report.stopped_mid_day = day
                due = len(events)  # the rest of the day, at once: the world stays whole
                catch_up = True
            else:
                now = sim0.timestamp() + (time.monotonic() - wall0) * speed
                due = i
                while due < len(events) and events[due].at.timestamp() <= now:
                    due += 1
                if due == i:
                    wait = (events[i].at.timestamp() - now) / speed
                    stop.wait(min(MAX_SLEEP, max(wait, 0.001)))
                    continue
            batch = events[i:due]
            _write(engine, batch)
            committed = time.time()
            orders = [e.row for e in batch if e.table == "orders" and not e.update]
            live.executemany(
                "insert or replace into live_commits values (?, ?, ?, ?, ?, ?)",
                [
                    (
                        o["order_id"],
                        o["store_id"],
                        o["business_date"].isoformat(),
                        o["ordered_at"].isoformat(),
                        committed,
                        int(catch_up),
                    )
                    for o in orders
                ],
            )
            live.commit()
            catch_up = False
            report.orders += len(orders)
            report.events += len(batch)
            i = due
    _close_day(engine, world, world_dir)
    live.execute(
        "update live_days set closed_at = ? where business_date = ?",
        (time.time(), day.isoformat()),
    )
    live.commit()
    report.days_closed.append(day)
    if progress:
        progress(f"live: {day} closed")


def _close_day(engine: Engine, world: World, world_dir: Path) -> None:
    """What a batch day does after the POS: world.json, franchise exports, inventory."""
    world.days_simulated += 1
    save_world(world_dir, world)
    write_files_to_last_day(engine, world, world_dir)
