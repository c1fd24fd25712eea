"""The Dagster definitions of the myPizza warehouse (``dagster dev -m orchestration.definitions``).

The asset graph, from source tables to marts:

- every dlt source as assets (dagster-dlt), one per dlt resource, keyed ``<source>/<table>``:
  the key dagster-dbt gives the dbt source they feed, so the graph joins by itself. A
  resource that writes several tables (the inventory files, the franchise exports, the
  reviews' child tables) feeds every dbt source of those tables;
- the dbt project as assets (dagster-dbt), its tests as asset checks;
- ``published``: the published copy (``mypizza.published.duckdb``), refreshed after a
  successful build.

Each asset runs the project's own code (the pipelines' ``load_*`` functions inside the
world's source context, ``dbt build``, ``publish``), holding ``mypizza``'s writer lock and
waiting for it: a Dagster run queues behind a ``mypizza run`` from the shell and the other
way round, and Dagster's run queue (``dagster.yaml``) starts one run at a time.

Jobs, schedules and sensors:

- ``ingest`` (every source) then ``build`` (dbt build, publish). ``nightly`` starts
  ``ingest`` at 02:00 UTC (``MYPIZZA_NIGHTLY_CRON``); when an ``ingest`` run ends, the
  ``build_after_ingest`` sensors start ``build``: everything if every source loaded, else
  everything except what lies downstream of a failed source (that part keeps its last good
  build), then publish.
- ``new_files``: starts the inventory or franchise load when files land in its bucket.
- freshness per source: each dlt asset carries the ``warn_after``/``error_after`` its dbt
  source declares (a Dagster ``FreshnessPolicy``, evaluated by the daemon).
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion import pipelines
from mypizza.dbt_runner import dbt_executable
from mypizza.prod_state import keep_prod_state
from mypizza.settings import Settings
from mypizza.warehouse import publish, writer_lock
from mypizza.world_sources import WORLD_SOURCES

# ---------------------------------------------------------------- settings, quiet
SETTINGS = Settings.from_env()
SETTINGS.export()  # MYPIZZA_WAREHOUSE etc. for dbt's profile and the pipelines
os.environ.setdefault("DBT_VERSION_CHECK", "false")  # dagster-dbt runs `dbt --version`
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

SOURCES = tuple(WORLD_SOURCES)
FILE_SOURCES = ("inventory", "franchise")  # the ones whose data lands as files in a bucket
NIGHTLY_CRON = os.environ.get("MYPIZZA_NIGHTLY_CRON", "0 2 * * *")
GROUP_OF_SOURCE = {source: f"raw_{source}" for source in SOURCES}

# ---------------------------------------------------------------- the dbt project
DBT_PROJECT = DbtProject(
    project_dir=SETTINGS.repo,
    profiles_dir=SETTINGS.repo,
    target="prod",  # the pipeline always builds production
    target_path=SETTINGS.target_dir / "dagster",
)
DBT_PATHS = ("models", "macros", "seeds", "snapshots", "analyses", "tests")
DBT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}
NOT_DBT = {"python", "artifacts", "data"}  # tests/ also holds pytest, its output, test data


def _manifest_is_stale(manifest: Path) -> bool:
    """No manifest yet, or a file of the dbt project changed since it was written."""
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    files = [SETTINGS.repo / "dbt_project.yml"]
    for name in DBT_PATHS:
        for path in (SETTINGS.repo / name).rglob("*"):
            parts = path.relative_to(SETTINGS.repo).parts
            if path.suffix in DBT_SUFFIXES and not (parts[0] == "tests" and parts[1] in NOT_DBT):
                files.append(path)
    return any(f.stat().st_mtime > written for f in files if f.is_file())


def prepare_manifest() -> Path:
    """``dbt parse`` into Dagster's own target folder when the project changed (~6 s)."""
    manifest = DBT_PROJECT.manifest_path
    if _manifest_is_stale(manifest):
        subprocess.run(
            [dbt_executable(), "--quiet", "parse", "--target", "prod"],
            cwd=SETTINGS.repo,
            env={**os.environ, "DBT_TARGET_PATH": str(DBT_PROJECT.target_path)},
            check=True,
        )
    return manifest


