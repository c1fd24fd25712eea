"""The analyst's day: edit a model, build only it and what depends on it, never touch prod.

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
from conftest import REPO, Env

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
    skip = shutil.ignore_patterns("python", "artifacts", "__pycache__", "*.pyc")
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
