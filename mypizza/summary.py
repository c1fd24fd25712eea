"""The report `mypizza run` and `mypizza build` end with: what loaded, what was built and
published, what is held back and why, where to look; and the exit status."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from mypizza.outcome import OUTCOMES, Build, Ingest, exit_status, record
from mypizza.prod_state import record_run
from mypizza.settings import Settings
from mypizza.warehouse import published_path

LINE = "-" * 72


def mart_row_counts(warehouse: Path) -> dict[str, int]:
    """Rows in every table of the marts schema."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by table_name"
            ).fetchall()
        ]
        return {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}


def held_back_lines(held_back: list[dict]) -> list[str]:
    """Held-back relations grouped by their root cause: the cause, then the marts."""
    by_reason: dict[str, list[dict]] = defaultdict(list)
    for held in held_back:
        by_reason[held["reason"]].append(held)
    lines = []
    for reason, parts in by_reason.items():
        marts = [h["relation"][6:] for h in parts if h["relation"].startswith("marts.")]
        others = len(parts) - len(marts)
        upstream = f" (and {others} upstream relations)" if others else ""
        lines.append(f"  {reason}")
        lines.append(f"    marts: {', '.join(marts) or 'none'}{upstream}")
    return lines


def print_report(
    settings: Settings, command: str, ingest: Ingest, build: Build, started: datetime
) -> int:
    """Print the end-of-run report, keep it in prod-state/last_run.json, return the exit
    status (mypizza/outcome.py)."""
    finished = datetime.now(UTC)
    kept = record(ingest, build, started, finished)
    record_run(settings.warehouse, kept)
    status = exit_status(ingest, build)
    published = published_path(settings.warehouse)
    print(LINE)
    print(
        f"myPizza {command} finished in {(finished - started).total_seconds():.0f} s: "
        f"{OUTCOMES[status]} (exit {status})"
    )
    if ingest.loaded or ingest.failed:
        print("\nLoaded (rows per raw table, this run):")
        for source in sorted(ingest.loaded):
            print(f"  {ingest.loaded[source]}")
        for source in sorted(ingest.failed):
            seconds = ingest.seconds_to_fail.get(source, 0.0)
            print(f"  {source}: NOT LOADED (gave up after {seconds:.1f} s)")
            print(f"    {ingest.failed[source]}")
    print("\nBuilt:")
    for result in (build.build, build.docs):
        if result is not None:
            print(f"  {result}" + (f" (exit {result.returncode})" if result.failed else ""))
    for failure in build.failures:
        print(f"  FAILED {failure}")
    if build.published:
        print(f"\nPublished: {published}")
    else:
        print(f"\nNothing published: readers keep {published} as it was.")
    if kept["held_back"]:
        count = len(kept["held_back"])
        print(f"\nHeld back ({count} relations keep their last version that passed):")
        for line in held_back_lines(kept["held_back"]):
            print(line)
    if published.exists():
        marts = mart_row_counts(published)
        print("\nMarts (rows, published copy):")
        width = max((len(t) for t in marts), default=0)
        for table, rows in marts.items():
            print(f"  {table:<{width}}  {rows:>10,}")
    print("\nWhere to look:")
    print(f"  warehouse   {settings.warehouse} (the pipeline's; one writer at a time)")
    print(f"  published   {published} (read this one: audited builds only)")
    print(f"  world       {settings.world}")
    docs = settings.target_dir / "static_index.html"
    print(f"  docs site   {docs} (one file; or `dbt docs serve`)")
    print("  status      `mypizza status` (this outcome, and how long held-back parts are stale)")
    print(LINE, flush=True)
    return status
