"""`mypizza live`: the POS on the dashboard within seconds (docs/live.md).

One long-running process keeps dlt and dbt warm (their modules imported, dbt's manifest
parsed once and handed to ``dbtRunner``) and runs a cycle every ``every`` seconds:

1. take the warehouse's writer lock (the one ``mypizza run`` takes; waiting for a night
   that holds it);
2. load what the POS changed (the POS dlt pipeline, incremental on ``updated_at``);
3. if raw_pos has a load the live slice has not seen: ``dbt run`` of the models tagged
   ``live`` (models/marts/live; their contracts enforce their keys as they are written,
   their data tests run in the nightly build);
4. publish the slice alone: its three tables and ``live_meta`` (``as_of``: when the POS
   was read) into ``<warehouse>.live.duckdb``, swapped in with an atomic rename, then
   release the lock. Readers (the dashboard's Today page) never see a half-written file,
   and never a copy of the whole warehouse.

The lock is held for one cycle and released between cycles, so a night waits at most one
cycle. A cycle that fails (the POS unreachable, a live test failing) publishes nothing: the
page keeps the last slice and shows its age; the loop goes on and catches up when the POS is
back. Each cycle's outcome is written to ``<warehouse>.live.json`` for ``mypizza status``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from mypizza.settings import Settings
from mypizza.warehouse import writer_lock

LIVE_TABLES = ("rpt_live_sales_by_hour", "rpt_live_store_today", "rpt_live_open_deliveries")
# the live slice: its models only. Their keys are enforced as each table is written (primary
# key and not null constraints of the contracts); their data tests and the reconciliation
# with the nightly marts run in every nightly build and in CI (docs/live.md)
LIVE_SELECTION = ("--select", "tag:live")
LOCK_HOLDER = "mypizza live"
MIN_GAP = 0.5  # seconds between releasing the lock and taking it again: a waiting run gets it


def live_path(warehouse: Path) -> Path:
    """The live slice readers use: ``mypizza.duckdb`` -> ``mypizza.live.duckdb``."""
    return warehouse.with_name(f"{warehouse.stem}.live{warehouse.suffix}")


def heartbeat_path(warehouse: Path) -> Path:
    """The loop's record of its cycles: ``mypizza.duckdb`` -> ``mypizza.live.json``."""
    return warehouse.with_name(f"{warehouse.stem}.live.json")


def stale_after(every: float) -> float:
    """Seconds after which the live slice counts as stale."""
    return max(30.0, 5 * every)


@dataclass
class Cycle:
    """What one cycle did and how long each step took (seconds)."""

    number: int
    started_at: str
    lock_wait: float = 0.0
    load: float = 0.0
    rows: int = 0
    dbt: float = 0.0
    publish: float = 0.0
    total: float = 0.0
    built: bool = False
    published: bool = False
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"cycle {self.number}: FAILED after {self.total:.1f} s: {self.error}"
        steps = f"lock {self.lock_wait:.1f} s, pos {self.rows:,} rows {self.load:.1f} s"
        if self.built:
            steps += f", dbt {self.dbt:.1f} s"
        steps += f", publish {self.publish:.2f} s"
        return f"cycle {self.number}: {self.total:.1f} s ({steps})"


@dataclass
class Heartbeat:
    """The loop's record (``<warehouse>.live.json``), rewritten after every cycle."""

    pid: int
    every: float
    started_at: str
    cycles: int = 0
    as_of: str | None = None  # the published slice's as_of
    last_cycle: dict = field(default_factory=dict)
    failing_since: str | None = None
    error: str | None = None
    stopped_at: str | None = None

    def write(self, warehouse: Path) -> None:
        path = heartbeat_path(warehouse)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)


def read_heartbeat(warehouse: Path) -> dict | None:
    path = heartbeat_path(warehouse)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _now() -> datetime:
    return datetime.now(UTC)


