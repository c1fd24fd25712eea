"""The POS (point-of-sale) database as a dlt source.

Every table of the POS database is loaded with dlt's ``sql_database`` source, merged on
its primary key and loaded incrementally on ``updated_at``: a re-run reads only rows
changed since the last load. Works with any SQLAlchemy URL (SQLite, Postgres, ...).

Bad input: a row whose primary key is null cannot be merged, and of rows sharing a key (a
source that declares a key it does not enforce) only the latest can; the others go to
``quarantine_<table>`` (the row as it came, and ``quarantine_rule``: the rule it breaks)
and the rest of the batch loads. A new column in the POS is added to the raw table (schema
contract ``columns: evolve``); a column whose type changes stops the load with dlt's
contract error naming the table and the column (``data_type: freeze``), before anything
of that load reaches the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dlt
from dlt.sources.credentials import ConnectionStringCredentials
from dlt.sources.sql_database import sql_database

from ingestion.errors import SourceFailed

CURSOR_COLUMN = "updated_at"
QUARANTINE_PREFIX = "quarantine_"
SCHEMA_CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}


# The tables the warehouse reads (models/staging/pos): a POS database must have them all.
POS_TABLES = ("stores", "products", "customers", "orders", "order_items", "payments")

# SQLAlchemy driver module -> the package that provides it (what to pip install)
DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "pymysql": "PyMySQL",
    "MySQLdb": "mysqlclient",
    "mysql": "mysql-connector-python",
    "pyodbc": "pyodbc",
    "pymssql": "pymssql",
    "oracledb": "oracledb",
    "cx_Oracle": "cx_Oracle",
}


class PosTableError(SourceFailed, ValueError):
    """A POS table cannot be loaded incrementally (no primary key or no cursor column), or
    the database lacks the POS tables."""


class PosDriverError(SourceFailed):
    """The POS URL needs a database driver that is not installed."""


class PosConnectionError(SourceFailed):
    """The POS database cannot be reached (server down, wrong host, password or name)."""


def unreachable(url: str, error: Exception) -> PosConnectionError:
    """The driver's own first line (it names what failed: host, password, database)."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return PosConnectionError(
        f"cannot reach the POS database {safe_url(url)}: {reason[0] if reason else error}"
    )


def safe_url(url: str) -> str:
    """A SQLAlchemy URL fit to print: the password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so rather than print what it holds
        return "<not a SQLAlchemy URL>"


def missing_driver(url: str, error: ImportError) -> PosDriverError:
    """One line naming the package a URL's driver comes from (SQLAlchemy 2 picks psycopg 3
    for ``postgresql://``, psycopg2 only for ``postgresql+psycopg2://``)."""
    module = (error.name or "").split(".")[0]
    package = DRIVER_PACKAGES.get(module, module or "the database driver")
    return PosDriverError(
        f"the POS URL {safe_url(url)} needs the Python package {package}, which is not "
        f"installed (No module named '{module}'): pip install '{package}'"
    )


def _url_of(credentials: ConnectionStringCredentials | str) -> str:
    if isinstance(credentials, ConnectionStringCredentials):
        return credentials.to_native_representation()
    return str(credentials)


