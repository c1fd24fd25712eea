"""The warehouse on Dagster (orchestration/): the definitions load and join the dlt assets to
the dbt sources; materialising every asset gives the same marts as `mypizza run`; a failed
source holds back only what depends on it; the schedule and the sensors ask for the right
runs; and a real `dagster dev` (UI + daemon) runs the nightly schedule, ingest then build,
while Chromium finds fct_orders and its upstream dlt assets in the asset graph.

One Dagster instance (DAGSTER_HOME in a temporary folder) for the whole file, over the shared
small world `built_world` (2 stores x 14 days) and a warehouse of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
MEASUREMENTS = "orchestration_measurements.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Orchestra:
    """A warehouse and a Dagster home of their own, over the shared world."""

    def __init__(self, root: Path, world: Path) -> None:
        self.root = root
        self.world = world
        self.warehouse = root / "warehouse" / "mypizza.duckdb"
        self.published = self.warehouse.with_name("mypizza.published.duckdb")
        self.home = root / "dagster_home"
        self.home.mkdir(parents=True)
        shutil.copyfile(REPO / "orchestration" / "dagster.yaml", self.home / "dagster.yaml")
        self.vars = {
            "MYPIZZA_WORLD": str(world),
            "MYPIZZA_WAREHOUSE": str(self.warehouse),
            "DBT_TARGET_PATH": str(root / "target"),
            "DBT_LOG_PATH": str(root / "logs"),
            "DAGSTER_HOME": str(self.home),
            "DBT_VERSION_CHECK": "false",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "DLT_PROJECT_DIR": str(REPO),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }


@pytest.fixture(scope="module")
def orch(built_world, tmp_path_factory: pytest.TempPathFactory):
    """The environment set for this file (restored after it), and the definitions module."""
    env = Orchestra(tmp_path_factory.mktemp("orchestration"), built_world.world)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.vars.items():
            patch.setenv(key, value)
        for key in ("SOURCES__INVENTORY__BUCKET_URL", "SOURCES__FRANCHISE__BUCKET_URL"):
            patch.delenv(key, raising=False)
        sys.modules.pop("orchestration.definitions", None)
        import dagster as dg

        from orchestration import definitions

        env.dg = dg
        env.module = definitions
        env.defs = definitions.defs
        env.instance = dg.DagsterInstance.get()  # from DAGSTER_HOME
        env.measured = {}
        yield env
        env.instance.dispose()
        sys.modules.pop("orchestration.definitions", None)
    if env.measured:
        from conftest import ARTIFACTS

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / MEASUREMENTS).write_text(json.dumps(env.measured, indent=2) + "\n")


def _pos_tables(world: Path) -> set[str]:
    """The POS database's tables, read straight from the SQLite file of the world."""
    with sqlite3.connect(world / "pos.sqlite") as con:
        rows = con.execute("select name from sqlite_master where type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def _declared_freshness() -> dict[str, tuple[timedelta, timedelta]]:
    """Each dbt source's (warn_after, error_after), read from the sources' YAML files."""
    days = {"day": 1, "hour": 1 / 24, "minute": 1 / 1440}
    found = {}
    for path in (REPO / "models" / "staging").glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            rules = source.get("config", {}).get("freshness")
            if not rules:
                continue
            found[source["name"]] = tuple(
                timedelta(days=rules[r]["count"] * days[rules[r]["period"]])
                for r in ("warn_after", "error_after")
            )
    return found


# ---------------------------------------------------------------- the definitions
def test_definitions_load_and_join_dlt_to_dbt(orch) -> None:
    dg = orch.dg
    dg.Definitions.validate_loadable(orch.defs)
    graph = orch.defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}

    # every POS table is an asset under the key of its dbt source, and the other sources' too
    expected_dlt = {f"pos/{t}" for t in _pos_tables(orch.world)} | {
        "feedback/reviews",
        "feedback/mentions",
        "inventory/inventory_files",
        "franchise/franchise_exports",
        "iot/readings",
    }
    dlt_keys = {k.to_user_string() for k in orch.module.DLT_KEYS}
    assert dlt_keys == expected_dlt
    assert expected_dlt <= keys
    # nothing dangles: every dbt source resolves to a dlt asset, no `dlt_...` placeholders
    assert not [k for k in keys if k.startswith("dlt_")]
    fct_orders = dg.AssetKey(["marts", "fct_orders"])
    ancestors, frontier = set(), {fct_orders}
    while frontier:
        key = frontier.pop()
        for parent in graph.get(key).parent_keys:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.add(parent)
    names = {k.to_user_string() for k in ancestors}
    assert {"pos/orders", "pos/order_items", "franchise/franchise_exports"} <= names, names
    assert "staging/stg_pos__orders" in names
    assert not {"feedback/reviews", "inventory/inventory_files"} & names
    assert graph.get(dg.AssetKey(["pos", "orders"])).is_materializable
    # published depends on the build
    assert graph.get(dg.AssetKey("published")).parent_keys

    # dbt tests are asset checks: one per test the manifest holds on a model or source
    manifest = orch.module.MANIFEST
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    checks = list(graph.asset_check_keys)
    assert len(checks) >= len(tests) * 0.9, (len(checks), len(tests))

    # freshness per source: the warn_after / error_after its YAML declares
    declared = _declared_freshness()
    for key in orch.module.DLT_KEYS:
        policy = graph.get(key).freshness_policy
        source, table = key.path
        if (source, table) in (("pos", "stores"),) or source not in declared:  # none declared
            assert policy is None, key
            continue
        assert policy is not None, key
        warn, error = declared[source]
        windows = [
            timedelta(days=w.days, seconds=w.seconds, microseconds=w.microseconds)
            for w in (policy.warn_window, policy.fail_window)
        ]
        assert windows == [warn, error], key


