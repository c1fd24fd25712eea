"""One writer at a time, and readers never in its way.

DuckDB lets one process hold a database file; while a pipeline writes, nobody else can
even read it. So every command that writes takes ``writer_lock`` (a second one waits or
stops with a message saying who holds it), and after a successful build the warehouse is
``publish``-ed: copied to ``<name>.published.duckdb`` beside it and swapped in with an
atomic rename. Dashboards, docs and analysts read the published copy, which is always a
whole, finished build and never blocks the next run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from mypizza import killpoints


class WarehouseBusy(RuntimeError):
    """Another process is writing the warehouse."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def published_path(warehouse: Path) -> Path:
    """The read-only copy readers use: ``mypizza.duckdb`` -> ``mypizza.published.duckdb``."""
    return warehouse.with_name(f"{warehouse.stem}.published{warehouse.suffix}")


@contextmanager
def writer_lock(warehouse: Path, wait: bool = False) -> Iterator[None]:
    """Hold the warehouse's writer lock; released on exit, and by the OS if we die."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"{warehouse} is being written by {holder}. Wait for it to finish, "
                "or pass --wait to queue behind it."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(warehouse: Path) -> Path:
    """Copy the (checkpointed) warehouse beside itself and swap it in atomically."""
    target = published_path(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")  # everything in the main file, nothing left in the WAL
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)  # a publish killed half-way (we hold the writer lock)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(warehouse, staging)
        killpoints.at("publish")
        os.replace(staging, target)  # readers see the old copy or the new one, never half
    finally:
        staging.unlink(missing_ok=True)
    return target
