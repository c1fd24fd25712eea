"""The Dagster definitions of the myPizza warehouse (``dagster dev -m orchestration.definitions``).

The asset graph, from source tables to marts:

- every dlt source as assets, one per dlt resource (dagster-dlt's specs), keyed
  ``<source>/<table>``: the key dagster-dbt gives the dbt source they feed, so the graph
  joins by itself. A resource that writes several tables (the inventory files, the
  franchise exports, the reviews' child tables) feeds every dbt source of those tables;
- the dbt project as assets (dagster-dbt), its tests as asset checks;
- ``published``: the published copy (``mypizza.published.duckdb``) readers use.

The steps run the project's own code, the same functions `mypizza run` runs
(mypizza/cli.py), under ``mypizza``'s writer lock (waiting for it: a Dagster run queues
behind a `mypizza run` from the shell and the other way round; Dagster's run queue,
``dagster.yaml``, starts one run at a time):

- ``load_sources``: ``mypizza.cli.ingest`` of the selected sources (``ingestion.pipelines.
  load`` in each world's source context, one thread per source). A source that fails
  materialises nothing and fails the step, naming it (``SourceFailed.explain``'s words);
  the others load;
- ``dbt_build``: ``cli.build_plan`` (what ``nightly.plan`` selects, minus everything
  downstream of a source that did not load), ``dbt build`` through dagster-dbt (models
  materialised, tests reported as checks as they finish), then ``cli.finish_build``: the
  audit (mypizza/audit.py), docs if the project changed, ``warehouse.publish`` of all but
  the held-back part, the prod state; and ``summary.print_report``, which keeps the outcome
  for `mypizza status` (``prod_state.record_run``). The step fails when `mypizza run`
  would exit non-zero (3: published but something held back; 1: nothing published).

Jobs, schedules and sensors:

- ``ingest`` (the sources) then ``build``. ``nightly`` starts ``ingest`` at 02:00 UTC
  (``MYPIZZA_NIGHTLY_CRON``); when an ``ingest`` run ends, successful or not, a sensor
  starts ``build`` for it: the build reads that run's outcome and holds back what depends
  on a source that did not load, as `mypizza run` does.
- ``new_files``: starts the inventory or franchise load when files land in its bucket.
- freshness per source: each dlt asset carries the ``warn_after``/``error_after`` its dbt
  source declares (a Dagster ``FreshnessPolicy``).
"""

import importlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
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
from dagster_dlt import DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion import pipelines
from mypizza.dbt_runner import dbt_executable, read_results
from mypizza.outcome import EXIT_OK, OUTCOMES, Ingest
from mypizza.settings import Settings
from mypizza.warehouse import published_path, writer_lock
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
FAILED_SOURCES = "failed sources"  # metadata of a failed load step: {source: message}
AFTER_INGEST = "mypizza/after_ingest"  # tag of a build run: the ingest run it completes
HELD_BACK = "mypizza/sources_not_loaded"  # tag of such a build run, for the UI

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


def _dlt_source(name: str) -> Any:
    """The dlt source object of ``name`` (``ingestion.<name>.<name>``, as
    ``ingestion.pipelines.load`` makes it), to describe its resources as assets. Made inside
    the world's source context (the POS's tables are reflected from its database, the
    buckets' URLs resolved); the IoT source reads its broker only when it runs, so it is
    described without one (no broker started to import the definitions)."""
    module = importlib.import_module(f"ingestion.{name}")
    if name == "iot":
        return module.iot_source(None)
    with WORLD_SOURCES[name](SETTINGS.world):
        return getattr(module, name)()


DLT_SPECS: dict[str, list[dg.AssetSpec]] = {
    name: [
        # skippable: a source that fails to load materialises nothing, the others do
        spec.replace_attributes(skippable=True)
        for spec in build_dlt_asset_specs(
            dlt_source=_dlt_source(name),
            dlt_pipeline=pipelines.make_pipeline(name, SETTINGS.warehouse, progress=None),
            dagster_dlt_translator=DltToDbtSources(),
        )
    ]
    for name in SOURCES
}
DLT_KEYS: dict[dg.AssetKey, str] = {
    spec.key: name for name, specs in DLT_SPECS.items() for spec in specs
}


def _load_metadata(key: dg.AssetKey, result: pipelines.LoadResult) -> dict[str, Any]:
    table = key.path[-1]
    own = {t: n for t, n in result.rows.items() if t == table or t.startswith(f"{table}__")}
    return {
        # a resource that writes several tables (inventory files, franchise exports) gets all
        "rows": sum((own or result.rows).values()),
        "source rows per table": dg.MetadataValue.json(result.rows),
        "source seconds": float(round(result.seconds, 2)),
        "summary": dg.MetadataValue.text(str(result)),
    }


