"""Pipelines that load the source systems into the one DuckDB warehouse.

Each source system lands in its own raw schema (``raw_<source>``), which only dlt writes.
Pipeline state (incremental cursors, pending load packages) lives beside the warehouse
file it describes, so a new ``MYPIZZA_WAREHOUSE`` starts from zero and two checkouts
never share state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.destinations import lands_in_lake, raw_destination
from ingestion.pos import CURSOR_COLUMN, pos_source
from ingestion.suppression import apply_suppression

RAW_SCHEMAS = {
    "pos": "raw_pos",
    "inventory": "raw_inventory",
    "feedback": "raw_feedback",
    "franchise": "raw_franchise",
    "iot": "raw_iot",
}


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
        dataset_name=RAW_SCHEMAS[source_name],
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


class SchemaContractError(ValueError):
    """A source's schema changed in a way the pipeline refuses (a column's type)."""


def _contract_violation(source: str, error: BaseException) -> SchemaContractError | None:
    """Plain words for a load stopped by a dlt schema contract, if that is what stopped it."""
    from dlt.common.schema.exceptions import DataValidationError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DataValidationError):
            existing = (error.table_schema or {}).get("columns", {}).get(error.column_name, {})
            was = existing.get("data_type", "?")
            return SchemaContractError(
                f"source {source}, table {error.table_name}, column {error.column_name}: "
                f"its type changed (was {was}; rule: column types are frozen, "
                f"{error.schema_entity}={error.contract_mode}). Nothing of this load was "
                "written; fix the source or migrate the raw column, then run again."
            )
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__
    return None


def load_pos(
    warehouse: Path, credentials: str | None = None, progress: str | None = "log", **source_kwargs
) -> LoadResult:
    """Load every POS table changed since the last run into ``raw_pos``."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    pipeline = make_pipeline("pos", warehouse, progress=progress)
    started = time.perf_counter()
    try:
        source = apply_suppression(pos_source(credentials, **source_kwargs), warehouse)
        _replace_tables_read_whole(pipeline, source)
        info = run_recovering(pipeline, source)
    except PipelineStepFailed as error:
        plain = _contract_violation("pos", error)
        if plain is None:
            raise
        raise plain from error
    return LoadResult("pos", _user_rows(pipeline), time.perf_counter() - started, info)


def _replace_tables_read_whole(pipeline: dlt.Pipeline, source: object) -> None:
    """A table with no incremental cursor yet is read whole: load it with ``replace``
    (straight into the raw table) rather than ``merge`` (into a staging table, then delete
    and insert): the same rows, in about half the load time (bench/README.md). Later runs
    read only changed rows and merge them. The state is first synced from the warehouse,
    so a lost local pipeline folder never turns an incremental read into a replace."""
    if pipeline.has_pending_data:  # a crashed run's package is finished first, as it was
        return
    pipeline.sync_destination()
    resources = pipeline.state.get("sources", {}).get(source.name, {}).get("resources", {})
    for name, resource in source.resources.items():
        cursor = resources.get(name, {}).get("incremental", {}).get(CURSOR_COLUMN, {})
        if cursor.get("last_value") is None:
            resource.apply_hints(write_disposition="replace")


def load_feedback(warehouse: Path, progress: str | None = "log", **source_kwargs) -> LoadResult:
    """Load the reviews and social mentions changed since the last run into ``raw_feedback``
    (nested arrays as child tables). A refused token or a wrong URL raises FeedbackApiError
    saying what to set."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    from ingestion.feedback import explain_failure, feedback_source

    pipeline = make_pipeline("feedback", warehouse, progress=progress)
    started = time.perf_counter()
    try:
        info = run_recovering(
            pipeline, apply_suppression(feedback_source(**source_kwargs), warehouse)
        )
    except PipelineStepFailed as error:
        plain = explain_failure(error)
        if plain is None:
            raise
        raise plain from error
    return LoadResult("feedback", _user_rows(pipeline), time.perf_counter() - started, info)


@dataclass
class InventoryLoadResult(LoadResult):
    """An inventory load, and what became of each file it read (loaded, quarantined with
    the problem, or ignored): ``files`` holds (status, path relative to the bucket, problem)."""

    files: list[tuple[str, str, str | None]] = field(default_factory=list)

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


def load_inventory(
    warehouse: Path, progress: str | None = "log", **source_kwargs
) -> InventoryLoadResult:
    """Load the inventory files written to the bucket since the last run into
    ``raw_inventory``; files that break a rule are quarantined and listed on the result."""
    from ingestion.inventory import FILES_TABLE, inventory_source

    pipeline = make_pipeline("inventory", warehouse, progress=progress)
    started = time.perf_counter()
    info = run_recovering(pipeline, inventory_source(**source_kwargs))
    result = InventoryLoadResult(
        "inventory", _user_rows(pipeline), time.perf_counter() - started, info
    )
    if result.rows.get(FILES_TABLE) and info.loads_ids:
        with pipeline.sql_client() as client:
            ids = ", ".join(f"'{load_id}'" for load_id in info.loads_ids)
            rows = client.execute_sql(
                f"select status, file_path, problem "
                f"from {client.make_qualified_table_name(FILES_TABLE)} "
                f"where _dlt_load_id in ({ids}) order by file_path"
            )
        result.files = [tuple(row) for row in rows]
    return result


@dataclass
class FranchiseLoadResult(LoadResult):
    """A franchise load, and the stores whose export was rejected: ``rejected`` holds one
    message per store (the store, the file, the line and the problem)."""

    rejected: list[str] = field(default_factory=list)

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


def load_franchise(
    warehouse: Path, progress: str | None = "log", **source_kwargs
) -> FranchiseLoadResult:
    """Load the franchise stores' CSV exports changed since the last run into
    ``raw_franchise``; a store whose export breaks a rule is rejected, listed on the result,
    and keeps what it had, while the other stores load."""
    from ingestion.franchise import EXPORTS_TABLE, franchise_source

    pipeline = make_pipeline("franchise", warehouse, progress=progress)
    started = time.perf_counter()
    info = run_recovering(pipeline, franchise_source(**source_kwargs))
    result = FranchiseLoadResult(
        "franchise", _user_rows(pipeline), time.perf_counter() - started, info
    )
    if result.rows.get(EXPORTS_TABLE) and info.loads_ids:
        with pipeline.sql_client() as client:
            ids = ", ".join(f"'{load_id}'" for load_id in info.loads_ids)
            rows = client.execute_sql(
                f"select problem from {client.make_qualified_table_name(EXPORTS_TABLE)} "
                f"where _dlt_load_id in ({ids}) and status = 'rejected' order by store_code"
            )
        result.rejected = [problem for (problem,) in rows]
    return result


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