# ---------------------------------------------------------------- all assets = mypizza run
def _mart_differences(ours: Path, theirs: Path) -> dict[str, str]:
    """Per marts table: '' when both warehouses hold exactly the same rows, else what differs."""
    diffs = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{ours}' as ours (read_only)")
        con.execute(f"attach '{theirs}' as theirs (read_only)")
        tables = {
            db: {
                t
                for (t,) in con.execute(
                    "select table_name from information_schema.tables "
                    f"where table_catalog = '{db}' and table_schema = 'marts'"
                ).fetchall()
            }
            for db in ("ours", "theirs")
        }
        assert tables["ours"] == tables["theirs"]
        assert len(tables["ours"]) >= 10
        for table in sorted(tables["ours"]):
            a, b = f"ours.marts.{table}", f"theirs.marts.{table}"
            only_ours = con.execute(
                f"select count(*) from (select * from {a} except all select * from {b})"
            ).fetchone()[0]
            only_theirs = con.execute(
                f"select count(*) from (select * from {b} except all select * from {a})"
            ).fetchone()[0]
            rows = con.execute(f"select count(*) from {a}").fetchone()[0]
            diffs[table] = (
                f"{only_ours} rows only in Dagster's, {only_theirs} only in mypizza run's"
                if only_ours or only_theirs
                else ""
            )
            assert rows or table.startswith("rpt_"), f"marts.{table} is empty"
    return diffs


def test_materialising_every_asset_gives_the_marts_of_mypizza_run(orch, built_world) -> None:
    dg = orch.dg
    started = time.perf_counter()
    result = dg.materialize(
        [*orch.module.DLT_ASSETS.values(), orch.module.dbt_build, orch.module.published],
        instance=orch.instance,
        resources=orch.defs.resources,
    )
    orch.measured["materialise_all_in_process_seconds"] = round(time.perf_counter() - started, 1)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"pos/orders", "marts/fct_orders", "published"} <= materialized
    checks = [e for e in result.get_asset_check_evaluations()]
    assert len(checks) > 100 and all(c.passed for c in checks)

    diffs = _mart_differences(orch.warehouse, built_world.warehouse)
    assert diffs and not any(diffs.values()), {t: d for t, d in diffs.items() if d}
    # the published copy is that build, and the prod state beside it
    assert orch.published.exists()
    assert _mart_differences(orch.published, built_world.warehouse) == diffs
    assert (orch.warehouse.parent / "prod-state" / "manifest.json").exists()


