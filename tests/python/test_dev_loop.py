"""The analyst's day: edit a model, build only it and what depends on it, never touch prod.

The analyst's natural command, `dbt build --target dev -s fct_orders+`, as typed on a fresh
dev file: what it does not build is read from production (the dev target's default
deferral, macros/dev/dev_reads_production.sql).

One slim CI run (`make ci-changed`, the dev target on a throw-away file) in a scratch copy of
the project with one staging model edited, against a production that is busy: a pipeline
holds the live warehouse file (DuckDB's write lock plus mypizza's writer lock) for the whole
run. Production is a copy of `built_world`'s published warehouse and its kept dbt state, so
the shared world is only read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from support import DBT, REPO, Env

from mypizza.warehouse import WarehouseBusy, writer_lock

EDITED = "model.mypizza.stg_pos__customers"
EDITED_FILE = Path("models/staging/pos/stg_pos__customers.sql")
RUNNABLE = ("model.", "seed.", "snapshot.", "test.")

# A pipeline in the middle of a run: the writer lock and DuckDB's own lock on the live file.
PIPELINE = """
import sys, duckdb
from pathlib import Path
from mypizza.warehouse import writer_lock
live = Path(sys.argv[1])
with writer_lock(live):
    con = duckdb.connect(str(live))
    con.execute("create or replace table main.pipeline_in_progress as select 1 as x")
    print("holding", flush=True)
    sys.stdin.read()  # until the test lets go
    con.close()
"""


@dataclass
class SlimRun:
    prod: Path  # production's live warehouse (a copy of built_world's), held during the run
    published: Path
    state: Path
    ci_dir: Path
    result: subprocess.CompletedProcess[str]
    live_was_locked: bool
    writer_was_busy: bool
    published_sha_before: str
    seconds: float


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scratch_project(dest: Path) -> Path:
    """The dbt project as an analyst's clone has it (no data, no artifacts)."""
    for name in ("dbt_project.yml", "profiles.yml", "Makefile", "mk/dev.mk"):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    skip = shutil.ignore_patterns("python", "data", "artifacts", "__pycache__", "*.pyc")
    for folder in ("models", "macros", "seeds", "snapshots", "tests", "analyses"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, dest / folder, ignore=skip)
    return dest


