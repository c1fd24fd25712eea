"""`mypizza run` end to end on a small simulated world, as a user runs it (real processes,
a real SQLite POS, a real DuckDB warehouse, the real dbt project), reconciled against totals
computed straight on the POS database."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest
from pos_truth import daily_store_sales, table_counts
from support import Env as WorldEnv

pytestmark = pytest.mark.e2e


class Env(WorldEnv):
    """A world, a warehouse and a dbt target folder of its own, and the marts' figures."""

    def mart_counts(self) -> dict[str, int]:
        tables = self.query(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        )
        return {t: self.query(f"select count(*) from marts.{t}")[0][0] for (t,) in tables}

    def daily_sales(self) -> dict[tuple[str, str], tuple]:
        rows = self.query(
            "select store_code, cast(sales_date as varchar), orders, items_sold, "
            "gross_sales, refunds, net_sales from marts.rpt_daily_store_sales "
            # the POS's stores: franchise stores are reconciled in test_franchise.py
            "where store_code in (select store_code from marts.dim_stores "
            "where source_system = 'mypizza_pos')"
        )
        return {(s, d): tuple(rest) for s, d, *rest in rows}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env = Env(tmp_path_factory.mktemp("e2e"))
    env.mypizza("simulate", "--stores", "2", "--days", "21", "--start", "2026-03-02", "--seed", "7")
    env.first_output = env.mypizza("run")
    return env


def test_run_prints_a_summary(env: Env) -> None:
    out = env.first_output
    assert "myPizza run finished" in out
    assert str(env.warehouse) in out
    assert "static_index.html" in out
    assert "rpt_daily_store_sales" in out
    assert (env.target / "static_index.html").stat().st_size > 100_000


def test_schemas_are_named_by_layer(env: Env) -> None:
    schemas = {s for (s,) in env.query("select schema_name from information_schema.schemata")}
    assert {"raw_pos", "staging", "intermediate", "marts"} <= schemas
    assert not any(s.startswith("main_") for s in schemas)


def test_dbt_build_passed_without_warnings(env: Env) -> None:
    done = [line for line in env.first_output.splitlines() if "Done. PASS=" in line]
    assert done, env.first_output[-2000:]
    assert "ERROR=0" in done[0] and "WARN=0" in done[0] and "SKIP=0" in done[0], done[0]
    pass_count = int(done[0].split("PASS=")[1].split()[0])
    manifest = json.loads((env.target / "manifest.json").read_text())
    tests = [n for n in manifest["nodes"] if n.startswith("test.")] + list(manifest["unit_tests"])
    assert pass_count >= len(tests) > 20


def test_daily_store_sales_reconcile_with_the_pos(env: Env) -> None:
    truth = daily_store_sales(env.world / "pos.sqlite")
    marts = env.daily_sales()
    assert len(truth) >= 2 * 21 - 2  # every store trades nearly every day
    assert marts.keys() == truth.keys()
    for key, expected in truth.items():
        assert marts[key] == expected, key


def test_fct_orders_reconcile_with_the_pos(env: Env) -> None:
    pos = table_counts(env.world / "pos.sqlite")
    (orders, voided, refunded, net) = env.query(
        "select count(*), count(*) filter (where is_voided), count(*) filter (where is_refunded), "
        "sum(net_total) filter (where not is_voided) from marts.fct_orders "
        "where source_system = 'mypizza_pos'"
    )[0]
    assert orders == pos["orders"]
    assert voided > 0 and refunded > 0
    truth_net = sum(v[4] for v in daily_store_sales(env.world / "pos.sqlite").values())
    assert Decimal(net) == truth_net
    (lines,) = env.query(
        "select count(*) from marts.fct_order_items where source_system = 'mypizza_pos'"
    )[0]
    assert lines == pos["order_items"]


def test_run_again_changes_nothing(env: Env) -> None:
    before = env.mart_counts()
    sales_before = env.daily_sales()
    out = env.mypizza("run")
    assert "pos: nothing new" in out
    assert env.mart_counts() == before
    assert env.daily_sales() == sales_before


def test_published_copy_holds_the_finished_build(env: Env) -> None:
    published = env.warehouse.with_name("mypizza.published.duckdb")
    with duckdb.connect(str(published), read_only=True) as con:
        (orders,) = con.execute("select count(*) from marts.fct_orders").fetchone()
    assert orders == env.mart_counts()["fct_orders"]


def test_a_new_day_adds_exactly_that_day_and_applies_updates(env: Env) -> None:
    before = env.daily_sales()
    published = env.warehouse.with_name("mypizza.published.duckdb")
    reader = duckdb.connect(str(published), read_only=True)  # an analyst, mid-query
    (orders_before,) = reader.execute("select count(*) from marts.fct_orders").fetchone()
    env.mypizza("simulate", "--days", "1")
    env.mypizza("run")  # neither blocked by the reader nor breaking it
    assert reader.execute("select count(*) from marts.fct_orders").fetchone()[0] == orders_before
    reader.close()
    after = env.daily_sales()
    truth = daily_store_sales(env.world / "pos.sqlite")
    new_keys = after.keys() - before.keys()
    assert {day for _, day in new_keys} == {"2026-03-23"}
    assert after == truth  # the new day, and refunds of earlier days applied
