"""The warehouse on Dagster (orchestration/): the definitions load and join the dlt assets to
the dbt sources; the schedule and the sensors ask for the right runs (Dagster's test
utilities); one real `dagster dev` (UI + daemon) runs the nightly schedule, ingest then
build, and its marts, published copy and outcome are those of `mypizza run` on the same
world; Chromium finds fct_orders and its upstream dlt assets in its asset graph; a source
that fails holds back only what depends on it.

One materialisation for the whole file: the daemon's nightly, over the shared small world
`built_world` (2 stores x 14 days, already run through `mypizza run`) into a warehouse of
its own. `dagster dev` starts as soon as the definitions are loaded, so its start-up and
the wait for the schedule's minute overlap the in-process tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
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
from support import ARTIFACTS, free_port

REPO = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
MEASUREMENTS = "orchestration_measurements.json"
FEEDBACK_MARTS = {"fct_reviews"}  # a mart that reads only the feedback source (checked below)


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
        self.measured: dict[str, float] = {}
        self.process: subprocess.Popen | None = None
        self.peak_rss = 0


def _tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants (Dagster's webserver, daemon, code
    servers, run workers, their dbt), summed."""
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


def _start_dagster_dev(orch: Orchestra) -> None:
    """`dagster dev` (webserver + daemon) on a free 127.0.0.1 port, the nightly schedule
    every minute, over this file's warehouse. SIGINT at its default (else it ignores
    SIGTERM too), its own process group so that stopping it stops all of it."""
    orch.port = free_port()
    orch.log = orch.root / "dagster_dev.log"
    env = {**os.environ, **orch.vars, "MYPIZZA_NIGHTLY_CRON": "* * * * *"}
    env["MYPIZZA_FILE_SENSOR_SECONDS"] = "600"  # only its first tick: note the buckets
    orch.started = time.perf_counter()
    with open(orch.log, "w") as out:
        orch.process = subprocess.Popen(
            [DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(orch.port)]
            + ["-m", "orchestration.definitions"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def _stop_dagster_dev(orch: Orchestra) -> None:
    process = orch.process
    if process is None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)  # it shuts its services down in ~10 s
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # nothing of it left behind: its webserver and daemon stop with it; a code server waits
    # for its heartbeat to time out (45 s), so it is stopped after a few seconds
    deadline = time.monotonic() + 5
    while (leftovers := _processes_of(orch.home)) and time.monotonic() < deadline:
        time.sleep(1)
    for proc in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(leftovers, timeout=10)
    orch.process = None


@pytest.fixture(scope="module")
def orch(built_world, tmp_path_factory: pytest.TempPathFactory):
    """The environment set for this file (restored after it), the definitions module loaded
    in-process, and `dagster dev` started on it (stopped and checked gone after the file)."""
    env = Orchestra(tmp_path_factory.mktemp("orchestration"), built_world.world)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.vars.items():
            patch.setenv(key, value)
        for key in (
            "SOURCES__POS__CREDENTIALS",
            "SOURCES__INVENTORY__BUCKET_URL",
            "SOURCES__FEEDBACK__BASE_URL",
            "SOURCES__FEEDBACK__TOKEN",
            "SOURCES__FRANCHISE__BUCKET_URL",
            "MYPIZZA_NIGHTLY_CRON",
        ):
            patch.delenv(key, raising=False)
        # the dbt manifest of `mypizza run` on the same world and project: the definitions
        # use it instead of parsing the project again (they would when it changes)
        manifest = env.root / "target" / "dagster" / "manifest.json"
        manifest.parent.mkdir(parents=True)
        shutil.copyfile(built_world.target / "manifest.json", manifest)
        sys.modules.pop("orchestration.definitions", None)
        import dagster as dg

        from orchestration import definitions

        env.dg = dg
        env.module = definitions
        env.defs = definitions.defs
        env.instance = dg.DagsterInstance.get()  # from DAGSTER_HOME, shared with dagster dev
        _start_dagster_dev(env)
        try:
            yield env
        finally:
            _stop_dagster_dev(env)
            env.instance.dispose()
            sys.modules.pop("orchestration.definitions", None)
            if env.measured:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                (ARTIFACTS / MEASUREMENTS).write_text(json.dumps(env.measured, indent=2) + "\n")
    assert not _processes_of(env.home), "a Dagster process outlived `dagster dev`"


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


def _manifest_downstream(manifest: dict, source: str) -> set[str]:
    """Names of the models, seeds and snapshots downstream of dbt source ``source``, from
    the manifest's child map."""
    children: dict[str, list[str]] = manifest["child_map"]
    frontier = [u for u, n in manifest["sources"].items() if n["source_name"] == source]
    downstream: set[str] = set()
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in downstream:
                downstream.add(child)
                frontier.append(child)
    return {
        manifest["nodes"][u]["name"]
        for u in downstream
        if u in manifest["nodes"]
        and manifest["nodes"][u]["resource_type"] in ("model", "seed", "snapshot")
    }


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
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.add(parent)
    names = {k.to_user_string() for k in ancestors}
    assert {"pos/orders", "pos/order_items", "franchise/franchise_exports"} <= names, names
    assert "staging/stg_pos__orders" in names
    assert not {"feedback/reviews", "inventory/inventory_files"} & names
    assert graph.get(dg.AssetKey(["pos", "orders"])).is_materializable
    # the published copy lies downstream of every mart
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert marts and set(graph.get(dg.AssetKey("published")).parent_keys) == marts

    # dbt tests are asset checks: one per test the manifest holds on a model or source
    manifest = orch.module.MANIFEST
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(graph.asset_check_keys) >= len(tests) * 0.9, (len(graph.asset_check_keys), tests)

    # freshness per source: the warn_after / error_after its YAML declares
    declared = _declared_freshness()
    for key in orch.module.DLT_KEYS:
        policy = graph.get(key).freshness_policy
        source, table = key.path
        if (source, table) == ("pos", "stores") or source not in declared:  # none declared
            assert policy is None, key
            continue
        assert policy is not None, key
        windows = [
            timedelta(days=w.days, seconds=w.seconds, microseconds=w.microseconds)
            for w in (policy.warn_window, policy.fail_window)
        ]
        assert windows == list(declared[source]), key

    # quiet: Dagster's telemetry off in the instance, dbt's version check off
    assert yaml.safe_load((orch.home / "dagster.yaml").read_text())["telemetry"] == {
        "enabled": False
    }
    assert os.environ["DBT_VERSION_CHECK"] == "false"


# ---------------------------------------------------------------- schedule and sensors
def test_the_schedule_and_the_sensors_ask_for_the_right_runs(orch, tmp_path, monkeypatch) -> None:
    dg = orch.dg
    nightly = orch.module.nightly
    assert nightly.cron_schedule == "0 2 * * *" and nightly.execution_timezone == "UTC"
    context = dg.build_schedule_context(
        instance=orch.instance, scheduled_execution_time=datetime(2026, 4, 21, 2, tzinfo=UTC)
    )
    assert len(nightly.evaluate_tick(context).run_requests) == 1
    assert nightly.job_name == "ingest"
    ingest = orch.defs.resolve_job_def("ingest")
    assert set(ingest.asset_layer.selected_asset_keys) == set(orch.module.DLT_KEYS)
    build = orch.defs.resolve_job_def("build")
    built = {k.path[-1] for k in build.asset_layer.selected_asset_keys}
    assert {"fct_orders", "stg_pos__orders"} <= built
    assert not set(orch.module.DLT_KEYS) & set(build.asset_layer.selected_asset_keys)
    for job in (ingest, build):  # one process per run: DuckDB has one writer
        assert job.executor_def.name == "in_process"
    dg.validate_run_config(ingest)
    dg.validate_run_config(build)

    # new files in a bucket start the load of that source only
    inventory, franchise = tmp_path / "inventory", tmp_path / "franchise"
    shutil.copytree(orch.world / "bucket", inventory)
    shutil.copytree(orch.world / "franchise", franchise)
    monkeypatch.setenv("SOURCES__INVENTORY__BUCKET_URL", inventory.as_uri())
    monkeypatch.setenv("SOURCES__FRANCHISE__BUCKET_URL", franchise.as_uri())
    sensor = orch.module.new_files

    def tick(cursor: str | None):
        data = sensor.evaluate_tick(dg.build_sensor_context(instance=orch.instance, cursor=cursor))
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
    os.utime(store / "orders.csv", (time.time() + 5, time.time() + 5))
    data, cursor = tick(cursor)
    assert [r.tags["mypizza/new_files"] for r in data.run_requests] == ["franchise"]
    assert {k.to_user_string() for k in data.run_requests[0].asset_selection} == {
        "franchise/franchise_exports"
    }
    quiet, _ = tick(cursor)
    assert not quiet.run_requests


# ---------------------------------------------------------------- the real dagster dev
@pytest.fixture(scope="module")
def dagster_url(orch) -> str:
    """The UI's URL once it answers; the start-up time and the idle memory measured."""
    url = f"http://127.0.0.1:{orch.port}"
    deadline = time.monotonic() + 300  # seconds on an idle machine
    while True:
        assert orch.process.poll() is None, orch.log.read_text()[-3000:]
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/server_info", timeout=2) as answer,
        ):
            if answer.status == 200:
                break
        assert time.monotonic() < deadline, orch.log.read_text()[-3000:]
        time.sleep(0.3)
    orch.measured["dagster_dev_startup_seconds"] = round(time.perf_counter() - orch.started, 1)
    orch.measured["dagster_processes_idle_rss_mb"] = round(_tree_rss(orch.process.pid) / 2**20)
    return url


