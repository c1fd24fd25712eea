"""One writer at a time, with real processes: a second writer stops with a message naming
the holder, or queues behind it with --wait; publishing swaps in a whole copy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from mypizza.warehouse import WarehouseBusy, publish, published_path, writer_lock

MYPIZZA = str(Path(sys.executable).with_name("mypizza"))


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MYPIZZA_WAREHOUSE": str(tmp_path / "wh" / "mypizza.duckdb"),
        "MYPIZZA_WORLD": str(tmp_path / "no-world"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }


def test_second_writer_stops_at_once_naming_the_holder(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "mypizza.duckdb"
    with writer_lock(warehouse):
        started = time.monotonic()
        result = subprocess.run(
            [MYPIZZA, "run"], env=_env(tmp_path), capture_output=True, text=True, timeout=60
        )
        assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert f"{warehouse} is being written by pid {os.getpid()}" in result.stderr
    assert "--wait" in result.stderr
    assert not warehouse.exists()  # it did not touch the warehouse


def test_waiting_writer_runs_when_the_lock_is_released(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "mypizza.duckdb"
    with writer_lock(warehouse):
        waiting = subprocess.Popen(
            [MYPIZZA, "ingest", "pos", "--wait"],
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert waiting.poll() is None  # still queued behind us
    _, err = waiting.communicate(timeout=60)
    # it got the lock, then went on to its own work (here: no world to read, a clear error)
    assert "no simulated world" in err.lower()


def test_lock_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    warehouse = tmp_path / "mypizza.duckdb"
    with writer_lock(warehouse), pytest.raises(WarehouseBusy), writer_lock(warehouse):
        pass


def test_publish_swaps_in_a_whole_copy_while_a_reader_holds_the_old(tmp_path: Path) -> None:
    warehouse = tmp_path / "mypizza.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table t as select range as i from range(1000)")
    first = publish(warehouse)
    assert first == published_path(warehouse) == tmp_path / "mypizza.published.duckdb"
    reader = duckdb.connect(str(first), read_only=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into t select range from range(500)")
    publish(warehouse)  # not blocked by the open reader
    assert reader.execute("select count(*) from t").fetchone()[0] == 1000
    reader.close()
    with duckdb.connect(str(first), read_only=True) as fresh:
        assert fresh.execute("select count(*) from t").fetchone()[0] == 1500
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