def test_a_failed_source_holds_back_only_its_part(orch, monkeypatch) -> None:
    """The feedback API is down: the other sources load, and the build the failure sensor
    asks for leaves out exactly what depends on feedback, and publishes the rest."""
    dg = orch.dg
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("SOURCES__FEEDBACK__BASE_URL", down)
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "1")
    ingest = orch.defs.resolve_job_def("ingest")
    result = ingest.execute_in_process(instance=orch.instance, raise_on_error=False)
    assert not result.success
    assert orch.module._failed_sources(orch.instance, result.run_id) == ["feedback"]
    loaded = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
    assert loaded == set(orch.module.SOURCES) - {"feedback"}

    failure = [e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"][-1]
    context = dg.build_run_status_sensor_context(
        sensor_name="build_after_failed_ingest",
        dagster_instance=orch.instance,
        dagster_run=result.dagster_run,
        dagster_event=failure,
    ).for_run_failure()
    request = orch.module.build_after_failed_ingest(context)
    assert isinstance(request, dg.RunRequest)
    selected = {k.path[-1] for k in request.asset_selection}
    assert {"fct_orders", "stg_pos__orders", "fct_inventory_daily", "published"} <= selected
    held_back = {"stg_feedback__reviews", "fct_reviews"}
    assert not held_back & selected
    assert request.tags["mypizza/held_back_sources"] == "feedback"

    # every model downstream of feedback's raw tables is held back, computed from the manifest
    manifest = orch.module.MANIFEST
    children: dict[str, list[str]] = manifest["child_map"]
    frontier = [u for u, n in manifest["sources"].items() if n["source_name"] == "feedback"]
    downstream: set[str] = set()
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in downstream:
                downstream.add(child)
                frontier.append(child)
    names = {
        manifest["nodes"][u]["name"]
        for u in downstream
        if u in manifest["nodes"] and manifest["nodes"][u]["resource_type"] in ("model", "seed")
    }
    assert names and not names & selected
    # the rest of the project is asked for
    all_models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] in ("model",)}
    assert all_models - names <= selected | {
        n["name"] for n in manifest["nodes"].values() if n["config"].get("enabled") is False
    }


def test_the_nightly_schedule_ingests_every_source(orch) -> None:
    dg = orch.dg
    nightly = orch.module.nightly
    assert nightly.cron_schedule == "0 2 * * *"
    assert nightly.execution_timezone == "UTC"
    context = dg.build_schedule_context(
        instance=orch.instance, scheduled_execution_time=datetime(2026, 4, 21, 2, tzinfo=UTC)
    )
    data = nightly.evaluate_tick(context)
    assert len(data.run_requests) == 1
    assert nightly.job_name == "ingest"
    ingest = orch.defs.resolve_job_def("ingest")
    assert {k.to_user_string() for k in ingest.asset_layer.selected_asset_keys} == {
        k.to_user_string() for k in orch.module.DLT_KEYS
    }
    # after a successful ingest, the build sensor asks for the whole build
    request = orch.module.build_request("some-run", [])
    assert request.asset_selection is None and request.run_key == "build-after-some-run"
    build = orch.defs.resolve_job_def("build")
    built = {k.path[-1] for k in build.asset_layer.selected_asset_keys}
    assert {"fct_orders", "stg_pos__orders", "published"} <= built
    dlt_keys = set(orch.module.DLT_KEYS)
    assert dlt_keys and not dlt_keys & set(build.asset_layer.selected_asset_keys)


def test_the_new_files_sensor_starts_the_load_of_that_bucket(orch, tmp_path, monkeypatch) -> None:
    dg = orch.dg
    inventory = tmp_path / "inventory"
    franchise = tmp_path / "franchise"
    shutil.copytree(orch.world / "bucket", inventory)
    shutil.copytree(orch.world / "franchise", franchise)
    monkeypatch.setenv("SOURCES__INVENTORY__BUCKET_URL", inventory.as_uri())
    monkeypatch.setenv("SOURCES__FRANCHISE__BUCKET_URL", franchise.as_uri())
    sensor = orch.module.new_files

    def tick(cursor: str | None):
        context = dg.build_sensor_context(instance=orch.instance, cursor=cursor)
        data = sensor.evaluate_tick(context)
        return data, data.cursor

    first, cursor = tick(None)
    assert not first.run_requests  # the first look only notes what is there
    again, cursor = tick(cursor)
    assert not again.run_requests and again.skip_message == "no new files"

    day = inventory / "inventory" / "s01" / "2030-01-01"
    day.mkdir(parents=True)
    (day / "waste.csv").write_text("store_code,waste_date\n")
    data, cursor = tick(cursor)
    assert [r.tags["mypizza/new_files"] for r in data.run_requests] == ["inventory"]
    assert {k.to_user_string() for k in data.run_requests[0].asset_selection} == {
        "inventory/inventory_files"
    }

    store = sorted(p for p in franchise.iterdir() if p.is_dir())[0]
    time.sleep(0.01)
    (store / "orders.csv").write_bytes((store / "orders.csv").read_bytes() + b"")
    os.utime(store / "orders.csv", (time.time() + 5, time.time() + 5))
    data, cursor = tick(cursor)
    assert [r.tags["mypizza/new_files"] for r in data.run_requests] == ["franchise"]
    assert {k.to_user_string() for k in data.run_requests[0].asset_selection} == {
        "franchise/franchise_exports"
    }
    quiet, _ = tick(cursor)
    assert not quiet.run_requests


