"""Pipelines that load the source systems into the one DuckDB warehouse.

Each source system lands in its own raw schema (``raw_<source>``), which only dlt writes.
Pipeline state (incremental cursors, pending load packages) lives beside the warehouse
file it describes, so a new ``MYPIZZA_WAREHOUSE`` starts from zero and two checkouts
never share state.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.sources import DltSource

from ingestion.destinations import lands_in_lake, raw_destination
from ingestion.errors import BucketMissing, explain
from ingestion.suppression import apply_suppression


def raw_schema(source: str) -> str:
    """The schema a source lands in; only dlt writes it."""
    return f"raw_{source}"


def pipelines_dir(warehouse: Path) -> Path:
    """Where dlt keeps the working state of the pipelines that load ``warehouse``."""
    warehouse = Path(warehouse).resolve()
    return warehouse.parent / f".{warehouse.stem}.dlt"


def progress_log() -> object:
    """dlt's progress, printed to stdout every few seconds while a stage runs."""
    return dlt.progress.log(log_period=5.0, dump_system_stats=False)


def make_pipeline(source_name: str, warehouse: Path, progress: str | None = "log") -> dlt.Pipeline:
    """The dlt pipeline of one source system, loading into ``warehouse``, or into the lake
    when MYPIZZA_RAW=lake (ingestion/destinations.py)."""
    if progress == "log":
        progress = progress_log()
    warehouse = Path(warehouse).resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"mypizza_{source_name}",
        pipelines_dir=str(pipelines_dir(warehouse)),
        destination=raw_destination(warehouse),
        dataset_name=raw_schema(source_name),
        progress=progress,
    )


@dataclass
class LoadResult:
    """What one pipeline run loaded: rows per table and how long it took."""

    source: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    load_info: LoadInfo | None = None

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def read_ledger(self, pipeline: dlt.Pipeline) -> None:
        """Read what the source's ledger table says about this load (most have none)."""

    def __str__(self) -> str:
        if not self.rows:
            return f"{self.source}: nothing new ({self.seconds:.1f} s)"
        tables = ", ".join(f"{t} {n:,}" for t, n in sorted(self.rows.items()))
        return (
            f"{self.source}: {self.total_rows:,} rows in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s): {tables}"
        )


def run_recovering(pipeline: dlt.Pipeline, data: object) -> LoadInfo:
    """``pipeline.run(data)``, first finishing what a crashed run left pending.

    dlt's ``run`` with pending packages only loads those and extracts nothing new, so they
    are finished first. A load killed after a table's insert committed but before dlt
    marked the job done re-runs that insert on resume (dlt-hub/dlt#3023): rows with the
    same ``_dlt_id`` twice, which a merge through the staging dataset does not remove for
    tables with nested children, and a table loaded with ``replace`` (straight into the
    table, no staging) keeps both copies. After such a resume those replayed rows are
    dropped.
    """
    if pipeline.has_pending_data:
        pipeline.run()
        _drop_replayed_rows(pipeline)
    return pipeline.run(data)


def _drop_replayed_rows(pipeline: dlt.Pipeline) -> None:
    """Delete the second copy of each row a resumed load inserted again: rows sharing a
    ``_dlt_id``, or, in tables loaded from arrow (which carry no ``_dlt_id``), rows sharing
    the primary key, which the source guarantees unique within a load (ingestion/pos.py)."""
    if not pipeline.default_schema_name:  # killed before its first load: nothing loaded twice
        return
    if lands_in_lake(pipeline):  # a replayed job rewrites the same file names: no copies
        return
    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        for name, table in schema.tables.items():
            columns = table.get("columns", {})
            if "_dlt_id" in columns:
                identity = ["_dlt_id"]
            else:
                identity = [c for c, spec in columns.items() if spec.get("primary_key")]
            if not identity or name.startswith("_dlt"):
                continue
            qualified = client.make_qualified_table_name(name)
            partition = ", ".join(client.escape_column_name(c) for c in identity)
            try:
                client.execute_sql(
                    f"delete from {qualified} where rowid in (select rowid from ("
                    f"select rowid, row_number() over (partition by {partition}) as copy "
                    f"from {qualified}) where copy > 1)"
                )
            except Exception as error:  # a table the crashed load never created
                if "does not exist" not in str(error):
                    raise