class LiveLoop:
    """The warm pipeline: ``start`` once, then ``cycle`` again and again."""

    def __init__(self, settings: Settings, every: float = 2.0) -> None:
        self.settings = settings
        self.every = every
        self.warehouse = settings.warehouse
        self.target = settings.target_dir / "live"
        self.runner = None
        self.pipeline = None
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="live-load")
        self.pos_url = ""
        self.signature: tuple | None = None
        self.built_load: str | None = None  # the newest raw_pos load the slice was built from
        self.heartbeat = Heartbeat(os.getpid(), every, _now().isoformat(timespec="seconds"))
        previous = read_heartbeat(self.warehouse) or {}
        self.heartbeat.as_of = previous.get("as_of")

    def start(self) -> None:
        """Import dlt and the POS source, make the POS pipeline, parse the dbt project once."""
        from dbt.cli.main import dbtRunner

        from ingestion.pipelines import make_pipeline
        from mypizza.world_sources import WORLD_SOURCES

        with WORLD_SOURCES["pos"](self.settings.world):
            self.pos_url = _pos_url()
        self.pipeline = make_pipeline("pos", self.warehouse, progress=None)
        os.chdir(self.settings.repo)  # dbt reads the project and profiles.yml from here
        parsed = dbtRunner().invoke(self._dbt_args("parse"))
        _release_dbt_connection()
        if not parsed.success:
            raise RuntimeError(f"dbt parse failed: {parsed.exception or 'see above'}")
        self.runner = dbtRunner(manifest=parsed.result)

    def _dbt_args(self, command: str, *args: str) -> list[str]:
        return [
            command,
            *args,
            "--target",
            "prod",
            "--target-path",
            str(self.target),
            "--quiet",
            "--no-use-colors",
            # one thread, relations cached as they are met: the three small models run
            # faster so than with the cache filled first or two threads (and two threads
            # with a lazy cache raced: "Cache inconsistency detected: in rename")
            "--no-populate-cache",
            "--threads",
            "1",
        ]

    def cycle(self, number: int) -> Cycle:
        started = time.perf_counter()
        cycle = Cycle(number, _now().isoformat(timespec="milliseconds"))
        try:
            holder = f"{LOCK_HOLDER} (pid {os.getpid()})"
            with writer_lock(self.warehouse, wait=True, holder=holder):
                cycle.lock_wait = time.perf_counter() - started
                as_of = _now()
                newest = self._load(cycle)
                if newest != self.built_load or not live_path(self.warehouse).exists():
                    self._build(cycle)
                    self.built_load = newest
                step = time.perf_counter()
                publish_live(self.warehouse, as_of, rebuild=cycle.built)
                cycle.published = True
                self.heartbeat.as_of = as_of.isoformat(timespec="milliseconds")
                cycle.publish = time.perf_counter() - step
            self.heartbeat.failing_since = None
            self.heartbeat.error = None
        except Exception as error:  # the loop goes on: the next cycle tries again
            cycle.error = _one_line(error)
            self.heartbeat.error = cycle.error
            self.heartbeat.failing_since = self.heartbeat.failing_since or cycle.started_at
        cycle.total = time.perf_counter() - started
        self.heartbeat.cycles = number
        self.heartbeat.last_cycle = asdict(cycle)
        self.heartbeat.write(self.warehouse)
        return cycle

    def _load(self, cycle: Cycle) -> str | None:
        """Load what the POS changed; returns the newest load id that wrote rows to raw_pos.
        A POS whose tables show the same row counts and newest ``updated_at`` as at the last
        cycle has nothing new: the dlt run (2-3 s even when empty) is skipped."""
        from ingestion.errors import explain
        from ingestion.pipelines import run_recovering
        from ingestion.pos import pos
        from ingestion.suppression import apply_suppression
        from mypizza.world_sources import WORLD_SOURCES

        def run() -> None:
            with WORLD_SOURCES["pos"](self.settings.world):
                run_recovering(self.pipeline, apply_suppression(pos(), self.warehouse))

        step = time.perf_counter()
        signature = pos_signature(self.pos_url)  # raises when the POS is unreachable
        if signature != self.signature or self.pipeline.has_pending_data:
            try:
                # in a worker thread: dlt takes SIGINT/SIGTERM over while it runs in the main
                # thread (a stop would be lost); elsewhere it leaves them to the loop
                self.worker.submit(run).result()
            except Exception as error:
                raise explain("pos", error) from error
            info = self.pipeline.last_trace.last_normalize_info
            counts = info.row_counts if info else {}
            cycle.rows = sum(n for t, n in counts.items() if not t.startswith("_dlt"))
            self.signature = signature
        cycle.load = time.perf_counter() - step
        return newest_data_load(self.warehouse)

    def _build(self, cycle: Cycle) -> None:
        step = time.perf_counter()
        try:
            result = self.runner.invoke(self._dbt_args("run", *LIVE_SELECTION))
        finally:
            _release_dbt_connection()
        cycle.dbt = time.perf_counter() - step
        if not result.success:
            failed = []
            for node in getattr(result.result, "results", None) or []:
                if str(node.status) in ("error", "fail"):
                    failed.append(f"{node.node.name}: {node.status} ({node.message})")
            reason = "; ".join(failed) or str(result.exception or "see the dbt log")
            raise RuntimeError(f"dbt run of the live slice failed: {reason}")
        cycle.built = True


