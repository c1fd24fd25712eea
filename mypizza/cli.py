"""mypizza: simulate the source systems, ingest them, build the warehouse.

The command line is the one place that composes: it reads the settings from the
environment, then hands paths to the simulator, the dlt pipelines and dbt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from mypizza import killpoints
from mypizza.settings import Settings
from mypizza.warehouse import publish, writer_lock
from mypizza.world_sources import WORLD_SOURCES

SOURCES = tuple(WORLD_SOURCES)

# The default world: small enough that `make run` takes about a minute here.
DEFAULT_STORES = 3
DEFAULT_DAYS = 90


def _say(message: str) -> None:
    print(f"[mypizza] {message}", flush=True)


# ---------------------------------------------------------------- simulate
def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from simulator import simulate

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
        progress=_say,
    )
    print(report)
    return 0


# ---------------------------------------------------------------- ingest
def _ingest(source: str, settings: Settings) -> object:
    """Load one source; its config defaults to the simulated world's copy of the system."""
    from ingestion import pipelines

    loader = getattr(pipelines, f"load_{source}")
    killpoints.install()
    killpoints.ingesting(source)
    with WORLD_SOURCES[source](settings.world):
        return loader(settings.warehouse)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    sources = SOURCES if args.source == "all" else (args.source,)
    with writer_lock(settings.warehouse, wait=args.wait):
        for source in sources:
            _say(f"ingesting {source} into {settings.warehouse}")
            print(_ingest(source, settings), flush=True)
    return 0


# ---------------------------------------------------------------- build
def _build(settings: Settings, full_refresh: bool = False) -> list[object]:
    """dbt build, docs, then publish the finished warehouse for readers."""
    from mypizza import nightly
    from mypizza.dbt_runner import run_dbt
    from mypizza.prod_state import keep_prod_state

    # The pipeline always builds production, whatever MYPIZZA_DBT_TARGET an analyst exported;
    # only what the night's loads and the project's changes need (mypizza/nightly.py).
    plan = nightly.plan(settings.warehouse, settings.target_dir, full_refresh)
    _say(f"{plan.reason}\ndbt " + " ".join(plan.build_args))
    build = run_dbt(settings.repo, settings.target_dir, *plan.build_args)
    docs_needed = plan.docs_needed()
    _say("dbt docs generate --static" if docs_needed else plan.docs_skipped())
    docs = (
        run_dbt(
            settings.repo,
            settings.target_dir,
            *("docs", "generate", "--static", "--target", "prod"),
            quiet=True,
        )
        if docs_needed
        else plan.docs_skipped()
    )
    _say(f"published {publish(settings.warehouse)}")
    _say(f"kept its dbt state in {keep_prod_state(settings.target_dir, settings.warehouse)}")
    plan.done(docs_generated=docs_needed)
    return [build, docs]


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    with writer_lock(settings.warehouse, wait=args.wait):
        for result in _build(settings, full_refresh=args.full_refresh):
            print(result)
    return 0


# ---------------------------------------------------------------- run
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    with writer_lock(settings.warehouse, wait=args.wait):
        return _run(settings)


def _run(settings: Settings) -> int:
    from mypizza.summary import mart_row_counts, print_summary

    started = time.perf_counter()
    if not (settings.world / "world.json").exists():
        _say(f"no world in {settings.world}: simulating the default one")
        cmd_simulate(
            argparse.Namespace(days=None, stores=None, start=None, seed=None, fresh=False),
            settings,
        )
    loads = []
    for source in SOURCES:
        _say(f"ingesting {source}")
        loads.append(_ingest(source, settings))
        print(loads[-1], flush=True)
    dbt_results = _build(settings)
    print_summary(
        settings,
        loads=loads,
        dbt_results=dbt_results,
        marts=mart_row_counts(settings.warehouse),
        seconds=time.perf_counter() - started,
    )
    return 0


# ---------------------------------------------------------------- status
def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mypizza.status import report

    now = args.now or _now_from_env()
    text, ok = report(settings.warehouse, settings.target_dir, now)
    print(text)
    return 0 if ok else 1


def _now_from_env() -> datetime:
    value = os.environ.get("MYPIZZA_NOW")
    return _datetime(value) if value else datetime.now(UTC)


# ---------------------------------------------------------------- parser
def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date (YYYY-MM-DD)") from error


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
        "MYPIZZA_WORLD (default data/world).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

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
    simulate.set_defaults(func=cmd_simulate)

    ingest = commands.add_parser(
        "ingest",
        help="load a source system into the warehouse's raw schemas",
        description="Load what changed in a source system since the last load (dlt).",
    )
    ingest.add_argument("source", choices=[*SOURCES, "all"], help="which source system")
    ingest.add_argument(
        "--wait", action="store_true", help="if another run holds the warehouse, wait for it"
    )
    ingest.set_defaults(func=cmd_ingest)

    build = commands.add_parser(
        "build",
        help="dbt build and dbt docs generate",
        description="Build and test every dbt model, then generate the docs site.",
    )
    build.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    build.add_argument(
        "--wait", action="store_true", help="if another run holds the warehouse, wait for it"
    )
    build.set_defaults(func=cmd_build)

    run = commands.add_parser(
        "run",
        help="the whole job: simulate if needed, ingest all, build, docs, summary",
        description="Simulate the default world if none exists, ingest every source, "
        "dbt build, dbt docs generate, and print a summary.",
    )
    run.add_argument(
        "--wait", action="store_true", help="if another run holds the warehouse, wait for it"
    )
    run.set_defaults(func=cmd_run)

    status = commands.add_parser(
        "status",
        help="per source: last load, rows, quarantine, freshness; the last dbt build",
        description="Show, per source, the last successful load, the rows loaded, the rows "
        "held in quarantine, and how fresh its newest event is; then the last dbt build. "
        "Exits 1 when a source is stale or never loaded or the build failed.",
    )
    status.add_argument(
        "--now",
        type=_datetime,
        help="judge freshness as of this time (ISO 8601, UTC unless given; default: "
        "MYPIZZA_NOW, else the clock)",
    )
    status.set_defaults(func=cmd_status)
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
        return 1


if __name__ == "__main__":
    sys.exit(main())