MANIFEST: dict[str, Any] = json.loads(prepare_manifest().read_text())


def dbt_sources() -> dict[tuple[str, str], dict[str, Any]]:
    """The manifest's dbt sources by (source name, table name)."""
    return {
        (node["source_name"], node["name"]): node
        for node in MANIFEST["sources"].values()
        if node["package_name"] == MANIFEST["metadata"].get("project_name", node["package_name"])
    }


PERIOD = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _window(rule: dict[str, Any] | None) -> timedelta | None:
    if not rule or not rule.get("count"):
        return None
    return rule["count"] * PERIOD[rule["period"]]


def declared_freshness(source: str, resource: str) -> dg.FreshnessPolicy | None:
    """The freshness the dbt sources declare for what dlt resource ``resource`` loads: its
    own table's (``warn_after``, ``error_after``), or, for a resource that loads several
    tables (the inventory files, the franchise exports), the strictest of theirs. A table
    whose dbt source says ``freshness: null`` has none."""
    tables = dbt_sources()
    own = tables.get((source, resource))
    nodes = [own] if own else [n for (s, _), n in tables.items() if s == source]
    windows = [
        (
            _window((n.get("freshness") or {}).get("error_after")),
            _window((n.get("freshness") or {}).get("warn_after")),
        )
        for n in nodes
    ]
    windows = [(error, warn) for error, warn in windows if error]
    if not windows:
        return None
    error, warn = min(windows, key=lambda w: w[0])
    return dg.FreshnessPolicy.time_window(fail_window=error, warn_window=warn)


# ---------------------------------------------------------------- the dlt sources as assets
class DltToDbtSources(DagsterDltTranslator):
    """dlt resource ``<resource>`` of source ``<source>`` -> asset ``<source>/<resource>``: the
    key dagster-dbt gives dbt source ``<source>.<resource>``. No upstream placeholder asset;
    the freshness its dbt source declares."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        source = data.resource.source_name
        return spec.replace_attributes(
            key=dg.AssetKey([source, data.resource.name]),
            deps=[],
            group_name=GROUP_OF_SOURCE.get(source, "raw"),
            freshness_policy=declared_freshness(source, data.resource.name),
        )


def _source(name: str) -> Any:
    """The dlt source object of ``name``, made inside the world's source context (the POS's
    tables are reflected from its database; the buckets' URLs resolved)."""
    from ingestion.feedback import feedback_source
    from ingestion.franchise import franchise_source
    from ingestion.inventory import inventory_source
    from ingestion.pos import pos_source

    if name == "iot":
        # the MQTT resource reads its broker session only when it runs: no broker needed to
        # describe it (the load itself runs inside the world's broker context)
        from ingestion.iot import iot_source

        return iot_source(None)
    make = {
        "pos": pos_source,
        "inventory": inventory_source,
        "feedback": feedback_source,
        "franchise": franchise_source,
    }[name]
    with WORLD_SOURCES[name](SETTINGS.world):
        return make()


def _load_summary(result: pipelines.LoadResult) -> dict[str, Any]:
    return {
        "rows": result.total_rows,
        "seconds": round(result.seconds, 2),
        "rows per table": dg.MetadataValue.json(result.rows),
        "summary": dg.MetadataValue.text(str(result)),
    }


def _make_dlt_assets(name: str) -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=_source(name),
        dlt_pipeline=pipelines.make_pipeline(name, SETTINGS.warehouse, progress=None),
        name=f"load_{name}",
        dagster_dlt_translator=DltToDbtSources(),
    )
    def load(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        # The project's own load (kill-safe resume, schema contracts, quarantine), not
        # DagsterDltResource.run: the same code `mypizza ingest` runs, under the same lock.
        loader = getattr(pipelines, f"load_{name}")
        context.log.info(f"waiting for the writer lock of {SETTINGS.warehouse}")
        with writer_lock(SETTINGS.warehouse, wait=True), WORLD_SOURCES[name](SETTINGS.world):
            result = loader(SETTINGS.warehouse, progress=None)
        context.log.info(str(result))
        metadata = _load_summary(result)
        for key in sorted(context.selected_asset_keys):
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)

    return load