def _user_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows normalized per table in the last run, without dlt's own bookkeeping tables."""
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = info.row_counts if info else {}
    return {t: n for t, n in counts.items() if not t.startswith("_dlt") and n}


def load(
    source: str, warehouse: Path, progress: str | None = "log", **source_kwargs: Any
) -> LoadResult:
    """Load what changed in ``source`` since the last run into ``raw_<source>``.

    The dlt source is ``ingestion.<source>.<source>`` (a ``@dlt.source`` function), called
    with ``source_kwargs``; what is not given comes from dlt config (``sources.<source>``).
    A load that fails raises ``SourceFailed`` saying, in a line or two, what to do."""
    module = importlib.import_module(f"ingestion.{source}")
    extra = EXTRAS.get(source, Extras())
    pipeline = make_pipeline(source, warehouse, progress=progress)
    started = time.perf_counter()
    try:
        _check_bucket(source, source_kwargs.get("bucket_url"))
        if extra.load is not None:  # a source with a loop of its own (the IoT session)
            return extra.load(warehouse, progress=progress, **source_kwargs)
        # the suppression list (mypizza forget) applies to every source that carries people
        data = apply_suppression(getattr(module, source)(**source_kwargs), warehouse)
        if extra.prepare is not None:
            extra.prepare(pipeline, data)
        info = run_recovering(pipeline, data)
    except Exception as error:  # one or two lines saying what to do, never a traceback
        raise explain(source, error, getattr(module, "explain_failure", None)) from error
    result = extra.result(source, _user_rows(pipeline), time.perf_counter() - started, info)
    result.read_ledger(pipeline)
    return result


def _check_bucket(source: str, bucket_url: str | None) -> None:
    """A source read from a bucket (``bucket_url`` in its config) needs the bucket to exist:
    listing a missing one finds no files, which would look like a quiet day."""
    key = f"sources.{source}.bucket_url"
    url = bucket_url or dlt.config.get(key) or dlt.secrets.get(key)
    if not url:
        return
    from dlt.common.configuration import resolve_configuration
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.common.storages.fsspec_filesystem import fsspec_from_config

    config = resolve_configuration(
        FilesystemConfiguration(),
        sections=("sources", source),
        explicit_value={"bucket_url": url},
    )
    client, path = fsspec_from_config(config)
    if not client.isdir(path):
        raise BucketMissing(config.bucket_url)


def _replace_tables_read_whole(pipeline: dlt.Pipeline, source: DltSource) -> None:
    """A table with no incremental cursor yet is read whole: load it with ``replace``
    (straight into the raw table) rather than ``merge`` (into a staging table, then delete
    and insert): the same rows, in about half the load time (bench/README.md). Later runs
    read only changed rows and merge them. The state is first synced from the warehouse,
    so a lost local pipeline folder never turns an incremental read into a replace."""
    from ingestion.pos import CURSOR_COLUMN

    if pipeline.has_pending_data:  # a crashed run's package is finished first, as it was
        return
    pipeline.sync_destination()
    resources = pipeline.state.get("sources", {}).get(source.name, {}).get("resources", {})
    for name, resource in source.resources.items():
        cursor = resources.get(name, {}).get("incremental", {}).get(CURSOR_COLUMN, {})
        if cursor.get("last_value") is None:
            resource.apply_hints(write_disposition="replace")


@dataclass
class InventoryLoadResult(LoadResult):
    """An inventory load, and what became of each file it read (loaded, quarantined with
    the problem, or ignored): ``files`` holds (status, path relative to the bucket, problem)."""

    files: list[tuple[str, str, str | None]] = field(default_factory=list)

    def read_ledger(self, pipeline: dlt.Pipeline) -> None:
        from ingestion.inventory import FILES_TABLE

        self.files = _ledger(pipeline, self, FILES_TABLE, "status, file_path, problem", "file_path")

    @property
    def problems(self) -> list[tuple[str, str, str | None]]:
        return [f for f in self.files if f[0] != "loaded"]

    def __str__(self) -> str:
        lines = [super().__str__()]
        if self.files:
            counts = {s: sum(f[0] == s for f in self.files) for s in ("loaded", "quarantined")}
            ignored = len(self.files) - sum(counts.values())
            lines.append(
                f"  {len(self.files):,} files read: {counts['loaded']:,} loaded, "
                f"{counts['quarantined']:,} quarantined, {ignored:,} ignored"
            )
        for status, path, problem in self.problems:
            lines.append(f"  {status} {path}: {problem}")
        if any(f[0] == "quarantined" for f in self.files):
            lines.append(
                "  (quarantined files loaded nothing: fix them in the bucket and they load "
                "on the next run; see raw_inventory.files)"
            )
        return "\n".join(lines)


