"""`make bench-live`: how long from an order's commit in the POS to the dashboard's Today page.

Makes a world (STORES x DAYS, one nightly `mypizza run`), starts `mypizza live --every E`,
then for each pace (1x, 10x, 100x by default) writes the POS live from the evening rush
(`mypizza simulate --live --speed P --clock 17:00`) for a while, with the probe
(mypizza/live_probe.py) watching the live slice the page reads. Prints the table (pace,
orders, p50, p95, max latency, the loop's CPU share) and what a cycle is made of, and writes
them to bench/results/live-<date>.md.

    python bench/live.py [--stores 3] [--days 14] [--every 1] [--paces 1,10,100]
                         [--seconds 120,90,60] [--work bench/work/live]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from statistics import mean

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mypizza.live import live_path, read_heartbeat  # noqa: E402
from mypizza.live_probe import probe  # noqa: E402

MYPIZZA = str(Path(sys.executable).with_name("mypizza"))
CYCLE = re.compile(
    r"cycle \d+: (?P<total>[\d.]+) s \(lock (?P<lock>[\d.]+) s, pos (?P<rows>[\d,]+) rows "
    r"(?P<pos>[\d.]+) s(?:, dbt (?P<dbt>[\d.]+) s)?, publish (?P<publish>[\d.]+) s\)"
)


def _run(env: dict, *args: str) -> None:
    subprocess.run([MYPIZZA, *args], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=3)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--paces", default="1,10,100")
    parser.add_argument("--seconds", default="120,90,60")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "live")
    args = parser.parse_args(argv)
    paces = [float(p) for p in args.paces.split(",")]
    seconds = [float(s) for s in args.seconds.split(",")]
    seconds += [seconds[-1]] * (len(paces) - len(seconds))

    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse = work / "warehouse" / "mypizza.duckdb"
    env = {
        **os.environ,
        "MYPIZZA_WORLD": str(work / "world"),
        "MYPIZZA_WAREHOUSE": str(warehouse),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    print(f"world {args.stores} stores x {args.days} days, nightly run ...", flush=True)
    _run(env, "simulate", "--stores", str(args.stores), "--days", str(args.days))
    _run(env, "run")

    log = open(work / "live.log", "w")  # noqa: SIM115 (closed below)
    loop = subprocess.Popen(
        [MYPIZZA, "live", "--every", str(args.every)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    rows = []
    try:
        _wait_for(
            lambda: (read_heartbeat(warehouse) or {}).get("as_of"), 180, "the loop's first cycle"
        )
        for pace, length in zip(paces, seconds, strict=False):
            rows.append(_measure(env, work, warehouse, loop.pid, pace, length, args.every))
            print(_row(rows[-1]), flush=True)
    finally:
        loop.send_signal(signal.SIGTERM)
        try:
            loop.wait(timeout=60)
        except subprocess.TimeoutExpired:
            loop.kill()
        log.close()
    breakdown = _breakdown((work / "live.log").read_text())
    report = _report(args, rows, breakdown)
    print(report)
    out = REPO / "bench" / "results" / f"live-{date.today()}.md"
    out.write_text(report + "\n", encoding="utf-8")
    print(f"written to {out.relative_to(REPO)}; work folder {work} (delete at will)")
    return 0


def _measure(
    env: dict, work: Path, warehouse: Path, loop_pid: int, pace: float, length: float, every: float
) -> dict:
    stop = threading.Event()
    holder: dict = {}
    watcher = threading.Thread(
        target=lambda: holder.setdefault(
            "result", probe(work / "world", live_path(warehouse), stop, loop_pid)
        )
    )
    watcher.start()
    sim = subprocess.Popen(
        [MYPIZZA, "simulate", "--live", "--speed", f"{pace:g}", "--clock", "17:00"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    began = time.time()
    time.sleep(length)
    stopped = time.time()
    sim.send_signal(signal.SIGTERM)
    sim.wait(timeout=120)
    time.sleep(max(10.0, 5 * every))  # orders committed before the stop become visible
    stop.set()
    watcher.join()
    result = holder["result"]
    stats = result.stats(committed_before=stopped)
    late = [o for o, t in result.committed.items() if t < stopped and o not in result.latencies]
    return {
        "pace": pace,
        "seconds": stopped - began,
        **stats,
        "unseen": len(late),
        "cpu": result.cpu_share,
    }


def _row(r: dict) -> str:
    cpu = f"{100 * r['cpu']:.0f}%" if r["cpu"] is not None else "-"
    return (
        f"| {r['pace']:g}x | {r['seconds']:.0f} s | {r['orders']} | {r['p50']:.1f} s | "
        f"{r['p95']:.1f} s | {r['max']:.1f} s | {cpu} |"
    )


def _breakdown(log: str) -> dict:
    cycles = [m.groupdict() for m in CYCLE.finditer(log)]
    built = [c for c in cycles if c["dbt"]]
    if not built:
        return {}
    return {
        "cycles": len(cycles),
        "built": len(built),
        **{
            key: mean(float(c[key]) for c in built)
            for key in ("total", "lock", "pos", "dbt", "publish")
        },
        "idle_total": mean(float(c["total"]) for c in cycles if not c["dbt"])
        if len(built) < len(cycles)
        else 0.0,
    }


def _report(args: argparse.Namespace, rows: list[dict], b: dict) -> str:
    lines = [
        f"# Live freshness, {date.today()}",
        "",
        f"World {args.stores} stores x {args.days} days; `mypizza live --every {args.every:g}`;"
        " the POS written from 17:00 UTC (the evening rush). Latency: an order's commit in "
        "the POS to the probe seeing it in the live slice the Today page reads. CPU: the "
        "loop's CPU time over the window, as a share of one core.",
        "",
        "| pace | window | orders | p50 | p95 | max | loop CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[_row(r) for r in rows],
    ]
    if b:
        lines += [
            "",
            f"A cycle that found new orders ({b['built']} of {b['cycles']} cycles), on average:"
            f" {b['total']:.2f} s = lock {b['lock']:.2f} s + POS load {b['pos']:.2f} s + "
            f"dbt run {b['dbt']:.2f} s + publish {b['publish']:.2f} s (the rest: the "
            "signature and load-id queries, the heartbeat). A cycle with nothing new: "
            f"{b['idle_total']:.2f} s.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
