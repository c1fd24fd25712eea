"""mypizza: simulate the source systems, ingest them, build the warehouse.

The command line is the one place that composes: it reads the settings from the
environment, then hands paths to the simulator, the dlt pipelines and dbt.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

from mypizza import killpoints
from mypizza.outcome import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, Build, Ingest
from mypizza.settings import Settings
from mypizza.warehouse import publish, published_relations, writer_lock
from mypizza.world_sources import WORLD_SOURCES, preload

if TYPE_CHECKING:
    from ingestion.pipelines import LoadResult
    from mypizza.dbt_runner import DbtResult
    from mypizza.nightly import Plan

SOURCES = tuple(WORLD_SOURCES)

# The default world: small enough that `make run` takes about a minute here.
DEFAULT_STORES = 3
DEFAULT_DAYS = 90


def _say(message: str) -> None:
    print(f"[mypizza] {message}", flush=True)


# ---------------------------------------------------------------- simulate
def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from simulator import simulate

    if getattr(args, "live", False):
        return _simulate_live(args, settings)

    exists = (settings.world / "world.json").exists() and not args.fresh
    days = args.days if (args.days is not None or exists) else DEFAULT_DAYS
    stores = args.stores if (args.stores is not None or exists) else DEFAULT_STORES
    report = simulate(
        settings.world,
        days=days,
        stores=stores,
        start=args.start,
        seed=args.seed,
        fresh=args.fresh,
        pos_url=getattr(args, "pos_url", None),
        progress=_say,
    )
    print(report)
    return 0


def _simulate_live(args: argparse.Namespace, settings: Settings) -> int:
    """`mypizza simulate --live`: write the POS as it happens until SIGINT or SIGTERM."""
    import signal
    import threading

    from simulator.live import simulate_live

    if args.fresh or args.stores or args.start or args.seed or getattr(args, "pos_url", None):
        raise ValueError(
            "--live continues the existing world: create it first with `mypizza simulate` "
            "(--stores, --start, --seed, --fresh and --pos-url are for that)"
        )
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    _say(f"writing the POS of {settings.world} live at {args.speed:g}x (Ctrl-C stops)")
    report = simulate_live(
        settings.world,
        speed=args.speed,
        stop=stop,
        progress=_say,
        max_days=args.days,
        clock=args.clock,
    )
    print(report, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------- ingest
def _load(source: str, settings: Settings, alone: AbstractContextManager) -> LoadResult:
    """Load one source (in its own thread); its config defaults to the world's system.
    ``alone`` is held for the whole load: a lock shared by the first loads (see ingest)."""
    from ingestion.pipelines import load

    with alone:
        killpoints.ingesting(source)  # test hook
        with WORLD_SOURCES[source](settings.world):
            return load(source, settings.warehouse)


def first_loads(con: Any, sources: tuple[str, ...]) -> set[str]:
    """The sources that never committed a load into the warehouse (``con``): their first
    load is their whole history."""
    from ingestion.pipelines import raw_schema

    loaded = {
        schema
        for (schema,) in con.execute(
            "select table_schema from information_schema.tables where table_name = '_dlt_loads'"
        ).fetchall()
    }
    return {source for source in sources if raw_schema(source) not in loaded}


def ingest_workers(sources: int) -> int:
    """How many sources load at once: all of them, unless MYPIZZA_INGEST_WORKERS says fewer.
    At medium size on 2 cores a first load took 321 s all at once and 315 s one after
    another; a night with nothing new 14 s against 17 s (docs/performance.md)."""
    wanted = os.environ.get("MYPIZZA_INGEST_WORKERS")
    return max(1, min(sources, int(wanted))) if wanted else sources


def ingest(sources: tuple[str, ...], settings: Settings) -> Ingest:
    """Load ``sources`` from this one process, each in its own thread (they are
    independent: own system, own raw schema, own dlt state). A source that fails is
    reported in a line or two and the others go on.

    A source's first load (its whole history) waits for any other first load to finish:
    each holds its history in memory while it loads, so five at once needed the sum of
    them (4.5 GB for a fresh warehouse at 35 stores x 730 days), one at a time only the
    largest, and on 2 cores one at a time was no slower (docs/performance.md). A night's
    loads, small, run all at once beside them."""
    import duckdb

    # Imported here, once, before the threads: two threads importing pandas (or a dlt
    # source's module) for the first time at once can see it half-initialised.
    import pandas  # noqa: F401

    from ingestion.errors import explain

    for source in sources:
        importlib.import_module(f"ingestion.{source}")
    preload()
    killpoints.install()  # test hook
    outcome = Ingest()
    started = time.perf_counter()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with (
        # Held open while the threads load: the pipelines' own connections then share one
        # DuckDB instance, instead of racing to open and close it ("file handle conflict").
        duckdb.connect(str(settings.warehouse)) as con,
        ThreadPoolExecutor(ingest_workers(len(sources)), thread_name_prefix="ingest") as pool,
    ):
        first, one_at_a_time = first_loads(con, sources), threading.Lock()
        if len(first) > 1:
            _say(f"first loads, one at a time: {', '.join(s for s in sources if s in first)}")
        running = {
            pool.submit(
                _load, source, settings, one_at_a_time if source in first else nullcontext()
            ): source
            for source in sources
        }
        for future in as_completed(running):
            source, seconds = running[future], time.perf_counter() - started
            try:
                outcome.loaded[source] = future.result()
                print(outcome.loaded[source], flush=True)
            except Exception as error:  # one source fails alone, in plain words
                outcome.failed[source] = str(explain(source, error))
                outcome.seconds_to_fail[source] = seconds
                print(
                    f"[mypizza] {source} FAILED after {seconds:.1f} s: {outcome.failed[source]}",
                    file=sys.stderr,
                    flush=True,
                )
    return outcome


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    sources = SOURCES if args.source == "all" else (args.source,)
    with writer_lock(settings.warehouse, wait=args.wait):
        _say(f"ingesting {', '.join(sources)} into {settings.warehouse}")
        outcome = ingest(sources, settings)
    if not outcome.failed:
        return EXIT_OK
    return EXIT_PARTIAL if outcome.loaded else EXIT_FAILED


# ---------------------------------------------------------------- build
def build_plan(
    settings: Settings, full_refresh: bool = False, failed_sources: tuple[str, ...] = ()
) -> Plan:
    """What tonight's dbt build runs (mypizza/nightly.py), leaving out everything downstream
    of a source that failed to load (mypizza/audit.py); dbt's arguments are its build_args."""
    from mypizza import audit, nightly

    # The pipeline always builds production, whatever MYPIZZA_DBT_TARGET an analyst exported;
    # only what the night's loads and the project's changes need (mypizza/nightly.py), and
    # nothing downstream of a source that failed to load (mypizza/audit.py).
    held_back = audit.failed_source_selectors(failed_sources)
    plan = nightly.plan(settings.warehouse, settings.target_dir, full_refresh, held_back)
    _say(f"{plan.reason}\n{plan.shown(plan.build_args)}")
    return plan


