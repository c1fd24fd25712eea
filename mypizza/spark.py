"""The warehouse on Spark: put the raw data where Spark reads it, and profile the marts.

``export_raw`` writes every table of the DuckDB warehouse's raw schemas (``raw_*``, the
ones dlt owns) as Parquet, one folder per table: ``<dest>/<schema>/<table>/``. Pointed
at by ``MYPIZZA_SPARK_RAW``, dbt's on-run-start hook (macros/spark/register_raw_tables.sql)
registers the project's sources over those folders, so ``dbt build --target spark``
reads exactly what the DuckDB build read.

``profile_duckdb`` measures every table of a schema of the DuckDB warehouse, and
``profile_parquet`` every table Spark wrote (its Parquet files, read by DuckDB with the
same query, so only the data can differ): the row count and, per column, how many values
are not null, the sum of a number, how many booleans are true, a checksum of the strings,
the first, last and summed day or second of dates and timestamps. Two builds of one
world must give equal profiles.

Command line: ``python -m mypizza.spark export --to DIR`` (warehouse from
``MYPIZZA_WAREHOUSE``).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
from collections.abc import Mapping
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


def export_raw(warehouse: Path, dest: Path) -> dict[str, int]:
    """Write every table of the raw schemas of ``warehouse`` to ``dest`` as Parquet.

    Returns the rows written per ``schema.table``. ``dest`` is replaced. dlt's own
    ``<schema>_staging`` schemas (merge scratch space) are left out.
    """
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    written: dict[str, int] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'raw\\_%' escape '\\' "
            "and table_schema not like '%\\_staging' escape '\\' "
            "and table_type = 'BASE TABLE' order by all"
        ).fetchall()
        if not tables:
            raise RuntimeError(
                f"{warehouse}: no raw_* schema to export; load the sources first "
                "(mypizza ingest all)."
            )
        for schema, table in tables:
            folder = dest / schema / table
            folder.mkdir(parents=True)
            con.execute(
                f'copy "{schema}"."{table}" to \'{folder / "part-0.parquet"}\' (format parquet)'
            )
            (rows,) = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            written[f"{schema}.{table}"] = rows
    return written


def _profile_sql(relation: str, columns: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """One aggregate query over ``relation`` and the names of the measures it returns.

    Per column: how many values are not null, and by type the sum (numbers), how many
    are true (booleans), a checksum (strings: the sum of the first 8 hex digits of their
    md5, which no row order changes), the first, last and summed day or second (dates,
    timestamps; seconds, so that the sum stays in a bigint). Other types count values only.
    """
    measures: dict[str, str] = {"count": "count(*)"}
    for column, data_type in columns:
        kind = _kind(data_type)
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


def spark_conf(
    repo: Path, target: str = "spark", env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The Spark settings of a target of the repository's dbt profile (profiles.yml), with
    its ``env_var()`` calls resolved as dbt resolves them (from ``env``, by default the
    environment), so a session opened here sees the metastore and tables of
    ``dbt --target <target>``."""
    import jinja2
    import yaml

    env = os.environ if env is None else env

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise RuntimeError(f"profiles.yml: env var {name} is not set and has no default")
        return default

    profile = yaml.safe_load((repo / "profiles.yml").read_text())
    output = profile["mypizza"]["outputs"][target]
    jinja = jinja2.Environment()
    jinja.globals["env_var"] = env_var
    return {
        str(key): jinja.from_string(str(value)).render()
        for key, value in output.get("server_side_parameters", {}).items()
    }


def spark_tables_dir(repo: Path, env: Mapping[str, str] | None = None) -> Path:
    """The Spark warehouse folder of the profile's ``spark`` target (its managed tables,
    ``<schema>.db/<table>/``), relative paths taken from the repository root as dbt does."""
    folder = Path(spark_conf(repo, env=env)["spark.sql.warehouse.dir"])
    return folder if folder.is_absolute() else repo / folder


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


def main(argv: list[str] | None = None) -> None:
    from mypizza.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m mypizza.spark", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write the raw schemas as Parquet for Spark")
    export.add_argument("--to", required=True, type=Path, help="folder (replaced)")
    args = parser.parse_args(argv)
    warehouse = Settings.from_env().warehouse
    written = export_raw(warehouse, args.to)
    print(f"exported {len(written)} raw tables of {warehouse} to {args.to}:")
    for name, rows in written.items():
        print(f"  {name}: {rows:,} rows")


if __name__ == "__main__":
    main()
