"""The POS pipeline on a real SQLite POS written by the simulator, into a real DuckDB file."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import duckdb
import pytest
from pos_truth import max_updated_at, rows_updated_since, table_counts

from ingestion.pipelines import load, pipelines_dir
from simulator import pos_url_for, simulate

TABLES = ["customers", "order_items", "orders", "payments", "products", "stores"]


def raw_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"select count(*) from raw_pos.{t}").fetchone()[0] for t in TABLES}


def order_states(warehouse: Path, pos: Path) -> tuple[set, set]:
    query = "select order_id, status, cast(updated_at as varchar) from orders"
    with sqlite3.connect(pos) as con:
        source = {(i, s, u[:19]) for i, s, u in con.execute(query)}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = {
            (i, s, u[:19])
            for i, s, u in con.execute(query.replace("orders", "raw_pos.orders")).fetchall()
        }
    return source, loaded


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("pos") / "world"
    simulate(world, stores=2, days=10, start=date(2026, 3, 2), seed=11)
    return world


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pos-wh") / "mypizza.duckdb"


def test_first_load_lands_every_table_whole(world: Path, warehouse: Path) -> None:
    result = load("pos", warehouse, progress=None, credentials=pos_url_for(world))
    source = {t: n for t, n in table_counts(world / "pos.sqlite").items() if t in TABLES}
    assert set(source) == set(TABLES)
    assert raw_counts(warehouse) == source
    assert result.rows == source
    assert result.rows_per_second > 0


def test_state_lives_beside_the_warehouse(warehouse: Path) -> None:
    state = pipelines_dir(warehouse)
    assert state.parent == warehouse.parent
    assert (state / "mypizza_pos").is_dir()


def test_rerun_without_changes_loads_nothing(world: Path, warehouse: Path) -> None:
    before = raw_counts(warehouse)
    result = load("pos", warehouse, progress=None, credentials=pos_url_for(world))
    assert result.rows == {}
    assert raw_counts(warehouse) == before


def test_advancing_a_day_loads_exactly_what_changed(world: Path, warehouse: Path) -> None:
    pos = world / "pos.sqlite"
    marks = max_updated_at(pos)
    simulate(world, days=1)
    changed = {t: n for t, n in rows_updated_since(pos, marks).items() if n}
    assert changed.get("orders", 0) > 100  # a new day of orders, plus late updates

    result = load("pos", warehouse, progress=None, credentials=pos_url_for(world))

    assert result.rows == changed
    assert raw_counts(warehouse) == {
        t: n for t, n in table_counts(pos).items() if t in TABLES
    }  # merged, not appended
    source, loaded = order_states(warehouse, pos)
    assert loaded == source  # refunds and late status changes applied to old rows


def test_a_new_warehouse_starts_from_zero(world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    result = load("pos", other, progress=None, credentials=pos_url_for(world))
    assert result.rows == {
        t: n for t, n in table_counts(world / "pos.sqlite").items() if t in TABLES
    }


def advance_a_day(world: Path) -> dict[str, int]:
    """Simulate one more day; the rows each POS table changed (new or updated) in it."""
    pos = world / "pos.sqlite"
    marks = max_updated_at(pos)
    simulate(world, days=1)
    return {t: n for t, n in rows_updated_since(pos, marks).items() if n}


def source_counts(world: Path) -> dict[str, int]:
    return {t: n for t, n in table_counts(world / "pos.sqlite").items() if t in TABLES}


def _dispositions(warehouse: Path) -> dict[str, str]:
    """Each raw table's write disposition in the schema dlt stored in the warehouse."""
    import json

    with duckdb.connect(str(warehouse), read_only=True) as con:
        (schema,) = con.execute(
            "select schema from raw_pos._dlt_version order by inserted_at desc limit 1"
        ).fetchone()
    tables = json.loads(schema)["tables"]
    return {t: tables[t].get("write_disposition") for t in TABLES}


def test_a_table_read_whole_is_replaced_then_merged(world: Path, tmp_path: Path) -> None:
    """The first load of a table writes straight into it (replace: no staging, no merge);
    later loads read only changed rows and merge them."""
    warehouse = tmp_path / "fresh.duckdb"
    load("pos", warehouse, progress=None, credentials=pos_url_for(world))
    assert set(_dispositions(warehouse).values()) == {"replace"}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        query = "select schema_name from information_schema.schemata"
        schemas = {s for (s,) in con.execute(query).fetchall()}
    assert "raw_pos_staging" not in schemas

    changed = advance_a_day(world)
    result = load("pos", warehouse, progress=None, credentials=pos_url_for(world))
    assert result.rows == changed
    assert {_dispositions(warehouse)[t] for t in changed} == {"merge"}
    assert raw_counts(warehouse) == source_counts(world)


def test_lost_local_state_never_turns_a_merge_into_a_replace(world: Path, tmp_path: Path) -> None:
    """The cursors come back from the warehouse before the write disposition is chosen: a
    deleted pipeline folder must not replace a table with only the rows changed since."""
    import shutil

    warehouse = tmp_path / "kept.duckdb"
    load("pos", warehouse, progress=None, credentials=pos_url_for(world))
    shutil.rmtree(pipelines_dir(warehouse))
    changed = advance_a_day(world)

    result = load("pos", warehouse, progress=None, credentials=pos_url_for(world))

    assert result.rows == changed
    assert raw_counts(warehouse) == source_counts(world)
