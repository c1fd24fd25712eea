"""`make bench`: time every stage of the warehouse at several world sizes, beside DuckDB's
own native path on the same data.

For each size (stores x days) the script builds a fresh world and warehouse under the
work folder, and runs each stage as its own process (``mypizza ...`` or ``dbt ...``, as a
user would), timing it and polling the peak memory (RSS) of the whole process tree:

- ``simulate``: the world (POS database, inventory bucket, feedback API data, franchise
  exports);
- ``native pos``: DuckDB's sqlite scanner copying every POS table (CREATE TABLE AS), the
  engine's own limit for the POS ingest; ``native inventory``: DuckDB's read_csv and
  read_parquet over the inventory bucket, the limit for the inventory ingest;
- ``ingest pos``, ``ingest inventory``, ``ingest feedback``, ``ingest franchise``: the dlt
  pipelines, from an empty warehouse;
- ``dbt build`` (full) and ``dbt docs generate``;
- ``simulate +1 day``, ``ingest all +1 day`` and ``dbt build +1 day``: the nightly run
  after one new day (incremental).

It prints a table (rows, seconds, rows/s, peak memory, load average) and writes it to
``bench/results/<date>.md`` with a chart of time against data size per stage
(``bench/results/<date>.png``). The raw numbers go to ``bench/results/<date>.json``; a
later run on the same date replaces the sizes it ran and keeps the others, so
``--sizes small`` then ``--sizes medium`` give one table.

The machine may be shared: every row carries the load average (1 min) at its start and end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "bench" / "results"
DEFAULT_WORK = REPO / "bench" / "work"

# name -> (stores, days)
SIZES = {
    "tiny": (1, 7),
    "small": (5, 90),
    "medium": (20, 365),
    # The issue's large size is 50 x 730 "or the largest this 2-core machine finishes in
    # 30 minutes": from medium's per-stage times 50 x 730 takes ~43 min (the simulator
    # alone ~20), 35 x 730 ~30 min. `--sizes 50x730` runs the full one.
    "large": (35, 730),
}
MEMORY_TARGET_MB = 4096
INGESTS = ("pos", "inventory", "feedback", "franchise", "iot")


@dataclass
class Stage:
    size: str
    stage: str
    rows: int
    seconds: float
    peak_mb: float
    load_before: float
    load_after: float
    note: str = ""
    cpu_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class SizeResult:
    size: str
    stores: int
    days: int
    started: str
    stages: list[Stage] = field(default_factory=list)
    pos_rows: int = 0
    cpus: int = os.cpu_count() or 0

    def get(self, stage: str) -> Stage | None:
        return next((s for s in self.stages if s.stage == stage), None)


# ---------------------------------------------------------------- measuring a process
class _PeakMemory(threading.Thread):
    """Polls the RSS of a process and all its descendants; keeps the peak of the sum."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for proc in procs:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self.done.wait(self.interval)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float, str, float]:
    """Run ``command``; return (seconds, peak MB of its process tree, its output, CPU
    seconds of the process and every child it waited for)."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        poller = _PeakMemory(proc.pid)
        poller.start()
        output = proc.stdout.read() if proc.stdout else ""
        code = proc.wait()
        seconds = time.perf_counter() - started
        poller.done.set()
        poller.join()
        out.write(output)
    if code != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise RuntimeError(f"`{' '.join(command)}` failed (exit {code}):\n{tail}")
    return seconds, poller.peak / 2**20, output, _children_cpu() - cpu_before


def _load() -> float:
    return round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------- what each stage counts
_ROWS = re.compile(r"^(\w+): ([\d,]+) rows in", re.MULTILINE)


def ingested_rows(output: str) -> int:
    """Rows the ``mypizza ingest`` output says it loaded (every source in it)."""
    return sum(int(n.replace(",", "")) for _, n in _ROWS.findall(output))


def pos_rows(world: Path) -> int:
    with sqlite3.connect(world / "pos.sqlite") as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return sum(con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables)


# The native baselines run in a child Python process too, so they are measured the same way.
NATIVE_POS = """
import sqlite3, sys, duckdb
from duckdb_extensions import import_extension
import_extension("sqlite_scanner")
sqlite_path, target = sys.argv[1], sys.argv[2]
with sqlite3.connect(sqlite_path) as src:
    tables = [r[0] for r in src.execute("select name from sqlite_master where type='table'")]