def test_the_asset_graph_in_chromium(orch, dagster_url, chromium, artifacts) -> None:
    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    try:
        page.goto(
            f"{dagster_url}/assets/marts/fct_orders"
            "?view=lineage&lineageScope=upstream&lineageDepth=9"
        )
        page.get_by_text("stg_pos__orders").first.wait_for(timeout=90_000)
        page.get_by_text("franchise_exports").first.wait_for(timeout=30_000)
        skip = page.get_by_role("button", name="Skip")  # the first visit's newsletter prompt
        if skip.count():
            skip.first.click()
        page.wait_for_timeout(1000)
        text = page.inner_text("body")
        page.screenshot(path=str(artifacts / "orchestration_asset_graph.png"), full_page=False)
        assert "fct_orders" in text
        assert re.search(r"\borders\b", text) and "order_items" in text, text[:2000]
        assert "raw_pos" in text and "franchise_exports" in text  # the dlt assets' group, key
        assert "reviews" not in text  # not upstream of fct_orders
    finally:
        page.close()


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> str:
    """The columns of marts.``table`` without dlt's load ids (when each warehouse loaded)."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_catalog = ? "
        "and table_schema = 'marts' and table_name = ? order by ordinal_position",
        [db, table],
    ).fetchall()
    return ", ".join(f'"{c}"' for (c,) in rows if c not in ("_dlt_load_id", "_dlt_id"))


def _mart_differences(ours: Path, theirs: Path) -> dict[str, str]:
    """Per marts table: '' when both warehouses hold exactly the same rows, else what
    differs (row for row, every column but dlt's load ids)."""
    diffs = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{ours}' as ours (read_only)")
        con.execute(f"attach '{theirs}' as theirs (read_only)")
        tables = {
            db: {
                t
                for (t,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = ? and table_schema = 'marts'",
                    [db],
                ).fetchall()
            }
            for db in ("ours", "theirs")
        }
        assert tables["ours"] == tables["theirs"]
        assert len(tables["ours"]) >= 10
        for table in sorted(tables["ours"]):
            columns = _columns(con, "ours", table)
            assert columns == _columns(con, "theirs", table), table
            a = f"select {columns} from ours.marts.{table}"
            b = f"select {columns} from theirs.marts.{table}"
            only_ours = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
            only_theirs = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
            diffs[table] = (
                f"{only_ours} rows only in Dagster's, {only_theirs} only in mypizza run's"
                if only_ours or only_theirs
                else ""
            )
    return diffs


def _last_run(warehouse: Path) -> dict:
    return json.loads((warehouse.parent / "prod-state" / "last_run.json").read_text())


def _stop_the_schedule(instance) -> None:
    """Stop `nightly` (every minute here) after its first tick, as the UI's switch does,
    and cancel a second run it queued meanwhile: the test needs one night."""
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        if state.name == "nightly" and state.status != InstigatorStatus.STOPPED:
            instance.update_instigator_state(state.with_status(InstigatorStatus.STOPPED))


def test_the_daemon_runs_the_nightly_schedule_as_mypizza_run_does(
    orch, dagster_url, built_world
) -> None:
    """The scheduled ingest run (every minute here), queued and started by the daemon, then
    the build the sensor asks for: the same marts, published copy and outcome as
    `mypizza run` on the same world; timed and measured."""
    dg = orch.dg
    instance = orch.instance
    deadline = time.monotonic() + 900
    ingest = build = None
    while time.monotonic() < deadline:
        assert orch.process.poll() is None, orch.log.read_text()[-3000:]
        orch.peak_rss = max(orch.peak_rss, _tree_rss(orch.process.pid))
        runs = instance.get_run_records(
            dg.RunsFilter(job_name="ingest", tags={"dagster/schedule_name": "nightly"}),
            ascending=True,
        )
        if runs:
            _stop_the_schedule(instance)
            for later in runs[1:]:
                if later.dagster_run.status == dg.DagsterRunStatus.QUEUED:
                    instance.run_coordinator.cancel_run(later.dagster_run.run_id)
        ended = [r for r in runs[:1] if r.dagster_run.is_finished]
        if ended:
            ingest = ended[0]
            assert ingest.dagster_run.status == dg.DagsterRunStatus.SUCCESS, (
                "the scheduled ingest run failed: "
                + str(orch.module.ingest_outcome(instance, ingest.dagster_run.run_id).failed)
            )
            builds = instance.get_run_records(
                dg.RunsFilter(tags={"mypizza/after_ingest": ingest.dagster_run.run_id})
            )
            if builds and builds[0].dagster_run.is_finished:
                build = builds[0]
                break
        time.sleep(2)
    assert ingest is not None, "the daemon finished no nightly ingest run in 15 minutes"
    assert build is not None, "no build followed the nightly ingest"
    assert build.dagster_run.job_name == "build"
    # one writer: the build started after the ingest ended, and only one of each ran
    assert build.start_time >= ingest.end_time
    started = [
        r
        for r in instance.get_run_records(dg.RunsFilter(job_name="ingest"))
        if r.dagster_run.status != dg.DagsterRunStatus.CANCELED
    ]
    assert len(started) == 1
    assert len(instance.get_run_records(dg.RunsFilter(job_name="build"))) == 1

    # every source loaded, each dlt asset materialised with what the load wrote
    outcome = orch.module.ingest_outcome(instance, ingest.dagster_run.run_id)
    assert not outcome.failed and set(outcome.loaded) == set(orch.module.SOURCES)
    theirs = _last_run(built_world.warehouse)
    for source, result in outcome.loaded.items():
        assert result.total_rows == theirs["sources"][source]["rows"], source

    # the same outcome as mypizza run's: exit status, what is held back; the run is green
    # exactly when mypizza run exits 0
    ours = _last_run(orch.warehouse)
    assert ours["exit_status"] == theirs["exit_status"], (ours, theirs)
    assert ours["published"] and ours["sources"].keys() == theirs["sources"].keys()
    assert {h["relation"] for h in ours["held_back"]} == {
        h["relation"] for h in theirs["held_back"]
    }
    succeeded = build.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert succeeded == (theirs["exit_status"] == 0), build.dagster_run.status

    # every mart, row for row, in the warehouse and in the published copy readers use
    diffs = _mart_differences(orch.warehouse, built_world.warehouse)
    assert diffs and not any(diffs.values()), {t: d for t, d in diffs.items() if d}
    published = _mart_differences(orch.published, built_world.published)
    assert published.keys() == diffs.keys() and not any(published.values()), published
    assert orch.published.stat().st_mtime >= build.start_time
    assert (orch.warehouse.parent / "prod-state" / "manifest.json").exists()

    # dbt's models materialised and its tests reported as asset checks in the build run
    materialised = {
        r.event_log_entry.asset_materialization.asset_key.to_user_string()
        for r in instance.get_records_for_run(
            build.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
    }
    assert {"staging/stg_pos__orders", "marts/dim_stores", "published"} <= materialised
    checks = instance.get_records_for_run(
        build.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    assert len(checks) > 100

    mypizza_seconds = re.search(r"myPizza run finished in (\d+) s", built_world.output)
    orch.measured.update(
        {
            "nightly_ingest_run_seconds": round(ingest.end_time - ingest.start_time, 1),
            "nightly_build_run_seconds": round(build.end_time - build.start_time, 1),
            "nightly_ingest_start_to_build_end_seconds": round(
                build.end_time - ingest.start_time, 1
            ),
            "mypizza_run_seconds_same_world": int(mypizza_seconds.group(1)),
            "dagster_processes_peak_rss_mb": round(orch.peak_rss / 2**20),
        }
    )


# ---------------------------------------------------------------- a failed source
def test_a_failed_source_holds_back_only_its_part(orch, monkeypatch) -> None:
    """The feedback API is down for a load: its step fails naming it, the failure sensor
    asks for the build, and the build publishes all but what depends on feedback, which
    keeps its last published version. (After the nightly; runs in-process in an instance
    of their own, so the daemon's sensors do not see them.)"""
    dg = orch.dg
    module = orch.module
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("SOURCES__FEEDBACK__BASE_URL", down)
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "1")
    before = _last_run(orch.warehouse)
    reviews = duckdb.connect(str(orch.published), read_only=True)
    with reviews:
        published_reviews = reviews.execute("select count(*) from marts.fct_reviews").fetchone()
    assert published_reviews[0] > 0
    # the warehouse's copy of a feedback mart and of another mart are emptied: what is
    # published next must come from the previous published copy for the one held back,
    # from the warehouse for the other
    with duckdb.connect(str(orch.warehouse)) as con:
        con.execute("delete from marts.fct_reviews")
        con.execute("delete from marts.dim_stores")

    with dg.instance_for_test() as instance:
        feedback = [k for k, name in module.DLT_KEYS.items() if name == "feedback"]
        ingest = orch.defs.resolve_job_def("ingest").execute_in_process(
            instance=instance, asset_selection=feedback, raise_on_error=False
        )
        assert not ingest.success
        failure = [e for e in ingest.all_events if e.event_type_value == "STEP_FAILURE"]
        assert len(failure) == 1 and down in failure[0].event_specific_data.error.message
        outcome = module.ingest_outcome(instance, ingest.run_id)
        assert list(outcome.failed) == ["feedback"] and not outcome.loaded
        assert down in outcome.failed["feedback"]

        event = [e for e in ingest.all_events if e.event_type_value == "PIPELINE_FAILURE"][-1]
        context = dg.build_run_status_sensor_context(
            sensor_name="build_after_failed_ingest",
            dagster_instance=instance,
            dagster_run=ingest.dagster_run,
            dagster_event=event,
        ).for_run_failure()
        request = module.build_after_failed_ingest(context)
        assert request.tags[module.AFTER_INGEST] == ingest.run_id
        assert request.tags[module.HELD_BACK] == "feedback"

        build = orch.defs.resolve_job_def("build").execute_in_process(
            instance=instance, tags=request.tags, raise_on_error=False
        )
    assert not build.success  # partial: red, as mypizza's exit status 3
    record = _last_run(orch.warehouse)
    assert record["exit_status"] == 3 and record["published"]
    assert record["sources"]["feedback"]["status"] == "failed"
    held = {h["relation"].split(".", 1)[1] for h in record["held_back"]}
    expected = _manifest_downstream(module.MANIFEST, "feedback")
    previously = {h["relation"].split(".", 1)[1] for h in before["held_back"]}
    assert expected >= FEEDBACK_MARTS
    assert held == expected | previously, held ^ (expected | previously)
    with duckdb.connect(str(orch.published), read_only=True) as con:
        kept = con.execute("select count(*) from marts.fct_reviews").fetchone()
        stores = con.execute("select count(*) from marts.dim_stores").fetchone()
    assert kept == published_reviews  # the last version that passed
    assert stores == (0,)  # not held back: the warehouse's, as built
