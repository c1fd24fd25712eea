"""`mypizza status`: is the warehouse fresh and whole? One line per source, one for dbt.

Per source: the last successful load (dlt's ``_dlt_loads``, status 0), the rows its raw
tables hold, the rows (or files, or store exports) held in quarantine or rejected, and
freshness: the newest event the source has sent (an order, a count, a review, a franchise
order day) against ``now``. Then the last ``dbt build`` (its run_results, kept beside
dbt's target folder as ``last_build_run_results.json``). Then the last run's outcome
(``prod-state/last_run.json``): the sources that did not load and why, and the parts held
back from the published copy, with how long each has been stale. Exit status, for a
scheduler: 1 when a source is stale (older than ``error_after``) or was never loaded, or
the last build published nothing; else 3 when the last run was partial (a source did not
load, something is held back); else 0. Thresholds follow the dbt sources' freshness (warn
after one day, error after three).

The warehouse is read read-only; while a run holds it, the published copy is read instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from mypizza.outcome import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL
from mypizza.prod_state import last_run
from mypizza.warehouse import published_path
from mypizza.world_sources import WORLD_SOURCES

WARN_AFTER = timedelta(days=1)
ERROR_AFTER = timedelta(days=3)
LAST_BUILD = "last_build_run_results.json"

# source -> SQL of its newest event time (UTC), over its raw schema
NEWEST_EVENT = {
    "pos": "select max(ordered_at) from raw_pos.orders",
    "inventory": "select max(counted_at) from raw_inventory.stock_counts",
    "feedback": "select greatest(max(created_at), max(edited_at)) from raw_feedback.reviews",
    "franchise": "select max(date) from raw_franchise.orders",
    "iot": "select max(device_ts) from raw_iot.readings",
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
    "iot": ["select count(*) from raw_iot.quarantined_messages"],
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
        return self.state not in ("ok", "partial")


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
    """A source's last load, rows, quarantine and freshness (a source without a
    NEWEST_EVENT query is judged by its last load)."""
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
        if not t.startswith("quarantine")  # quarantine_* (dlt), quarantined_messages (iot)
    )
    for sql in HELD_BACK.get(source, []):
        if "{table}" in sql:
            for table in (t for t in tables if t.startswith("quarantine_")):
                status.held_back += _one(con, sql.format(table=f'{schema}."{table}"')) or 0
        else:
            status.held_back += _one(con, sql) or 0
    newest = NEWEST_EVENT.get(source)
    status.newest_event = _as_utc(_one(con, newest) if newest else status.last_load)
    if status.newest_event is None:
        status.state = "stale"
        return status
    status.age = now - status.newest_event
    status.state = (
        "stale" if status.age > ERROR_AFTER else "late" if status.age > WARN_AFTER else "fresh"
    )
    return status


def build_status(target_dir: Path, record: dict | None = None) -> BuildStatus:
    """The last build, from its run results: ok; partial (something failed, and the last
    run published the rest, holding it back); failed (something failed, nothing published)."""
    path = target_dir / LAST_BUILD
    if not path.exists():
        return BuildStatus()
    data = json.loads(path.read_text())
    counts: dict[str, int] = {}
    for result in data.get("results", []):
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    bad = sum(counts.get(s, 0) for s in ("error", "fail", "runtime error"))
    published = bool(record and record.get("published") and record.get("build", {}).get("failures"))
    return BuildStatus(
        finished=data.get("metadata", {}).get("generated_at"),
        counts=counts,
        state="ok" if not bad else "partial" if published else "failed",
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


def _since(value: str | None, clock: datetime) -> str:
    if not value:
        return "never published"
    since = datetime.fromisoformat(value)
    return f"stale since {since:%Y-%m-%d %H:%M} UTC ({_age(clock - since)})"


def last_run_lines(record: dict | None, clock: datetime) -> tuple[list[str], list[str]]:
    """The last run's outcome: what did not load, what is held back and since when; and
    the problems to name in the status line."""
    if record is None:
        return [], []
    lines = [
        f"last run: {record['outcome']} (exit {record['exit_status']}), finished "
        f"{datetime.fromisoformat(record['finished_at']):%Y-%m-%d %H:%M} UTC"
    ]
    problems = []
    for source, outcome in record.get("sources", {}).items():
        if outcome["status"] == "failed":
            lines.append(f"  {source} did not load: {outcome['error']}")
            problems.append(f"{source} did not load")
    for failure in record.get("build", {}).get("failures", []):
        lines.append(f"  build: {failure}")
    if not record.get("published"):
        problems.append("nothing published")
    held = record.get("held_back", [])
    if held:
        lines.append(f"held back from the published copy ({len(held)} relations keep their last")
        lines.append("version that passed, or are absent if none did):")
        by_reason: dict[str, list[dict]] = {}
        for part in held:
            by_reason.setdefault(part["reason"], []).append(part)
        for reason, parts in by_reason.items():
            lines.append(f"  {reason}")
            marts = [p for p in parts if p["relation"].startswith("marts.")]
            for part in marts:
                lines.append(f"    {part['relation']:<40} {_since(part['stale_since'], clock)}")
            if len(parts) > len(marts):
                lines.append(f"    and {len(parts) - len(marts)} upstream relations")
        problems.append(f"{len(held)} relations held back")
    return lines, problems


def live_status(warehouse: Path, now: datetime) -> tuple[str | None, str | None]:
    """The live loop's line (mypizza/live.py: its ``<warehouse>.live.json``), and the problem
    it shows, if any: the slice older than the loop's stale limit, or the loop failing or
    gone while it was meant to run. None, None when no loop ever ran here."""
    import os

    from mypizza.live import read_heartbeat, stale_after

    beat = read_heartbeat(warehouse)
    if not beat:
        return None, None
    as_of = datetime.fromisoformat(beat["as_of"]) if beat.get("as_of") else None
    age = (now - as_of).total_seconds() if as_of else None
    shown = f"as of {as_of:%H:%M:%S} UTC, {age:.0f} s ago" if as_of else "nothing published yet"
    if beat.get("stopped_at"):
        return f"live loop: stopped at {beat['stopped_at']}; live slice {shown}", None
    pid = int(beat.get("pid", 0))
    try:
        os.kill(pid, 0)
        running = True
    except (OSError, ValueError):
        running = False
    head = f"live loop (pid {pid}, every {beat.get('every', 0):g} s): "
    if not running:
        return head + f"NOT RUNNING (died without stopping); live slice {shown}", "live loop gone"
    if beat.get("error"):
        line = f"STALE: live slice {shown}; failing since {beat.get('failing_since')}: "
        return head + line + beat["error"], "live slice stale"
    if age is None or age > stale_after(float(beat.get("every", 2))):
        return head + f"STALE: live slice {shown}", "live slice stale"
    return head + f"live slice {shown}", None


def report(warehouse: Path, target_dir: Path, now: datetime) -> tuple[str, int]:
    """The status text and the exit status: 0 all good, 3 partial (the last run held
    something back or a source did not load), 1 a problem (stale, never loaded, nothing
    published)."""
    if not warehouse.exists() and not published_path(warehouse).exists():
        return f"no warehouse at {warehouse}: nothing loaded yet", EXIT_FAILED
    con, read = _open(warehouse)
    try:
        sources = [source_status(con, s, now) for s in WORLD_SOURCES]
    finally:
        con.close()
    record = last_run(warehouse)
    build = build_status(target_dir, record)
    lines = [
        f"warehouse {read} at {now:%Y-%m-%d %H:%M} UTC "
        f"(freshness: late after {_age(WARN_AFTER)}, stale after {_age(ERROR_AFTER)})",
        f"{'source':<10} {'last load (UTC)':<17} {'rows':>9} {'quarantine':>10} "
        f"{'newest event':<17} {'age':>8}  state",
    ]
    for s in sources:
        loaded = f"{s.last_load:%Y-%m-%d %H:%M}" if s.last_load else "-"
        newest = f"{s.newest_event:%Y-%m-%d %H:%M}" if s.newest_event else "-"
        lines.append(
            f"{s.source:<10} {loaded:<17} {s.rows:>9,} {s.held_back:>10,} "
            f"{newest:<17} {_age(s.age):>8}  {s.state}"
        )
    counts = ", ".join(f"{n} {k}" for k, n in sorted((build.counts or {}).items()))
    done = f" at {build.finished} ({counts})" if counts else ""
    lines.append(f"dbt build: {build.state}{done}")
    run_lines, partial = last_run_lines(record, datetime.now(UTC))
    lines.extend(run_lines)
    live_line, live_problem = live_status(warehouse, datetime.now(UTC))
    if live_line:
        lines.append(live_line)
    problems = [f"{s.source} {s.state}" for s in sources if s.failed]
    if live_problem:
        problems.append(live_problem)
    if build.failed:
        problems.append(f"dbt build {build.state}")
    if "nothing published" in partial:
        problems.append("nothing published")
        partial.remove("nothing published")
    if problems:
        lines.append("status: PROBLEM: " + "; ".join(problems + partial))
        return "\n".join(lines), EXIT_FAILED
    if partial:
        lines.append("status: PARTIAL: " + "; ".join(partial))
        return "\n".join(lines), EXIT_PARTIAL
    lines.append("status: OK")
    return "\n".join(lines), EXIT_OK
