"""One writer, readers never in the way, with real `mypizza` processes (test_warehouse.py
covers the lock and publish() in-process; this adds what only real runs show):

* while one `mypizza` writes, a second `mypizza run` stops at once naming the holder, and one
  with --wait queues behind it and then does its work;
* a reader holding the published copy open does not block a real `mypizza build`, and every
  read during the build sees a whole warehouse: the old copy or the finished new one;
* pipeline state lives with the warehouse: MYPIZZA_WAREHOUSE at a new file loads from zero,
  and leaves the first warehouse's state alone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import MYPIZZA, REPO, Env

from mypizza.warehouse import publish
from simulator import simulate

# A reader in its own process: reopens the published copy every 0.2 s until told to stop,
# printing how many marts it sees and how many orders fct_orders holds.
POLLER = """
import sys, time, duckdb
path, stop = sys.argv[1], sys.argv[2]
import os
while not os.path.exists(stop):
    with duckdb.connect(path, read_only=True) as con:
        marts = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
        orders = con.execute("select count(*) from marts.fct_orders").fetchone()[0] if marts else 0
    print(marts, orders, flush=True)
    time.sleep(0.2)
"""


def start(env: Env, *args: str, **variables: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MYPIZZA, *args],
        cwd=REPO,
        env={**env.vars, **variables},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env = Env(tmp_path_factory.mktemp("concurrency"))
    simulate(env.world, stores=1, days=2, start=date(2026, 4, 6), seed=7)
    return env


def test_a_second_run_stops_at_once_and_a_waiting_one_follows(env: Env) -> None:
    first = start(env, "ingest", "all")
    lock = env.warehouse.with_name(env.warehouse.name + ".lock")
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().startswith("pid")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.1)
    second = subprocess.run(
        [MYPIZZA, "run"], cwd=REPO, env=env.vars, capture_output=True, text=True, timeout=120
    )
    waiting = start(env, "ingest", "pos", "--wait")
    assert first.poll() is None, "the first writer finished too soon for this test"
    assert second.returncode == 1
    assert f"is being written by pid {first.pid}" in second.stderr
    assert "--wait" in second.stderr
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, out + err
    out, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, out + err
    assert "pos: nothing new" in out  # it ran after the first, which loaded everything


def test_a_new_warehouse_starts_from_zero_and_leaves_the_other_alone(
    env: Env, tmp_path: Path
) -> None:
    if not env.warehouse.exists():
        env.mypizza("ingest", "pos")
    state = env.warehouse.parent / ".mypizza.dlt"
    before = sorted((p.relative_to(state), p.stat().st_mtime) for p in state.rglob("*"))
    other = tmp_path / "other" / "mypizza.duckdb"
    result = subprocess.run(
        [MYPIZZA, "ingest", "pos"],
        cwd=REPO,
        env={**env.vars, "MYPIZZA_WAREHOUSE": str(other)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        (orders,) = con.execute("select count(*) from raw_pos.orders").fetchone()
    assert f"orders {orders:,}" in out  # everything again, not "nothing new"
    assert (other.parent / ".mypizza.dlt").is_dir()
    assert sorted((p.relative_to(state), p.stat().st_mtime) for p in state.rglob("*")) == before


def test_a_reader_never_blocks_a_build_and_never_sees_half_of_one(env: Env) -> None:
    if not env.warehouse.exists():
        env.mypizza("ingest", "all")
    publish(env.warehouse)  # the old published copy: raw data, no marts yet
    reader = duckdb.connect(str(env.published), read_only=True)  # held open throughout
    stop = env.root / "stop-reading"
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER, str(env.published), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        build = subprocess.run(
            [MYPIZZA, "build"], cwd=REPO, env=env.vars, capture_output=True, text=True
        )
    finally:
        stop.touch()
        out, err = poller.communicate(timeout=60)
    seen = [tuple(int(n) for n in line.split()) for line in out.splitlines()]
    errors = err.strip()
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr
    # the reader that held the old copy still sees it, whole
    assert reader.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts'"
    ).fetchone() == (0,)
    reader.close()
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        final = (
            con.execute(
                "select count(*) from information_schema.tables where table_schema = 'marts'"
            ).fetchone()[0],
            con.execute("select count(*) from marts.fct_orders").fetchone()[0],
        )
    assert errors == ""
    assert len(seen) > 10 and set(seen) <= {(0, 0), final}
    assert seen[0] == (0, 0)