DLT_ASSETS = {name: _make_dlt_assets(name) for name in SOURCES}
DLT_KEYS = {key: name for name, assets in DLT_ASSETS.items() for key in assets.keys}


def dlt_key_of_dbt_source(source: str, table: str) -> dg.AssetKey | None:
    """The dlt asset that writes dbt source ``source.table``: the resource of that name, the
    parent resource of a child table (``reviews__tags`` -> ``reviews``), or the one resource
    of a source whose resource writes every table (inventory files, franchise exports)."""
    keys = [key for key, name in DLT_KEYS.items() if name == source]
    exact = dg.AssetKey([source, table])
    if exact in keys:
        return exact
    parents = [k for k in keys if table.startswith(k.path[-1] + "__")]
    if parents:
        return parents[0]
    return keys[0] if len(keys) == 1 else None


# ---------------------------------------------------------------- the dbt project as assets
class MypizzaDbtTranslator(DagsterDbtTranslator):
    """dbt sources get the key of the dlt asset that loads them; models keep dagster-dbt's
    keys (their name) and are grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            key = dlt_key_of_dbt_source(
                dbt_resource_props["source_name"], dbt_resource_props["name"]
            )
            if key is not None:
                return key
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 and fqn[1] in ("staging", "intermediate", "marts") else "dbt"


DBT_TRANSLATOR = MypizzaDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,
        # one dlt resource may load several dbt sources (inventory files, franchise exports)
        enable_duplicate_source_asset_keys=True,
    )
)


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=DBT_TRANSLATOR,
    name="dbt_build",
)
def dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """``dbt build`` of the selected models (all of them, or what a failed source leaves),
    tests as asset checks; dbt itself skips what lies downstream of a failed test."""
    context.log.info(f"waiting for the writer lock of {SETTINGS.warehouse}")
    with writer_lock(SETTINGS.warehouse, wait=True):
        invocation = dbt.cli(["build"], context=context, raise_on_error=False)
        yield from invocation.stream()
    # `mypizza status` reads the last build's results, as after `mypizza build`
    results = invocation.target_path / "run_results.json"
    if results.exists():
        SETTINGS.target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results, SETTINGS.target_dir / "last_build_run_results.json")
    if not invocation.is_successful():
        raise dg.Failure(
            f"dbt build failed: {invocation.get_error()}. What did not fail is built; the "
            "published copy keeps the last successful build."
        )


@dg.asset(
    key="published",
    deps=[dbt_build],
    group_name="published",
    description="The published copy readers use (mypizza.published.duckdb): the warehouse, "
    "copied and swapped in atomically after a successful build. Never blocks a reader.",
    kinds={"duckdb"},
)
def published(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with writer_lock(SETTINGS.warehouse, wait=True):
        target = publish(SETTINGS.warehouse)
        state = keep_prod_state(DBT_PROJECT.target_path, SETTINGS.warehouse)
    context.log.info(f"published {target}; kept its dbt state in {state}")
    return dg.MaterializeResult(
        metadata={"path": str(target), "bytes": target.stat().st_size, "prod state": str(state)}
    )


# ---------------------------------------------------------------- jobs
DLT_SELECTION = dg.AssetSelection.assets(*DLT_ASSETS.values())
BUILD_SELECTION = dg.AssetSelection.assets(dbt_build, published)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=DLT_SELECTION,
    description="Load every source (dlt), each on its own: a failed source fails alone.",
    executor_def=dg.in_process_executor,
)
build_job = dg.define_asset_job(
    "build",
    selection=BUILD_SELECTION,
    description="dbt build (tests as asset checks), then publish.",
    executor_def=dg.in_process_executor,
)

nightly = dg.ScheduleDefinition(
    name="nightly",
    job=ingest_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest every source; the build sensors then build and publish.",
)


def _failed_sources(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Sources whose load step failed in ingest run ``run_id``."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    steps = {r.event_log_entry.step_key for r in records}
    return sorted(name for name in SOURCES if f"load_{name}" in steps)


def build_request(run_id: str, failed: list[str]) -> dg.RunRequest:
    """The build after ingest run ``run_id``: everything, or, when sources failed, what does
    not depend on them (dbt keeps their part as the last good build), then publish."""
    # the build goes before runs queued since (loads the schedule or new files asked for)
    tags = {"mypizza/after_ingest": run_id, "dagster/priority": "10"}
    if not failed:
        return dg.RunRequest(run_key=f"build-after-{run_id}", tags=tags)
    graph = defs.resolve_asset_graph()
    failed_keys = [k for k, name in DLT_KEYS.items() if name in failed]
    held_back = dg.AssetSelection.assets(*failed_keys).downstream()
    selection = (dg.AssetSelection.assets(dbt_build) - held_back) | dg.AssetSelection.assets(
        published
    )
    keys = sorted(selection.resolve(graph))
    return dg.RunRequest(
        run_key=f"build-after-{run_id}",
        asset_selection=keys,
        tags={**tags, "mypizza/held_back_sources": ",".join(failed)},
    )


@dg.run_status_sensor(
    name="build_after_ingest",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_job],
    request_job=build_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
)
def build_after_ingest(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return build_request(context.dagster_run.run_id, [])


@dg.run_failure_sensor(
    name="build_after_failed_ingest",
    monitored_jobs=[ingest_job],
    request_job=build_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
)
def build_after_failed_ingest(context: dg.RunFailureSensorContext) -> dg.RunRequest | dg.SkipReason:
    run_id = context.dagster_run.run_id
    failed = _failed_sources(context.instance, run_id)
    if set(failed) == set(SOURCES) or not failed:
        return dg.SkipReason(f"ingest run {run_id} loaded no source: nothing to build")
    return build_request(run_id, failed)


# ---------------------------------------------------------------- new files in the buckets
def bucket_signature(source: str) -> str:
    """The newest modification time and the count of the files in ``source``'s bucket (its
    ``bucket_url`` and credentials from dlt config, section ``sources.<source>``)."""
    from dlt.common.configuration import resolve_configuration
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.common.storages.fsspec_filesystem import fsspec_from_config, glob_files

    with WORLD_SOURCES[source](SETTINGS.world):
        config = resolve_configuration(FilesystemConfiguration(), sections=("sources", source))
    client, _ = fsspec_from_config(config)
    newest, count = None, 0
    for item in glob_files(client, config.bucket_url, "**/*"):
        count += 1
        stamp = item["modification_date"]
        newest = stamp if newest is None or stamp > newest else newest
    return f"{newest.isoformat() if newest else '-'}|{count}"


@dg.sensor(
    name="new_files",
    job=ingest_job,
    minimum_interval_seconds=int(os.environ.get("MYPIZZA_FILE_SENSOR_SECONDS", "60")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the inventory or franchise load when files land in its bucket. The "
    "first tick only notes what is there (the nightly run loads it).",
)
def new_files(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    seen = json.loads(context.cursor) if context.cursor else None
    now = {source: bucket_signature(source) for source in FILE_SOURCES}
    context.update_cursor(json.dumps(now))
    if seen is None:
        yield dg.SkipReason(f"first look at the buckets: {now}")
        return
    changed = [s for s in FILE_SOURCES if now[s] != seen.get(s)]
    if not changed:
        yield dg.SkipReason("no new files")
        return
    for source in changed:
        yield dg.RunRequest(
            run_key=f"{source}-{now[source]}",
            asset_selection=sorted(DLT_ASSETS[source].keys),
            tags={"mypizza/new_files": source},
        )


# ---------------------------------------------------------------- definitions
defs = dg.Definitions(
    assets=[*DLT_ASSETS.values(), dbt_build, published],
    jobs=[ingest_job, build_job],
    schedules=[nightly],
    sensors=[build_after_ingest, build_after_failed_ingest, new_files],
    resources={
        "dbt": DbtCliResource(
            project_dir=DBT_PROJECT, target="prod", dbt_executable=dbt_executable()
        )
    },
    executor=dg.in_process_executor,
)