def _pos_url() -> str:
    """The POS's SQLAlchemy URL as the POS source reads it (dlt config, or the world's)."""
    import dlt

    url = os.environ.get("SOURCES__POS__CREDENTIALS") or dlt.secrets.get("sources.pos.credentials")
    if not url:
        raise RuntimeError("no POS configured: set SOURCES__POS__CREDENTIALS")
    return str(url)


def pos_signature(url: str) -> tuple:
    """Row count and newest ``updated_at`` of each POS table: what changes when anything
    is written. A SQLite file is opened read-only (a missing one is an error, never a new
    empty file)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from ingestion.pos import POS_TABLES, unreachable

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        database = Path(parsed.database).resolve()
        if not database.exists():
            raise RuntimeError(f"cannot reach the POS database {url}: the file is missing")
        url = f"sqlite:///file:{database}?mode=ro&uri=true"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return tuple(
                tuple(conn.execute(text(f"select count(*), max(updated_at) from {t}")).one())
                for t in POS_TABLES
            )
    except Exception as error:
        raise unreachable(url, error) from error
    finally:
        engine.dispose()


def newest_data_load(warehouse: Path) -> str | None:
    """The newest dlt load id that wrote rows to raw_pos (a load that only moved dlt's
    state writes none): when it changes, the live slice is built again."""
    from ingestion.pos import POS_TABLES

    union = " union all ".join(
        f"select max(_dlt_load_id) as m from raw_pos.{t}" for t in POS_TABLES
    )
    with duckdb.connect(str(warehouse)) as con:
        row = con.execute(f"select max(m) from ({union})").fetchone()
    return row[0] if row else None


def _release_dbt_connection() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a build, so
    the file is free for the publish, and for other processes between cycles."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def publish_live(warehouse: Path, as_of: datetime, rebuild: bool = True) -> Path:
    """Write the live slice (its tables from the warehouse, or, with ``rebuild`` False, the
    previous slice's) and ``live_meta`` to a new file and swap it in atomically."""
    target = live_path(warehouse)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)  # a publish killed half-way (we hold the writer lock)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with duckdb.connect(str(staging)) as con:
            source = "wh"
            if rebuild or not target.exists():
                con.execute(f"attach '{warehouse}' as wh (read_only)")
            else:
                con.execute(f"attach '{target}' as wh (read_only)")
            con.execute("create schema marts")
            for table in LIVE_TABLES:
                con.execute(f"create table marts.{table} as select * from {source}.marts.{table}")
            con.execute(
                "create table marts.live_meta as select cast($as_of as timestamptz) as as_of, "
                "cast($pid as bigint) as loop_pid",
                {"as_of": as_of, "pid": os.getpid()},
            )
            con.execute("detach wh")
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def run_loop(settings: Settings, every: float, max_cycles: int | None = None) -> int:
    """Cycle every ``every`` seconds until SIGINT or SIGTERM (or ``max_cycles``)."""
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        if stop.is_set():  # asked twice: stop now
            os._exit(1)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    loop = LiveLoop(settings, every)
    say = _printer()
    say(f"starting: warming dlt and dbt (every {every:g} s into {live_path(settings.warehouse)})")
    loop.start()
    number = 0
    while not stop.is_set() and (max_cycles is None or number < max_cycles):
        number += 1
        began = time.monotonic()
        cycle = loop.cycle(number)
        say(cycle.line())
        stop.wait(max(MIN_GAP, every - (time.monotonic() - began)))
    loop.heartbeat.stopped_at = _now().isoformat(timespec="seconds")
    loop.heartbeat.write(settings.warehouse)
    loop.worker.shutdown()
    say(f"stopped after {number} cycles")
    return 0


def _printer():
    def say(message: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        print(f"[mypizza live {stamp}] {message}", flush=True)
        sys.stdout.flush()

    return say