con = duckdb.connect(target)
con.execute("load sqlite_scanner")
rows = 0
for t in tables:
    con.execute(f"create or replace table {t} as select * from sqlite_scan(?, ?)", [sqlite_path, t])
    rows += con.execute(f"select count(*) from {t}").fetchone()[0]
print(f"native_pos: {rows:,} rows in")
"""

NATIVE_INVENTORY = """
import sys, glob, duckdb
bucket, target = sys.argv[1], sys.argv[2]
con = duckdb.connect(target)
rows = 0
for name in ("deliveries", "waste", "stock_counts"):
    pattern = f"{bucket}/inventory/*/*/{name}.csv"
    if not glob.glob(pattern):
        continue
    con.execute(
        f"create or replace table {name} as select * "
        f"from read_csv(?, filename = true)",  # one header per kind: sniffed once
        [pattern],
    )
    rows += con.execute(f"select count(*) from {name}").fetchone()[0]
pattern = f"{bucket}/backups/*/inventory.parquet"
if glob.glob(pattern):
    con.execute(
        "create or replace table backups as select * "
        "from read_parquet(?, union_by_name = true, filename = true)",
        [pattern],
    )
    rows += con.execute("select count(*) from backups").fetchone()[0]
print(f"native_inventory: {rows:,} rows in")
"""


# ---------------------------------------------------------------- one size
def run_size(
    name: str,
    stores: int,
    days: int,
    work: Path,
    log: Path,
    compare: list[str] = (),
    on_stage=None,
    resume: SizeResult | None = None,
) -> SizeResult:
    base = work / name
    if resume is None and base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    world, warehouse = base / "world", base / "warehouse" / "mypizza.duckdb"
    env = dict(os.environ)
    env.update(
        MYPIZZA_WORLD=str(world),
        MYPIZZA_WAREHOUSE=str(warehouse),
        DBT_TARGET_PATH=str(base / "target"),
        DBT_LOG_PATH=str(base / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        RUNTIME__DLTHUB_TELEMETRY="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    mypizza, dbt, python = str(BIN / "mypizza"), str(BIN / "dbt"), str(BIN / "python")
    result = resume or SizeResult(
        name, stores, days, datetime.now(UTC).isoformat(timespec="seconds")
    )

    def stage(label: str, command: list[str], rows=None, note="") -> Stage:
        if (kept := result.get(label)) is not None:  # --resume: measured before
            _say(f"{name}: {label}: kept from the interrupted run")
            return kept
        _say(f"{name}: {label} ...")
        before = _load()
        seconds, peak, output, cpu = measure(command, env, log)
        counted = rows(output) if callable(rows) else int(rows or 0)
        note_text = note(output, seconds) if callable(note) else note
        if label == "simulate":
            result.pos_rows = counted
        done = Stage(name, label, counted, seconds, peak, before, _load(), note_text, cpu)
        result.stages.append(done)
        if on_stage:  # save after every stage: a run cut short still leaves its numbers
            on_stage(result)
        _say(
            f"{name}: {label}: {counted:,} rows in {seconds:.1f} s "
            f"({done.rows_per_second:,.0f} rows/s), {cpu:.1f} s CPU, peak {peak:,.0f} MB"
        )
        return done

    result.pos_rows = 1  # set from the world once it exists
    sim = stage(
        "simulate",
        [mypizza, "simulate", "--stores", str(stores), "--days", str(days), "--fresh"],
        lambda _output: pos_rows(world),
    )
    result.pos_rows = sim.rows
    native_db = base / "native.duckdb"
    stage(
        "native pos",
        [python, "-c", NATIVE_POS, str(world / "pos.sqlite"), str(native_db)],
        ingested_rows,
        "DuckDB sqlite_scan, CREATE TABLE AS",
    )
    stage(
        "native inventory",
        [python, "-c", NATIVE_INVENTORY, str(world / "bucket"), str(native_db)],
        ingested_rows,
        "DuckDB read_csv + read_parquet",
    )
    native_db.unlink(missing_ok=True)
    for backend in compare:  # the same ingest with another dlt backend, thrown away after
        saved = dict(env)
        env.update(
            SOURCES__POS__BACKEND=backend,
            MYPIZZA_WAREHOUSE=str(base / f"compare-{backend}" / "mypizza.duckdb"),
        )
        stage(f"ingest pos ({backend})", [mypizza, "ingest", "pos"], ingested_rows, "comparison")
        env.clear()
        env.update(saved)
        shutil.rmtree(base / f"compare-{backend}", ignore_errors=True)
    # the whole nightly job as a user runs it, on a warehouse of its own: the first
    # `mypizza run` on a fresh warehouse here, the one after a new day further down
    runs = base / "runs"
    run_env = {
        "MYPIZZA_WAREHOUSE": str(runs / "warehouse" / "mypizza.duckdb"),
        "DBT_TARGET_PATH": str(runs / "target"),
        "DBT_LOG_PATH": str(runs / "logs"),
    }

    def whole_run(label: str, note: str) -> Stage:
        saved = dict(env)
        env.update(run_env)
        try:
            return stage(
                label,
                [mypizza, "run"],
                ingested_rows,
                lambda output, seconds: f"{note}: {run_breakdown(output, seconds)}",
            )
        finally:
            env.clear()
            env.update(saved)

    whole_run(RUN_FRESH, "whole `mypizza run`, fresh warehouse")
    raw_rows = 0
    for source in INGESTS:
        raw_rows += stage(f"ingest {source}", [mypizza, "ingest", source], ingested_rows).rows
    stage("dbt build", [dbt, "--no-use-colors", "build"], raw_rows, "full, on all raw rows")
    stage("dbt docs generate", [dbt, "--no-use-colors", "docs", "generate", "--static"], raw_rows)
    before = pos_rows(world)
    stage(
        "simulate +1 day", [mypizza, "simulate", "--days", "1"], lambda _o: pos_rows(world) - before
    )
    new_rows = stage("ingest all +1 day", [mypizza, "ingest", "all"], ingested_rows).rows
    stage("dbt build +1 day", [dbt, "--no-use-colors", "build"], new_rows, "incremental")
    whole_run(RUN_NIGHTLY, "whole `mypizza run` after one new day")
    return result


RUN_FRESH, RUN_NIGHTLY = "mypizza run (fresh)", "mypizza run +1 day"
# what `mypizza run` prints of its own stages (mypizza/dbt_runner.py DbtResult, summary)
_DBT_LINE = re.compile(r"^\s*dbt (build|docs generate): .* in ([0-9.]+) s$", re.M)


def run_breakdown(output: str, seconds: float) -> str:
    """Where a `mypizza run`'s time went: dbt build and docs as dbt reported them, the
    rest (start-up, the ingests, publishing) the difference to the whole."""
    dbt = {kind: float(s) for kind, s in _DBT_LINE.findall(output)}
    build, docs = dbt.get("build", 0.0), dbt.get("docs generate")
    docs_text = f"{docs:.1f} s" if docs is not None else "skipped"
    rest = seconds - build - (docs or 0.0)
    return f"dbt build {build:.1f} s, docs {docs_text}, ingest + publish {rest:.1f} s"


# ---------------------------------------------------------------- reporting
def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value else "-"


def _sum(result: SizeResult, labels: list[str]) -> float:
    """The stages' seconds summed; 0 when one of them was not measured (a stage that failed
    stops its size), so no ratio is reported from a part of the run."""
    if any(result.get(label) is None for label in labels):
        return 0.0
    return sum(s.seconds for s in result.stages if s.stage in labels)


def summary_lines(results: list[SizeResult]) -> list[str]:
    """Ratios to the native baselines and the issue's targets, per size."""
    lines = []
    for r in results:
        lines.append(f"**{r.size}** ({r.stores} stores x {r.days} days):")
        for source in ("pos", "inventory"):
            mine, native = r.get(f"ingest {source}"), r.get(f"native {source}")
            if mine and native and native.rows_per_second:
                ratio = mine.rows_per_second / native.rows_per_second
                by_cpu = (
                    f"; by CPU time {native.cpu_seconds / mine.cpu_seconds:.2f}x"
                    if mine.cpu_seconds and native.cpu_seconds
                    else ""
                )
                lines.append(
                    f"- ingest {source}: {ratio:.2f}x native ({_fmt_rate(mine.rows_per_second)} "
                    f"vs {_fmt_rate(native.rows_per_second)} rows/s{by_cpu})"
                )
        full = _sum(r, [f"ingest {s}" for s in INGESTS] + ["dbt build"])
        incr = _sum(r, ["ingest all +1 day", "dbt build +1 day"])
        dbt_full, dbt_incr = r.get("dbt build"), r.get("dbt build +1 day")
        if full and incr:
            cpu_full = sum(
                s.cpu_seconds
                for s in r.stages
                if s.stage in [f"ingest {x}" for x in INGESTS] + ["dbt build"]
            )
            cpu_incr = sum(
                s.cpu_seconds
                for s in r.stages
                if s.stage in ("ingest all +1 day", "dbt build +1 day")
            )
            lines.append(
                f"- nightly run after one new day (ingest all + dbt build): {incr:.0f} s = "
                f"{incr / full:.0%} of the full run ({full:.0f} s); by CPU time "
                f"{cpu_incr:.0f} s = {cpu_incr / max(cpu_full, 1e-9):.0%} of {cpu_full:.0f} s"
            )
        fresh_run, nightly_run = r.get(RUN_FRESH), r.get(RUN_NIGHTLY)
        if fresh_run and nightly_run:
            lines.append(
                f"- **whole `mypizza run` after one new day: {nightly_run.seconds:.0f} s = "
                f"{nightly_run.seconds / fresh_run.seconds:.0%} of a whole `mypizza run` on a "
                f"fresh warehouse** ({fresh_run.seconds:.0f} s); target <= 10%. Nightly: "
                f"{nightly_run.note.split(': ', 1)[-1]}; fresh: "
                f"{fresh_run.note.split(': ', 1)[-1]}"
            )
        if dbt_full and dbt_incr:
            lines.append(
                f"- dbt build alone: {dbt_incr.seconds:.0f} s = "
                f"{dbt_incr.seconds / dbt_full.seconds:.0%} of the full build "
                f"({dbt_full.seconds:.0f} s)"
            )
        worst = max(r.stages, key=lambda s: s.peak_mb)
        verdict = "under" if worst.peak_mb < MEMORY_TARGET_MB else "OVER"
        lines.append(
            f"- peak memory: {worst.peak_mb:,.0f} MB ({worst.stage}), {verdict} "
            f"{MEMORY_TARGET_MB:,} MB"
        )
        loads = [s.load_before for s in r.stages] + [s.load_after for s in r.stages]
        lines.append(
            f"- load average (1 min) during the run: {min(loads):.1f} .. {max(loads):.1f} "
            f"on {r.cpus} CPUs"
        )
        lines.append("")
    return lines


