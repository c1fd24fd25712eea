"""Profiles of the marts, to prove two builds of one world equal (test support, not
shipped): per table the row count and, per column, how many values are not null, the sum
of a number, how many booleans are true, a checksum of the strings, the first, last and
summed day or second of dates and timestamps.

``profile_duckdb`` measures every table of a schema of a DuckDB warehouse, and
``profile_parquet`` every table Spark wrote (its Parquet files, read by DuckDB with the
same query, so only the data can differ).
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

# A table's profile: measure name ("count", "sum(net_total)", ...) to its value.
Profile = dict[str, Any]

# type names (without their parameters) on DuckDB and Spark, by what is measured of them
_NUMBERS = {"tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint"}
_NUMBERS |= {"usmallint", "uinteger", "ubigint", "float", "double", "real", "decimal", "numeric"}
_STRINGS = {"varchar", "string", "char", "text"}


def _kind(data_type: str) -> str | None:
    """What a column is measured as, from its type name on DuckDB or Spark."""
    base = data_type.lower().split("(")[0].strip()
    if base in _NUMBERS:
        return "number"
    if base in _STRINGS:
        return "string"
    if base in ("boolean", "date"):
        return base
    if base.startswith("timestamp"):
        return "timestamp"
    return None


def _profile_sql(relation: str, columns: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """One aggregate query over ``relation`` and the names of the measures it returns.

    Per column: how many values are not null, and by type the sum (numbers), how many
    are true (booleans), a checksum (strings: the sum of the first 8 hex digits of their
    md5, which no row order changes), the first, last and summed day or second (dates,
    timestamps; seconds, so that the sum stays in a bigint). Other types count values only.
    """
    measures: dict[str, str] = {"count": "count(*)"}
    for column, data_type in columns:
        # dlt's load ids (lineage, in the incremental facts) name when a load ran: two
        # warehouses loaded from the same world differ there and nowhere else
        kind = None if column.startswith("_dlt") else _kind(data_type)
        q = '"' + column.replace('"', '""') + '"'
        measures[f"values({column})"] = f"count({q})"
        if kind == "number":
            measures[f"sum({column})"] = f"sum({q})"
        elif kind == "boolean":
            measures[f"true({column})"] = f"count(case when {q} then 1 end)"
        elif kind == "string":
            md5_prefix = f"cast(('0x' || substr(md5({q}), 1, 8)) as bigint)"
            measures[f"checksum({column})"] = f"sum({md5_prefix})"
        elif kind == "date":
            days = f"({q} - date '1970-01-01')"
            measures[f"min({column})"] = f"min({days})"
            measures[f"max({column})"] = f"max({days})"
            measures[f"sum_days({column})"] = f"sum({days})"
        elif kind == "timestamp":
            measures[f"min({column})"] = f"min(epoch_us({q}))"
            measures[f"max({column})"] = f"max(epoch_us({q}))"
            measures[f"sum_seconds({column})"] = f"sum(epoch_us({q}) // 1000000)"
    return f"select {', '.join(measures.values())} from {relation}", list(measures)


def _normalise(value: Any) -> Any:
    """A whole Decimal as an int: a sum reads the same whatever the engine's scale."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def profile_duckdb(warehouse: Path, schema: str = "marts") -> dict[str, Profile]:
    """The profile of every table of ``schema`` in the DuckDB ``warehouse``."""
    profiles: dict[str, Profile] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_type = 'BASE TABLE' order by all",
                [schema],
            ).fetchall()
        ]
        for table in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            sql, names = _profile_sql(f'"{schema}"."{table}"', columns)
            values = con.execute(sql).fetchone()
            profiles[table] = {n: _normalise(v) for n, v in zip(names, values, strict=True)}
    return profiles


def profile_parquet(schema_dir: Path) -> dict[str, Profile]:
    """The profile of every table Spark wrote under ``schema_dir``, its ``<schema>.db``
    folder in the Spark warehouse (one folder of Parquet files per table), measured by
    DuckDB with the same query as ``profile_duckdb``: what differs is the data alone."""
    profiles: dict[str, Profile] = {}
    with duckdb.connect() as con:
        for folder in sorted(p for p in Path(schema_dir).iterdir() if p.is_dir()):
            relation = f"read_parquet('{folder}/*.parquet')"
            described = con.execute(f"describe select * from {relation}").fetchall()
            sql, names = _profile_sql(relation, [(row[0], row[1]) for row in described])
            values = con.execute(sql).fetchone()
            profiles[folder.name] = {n: _normalise(v) for n, v in zip(names, values, strict=True)}
    return profiles


def compare_profiles(expected: dict[str, Profile], actual: dict[str, Profile]) -> list[str]:
    """Every difference between two sets of profiles, one line each; empty when equal."""
    problems = [f"{t}: missing on the second engine" for t in expected.keys() - actual.keys()]
    problems += [f"{t}: only on the second engine" for t in actual.keys() - expected.keys()]
    for table in sorted(expected.keys() & actual.keys()):
        want, got = expected[table], actual[table]
        for name in sorted(want.keys() | got.keys()):
            a, b = want.get(name, "<absent>"), got.get(name, "<absent>")
            if not _same(a, b):
                problems.append(f"{table}.{name}: {a!r} != {b!r}")
    return sorted(problems)


def _same(a: Any, b: Any) -> bool:
    """Equal; for floating-point sums, equal to 1e-9 (their last digits depend on the
    order of addition, which differs between engines)."""
    numbers = (int, float, Decimal)
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, numbers)
            and isinstance(b, numbers)
            and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
        )
    return a == b
