"""The freshness probe: from an order's commit in the POS to its visibility on the dashboard.

The live simulator records each order's commit time (``live_commits`` in the world's
``live.sqlite``). The probe polls what the dashboard's Today page reads, the live slice
``<warehouse>.live.duckdb``, a few times a second: ``rpt_live_store_today.orders_taken``
counts every order a store took on its day (voided ones too, so it only grows), and orders
are numbered in the order they were taken, so when a store's count for a day reaches N, its
first N orders of that day are visible. An order's latency is the first time the probe saw
it, less its commit time. The probe also samples the loop's CPU time (``/proc``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from simulator.live import read_commits
from simulator.world import pos_url_for


@dataclass
class ProbeResult:
    latencies: dict[int, float] = field(default_factory=dict)  # order id -> seconds
    committed: dict[int, float] = field(default_factory=dict)  # order id -> commit time
    catch_up: set[int] = field(default_factory=set)  # orders written at once, not as they happened
    seconds: float = 0.0
    cpu_seconds: float | None = None  # the loop's CPU time over the probe's window

    def stats(self, committed_before: float | None = None) -> dict[str, float]:
        """p50, p95, max latency (s) of the orders seen that were written as they happened
        (not in a catch-up batch), committed before the given time."""
        values = sorted(
            seconds
            for order_id, seconds in self.latencies.items()
            if (committed_before is None or self.committed[order_id] < committed_before)
            and order_id not in self.catch_up
        )
        if not values:
            return {"orders": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}

        def pct(q: float) -> float:
            return values[min(len(values) - 1, round(q * (len(values) - 1)))]

        return {"orders": len(values), "p50": pct(0.5), "p95": pct(0.95), "max": values[-1]}

    @property
    def unseen(self) -> int:
        return len(set(self.committed) - set(self.latencies))

    @property
    def cpu_share(self) -> float | None:
        """The loop's CPU time as a share of one core over the window."""
        if self.cpu_seconds is None or not self.seconds:
            return None
        return self.cpu_seconds / self.seconds


def _cpu_seconds(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _store_ids(world: Path) -> dict[str, int]:
    url = pos_url_for(world)
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as con:
        return dict(con.execute("select store_code, store_id from stores").fetchall())


def probe(
    world: Path,
    live_file: Path,
    stop: threading.Event,
    loop_pid: int | None = None,
    interval: float = 0.2,
) -> ProbeResult:
    """Watch until ``stop`` is set; returns each order's commit-to-visible latency."""
    result = ProbeResult()
    stores = _store_ids(world)
    ranks: dict[tuple[int, str], list[int]] = defaultdict(list)  # (store, day) -> order ids
    seen: dict[tuple[int, str], int] = {}  # (store, day) -> orders visible
    known: set[int] = set()  # orders committed before the probe started (ranked, not timed)
    started, cpu0 = time.monotonic(), _cpu_seconds(loop_pid)
    since = time.time()  # orders committed before the probe started are not its to time
    last_version = None
    while True:
        now = time.time()
        for order_id, store_id, day, committed, catch_up in read_commits(world):
            if committed < since:
                if order_id not in known:
                    ranks[store_id, day].append(order_id)
                    known.add(order_id)
                continue
            if order_id not in result.committed:
                result.committed[order_id] = committed
                ranks[store_id, day].append(order_id)
                if catch_up:
                    result.catch_up.add(order_id)
        version = live_file.stat().st_mtime_ns if live_file.exists() else None
        if version is not None and version != last_version:
            try:
                with duckdb.connect(str(live_file), read_only=True) as con:
                    rows = con.execute(
                        "select store_code, cast(sales_date as varchar), orders_taken "
                        "from marts.rpt_live_store_today"
                    ).fetchall()
                last_version = version
            except duckdb.Error:
                rows = []  # swapped while opening: the next poll reads it again
            for code, day, count in rows:
                key = (stores.get(code, -1), day)
                seen[key] = max(seen.get(key, 0), int(count))
        for key, count in seen.items():
            for order_id in ranks.get(key, [])[:count]:
                if order_id not in result.latencies and order_id in result.committed:
                    result.latencies[order_id] = max(0.0, now - result.committed[order_id])
        if stop.wait(interval):
            break
    result.seconds = time.monotonic() - started
    cpu1 = _cpu_seconds(loop_pid)
    if cpu0 is not None and cpu1 is not None:
        result.cpu_seconds = cpu1 - cpu0
    return result