@dataclass
class FranchiseLoadResult(LoadResult):
    """A franchise load, and the stores whose export was rejected: ``rejected`` holds one
    message per store (the store, the file, the line and the problem)."""

    rejected: list[str] = field(default_factory=list)

    def read_ledger(self, pipeline: dlt.Pipeline) -> None:
        from ingestion.franchise import EXPORTS_TABLE

        rejected = "status = 'rejected'"
        rows = _ledger(pipeline, self, EXPORTS_TABLE, "problem", "store_code", rejected)
        self.rejected = [problem for (problem,) in rows]

    def __str__(self) -> str:
        lines = [super().__str__()]
        for problem in self.rejected:
            lines.append(f"  REJECTED {problem}")
        if self.rejected:
            lines.append(
                "  (a rejected store loaded nothing this run and keeps the rows it had; "
                "the other stores loaded. Have the store send the export again, fixed: it "
                "loads on the next run. See raw_franchise.exports)"
            )
        return "\n".join(lines)


def _ledger(
    pipeline: dlt.Pipeline,
    result: LoadResult,
    table: str,
    columns: str,
    order: str,
    condition: str = "true",
) -> list[tuple]:
    """Rows of a source's ledger table (one row per file or export read) of this load."""
    if not result.rows.get(table) or result.load_info is None or not result.load_info.loads_ids:
        return []
    ids = ", ".join(f"'{load_id}'" for load_id in result.load_info.loads_ids)
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"select {columns} from {client.make_qualified_table_name(table)} "
            f"where _dlt_load_id in ({ids}) and {condition} order by {order}"
        )
    return [tuple(row) for row in rows]


def load_iot(warehouse: Path, progress: str | None = "log", **config: object) -> LoadResult:
    """Drain the kitchen devices' MQTT session into ``raw_iot``: batch after batch until no
    message came for the idle timeout, each batch acknowledged to the broker only after the
    load holding it committed (ingestion/iot.py). An unreachable broker raises
    IotBrokerError; nothing is acknowledged, the messages wait in the session."""
    from ingestion.iot import MqttSession, iot_source, mqtt_config

    pipeline = make_pipeline("iot", warehouse, progress=progress)
    started = time.perf_counter()
    if pipeline.has_pending_data:  # a crashed run's package first: its messages come again
        pipeline.run()
        _drop_replayed_rows(pipeline)
    session = MqttSession(mqtt_config(**config)).connect()
    rows: dict[str, int] = {}
    info = None
    try:
        while session.wait_for_messages():
            info = pipeline.run(iot_source(session))
            for table, n in _user_rows(pipeline).items():
                rows[table] = rows.get(table, 0) + n
            session.ack_all()  # committed: the broker may forget them
            if session.lost.is_set():
                break
    finally:
        session.close()
    return LoadResult("iot", rows, time.perf_counter() - started, info)


@dataclass(frozen=True)
class Extras:
    """What a source does beyond the common load: prepare its dlt source for the pipeline,
    the result that reads its ledger, or a load of its own. Most sources need none."""

    prepare: Callable[[dlt.Pipeline, DltSource], None] | None = None
    result: type[LoadResult] = LoadResult
    load: Callable[..., LoadResult] | None = None


EXTRAS: dict[str, Extras] = {
    "pos": Extras(prepare=_replace_tables_read_whole),
    "inventory": Extras(result=InventoryLoadResult),
    "franchise": Extras(result=FranchiseLoadResult),
    "iot": Extras(load=load_iot),
}