@dg.multi_asset(
    specs=[spec for specs in DLT_SPECS.values() for spec in specs],
    name="load_sources",
    can_subset=True,
    description="Load the selected sources, as `mypizza ingest` does: from one process, each "
    "source in its own thread, under the writer lock. A source that fails materialises "
    "nothing and fails the step naming it; the others load.",
)
def load_sources(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    from mypizza.cli import ingest

    selected = {DLT_KEYS[key] for key in context.selected_asset_keys}
    sources = tuple(name for name in SOURCES if name in selected)
    context.log.info(f"waiting for the writer lock of {SETTINGS.warehouse}")
    with writer_lock(SETTINGS.warehouse, wait=True):
        outcome = ingest(sources, SETTINGS)
    for key in sorted(context.selected_asset_keys):
        result = outcome.loaded.get(DLT_KEYS[key])
        if result is not None:
            yield dg.MaterializeResult(asset_key=key, metadata=_load_metadata(key, result))
    if outcome.failed:
        lines = "\n".join(f"{name}: {message}" for name, message in sorted(outcome.failed.items()))
        raise dg.Failure(
            description=f"{len(outcome.failed)} of {len(sources)} sources did not load "
            f"(the others did; the build holds back only what depends on these):\n{lines}",
            metadata={
                FAILED_SOURCES: dg.MetadataValue.json(outcome.failed),
                "seconds to fail": dg.MetadataValue.json(outcome.seconds_to_fail),
            },
        )


def _sources_of_run(run: dg.DagsterRun) -> set[str]:
    """The sources an ingest run set out to load: those of its selected dlt assets."""
    keys = run.asset_selection if run.asset_selection is not None else DLT_KEYS
    return {DLT_KEYS[key] for key in keys if key in DLT_KEYS}


def ingest_outcome(instance: dg.DagsterInstance, run_id: str, planned: bool = True) -> Ingest:
    """What an ingest run loaded and what failed, from its event log, as `mypizza run`'s
    report and ``prod-state/last_run.json`` keep it. With ``planned``, a source the run set
    out to load that neither loaded nor reported its failure (the run died) failed too."""
    outcome = Ingest()
    materialised = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in materialised:
        event = record.event_log_entry.asset_materialization
        source = DLT_KEYS.get(event.asset_key) if event else None
        if source and source not in outcome.loaded:
            rows = event.metadata["source rows per table"].value
            seconds = event.metadata["source seconds"].value
            outcome.loaded[source] = pipelines.LoadResult(source, dict(rows), seconds)
    failures = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for record in failures.records:
        data = record.event_log_entry.dagster_event.step_failure_data.user_failure_data
        metadata = data.metadata if data else {}
        if FAILED_SOURCES in metadata:
            outcome.failed.update(metadata[FAILED_SOURCES].value)
            outcome.seconds_to_fail.update(metadata["seconds to fail"].value)
    if planned:
        run = instance.get_run_by_id(run_id)
        for source in sorted(_sources_of_run(run) - set(outcome.loaded) - set(outcome.failed)):
            outcome.failed[source] = f"did not load: Dagster run {run_id} ended before it did"
    return outcome


# ---------------------------------------------------------------- the dbt project as assets
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
PUBLISHED = dg.AssetKey("published")


def _night(context: dg.AssetExecutionContext) -> tuple[str, Ingest, datetime]:
    """The command this build completes (``run`` after an ingest run, else ``build``), what
    that ingest loaded and failed, and when the night started."""
    instance = context.instance
    after = context.run.tags.get(AFTER_INGEST)
    if after:
        record = instance.get_run_record_by_id(after)
        started = record.start_time if record and record.start_time else time.time()
        return "run", ingest_outcome(instance, after), datetime.fromtimestamp(started, UTC)
    # the same run may have loaded sources first (materialising every asset at once): a
    # failed load would have skipped this step, so what it loaded is all it set out to
    own = ingest_outcome(instance, context.run_id, planned=False)
    return ("run" if own.loaded else "build"), own, datetime.now(UTC)


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=DBT_TRANSLATOR,
    name="dbt_build",
)
def dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """The night's build, as `mypizza run` does it after its loads (mypizza/cli.py): dbt
    builds what ``nightly.plan`` selects, minus everything downstream of a source that did
    not load; the audit holds back what failed; the rest is published
    (``warehouse.publish``), the outcome kept for `mypizza status` (``prod_state``). dbt's
    models are materialised and its tests reported as asset checks as they finish."""
    from mypizza.cli import build_plan, finish_build
    from mypizza.summary import print_report

    command, loads, started = _night(context)
    failed = tuple(sorted(loads.failed))
    context.log.info(f"waiting for the writer lock of {SETTINGS.warehouse}")
    with writer_lock(SETTINGS.warehouse, wait=True):
        plan = build_plan(SETTINGS, failed_sources=failed)
        args = plan.build_args
        began = time.time()
        # dbt's own selection (the plan's), not Dagster's: the whole project is this asset
        invocation = dbt.cli(
            args,
            manifest=MANIFEST,
            dagster_dbt_translator=DBT_TRANSLATOR,
            target_path=SETTINGS.target_dir,  # where `mypizza build` keeps its artifacts
            raise_on_error=False,
        )
        for event in invocation.stream_raw_events():
            yield from event.to_default_asset_events(
                manifest=MANIFEST,
                dagster_dbt_translator=DBT_TRANSLATOR,
                context=context,
                target_path=invocation.target_path,
                project=DBT_PROJECT,
            )
        result = read_results(SETTINGS.target_dir, args, began, invocation.process.wait())
        build = finish_build(SETTINGS, plan, result, failed)
        status = print_report(SETTINGS, command, loads, build, started)
    held = sorted(h.relation for h in build.held_back.values())
    if build.published:
        context.log_event(
            dg.AssetMaterialization(
                asset_key=PUBLISHED,
                metadata={
                    "path": str(published_path(SETTINGS.warehouse)),
                    "outcome": f"{OUTCOMES[status]} (exit {status})",
                    "held back": dg.MetadataValue.json(held),
                    "sources not loaded": dg.MetadataValue.json(loads.failed),
                },
            )
        )
    if status != EXIT_OK:  # the run shows red, as `mypizza run` exits 3 or 1
        raise dg.Failure(
            description=f"{OUTCOMES[status]} (mypizza exit status {status}): "
            + (
                f"published all but {len(held)} held-back relations (they keep their last "
                "version that passed; see this run's log)"
                if build.published
                else "nothing published; readers keep the last published copy"
            ),
            metadata={"held back": dg.MetadataValue.json(held), "failures": build.failures},
        )


