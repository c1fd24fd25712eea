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


def test_the_profile_settings_apply_again_after_duckdb_has_spilled(tmp_path: Path) -> None:
    """dbt-duckdb applies the prod profile's `settings` to every new cursor (one per dbt
    node). Once a query has spilled to disk, DuckDB refuses some settings (`SET
    temp_directory`: "Cannot switch temporary directory"), which failed every later node
    of a nightly at large. Each setting must apply again, as dbt-duckdb does it, after a
    spill; and the spill goes to DuckDB's default directory beside the warehouse."""
    import jinja2
    import yaml
    from conftest import REPO

    profile = yaml.safe_load((REPO / "profiles.yml").read_text())
    settings = profile["mypizza"]["outputs"]["prod"]["settings"]
    warehouse = tmp_path / "mypizza.duckdb"
    env_var = {"MYPIZZA_WAREHOUSE": str(warehouse), "MYPIZZA_DUCKDB_MEMORY_LIMIT": "64MB"}
    render = jinja2.Environment().from_string
    values = {
        key: render(str(value)).render(
            env_var=lambda name, default=None: env_var.get(name, default)
        )
        for key, value in settings.items()
    }
    assert values["memory_limit"] == "64MB"
    with duckdb.connect(str(warehouse)) as con:
        cursor = con.cursor()
        for key, value in values.items():
            cursor.execute(f"SET {key} = '{value}'")
        # a sort far larger than the limit spills
        cursor.execute(
            "create table big as select i, md5(i::varchar) as h "
            "from range(3000000) as r (i) order by h"
        )
        temp = con.execute("select current_setting('temp_directory')").fetchone()[0]
        assert Path(temp) == warehouse.with_name("mypizza.duckdb.tmp")
        # it did spill: DuckDB now refuses to set the temp directory, even to the same one
        with pytest.raises(duckdb.NotImplementedException, match="Cannot switch temporary"):
            con.cursor().execute(f"SET temp_directory = '{temp}'")
        again = con.cursor()  # the next dbt node's cursor
        for key, value in values.items():
            again.execute(f"SET {key} = '{value}'")
        assert again.execute("select count(*) from big").fetchone()[0] == 3_000_000