# ---------------------------------------------------------------- a real dagster dev
def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


def _processes_of(home: Path) -> list[psutil.Process]:
    """Processes started with DAGSTER_HOME=home (read from their environment)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("DAGSTER_HOME") == str(home) and proc.pid != os.getpid():
                found.append(proc)
    return found


@pytest.fixture(scope="module")
def dagster_dev(orch):
    """`dagster dev` (webserver + daemon) on a free 127.0.0.1 port, the nightly schedule
    every minute, over this file's warehouse; stopped with SIGTERM (SIGINT at its default)."""
    port = _free_port()
    log = orch.root / "dagster_dev.log"
    env = {**os.environ, **orch.vars, "MYPIZZA_NIGHTLY_CRON": "* * * * *"}
    env["MYPIZZA_FILE_SENSOR_SECONDS"] = "600"
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "orchestration.definitions"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # ~7 s on an idle machine
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        orch.measured["dagster_dev_startup_seconds"] = round(time.perf_counter() - started, 1)
        orch.peak_rss = _tree_rss(process.pid)
        yield url, process, started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # nothing of it left behind: its webserver, daemon and code servers all stop
        deadline = time.monotonic() + 60
        while (leftovers := _processes_of(orch.home)) and time.monotonic() < deadline:
            time.sleep(1)
        for proc in leftovers:  # a run worker still winding down its run, on a loaded machine
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        assert not _processes_of(orch.home)


def test_the_asset_graph_in_chromium(orch, dagster_dev, chromium, artifacts) -> None:
    url, _, _ = dagster_dev
    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    try:
        page.goto(
            f"{url}/assets/marts/fct_orders?view=lineage&lineageScope=upstream&lineageDepth=9"
        )
        page.get_by_text("fct_orders").first.wait_for(timeout=90_000)
        page.get_by_text("stg_pos__orders").first.wait_for(timeout=60_000)
        skip = page.get_by_role("button", name="Skip")  # the first visit's newsletter prompt
        if skip.count():
            skip.first.click()
        page.wait_for_timeout(3000)
        text = page.inner_text("body")
        page.screenshot(path=str(artifacts / "orchestration_asset_graph.png"), full_page=False)
        assert "fct_orders" in text
        assert re.search(r"\borders\b", text) and "order_items" in text, text[:2000]
        assert "stg_pos__orders" in text
        assert "raw_pos" in text and "franchise_exports" in text  # the dlt assets' group, key
    finally:
        page.close()


def test_the_daemon_runs_the_nightly_schedule_then_the_build(
    orch, dagster_dev, built_world
) -> None:
    """The scheduled ingest run (every minute here), queued and started by the daemon, then
    the build the sensor asks for when it succeeds; timed next to `mypizza run`."""
    dg = orch.dg
    url, process, started = dagster_dev
    instance = orch.instance
    deadline = time.monotonic() + 900
    ingest = build = None
    while time.monotonic() < deadline:
        assert process.poll() is None
        orch.peak_rss = max(orch.peak_rss, _tree_rss(process.pid))
        runs = instance.get_run_records(
            dg.RunsFilter(job_name="ingest", tags={"dagster/schedule_name": "nightly"})
        )
        done = [r for r in runs if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS]
        failed = [r for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
        assert not failed, "a scheduled ingest run failed: see the Dagster UI's logs"
        if done:
            ingest = done[-1]
            builds = instance.get_run_records(
                dg.RunsFilter(tags={"mypizza/after_ingest": ingest.dagster_run.run_id})
            )
            if builds and builds[0].dagster_run.status in (
                dg.DagsterRunStatus.SUCCESS,
                dg.DagsterRunStatus.FAILURE,
            ):
                build = builds[0]
                break
        time.sleep(2)
    assert ingest is not None, "the daemon finished no nightly ingest run in 15 minutes"
    assert build is not None, "no build followed the nightly ingest"
    assert build.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert build.dagster_run.job_name == "build"
    nightly_seconds = build.end_time - ingest.start_time
    orch.measured.update(
        {
            "nightly_ingest_seconds": round(ingest.end_time - ingest.start_time, 1),
            "nightly_build_seconds": round(build.end_time - build.start_time, 1),
            "nightly_ingest_start_to_build_end_seconds": round(nightly_seconds, 1),
            "dagster_processes_peak_rss_mb": round(orch.peak_rss / 2**20),
        }
    )
    # the runs never overlapped: one writer at a time
    assert build.start_time >= ingest.end_time
    assert orch.published.stat().st_mtime >= build.start_time - 1
