"""The summary `mypizza run` prints: what was loaded, what was built, where to look."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mypizza.settings import Settings
from mypizza.warehouse import published_path


def mart_row_counts(warehouse: Path) -> dict[str, int]:
    """Rows in every table of the marts schema."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by table_name"
            ).fetchall()
        ]
        return {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}


def print_summary(
    settings: Settings,
    *,
    loads: list[object],
    dbt_results: list[object],
    marts: dict[str, int],
    seconds: float,
) -> None:
    line = "-" * 72
    print(line)
    print(f"myPizza run finished in {seconds:.0f} s")
    print("\nLoaded (rows per raw table, this run):")
    for load in loads:
        print(f"  {load}")
    print("\nBuilt:")
    for result in dbt_results:
        print(f"  {result}")
    print("\nMarts (rows):")
    width = max((len(t) for t in marts), default=0)
    for table, rows in marts.items():
        print(f"  {table:<{width}}  {rows:>10,}")
    docs = settings.target_dir
    print("\nWhere to look:")
    print(f"  warehouse   {settings.warehouse} (the pipeline's; one writer at a time)")
    print(f"  published   {published_path(settings.warehouse)} (read this one: a whole build)")
    print(f"  world       {settings.world}")
    print(f"  docs site   {docs / 'static_index.html'} (one file; or `dbt docs serve`)")
    print(line)