def _check_driver(url: str) -> None:
    """Load the URL's driver now, so a missing one is a plain error, not a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url).get_dialect().import_dbapi()
    except ImportError as error:
        raise missing_driver(url, error) from error
    except ArgumentError as error:
        raise PosTableError(f"the POS URL is not a SQLAlchemy URL: {error}") from error


def _is_socket_url(url: str) -> bool:
    """A server URL with no host (the server's Unix socket, by default or ``?host=/dir``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return False
    return not parsed.host or str(parsed.query.get("host", "")).startswith("/")


# backend_kwargs that only connectorx understands
CONNECTORX_KWARGS = {"return_type", "protocol", "batch_size", "partition_on", "partition_num"}


def _choose_backend(
    url: str, backend: str, backend_kwargs: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """connectorx reaches a server over TCP only (a socket URL fails with ``parse error:
    empty host``): for a socket URL use the pyarrow backend, which goes through SQLAlchemy
    and its driver, without connectorx's options."""
    if backend != "connectorx" or not _is_socket_url(url):
        return backend, backend_kwargs
    kept = {k: v for k, v in (backend_kwargs or {}).items() if k not in CONNECTORX_KWARGS}
    return "pyarrow", kept or None


@dlt.source(name="pos", section="pos")
def pos(
    credentials: ConnectionStringCredentials | str = dlt.secrets.value,
    table_names: Sequence[str] | None = None,
    backend: str = "pyarrow",
    chunk_size: int = 100_000,
    backend_kwargs: dict[str, Any] | None = None,
    parallel: bool = True,
    schema: str | None = None,
):
    """All tables of a POS database (or ``table_names``), incremental and merged.

    Config (section ``sources.pos``): ``credentials`` (SQLAlchemy URL), ``backend``
    (``pyarrow``, ``connectorx``, ``sqlalchemy``, ``pandas``), ``chunk_size``,
    ``backend_kwargs`` (passed to the backend, e.g. connectorx's ``return_type =
    "arrow_stream"`` to stream ``chunk_size`` rows at a time; a socket URL, which
    connectorx cannot use, is read with ``pyarrow``), ``parallel`` (extract the tables at
    the same time, each in its own thread), ``schema`` (the database schema holding the POS
    tables; default: the connection's, ``public`` on Postgres).

    A missing driver raises PosDriverError naming the package to install; a database
    without the POS tables (an empty one, a wrong database name) raises PosTableError
    naming the URL and the missing tables.
    """
    url = _url_of(credentials)
    _check_driver(url)
    backend, backend_kwargs = _choose_backend(url, backend, backend_kwargs)
    from sqlalchemy.exc import OperationalError

    try:
        database = sql_database(
            credentials=credentials,
            schema=schema,
            table_names=list(table_names) if table_names else None,
            backend=backend,
            chunk_size=chunk_size,
            backend_kwargs=backend_kwargs,
            reflection_level="full",
            query_adapter_callback=_in_key_order,
        )
    except OperationalError as error:
        raise unreachable(url, error) from error
    _require_tables(url, schema, table_names or POS_TABLES, database.resources)
    for name, resource in database.resources.items():
        columns = resource.compute_table_schema().get("columns", {})
        primary_key = [col for col, spec in columns.items() if spec.get("primary_key")]
        if not primary_key:
            raise PosTableError(
                f"POS table '{name}' has no primary key: the pipeline merges on it. "
                "Add one in the POS database or leave the table out with table_names."
            )
        if CURSOR_COLUMN not in columns:
            raise PosTableError(
                f"POS table '{name}' has no '{CURSOR_COLUMN}' column: the pipeline loads "
                "incrementally on it. Leave the table out with table_names."
            )
        resource.apply_hints(
            primary_key=primary_key,
            # the split below leaves one row per key in a load: no dedup pass in staging
            write_disposition={"disposition": "merge", "deduplicated": True},
            incremental=dlt.sources.incremental(CURSOR_COLUMN),
            schema_contract=SCHEMA_CONTRACT,
        )
        resource.add_yield_map(_quarantine_bad_keys(name, primary_key))
        if parallel:
            resource.parallelize()
    return list(database.resources.values())


def _require_tables(
    url: str, schema: str | None, expected: Sequence[str], found: dict[str, Any]
) -> None:
    missing = [t for t in expected if t not in found]
    if not missing:
        return
    where = f"the POS database {safe_url(url)}" + (f", schema {schema}," if schema else "")
    has = f"it has {', '.join(sorted(found))}" if found else "it has no tables at all"
    raise PosTableError(
        f"{where} lacks the POS table(s) {', '.join(missing)} ({has}). Point "
        "SOURCES__POS__CREDENTIALS at the POS database (and SOURCES__POS__SCHEMA at its "
        "schema), or create the tables (docs/real-pos.md)."
    )


def _quarantine_bad_keys(table: str, primary_key: list[str]) -> Callable[[Any], Iterator[Any]]:
    """Split each batch of one table's extraction: rows with a null key, and all but the
    latest of rows sharing a key (a source that declares a key it does not enforce), go to
    the quarantine table with the rule they break; the rest of the batch loads.

    The keys that load are unique across the whole extraction, which lets the merge skip
    dlt's deduplication of the staging table (``deduplicated``). Rows arrive in key order
    (``_in_key_order``), so rows sharing a key are neighbours: within a batch they are
    split here, and a row whose key equals the last key of the batch before (a repeat that
    straddles two batches) is quarantined, the version read first having loaded. Clean
    batches pass untouched, checked with arrow compute so the fast path stays fast."""
    last_key: tuple | None = None  # key of the last row of the batch before

    def split(batch: Any) -> Iterator[Any]:
        nonlocal last_key
        arrow = hasattr(batch, "num_rows")
        if arrow:
            import pyarrow as pa

            whole = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            if whole.num_rows == 0:
                yield batch
                return
            first = tuple(whole.column(k)[0].as_py() for k in primary_key)
            if first != last_key and _keys_clean(whole, primary_key):
                last_key = tuple(whole.column(k)[-1].as_py() for k in primary_key)
                yield batch
                return
            rows = whole.to_pylist()
        else:
            rows = list(batch)
        good, bad = _split_rows(rows, table, primary_key, last_key)
        keys = [tuple(row.get(k) for k in primary_key) for row in rows]
        last_key = next((k for k in reversed(keys) if None not in k), last_key)
        if not bad:
            yield batch
            return
        if good:
            yield pa.Table.from_pylist(good, schema=whole.schema) if arrow else good
        yield dlt.mark.with_hints(
            bad,
            dlt.mark.make_hints(
                table_name=f"{QUARANTINE_PREFIX}{table}",
                write_disposition="append",
                primary_key=[],
            ),
            create_table_variant=True,
        )

    return split


def _in_key_order(query: Any, table: Any) -> Any:
    """dlt's query for one table, ordered by its primary key (free for a SQLite rowid table
    or a clustered key, an index scan elsewhere): rows sharing a key come out together."""
    return query.order_by(*table.primary_key.columns)


def _keys_clean(table: Any, primary_key: list[str]) -> bool:
    """No null and no repeated key in an arrow table. A single-column key that is strictly
    increasing (rows read in key order) is checked in one vectorised pass; otherwise by
    grouping on the key (~0.5 s per million rows)."""
    keys = table.select(primary_key)
    if any(keys.column(k).null_count for k in primary_key):
        return False
    if table.num_rows < 2:
        return True
    if len(primary_key) == 1 and _strictly_increasing(keys.column(0)):
        return True
    return keys.group_by(primary_key).aggregate([]).num_rows == keys.num_rows


def _strictly_increasing(column: Any) -> bool:
    """An arrow column of integers (no nulls) in strictly increasing order, compared in
    numpy; other types are left to the grouping."""
    import numpy as np
    import pyarrow as pa

    if not pa.types.is_integer(column.type):
        return False
    values = column.to_numpy()
    return bool(np.all(values[1:] > values[:-1]))


def _split_rows(
    rows: list[dict], table: str, primary_key: list[str], loaded_key: tuple | None = None
) -> tuple[list[dict], list[dict]]:
    latest: dict[tuple, int] = {}
    bad: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        key = tuple(row.get(k) for k in primary_key)
        if any(v is None for v in key):
            bad.append((i, f"primary key {', '.join(primary_key)} is null"))
            continue
        if key == loaded_key:
            bad.append(
                (i, f"duplicate primary key {key}: a version read earlier in this load loaded")
            )
            continue
        kept = latest.get(key)
        if kept is None:
            latest[key] = i
            continue
        if str(rows[i].get(CURSOR_COLUMN)) > str(rows[kept].get(CURSOR_COLUMN)):
            older, newer = kept, i
        else:
            older, newer = i, kept
        latest[key] = newer
        bad.append((older, f"duplicate primary key {key}: a later version of the row loaded"))
    bad_rows = {i for i, _ in bad}
    good = [row for i, row in enumerate(rows) if i not in bad_rows]
    return good, [{**rows[i], "quarantine_rule": rule} for i, rule in bad]