def slope_lines(results: list[SizeResult], what: str = "seconds") -> list[str]:
    """log(time) / log(rows) between consecutive sizes, per stage: 1.0 grows as the data.
    ``what``: wall ``seconds`` or ``cpu_seconds`` (steadier on a shared machine)."""
    ordered = sorted(results, key=lambda r: r.pos_rows)
    if len(ordered) < 2:
        return []
    lines = [
        f"Slope of {'CPU time' if what == 'cpu_seconds' else 'wall time'} against data "
        "size (log-log, POS rows as the size; 1.0 = linear, "
        "< 1 = fixed costs still dominate, > 1 = worse than linear):",
        "",
        "| stage | "
        + " | ".join(f"{a.size} -> {b.size}" for a, b in zip(ordered, ordered[1:], strict=False))
        + " |",
        "|---|" + "---:|" * (len(ordered) - 1),
    ]
    for label in [s.stage for s in ordered[0].stages]:
        cells = []
        for a, b in zip(ordered, ordered[1:], strict=False):
            sa, sb = a.get(label), b.get(label)
            ta, tb = (getattr(sa, what), getattr(sb, what)) if sa and sb else (0, 0)
            if ta > 0 and tb > 0 and b.pos_rows != a.pos_rows:
                cells.append(f"{math.log(tb / ta) / math.log(b.pos_rows / a.pos_rows):.2f}")
            else:
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines + [""]