def _marts() -> list[dg.AssetKey]:
    return [key for key in dbt_build.keys if key.path[0] == "marts"]


published = dg.AssetSpec(
    PUBLISHED,
    deps=_marts(),
    group_name="published",
    description="The published copy readers use (mypizza.published.duckdb): the warehouse "
    "after an audited build, all but what it holds back, swapped in atomically. Written by "
    "the dbt_build step (as by `mypizza run`); never blocks a reader.",
    kinds={"duckdb"},
)


# ---------------------------------------------------------------- jobs
DLT_SELECTION = dg.AssetSelection.assets(load_sources)
BUILD_SELECTION = dg.AssetSelection.assets(dbt_build)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=DLT_SELECTION,
    description="Load every source (or the selected ones), as `mypizza ingest all`: a "
    "source that fails fails alone.",
    executor_def=dg.in_process_executor,
)
build_job = dg.define_asset_job(
    "build",
    selection=BUILD_SELECTION,
    description="The night's dbt build (tests as asset checks), audit, publish.",
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


def build_request(run: dg.DagsterRun) -> dg.RunRequest:
    """The build after ingest run ``run``, successful or not: the build itself leaves out
    what depends on a source that did not load (it reads the run's outcome)."""
    tags = {AFTER_INGEST: run.run_id, "dagster/priority": "10"}  # before loads queued since
    return dg.RunRequest(run_key=f"build-after-{run.run_id}", tags=tags)


@dg.run_status_sensor(
    name="build_after_ingest",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_job],
    request_job=build_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
)
def build_after_ingest(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return build_request(context.dagster_run)


@dg.run_failure_sensor(
    name="build_after_failed_ingest",
    monitored_jobs=[ingest_job],
    request_job=build_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
)
def build_after_failed_ingest(context: dg.RunFailureSensorContext) -> dg.RunRequest:
    """As `mypizza run` after a failed source: build and publish everything else."""
    request = build_request(context.dagster_run)
    failed = sorted(ingest_outcome(context.instance, context.dagster_run.run_id).failed)
    return request.with_replaced_attrs(tags={**request.tags, HELD_BACK: ",".join(failed)})


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
            asset_selection=sorted(k for k, name in DLT_KEYS.items() if name == source),
            tags={"mypizza/new_files": source},
        )


# ---------------------------------------------------------------- definitions
defs = dg.Definitions(
    assets=[load_sources, dbt_build, published],
    jobs=[ingest_job, build_job],
    schedules=[nightly],
    sensors=[build_after_ingest, build_after_failed_ingest, new_files],
    resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())},
    executor=dg.in_process_executor,
)