def finish_build(
    settings: Settings, plan: Plan, build: DbtResult, failed_sources: tuple[str, ...] = ()
) -> Build:
    """After ``dbt build`` (its artifacts in the target folder): audit, docs if the project
    changed, then publish for readers all but what is held back. Shared by `mypizza` and
    the Dagster build (orchestration/definitions.py), which runs dbt its own way."""
    from mypizza import audit
    from mypizza.dbt_runner import BUILD_RESULTS, run_dbt
    from mypizza.prod_state import keep_prod_state, previously_held

    outcome = Build(build)
    if not build.ran:  # dbt stopped before running anything: nothing to audit or publish
        _say(f"dbt build did not run (exit {build.returncode}): nothing published")
        return outcome
    results = settings.target_dir / BUILD_RESULTS
    outcome.failures = audit.build_failures(settings.target_dir, results)
    outcome.held_back = audit.held_back(
        settings.target_dir, results, failed_sources, previously_held(settings.warehouse)
    )
    docs_needed = plan.docs_needed()
    if docs_needed:
        _say("dbt docs generate --static")
        docs_args = ["docs", "generate", "--static", "--target", "prod"]
        outcome.docs = run_dbt(
            settings.repo, settings.target_dir, *docs_args, quiet=True, check=False
        )
    else:
        _say(plan.docs_skipped())
    outcome.was_published = published_relations(settings.warehouse)
    _say(f"published {publish(settings.warehouse, outcome.held_back.values())}")
    outcome.published = True
    _say(f"kept its dbt state in {keep_prod_state(settings.target_dir, settings.warehouse)}")
    if not (outcome.held_back or failed_sources):
        # only a whole good night is the next one's starting point: after a partial one,
        # the next night builds from the last good one and so catches the held-back part up
        plan.done(docs_generated=docs_needed)
    return outcome


