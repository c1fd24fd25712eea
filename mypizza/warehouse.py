"""One writer at a time, and readers never in its way.

DuckDB lets one process hold a database file; while a pipeline writes, nobody else can
even read it. So every command that writes takes ``writer_lock`` (a second one waits or
stops with a message saying who holds it), and after each build the warehouse is
``publish``-ed: copied to ``<name>.published.duckdb`` beside it and swapped in with an
atomic rename. Dashboards, docs and analysts read the published copy, which is always a
whole, finished build and never blocks the next run.

Write-audit-publish: the relations a build holds back (mypizza/audit.py: a failed test, a
source that did not load) are taken into the new copy from the previous published copy
before the swap, so readers keep their last version that passed, or do not see them at all
if none ever did.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from mypizza import killpoints
from mypizza.audit import Held


class WarehouseBusy(RuntimeError):
    """Another process is writing the warehouse."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def published_path(warehouse: Path) -> Path:
    """The read-only copy readers use: ``mypizza.duckdb`` -> ``mypizza.published.duckdb``."""
    return warehouse.with_name(f"{warehouse.stem}.published{warehouse.suffix}")


@contextmanager
def writer_lock(warehouse: Path, wait: bool = False, holder: str | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock; released on exit, and by the OS if we die.

    A lock held by the live loop (mypizza/live.py, one cycle of a few seconds at a time) is
    always waited for, ``wait`` or not: the loop lets go between its cycles."""
    from mypizza.live import LOCK_HOLDER

    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if wait:
            fcntl.flock(handle, fcntl.LOCK_EX)
        elif not _try_lock(handle):
            held_by = _holder(handle)
            if held_by is not None and not held_by.startswith(LOCK_HOLDER):
                raise WarehouseBusy(
                    f"{warehouse} is being written by {held_by}. Wait for it to finish, "
                    "or pass --wait to queue behind it."
                )
            if held_by is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)  # the live loop's cycle: seconds
        handle.seek(0)
        handle.truncate()
        who = holder or f"pid {os.getpid()}"
        handle.write(f"{who} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(handle) -> str | None:
    """Who holds the lock (the holder writes its name just after taking it); None when we
    took it meanwhile."""
    for _ in range(20):
        handle.seek(0)
        held_by = handle.read().strip()
        if held_by:
            return held_by
        time.sleep(0.05)
        if _try_lock(handle):
            return None
    return "another process"


def publish(warehouse: Path, held_back: Iterable[Held] = ()) -> Path:
    """Copy the (checkpointed) warehouse beside itself, with every ``held_back`` relation
    as the previous published copy has it, and swap it in atomically."""
    target = published_path(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")  # everything in the main file, nothing left in the WAL
        catalog = con.execute("select current_database()").fetchone()[0]
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)  # a publish killed half-way (we hold the writer lock)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(warehouse, staging)
        killpoints.at("publish")  # test hook
        held_back = list(held_back)
        if held_back:
            _keep_previous(staging, catalog, target if target.exists() else None, held_back)
        os.replace(staging, target)  # readers see the old copy or the new one, never half
    finally:
        staging.unlink(missing_ok=True)
    return target


def _keep_previous(
    staging: Path, catalog: str, previous: Path | None, held_back: list[Held]
) -> None:
    """In ``staging``, replace each held-back relation by the previous copy's version
    (same DDL, same rows), or drop it if the previous copy has none. ``staging`` is
    attached as ``catalog``, the warehouse's own catalog name, which views name."""
    with duckdb.connect() as con:
        con.execute(f"attach '{staging}' as \"{catalog}\"")
        con.execute(f'use "{catalog}"')
        if previous is not None:
            con.execute(f"attach '{previous}' as previous (read_only)")
        old = _relations(con, "previous") if previous is not None else {}
        new = _relations(con, catalog)
        for held in held_back:
            key = (held.schema, held.table)
            if key in new:
                con.execute(f'drop {new[key][0]} "{held.schema}"."{held.table}"')
            if key not in old:
                continue
            kind, sql = old[key]
            con.execute(f'create schema if not exists "{held.schema}"')
            con.execute(sql)  # the previous DDL: columns, types, constraints (or the view)
            if kind == "table":
                con.execute(
                    f'insert into "{held.schema}"."{held.table}" '
                    f'select * from previous."{held.schema}"."{held.table}"'
                )
        con.execute(f'checkpoint "{catalog}"')
        con.execute("use memory")
        con.execute(f'detach "{catalog}"')


def _relations(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], tuple]:
    """(schema, name) -> (table or view, its DDL) of every relation in ``catalog``."""
    rows = con.execute(
        "select schema_name, table_name, 'table', sql from duckdb_tables() "
        "where database_name = ? union all "
        "select schema_name, view_name, 'view', sql from duckdb_views() "
        "where database_name = ? and not internal",
        [catalog, catalog],
    ).fetchall()
    return {(schema, name): (kind, sql) for schema, name, kind, sql in rows}


def published_relations(warehouse: Path) -> set[str]:
    """``schema.name`` of every table and view in the published copy (empty if none)."""
    target = published_path(warehouse)
    if not target.exists():
        return set()
    with duckdb.connect(str(target), read_only=True) as con:
        catalog = con.execute("select current_database()").fetchone()[0]
        return {f"{schema}.{name}" for schema, name in _relations(con, catalog)}
