"""`mypizza status`: is the warehouse fresh and whole? One line per source, one for dbt.

Per source: the last successful load (dlt's ``_dlt_loads``, status 0), the rows its raw
tables hold, the rows (or files, or store exports) held in quarantine or rejected, and
freshness: the newest event the source has sent (an order, a count, a review, a franchise
order day) against ``now``. Then the last ``dbt build`` (its run_results, kept beside
dbt's target folder as ``last_build_run_results.json``). The exit code is non-zero when a
source is stale (older than ``error_after``), was never loaded, or the last build failed,
so a scheduler can alert on it. Thresholds follow the dbt sources' freshness (warn after
one day, error after three).

The warehouse is read read-only; while a run holds it, the published copy is read instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from mypizza.warehouse import published_path

WARN_AFTER = timedelta(days=1)
ERROR_AFTER = timedelta(days=3)
LAST_BUILD = "last_build_run_results.json"

# source -> SQL of its newest event time (UTC), over its raw schema
NEWEST_EVENT = {
    "pos": "select max(ordered_at) from raw_pos.orders",
    "inventory": "select max(counted_at) from raw_inventory.stock_counts",
    "feedback": "select greatest(max(created_at), max(edited_at)) from raw_feedback.reviews",
    "franchise": "select max(date) from raw_franchise.orders",
}
# source -> SQL counting what is held back: rows in quarantine, quarantined files, rejected
# store exports
HELD_BACK = {
    "pos": [
        "select count(*) from {table}",  # every raw_pos.quarantine_* table (dlt)
        "select count(*) from quarantine.quarantine_pos__order_items",  # dbt
    ],
    "inventory": ["select count(*) from raw_inventory.files where status = 'quarantined'"],
    "feedback": [],
    "franchise": ["select count(*) from raw_franchise.exports where status = 'rejected'"],
}


@dataclass
class SourceStatus:
    source: str
    last_load: datetime | None = None
    rows: int = 0
    held_back: int = 0
    newest_event: datetime | None = None
    age: timedelta | None = None
    state: str = "never loaded"

    @property
    def failed(self) -> bool:
        return self.state in ("stale", "never loaded")


@dataclass
class BuildStatus:
    finished: str | None = None
    counts: dict[str, int] | None = None
    state: str = "never built"

    @property
    def failed(self) -> bool:
        return self.state != "ok"


def _as_utc(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):  # a date: the end of that day
        value = datetime(value.year, value.month, value.day) + timedelta(days=1)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    try:
        return con.execute(sql).fetchone()[0]
    except duckdb.CatalogException:
        return None


def source_status(con: duckdb.DuckDBPyConnection, source: str, now: datetime) -> SourceStatus:
    schema = f"raw_{source}"
    status = SourceStatus(source)
    status.last_load = _as_utc(
        _one(con, f"select max(inserted_at) from {schema}._dlt_loads where status = 0")
    )
    if status.last_load is None:
        return status
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_name not like '\\_dlt%' escape '\\'",
            [schema],
        ).fetchall()
    ]
    status.rows = sum(
        _one(con, f'select count(*) from {schema}."{t}"') or 0
        for t in tables
        if not t.startswith("quarantine_")
    )
    for sql in HELD_BACK[source]:
        if "{table}" in sql:
            for table in (t for t in tables if t.startswith("quarantine_")):
                status.held_back += _one(con, sql.format(table=f'{schema}."{table}"')) or 0
        else:
            status.held_back += _one(con, sql) or 0
    status.newest_event = _as_utc(_one(con, NEWEST_EVENT[source]))
    if status.newest_event is None:
        status.state = "stale"
        return status
    status.age = now - status.newest_event
    status.state = (
        "stale" if status.age > ERROR_AFTER else "late" if status.age > WARN_AFTER else "fresh"
    )
    return status


def build_status(target_dir: Path) -> BuildStatus:
    path = target_dir / LAST_BUILD
    if not path.exists():
        return BuildStatus()
    data = json.loads(path.read_text())
    counts: dict[str, int] = {}
    for result in data.get("results", []):
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    bad = sum(counts.get(s, 0) for s in ("error", "fail", "runtime error"))
    return BuildStatus(
        finished=data.get("metadata", {}).get("generated_at"),
        counts=counts,
        state="failed" if bad else "ok",
    )


def _open(warehouse: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    try:
        return duckdb.connect(str(warehouse), read_only=True), warehouse
    except duckdb.IOException:  # a run holds it: read the last published build
        published = published_path(warehouse)
        return duckdb.connect(str(published), read_only=True), published


def _age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def report(warehouse: Path, target_dir: Path, now: datetime) -> tuple[str, bool]:
    """The status text and whether everything is fine."""
    if not warehouse.exists() and not published_path(warehouse).exists():
        return f"no warehouse at {warehouse}: nothing loaded yet", False
    con, read = _open(warehouse)
    try:
        sources = [source_status(con, s, now) for s in NEWEST_EVENT]
    finally:
        con.close()
    build = build_status(target_dir)
    lines = [
        f"warehouse {read} at {now:%Y-%m-%d %H:%M} UTC "
        f"(freshness: late after {_age(WARN_AFTER)}, stale after {_age(ERROR_AFTER)})",
        f"{'source':<10} {'last load (UTC)':<17} {'rows':>9} {'held back':>9} "
        f"{'newest event':<17} {'age':>8}  state",
    ]
    for s in sources:
        loaded = f"{s.last_load:%Y-%m-%d %H:%M}" if s.last_load else "-"
        newest = f"{s.newest_event:%Y-%m-%d %H:%M}" if s.newest_event else "-"
        lines.append(
            f"{s.source:<10} {loaded:<17} {s.rows:>9,} {s.held_back:>9,} "
            f"{newest:<17} {_age(s.age):>8}  {s.state}"
        )
    counts = ", ".join(f"{n} {k}" for k, n in sorted((build.counts or {}).items()))
    done = f" at {build.finished} ({counts})" if counts else ""
    lines.append(f"dbt build: {build.state}{done}")
    ok = not build.failed and not any(s.failed for s in sources)
    problems = [f"{s.source} {s.state}" for s in sources if s.failed]
    if build.failed:
        problems.append(f"dbt build {build.state}")
    lines.append("status: OK" if ok else "status: PROBLEM: " + "; ".join(problems))
    return "\n".join(lines), ok