@pytest.fixture(scope="module")
def slim_run(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> SlimRun:
    root = tmp_path_factory.mktemp("dev_loop")
    prod = root / "warehouse" / "mypizza.duckdb"
    published = prod.with_name("mypizza.published.duckdb")
    state = prod.parent / "prod-state"
    prod.parent.mkdir(parents=True)
    shutil.copyfile(built_world.published, published)
    shutil.copyfile(built_world.published, prod)
    shutil.copytree(built_world.warehouse.parent / "prod-state", state)

    project = _scratch_project(root / "project")
    sql = project / EDITED_FILE
    sql.write_text("-- an analyst's edit: the customer list, as before\n" + sql.read_text())

    pipeline = subprocess.Popen(
        [sys.executable, "-c", PIPELINE, str(prod)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert pipeline.stdout is not None and pipeline.stdout.readline().strip() == "holding"
        try:
            duckdb.connect(str(prod), read_only=True).close()
            live_was_locked = False
        except duckdb.IOException:
            live_was_locked = True
        try:
            with writer_lock(prod):
                writer_was_busy = False
        except WarehouseBusy:
            writer_was_busy = True
        sha_before = _sha(published)
        started = time.perf_counter()
        ci_dir = root / "ci"
        result = subprocess.run(
            ["make", "-o", "setup", "ci-changed", f"BIN={Path(sys.executable).parent}"]
            + [f"DEV_CI_DIR={ci_dir}"],
            cwd=project,
            env={**built_world.vars, "MYPIZZA_WAREHOUSE": str(prod)},
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        assert pipeline.poll() is None, "the pipeline must still hold production"
    finally:
        pipeline.communicate(timeout=60)
    assert pipeline.returncode == 0
    return SlimRun(
        prod,
        published,
        state,
        ci_dir,
        result,
        live_was_locked,
        writer_was_busy,
        sha_before,
        seconds,
    )


def _descendants(manifest: dict, node: str) -> set[str]:
    found, todo = {node}, [node]
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {n for n in found if n.startswith(RUNNABLE)}


def test_slim_build_runs_only_the_edited_model_and_its_children(slim_run: SlimRun) -> None:
    assert slim_run.result.returncode == 0, slim_run.result.stdout + slim_run.result.stderr
    prod_manifest = json.loads((slim_run.state / "manifest.json").read_text())
    expected = _descendants(prod_manifest, EDITED)
    results = json.loads((slim_run.ci_dir / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith(RUNNABLE)}
    assert set(ran) == expected
    assert {n for n in ran if n.startswith("model.")} == {EDITED, "model.mypizza.dim_customers"}
    assert set(ran.values()) <= {"success", "pass"}
    print(f"slim CI: {len(ran)} nodes in {slim_run.seconds:.1f} s")


def test_dev_build_works_while_a_pipeline_holds_production(
    slim_run: SlimRun, built_world: Env
) -> None:
    # production was really held: nobody could open the live file, nor take the writer lock
    assert slim_run.live_was_locked and slim_run.writer_was_busy
    assert slim_run.result.returncode == 0, slim_run.result.stdout + slim_run.result.stderr
    # the published copy was only read
    assert _sha(slim_run.published) == slim_run.published_sha_before

    # what the dev build made reads production's data: the raw POS tables (the edited view)
    # and production's models (dim_customers counts orders through the deferred intermediate)
    with sqlite3.connect(built_world.world / "pos.sqlite") as pos:
        customers = pos.execute("select count(*) from customers").fetchone()[0]
        orders = pos.execute(
            "select count(*) from orders where customer_id in (select customer_id from customers)"
            " and status <> 'voided'"
        ).fetchone()[0]
    with duckdb.connect(str(slim_run.ci_dir / "ci.duckdb"), read_only=True) as dev:
        dev.execute(f"attach '{slim_run.published}' as mypizza (read_only)")
        assert dev.execute("select count(*) from ci.staging.stg_pos__customers").fetchone() == (
            customers,
        )
        assert dev.execute(
            "select count(*), sum(lifetime_orders) from ci.marts.dim_customers"
        ).fetchone() == (customers, orders)
        # and it built nothing it did not have to: fct_orders stays production's
        assert dev.execute(
            "select count(*) from information_schema.tables"
            " where table_catalog = 'ci' and table_name = 'fct_orders'"
        ).fetchone() == (0,)
    # the pipeline's own work went on untouched
    with duckdb.connect(str(slim_run.prod), read_only=True) as live:
        assert live.execute("select x from main.pipeline_in_progress").fetchall() == [(1,)]


# ---------------------------------------------------------------- the natural command
NATURAL = ("build", "--target", "dev", "-s", "fct_orders+")


@dataclass
class NaturalRun:
    dev_file: Path
    published: Path
    result: subprocess.CompletedProcess[str]
    target: Path


@pytest.fixture(scope="module")
def natural_run(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> NaturalRun:
    """`dbt build --target dev -s fct_orders+` exactly as typed, from the repository root,
    after a production build (a copy of built_world's published warehouse), on a fresh dev
    file: the default one, <warehouse folder>/dev_<user>.duckdb."""
    root = tmp_path_factory.mktemp("natural")
    prod = root / "warehouse" / "mypizza.duckdb"
    published = prod.with_name("mypizza.published.duckdb")
    prod.parent.mkdir(parents=True)
    shutil.copyfile(built_world.published, published)
    target = root / "target"
    target.mkdir()
    # dbt's partial parse of the same project, as an analyst's own target/ would hold it
    shutil.copyfile(built_world.target / "partial_parse.msgpack", target / "partial_parse.msgpack")
    env = {
        **built_world.vars,
        "MYPIZZA_WAREHOUSE": str(prod),
        "MYPIZZA_DEV_USER": "ana",
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(root / "logs"),
    }
    env.pop("MYPIZZA_DEV_DUCKDB", None)
    result = subprocess.run([DBT, *NATURAL], cwd=REPO, env=env, capture_output=True, text=True)
    return NaturalRun(prod.with_name("dev_ana.duckdb"), published, result, target)


def test_the_natural_dev_command_works_as_typed_on_a_fresh_file(natural_run: NaturalRun) -> None:
    result = natural_run.result
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    done = [line for line in result.stdout.splitlines() if "Done. PASS=" in line]
    assert done and "ERROR=0" in done[0] and "SKIP=0" in done[0], done
    results = json.loads((natural_run.target / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    # fct_orders' unit test read its input, int_orders_unioned, from production
    units = [n for n in statuses if n.startswith("unit_test.mypizza.fct_orders.")]
    assert units and all(statuses[n] == "pass" for n in units)
    manifest = json.loads((natural_run.target / "manifest.json").read_text())
    built = {n for n in statuses if n.startswith("model.")}
    assert built == {
        n for n in _descendants(manifest, "model.mypizza.fct_orders") if n.startswith("model.")
    }
    assert set(statuses.values()) <= {"success", "pass", "no-op"}


def test_the_natural_dev_command_builds_only_the_selection_and_reads_the_rest(
    natural_run: NaturalRun, built_world: Env
) -> None:
    assert natural_run.result.returncode == 0
    with duckdb.connect(str(natural_run.dev_file), read_only=True) as dev:
        dev.execute(f"attach '{natural_run.published}' as mypizza (read_only)")
        kinds = dict(
            dev.execute(
                "select table_schema || '.' || table_name, table_type"
                " from information_schema.tables where table_catalog = 'dev_ana'"
            ).fetchall()
        )
        # the selection was built here, as tables; its parents are views of production
        assert kinds["marts.fct_orders"] == "BASE TABLE"
        assert kinds["marts.rpt_daily_store_sales"] == "BASE TABLE"
        assert kinds["intermediate.int_orders_unioned"] == "VIEW"
        assert kinds["marts.dim_stores"] == "VIEW"
        # the dev build of fct_orders holds exactly production's rows
        for one, other in (("dev_ana", "mypizza"), ("mypizza", "dev_ana")):
            assert dev.execute(
                f"select count(*) from (select * from {one}.marts.fct_orders"
                f" except all select * from {other}.marts.fct_orders)"
            ).fetchone() == (0,)
        pos_orders = dev.execute(
            "select count(*) from dev_ana.marts.fct_orders where source_system = 'mypizza_pos'"
        ).fetchone()[0]
    with sqlite3.connect(built_world.world / "pos.sqlite") as pos:
        assert pos.execute("select count(*) from orders").fetchone()[0] == pos_orders
