"""The POS (point-of-sale) database as a dlt source.

Every table of the POS database is loaded with dlt's ``sql_database`` source, merged on
its primary key and loaded incrementally on ``updated_at``: a re-run reads only rows
changed since the last load. Works with any SQLAlchemy URL (SQLite, Postgres, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import dlt
from dlt.sources import DltSource
from dlt.sources.credentials import ConnectionStringCredentials
from dlt.sources.sql_database import sql_database

CURSOR_COLUMN = "updated_at"


class PosTableError(ValueError):
    """A POS table cannot be loaded incrementally (no primary key or no cursor column)."""


@dlt.source(name="pos", section="pos")
def pos(
    credentials: ConnectionStringCredentials | str = dlt.secrets.value,
    table_names: Sequence[str] | None = None,
    backend: str = "pyarrow",
    chunk_size: int = 100_000,
):
    """All tables of a POS database (or ``table_names``), incremental and merged.

    Config (section ``sources.pos``): ``credentials`` (SQLAlchemy URL), ``backend``
    (``pyarrow``, ``connectorx``, ``sqlalchemy``, ``pandas``), ``chunk_size``.
    """
    database = sql_database(
        credentials=credentials,
        table_names=list(table_names) if table_names else None,
        backend=backend,
        chunk_size=chunk_size,
        reflection_level="full",
    )
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
            write_disposition="merge",
            incremental=dlt.sources.incremental(CURSOR_COLUMN),
        )
    return list(database.resources.values())


def pos_source(credentials: str | None = None, **kwargs) -> DltSource:
    """The POS source, with credentials from the caller or else from dlt config."""
    if credentials is None:
        return pos(**kwargs)
    return pos(credentials=credentials, **kwargs)
