"""`mypizza live` end to end, with real processes: the live simulator writing the POS at 300x
the world's pace from the evening rush, the loop cycling every second, the freshness probe
watching what the dashboard's Today page reads, and, along the way, the loop killed with
SIGKILL in the middle of a cycle and started again, a nightly `mypizza run` sharing the
writer with the loop, and the POS unreachable for a while.

One scenario (a module fixture over a copy of the shared built world), then a test per
claim. Expected figures come from the POS database itself (pos_truth: plain SQL on
pos.sqlite) and from the nightly marts, never from the live slice's own code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pos_truth import daily_store_sales
from support import MYPIZZA, REPO, Env, query

from mypizza.live_probe import ProbeResult, probe

pytestmark = pytest.mark.e2e

SPEED = 300  # the world's clock: 1 minute of test is 5 hours of trading
EVERY = 1.0
SIMULATE_SECONDS = 65
KILL_AFTER = 35  # seconds into the simulation
POS_KEYS = {
    "stores": "store_id",
    "products": "product_id",
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "payments": "payment_id",
}


@dataclass
class LiveRun:
    env: Env
    result: ProbeResult | None = None
    killed_at: float = 0.0
    as_of_before_kill: float = 0.0  # when the last slice before the kill read the POS
    first_published: float = 0.0
    live_day: str = ""
    batch_day: str = ""
    nightly_rc: int | None = None
    nightly_seconds: float = 0.0
    nightly_output: str = ""
    cycles_during_nightly: int = 0
    stale_status: tuple[int, str] | None = None
    stale_alive: bool = False
    caught_up_seconds: float | None = None
    loop_exit: int | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def after_nightly(self) -> Path:
        return self.env.root / "live_after_nightly.duckdb"

    @property
    def live(self) -> Path:
        return self.env.warehouse.with_name("mypizza.live.duckdb")

    def heartbeat(self) -> dict:
        path = self.env.warehouse.with_name("mypizza.live.json")
        return json.loads(path.read_text()) if path.exists() else {}


def _wait(condition, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process stopped while waiting for {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _start(env: Env, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen(
            [MYPIZZA, *args], cwd=REPO, env=env.vars, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen, timeout: float = 60) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def _pos_days(env: Env) -> list[str]:
    with sqlite3.connect(env.world / "pos.sqlite") as con:
        return [d for (d,) in con.execute("select distinct business_date from orders order by 1")]


@pytest.fixture(scope="module")
def live_run(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    root = tmp_path_factory.mktemp("live")
    env = Env(root)
    shutil.copytree(built_world.world, env.world, symlinks=True)
    shutil.copytree(built_world.warehouse.parent, env.warehouse.parent, symlinks=True)
    run = LiveRun(env)
    loop_log, sim_log = root / "live.log", root / "simulate.log"
    run.logs = [loop_log, sim_log]
    processes: list[subprocess.Popen] = []
    stop_probe = threading.Event()
    holder: dict = {}
    try:
        loop = _start(env, loop_log, "live", "--every", str(EVERY))
        processes.append(loop)
        _wait(lambda: run.heartbeat().get("as_of"), 180, "the loop's first cycle", loop)
        run.first_published = time.time()

        watcher = threading.Thread(
            target=lambda: holder.setdefault(
                "result", probe(env.world, run.live, stop_probe, loop_pid=None)
            )
        )
        watcher.start()
        began = time.monotonic()
        sim = _start(env, sim_log, "simulate", "--live", "--speed", str(SPEED), "--clock", "17:00")
        processes.append(sim)

        # SIGKILL the loop in the middle of a cycle (it holds the writer lock), start it again
        time.sleep(KILL_AFTER)
        lock = env.warehouse.with_name("mypizza.duckdb.lock")
        _wait(lambda: lock.read_text().startswith("mypizza live"), 30, "a cycle", loop)
        time.sleep(0.3)
        run.as_of_before_kill = datetime.fromisoformat(run.heartbeat()["as_of"]).timestamp()
        os.kill(loop.pid, signal.SIGKILL)
        run.killed_at = time.time()
        loop.wait()
        loop = _start(env, loop_log, "live", "--every", str(EVERY))
        processes.append(loop)

        time.sleep(max(0.0, SIMULATE_SECONDS - (time.monotonic() - began)))
        assert _stop(sim, timeout=120) == 0, sim_log.read_text()
        run.live_day = _pos_days(env)[-1]
        closed = time.time()
        _wait(
            lambda: datetime.fromisoformat(run.heartbeat()["as_of"]).timestamp() > closed,
            120,
            "the loop to load the closed day",
            loop,
        )

        # the nightly build, while the loop cycles: it waits for the cycle, then builds
        # (`mypizza build`: the night's `run` less the ingests; the loop loaded the POS)
        cycles = run.heartbeat().get("cycles", 0)
        started = time.monotonic()
        nightly = subprocess.run(
            [MYPIZZA, "build"], cwd=REPO, env=env.vars, capture_output=True, text=True
        )
        run.nightly_seconds = time.monotonic() - started
        run.nightly_rc, run.nightly_output = nightly.returncode, nightly.stdout + nightly.stderr
        _wait(lambda: run.heartbeat().get("cycles", 0) > cycles + 1, 120, "cycles", loop)
        run.cycles_during_nightly = run.heartbeat()["cycles"] - cycles
        # the slice as it stands after the night, from the same loads (the POS is quiet)
        shutil.copyfile(run.live, run.after_nightly)

        # the POS unreachable: the loop goes on, stale; back, and a new day: it catches up
        pos = env.world / "pos.sqlite"
        away = pos.with_name("pos.sqlite.away")
        os.rename(pos, away)
        try:
            _wait(lambda: run.heartbeat().get("error"), 30, "the loop to notice", loop)
            status = subprocess.run(
                [MYPIZZA, "status"], cwd=REPO, env=env.vars, capture_output=True, text=True
            )
            run.stale_status = (status.returncode, status.stdout)
            time.sleep(3 * EVERY)
            run.stale_alive = loop.poll() is None and run.heartbeat().get("error") is not None
        finally:
            os.rename(away, pos)
        env.mypizza("simulate", "--days", "1")
        run.batch_day = _pos_days(env)[-1]
        back = time.time()
        counts = _day_counts(pos, run.batch_day)

        def caught_up() -> bool:
            beat = run.heartbeat()
            if beat.get("error") or not run.live.exists():
                return False
            rows = query(
                run.live,
                "select store_code, orders_taken from marts.rpt_live_store_today "
                f"where sales_date = '{run.batch_day}'",
            )
            return dict(rows) == counts

        _wait(caught_up, 120, "the loop to catch up", loop)
        run.caught_up_seconds = time.time() - back
        time.sleep(2)  # a last look for the probe
        run.loop_exit = _stop(loop)
    finally:
        stop_probe.set()
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        if "watcher" in locals():
            watcher.join()
    run.result = holder.get("result")
    return run


def _day_counts(pos: Path, day: str) -> dict[str, int]:
    with sqlite3.connect(pos) as con:
        return dict(
            con.execute(
                "select s.store_code, count(*) from orders o join stores s using (store_id) "
                "where o.business_date = ? group by s.store_code",
                (day,),
            ).fetchall()
        )


def _live_daily(live: Path) -> dict[tuple[str, str], tuple[int, Decimal]]:
    rows = query(
        live,
        "select store_code, cast(sales_date as varchar), sum(orders), sum(net_sales) "
        "from marts.rpt_live_sales_by_hour group by all",
    )
    return {(s, d): (int(n), Decimal(v)) for s, d, n, v in rows}


def test_the_probe_measures_commit_to_page_latency(live_run: LiveRun) -> None:
    result = live_run.result
    assert result is not None
    # the orders the loop could publish before it was killed (committed before the POS was
    # read for its last slice); later ones wait for the restart, which is the fault's cost
    before_kill = result.stats(committed_before=live_run.as_of_before_kill)
    print(f"latency at {SPEED}x, every {EVERY:g} s, before the kill: {before_kill}")
    print(f"all orders: {result.stats()}, unseen {result.unseen}")
    assert before_kill["orders"] >= 10, before_kill
    # seconds, not minutes: the goal, p95 <= 15 s at 10x, is measured by bench/live.py; a
    # loaded CI machine (2 cores, several suites) takes several times longer per cycle
    assert before_kill["p95"] <= 45, before_kill
    assert result.unseen == 0, "orders the probe never saw on the page"


def test_the_live_figures_equal_the_pos_and_the_nightly_marts(live_run: LiveRun) -> None:
    env = live_run.env
    live = _live_daily(live_run.live)
    truth = daily_store_sales(env.world / "pos.sqlite")
    days = {live_run.live_day, live_run.batch_day}
    assert {d for _, d in live} == days
    for (store, day), (orders, net) in live.items():
        assert (orders, net) == (truth[store, day][0], truth[store, day][4]), (store, day)
    for store, day in truth:
        if day in days:
            assert (store, day) in live, f"{store} {day} missing from the live slice"
    # the nightly build after the day the live simulator closed: its marts agree with the
    # slice the loop published from the same loads, hour by hour (later, the next day's
    # refunds of that day's orders move both)
    nightly = query(
        env.published,
        "select store_code, hour_of_day, order_channel, orders, net_sales "
        f"from marts.rpt_sales_by_hour where sales_date = '{live_run.live_day}' "
        "and store_code in (select store_code from marts.rpt_live_store_today) order by all",
    )
    by_hour = query(
        live_run.after_nightly,
        "select store_code, hour_of_day, order_channel, orders, net_sales "
        f"from marts.rpt_live_sales_by_hour where sales_date = '{live_run.live_day}' order by all",
    )
    assert nightly and nightly == by_hour


def test_a_killed_cycle_loses_and_doubles_nothing(live_run: LiveRun) -> None:
    env = live_run.env
    assert live_run.killed_at, "the loop was not killed"
    with sqlite3.connect(env.world / "pos.sqlite") as con:
        pos_counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in POS_KEYS}
    for table, key in POS_KEYS.items():
        rows, keys = env.query(f"select count(*), count(distinct {key}) from raw_pos.{table}")[0]
        assert rows == keys == pos_counts[table], (table, rows, keys, pos_counts[table])
    log = live_run.logs[0].read_text()
    assert log.count("starting: warming dlt and dbt") == 2, log[-3000:]


def test_the_nightly_build_shares_the_writer_with_the_loop(live_run: LiveRun) -> None:
    assert live_run.nightly_rc == 0, live_run.nightly_output[-4000:]
    assert "being written by" not in live_run.nightly_output
    assert live_run.cycles_during_nightly >= 2


def test_an_unreachable_pos_shows_stale_then_catches_up(live_run: LiveRun) -> None:
    assert live_run.stale_status is not None
    code, text = live_run.stale_status
    assert code == 1, text
    line = next(line for line in text.splitlines() if line.startswith("live loop"))
    assert "STALE" in line and "cannot reach the POS" in line, line
    assert live_run.stale_alive, "the loop stopped while the POS was away"
    assert live_run.caught_up_seconds is not None and live_run.caught_up_seconds < 60
    assert live_run.loop_exit == 0
    assert live_run.heartbeat().get("stopped_at")


def test_the_stopped_simulator_left_a_whole_world(live_run: LiveRun) -> None:
    env = live_run.env
    with sqlite3.connect(env.world / "live.sqlite") as con:
        days = con.execute("select business_date, closed_at from live_days").fetchall()
    assert days and all(closed for _, closed in days), days
    world = json.loads((env.world / "world.json").read_text())
    assert world["days_simulated"] == len(_pos_days(env))
