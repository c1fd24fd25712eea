"""Where the pipelines land the raw data: the DuckDB warehouse, or the lake.

The warehouse (the default) holds one raw schema per source (``raw_pos``, ...), merged by
dlt: one row per key, its latest version. ``make run`` uses it.

The lake is a folder or a bucket (``s3://``, ``gs://``, ``az://``: anything fsspec reads)
that dlt's filesystem destination fills with Parquet files, one folder per raw table:
``<lake>/<raw schema>/<table>/<load id>.<file id>.parquet``, beside dlt's own
``_dlt_loads``, ``_dlt_version`` and ``_dlt_pipeline_state``. Plain Parquet has no
merge, so dlt appends: the lake is an append-only record of what each load brought, and
the latest version of each key is resolved in SQL where the raw tables are read
(macros/lake/), the same on DuckDB and Spark.

Chosen by ``MYPIZZA_RAW`` (``duckdb``, the default, or ``lake``); the lake's location is
dlt config, ``[destination.lake] bucket_url`` (env ``DESTINATION__LAKE__BUCKET_URL``, which
dbt reads too), with its credentials beside it (``[destination.lake.credentials]``). Unset,
it is the folder ``lake/`` beside the warehouse file.
"""

from __future__ import annotations

import os
from pathlib import Path

import dlt
from dlt.common.destination import Destination

RAW_ENV = "MYPIZZA_RAW"
RAW_CHOICES = ("duckdb", "lake")
# the lake's name in dlt config: [destination.lake]
LAKE = "lake"
LAKE_URL_ENV = "DESTINATION__LAKE__BUCKET_URL"


def raw_target() -> str:
    """Where raw data lands: ``duckdb`` (the warehouse) or ``lake`` (MYPIZZA_RAW)."""
    value = os.environ.get(RAW_ENV, "").strip().lower() or "duckdb"
    if value not in RAW_CHOICES:
        raise ValueError(
            f"{RAW_ENV}={os.environ[RAW_ENV]!r}: must be one of {', '.join(RAW_CHOICES)}"
        )
    return value


def lake_url(warehouse: Path) -> str:
    """The lake's URL: dlt config ``destination.lake.bucket_url``, else the folder ``lake``
    beside ``warehouse`` (so a new warehouse starts a new lake, as it starts new state)."""
    configured = dlt.config.get(f"destination.{LAKE}.bucket_url")
    if configured:
        return str(configured)
    return str(Path(warehouse).resolve().parent / LAKE)


def raw_destination(warehouse: Path) -> Destination:
    """The dlt destination of the raw data loaded for ``warehouse`` (see the module's doc)."""
    if raw_target() == "duckdb":
        # Parquet between normalize and load, not dlt's default for DuckDB (SQL INSERT
        # statements): DuckDB reads a Parquet file natively, while an INSERT file is read
        # whole into Python and parsed as SQL, which held the feedback history's first load
        # at 1.4 GB (medium) and 3.7 GB (large); with Parquet, 0.5 GB at medium and faster.
        return dlt.destinations.duckdb(
            credentials=str(warehouse), preferred_loader_file_format="parquet"
        )
    url = lake_url(warehouse)
    if "://" not in url:
        Path(url).mkdir(parents=True, exist_ok=True)
    elif url.split("://", 1)[0] in ("s3", "gs", "gcs", "r2", "http", "https"):
        install_httpfs()
    _quiet_append_fallback()
    return dlt.destinations.filesystem(
        bucket_url=url,
        destination_name=LAKE,
        # Parquet, which DuckDB and Spark read as typed columns (dlt's default is jsonl)
        preferred_loader_file_format="parquet",
    )


def _quiet_append_fallback() -> None:
    """dlt warns, per table and load, that plain Parquet falls back from merge to append:
    in the lake that is the design (module doc), so the warning is dropped."""
    import logging

    logger = logging.getLogger("dlt")
    if not any(getattr(f, "lake_append", False) for f in logger.filters):

        def drop(record: logging.LogRecord) -> bool:
            return "Falling back to `append`" not in record.getMessage()

        drop.lake_append = True  # type: ignore[attr-defined]
        logger.addFilter(drop)


def lands_in_lake(pipeline: dlt.Pipeline) -> bool:
    """Whether ``pipeline`` writes to the lake (no SQL engine behind it, append only)."""
    return pipeline.destination.destination_type.endswith("filesystem")


def install_httpfs() -> None:
    """Install DuckDB's httpfs extension (object storage) from its wheel into DuckDB's
    extension folder, where every DuckDB of this user then finds it: dlt's (it reads what a
    load wrote, e.g. the inventory ledger) and dbt's. DuckDB would download it, and that
    fails without network; the wheel is a locked dependency."""
    import duckdb
    from duckdb_extensions import import_extension

    with duckdb.connect() as con:
        import_extension("httpfs", con=con)