def _build(
    settings: Settings, full_refresh: bool = False, failed_sources: tuple[str, ...] = ()
) -> Build:
    """dbt build of what the night needs, audit, docs if the project changed, then publish
    for readers all but what is held back."""
    from mypizza.dbt_runner import run_dbt

    plan = build_plan(settings, full_refresh, failed_sources)
    build = run_dbt(settings.repo, settings.target_dir, *plan.build_args, check=False)
    return finish_build(settings, plan, build, failed_sources)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from mypizza.summary import print_report

    started = datetime.now(UTC)
    with writer_lock(settings.warehouse, wait=args.wait):
        build = _build(settings, full_refresh=args.full_refresh)
        return print_report(settings, "build", Ingest(), build, started)


# ---------------------------------------------------------------- run
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    with writer_lock(settings.warehouse, wait=args.wait):
        return _run(settings)


def _run(settings: Settings) -> int:
    from mypizza.summary import print_report

    started = datetime.now(UTC)
    if not (settings.world / "world.json").exists():
        _say(f"no world in {settings.world}: simulating the default one")
        cmd_simulate(
            argparse.Namespace(days=None, stores=None, start=None, seed=None, fresh=False),
            settings,
        )
    _say(f"ingesting {', '.join(SOURCES)}")
    loads = ingest(SOURCES, settings)
    build = _build(settings, failed_sources=tuple(loads.failed))
    return print_report(settings, "run", loads, build, started)


# ---------------------------------------------------------------- live
def cmd_live(args: argparse.Namespace, settings: Settings) -> int:
    from mypizza.live import run_loop

    if args.every <= 0:
        raise ValueError(f"--every must be more than 0 seconds, not {args.every:g}")
    return run_loop(settings, args.every, max_cycles=args.cycles)


# ---------------------------------------------------------------- status
def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mypizza.status import report

    now = args.now or _now_from_env()
    text, status = report(settings.warehouse, settings.target_dir, now)
    print(text)
    return status


def _now_from_env() -> datetime:
    value = os.environ.get("MYPIZZA_NOW")
    return _datetime(value) if value else datetime.now(UTC)


# ---------------------------------------------------------------- parser
def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date (YYYY-MM-DD)") from error


def _clock(value: str) -> dt_time:
    try:
        return dt_time.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{value}' is not a time of day (HH:MM)") from error