def table_lines(results: list[SizeResult]) -> list[str]:
    lines = [
        "| size | stage | rows | seconds | rows/s | CPU s | peak MB | load 1m | note |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        for s in r.stages:
            lines.append(
                f"| {r.size} {r.stores}x{r.days} | {s.stage} | {s.rows:,} | {s.seconds:,.1f} | "
                f"{_fmt_rate(s.rows_per_second)} | {s.cpu_seconds:,.1f} | {s.peak_mb:,.0f} | "
                f"{s.load_before:.1f} -> {s.load_after:.1f} | {s.note} |"
            )
    return lines


def write_chart(results: list[SizeResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(results, key=lambda r: r.pos_rows)
    fig, ax = plt.subplots(figsize=(10, 6))
    labels = list(dict.fromkeys(s.stage for r in ordered for s in r.stages))
    for label in labels:
        points = [(r.pos_rows, r.get(label).seconds) for r in ordered if r.get(label)]
        xs, ys = zip(*points, strict=False)
        style = "--" if label.startswith("native") else "-"
        ax.plot(xs, ys, style, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("world size (POS rows)")
    ax.set_ylabel("seconds (log)")
    ax.set_title("myPizza: time per stage against data size (dashed: DuckDB native)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(results: list[SizeResult], day: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    ordered = sorted(results, key=lambda r: r.pos_rows)
    md = RESULTS / f"{day}.md"
    lines = [
        f"# Benchmark {day}",
        "",
        f"`make bench` on {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GB "
        "RAM. Each stage is its own process; peak MB is the highest summed RSS of its process "
        "tree (polled every 0.1 s). The machine is shared: timings are noisy, see the load "
        "column (1-minute load average at the stage's start and end).",
        "",
        *table_lines(ordered),
        "",
        *summary_lines(ordered),
        *slope_lines(ordered),
        *slope_lines(ordered, "cpu_seconds"),
        f"![time against data size]({day}.png)",
        "",
    ]
    md.write_text("\n".join(lines))
    write_chart(ordered, RESULTS / f"{day}.png")
    return md


def load_previous(path: Path) -> dict[str, SizeResult]:
    if not path.exists():
        return {}
    out = {}
    for raw in json.loads(path.read_text()):
        stages = [Stage(**s) for s in raw.pop("stages")]
        out[raw["size"]] = SizeResult(**raw, stages=stages)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="small,medium,large",
        help=f"comma-separated, of {', '.join(f'{k} ({s}x{d})' for k, (s, d) in SIZES.items())}"
        " or STORESxDAYS",
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="worlds and warehouses")
    parser.add_argument("--keep", action="store_true", help="keep each size's world afterwards")
    parser.add_argument(
        "--compare-pos-backend",
        action="append",
        default=[],
        help="also time the POS ingest with this dlt sql_database backend (e.g. pyarrow)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted size whose world was kept (--keep): keep its world, "
        "its simulate and native stages; ingest and build again from an empty warehouse",
    )
    parser.add_argument("--date", default=datetime.now(UTC).date().isoformat())
    args = parser.parse_args(argv)

    sizes = []
    for name in args.sizes.split(","):
        name = name.strip()
        if name in SIZES:
            sizes.append((name, *SIZES[name]))
        elif re.fullmatch(r"\d+x\d+", name):
            stores, days = map(int, name.split("x"))
            sizes.append((name, stores, days))
        else:
            parser.error(f"unknown size '{name}'")

    args.work.mkdir(parents=True, exist_ok=True)
    store = RESULTS / f"{args.date}.json"
    for name, stores, days in sizes:
        log = args.work / f"{name}.log"
        _say(f"{name}: {stores} stores x {days} days in {args.work / name} (log: {log})")

        def save(partial: SizeResult) -> Path:
            RESULTS.mkdir(parents=True, exist_ok=True)
            results = load_previous(store)  # re-read: another bench run may have written
            results[partial.size] = partial
            store.write_text(json.dumps([asdict(r) for r in results.values()], indent=1))
            return write_report(list(results.values()), args.date)

        resume = load_previous(store).get(name) if args.resume else None
        if resume is not None:
            resume.stages = [
                s for s in resume.stages if s.stage == "simulate" or s.stage.startswith("native")
            ]
            shutil.rmtree(args.work / name / "warehouse", ignore_errors=True)
        done = run_size(
            name,
            stores,
            days,
            args.work,
            log,
            args.compare_pos_backend,
            on_stage=save,
            resume=resume,
        )
        md = save(done)
        results = load_previous(store)
        if not args.keep:
            shutil.rmtree(args.work / name, ignore_errors=True)
        print("\n".join(table_lines([results[name]])))
        print("\n".join(summary_lines([results[name]])))
        _say(f"wrote {md} and {md.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