def _datetime(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{value}' is not an ISO 8601 time") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mypizza",
        description=__doc__.split("\n\n")[0].strip() if __doc__ else None,
        epilog="Paths: MYPIZZA_WAREHOUSE (default warehouse/mypizza.duckdb), "
        "MYPIZZA_WORLD (default data/world). Exit status of ingest, build and run: 0 all "
        "good; 3 partial (published, something held back: see the report or `mypizza "
        "status`); 1 nothing published; 2 a wrong command line (docs/failures.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    # what every command that writes the warehouse (ingest, build, run) accepts
    writes = argparse.ArgumentParser(add_help=False)
    writes.add_argument(
        "--wait", action="store_true", help="if another run holds the warehouse, wait for it"
    )

    simulate = commands.add_parser(
        "simulate",
        help="create or advance the simulated world (the source systems)",
        description="Create a simulated world if none exists, or advance the existing one "
        "by --days days (new rows plus updates to old ones).",
    )
    simulate.add_argument("--days", type=int, help=f"days to simulate (new world: {DEFAULT_DAYS})")
    simulate.add_argument("--stores", type=int, help=f"stores (new world: {DEFAULT_STORES})")
    simulate.add_argument("--start", type=_date, help="first business day of a new world")
    simulate.add_argument("--seed", type=int, help="random seed of a new world (default 42)")
    simulate.add_argument("--fresh", action="store_true", help="discard the world, start over")
    simulate.add_argument(
        "--pos-url",
        help="SQLAlchemy URL of the database to write a new world's POS into, e.g. "
        "postgresql://user@127.0.0.1:5432/pos (default: pos.sqlite in the world folder)",
    )
    simulate.add_argument(
        "--live",
        action="store_true",
        help="keep writing the POS as orders happen (deliveries, voids, refunds too), until "
        "Ctrl-C or SIGTERM, which writes the rest of the day at once (docs/live.md); with "
        "--days N, stop after N days",
    )
    simulate.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="with --live: run the world's clock N times faster than real time (default 1)",
    )
    simulate.add_argument(
        "--clock",
        type=_clock,
        help="with --live: start the first day's clock at this time (HH:MM, UTC); what "
        "happened before it that day is written at once (default: the day's first event)",
    )
    simulate.set_defaults(func=cmd_simulate)

    ingest = commands.add_parser(
        "ingest",
        parents=[writes],
        help="load a source system into the warehouse's raw schemas",
        description="Load what changed in a source system since the last load (dlt).",
    )
    ingest.add_argument("source", choices=[*SOURCES, "all"], help="which source system")
    ingest.set_defaults(func=cmd_ingest)

    build = commands.add_parser(
        "build",
        parents=[writes],
        help="dbt build, dbt docs generate, publish",
        description="Build and test every dbt model, generate the docs site, and publish "
        "all but what a failed model or error-severity test holds back.",
    )
    build.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    build.set_defaults(func=cmd_build)

    run = commands.add_parser(
        "run",
        parents=[writes],
        help="the whole job: simulate if needed, ingest all, build, docs, report",
        description="Simulate the default world if none exists, ingest every source (in "
        "parallel; a source that fails is reported and the others load), dbt build, audit, "
        "dbt docs generate, publish all but what is held back, and print a report.",
    )
    run.set_defaults(func=cmd_run)

    live = commands.add_parser(
        "live",
        help="keep the live slice (today's sales, deliveries) fresh within seconds",
        description="One long-running process: every --every seconds, load what the POS "
        "changed, dbt run the models tagged `live`, and publish them alone in "
        "<warehouse>.live.duckdb for the dashboard's Today page. It shares the writer lock "
        "with `mypizza run`, one cycle at a time: a run waits at most one cycle. Stops on "
        "Ctrl-C or SIGTERM (docs/live.md).",
    )
    live.add_argument(
        "--every", type=float, default=2.0, help="seconds from one cycle to the next (default 2)"
    )
    live.add_argument("--cycles", type=int, help="stop after this many cycles (default: never)")
    live.set_defaults(func=cmd_live)

    status = commands.add_parser(
        "status",
        help="per source: last load, rows, quarantine, freshness; the last build and run",
        description="Show, per source, the last successful load, the rows loaded, the rows "
        "held in quarantine, and how fresh its newest event is; then the last dbt build, "
        "and the last run's outcome: sources that did not load, parts held back from the "
        "published copy and since when. Exits 1 when a source is stale or never loaded or "
        "nothing was published, 3 when the last run was partial, else 0.",
    )
    status.add_argument(
        "--now",
        type=_datetime,
        help="judge freshness as of this time (ISO 8601, UTC unless given; default: "
        "MYPIZZA_NOW, else the clock)",
    )
    status.set_defaults(func=cmd_status)

    # the dashboard's users, and erasure on request (their logic: mypizza/users.py, forget.py)
    from mypizza import forget, users

    users.add_parser(commands)
    forget.add_parser(commands)
    # mypizza spark up|down|status: a local Spark cluster (mypizza/spark.py)
    from mypizza import spark

    spark.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    settings.export()
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, settings)
    except (ValueError, RuntimeError) as error:
        print(f"mypizza {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
