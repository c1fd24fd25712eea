"""`mypizza run` loads the inventory bucket along with the sales and builds the inventory
marts; they reconcile with the POS database through the recipes and with the files in the
bucket, computed here independently (sqlite3, csv, the simulator's catalogue)."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections import defaultdict
from decimal import Decimal

import pytest
from conftest import Env

from simulator.recipes import INGREDIENT_BY_CODE, RECIPES

Key = tuple[str, str, str]  # store code, day, ingredient code

SOLD_SQL = """
select s.store_code, o.business_date, p.sku, sum(i.quantity)
from order_items as i
inner join orders as o on o.order_id = i.order_id
inner join stores as s on s.store_id = o.store_id
inner join products as p on p.product_id = i.product_id
where not i.is_voided and o.status <> 'voided'
group by s.store_code, o.business_date, p.sku
"""


def per_unit(ingredient: str) -> Decimal:
    return Decimal(str(INGREDIENT_BY_CODE[ingredient].per_recipe_unit))


def daily(env: Env, column: str) -> dict[Key, Decimal]:
    rows = env.query(
        f"select store_code, cast(inventory_date as varchar), ingredient_code, {column} "
        f"from marts.fct_inventory_daily where {column} is not null and {column} <> 0"
    )
    return {(s, d, i): v for s, d, i, v in rows}


def bucket_rows(env: Env, kind: str) -> list[dict[str, str]]:
    return [
        row
        for path in sorted((env.world / "bucket").glob(f"inventory/*/*/{kind}.csv"))
        for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    ]


@pytest.fixture(scope="module")
def env(built_world: Env) -> Env:
    """The session's shared world (2 stores x 14 days, every source), read only."""
    return built_world


def test_run_loads_inventory_with_sales_and_builds_the_marts(env: Env) -> None:
    out = env.output
    loaded = [line.strip() for line in out.splitlines() if line.strip().startswith("inventory:")]
    assert loaded and "stock_counts" in loaded[-1] and "files" in loaded[-1], out[-3000:]
    assert "0 quarantined" in out
    for mart in ("fct_inventory_daily", "fct_waste", "rpt_stock_cover", "dim_ingredients"):
        assert mart in out
    done = [line for line in out.splitlines() if "Done. PASS=" in line]
    assert done and "ERROR=0" in done[0] and "WARN=0" in done[0], done
    (versions,) = env.query("select count(*) from snapshots.snp_ingredient_costs")[0]
    (current,) = env.query("select count(*) from intermediate.int_ingredients_costed")[0]
    assert versions == current > 0


def test_use_reconciles_with_the_pos_through_the_recipes(env: Env) -> None:
    truth: dict[Key, Decimal] = defaultdict(Decimal)
    with sqlite3.connect(env.world / "pos.sqlite") as con:
        for store, day, sku, units in con.execute(SOLD_SQL):
            for ingredient, quantity in RECIPES[sku].items():
                truth[store, str(day)[:10], ingredient] += units * quantity * per_unit(ingredient)
    used = daily(env, "used_quantity")
    assert len(used) > 2 * 8 * 30
    assert used == {k: v for k, v in truth.items() if v}


def test_deliveries_waste_and_counts_reconcile_with_the_bucket(env: Env) -> None:
    delivered: dict[Key, Decimal] = defaultdict(Decimal)
    for row in bucket_rows(env, "deliveries"):
        key = (row["store_code"], row["delivery_date"], row["ingredient_code"])
        delivered[key] += Decimal(row["quantity"])
    assert daily(env, "delivered_quantity") == delivered

    wasted: dict[Key, Decimal] = defaultdict(Decimal)
    for row in bucket_rows(env, "waste"):
        store, day = row["store_code"], row["waste_date"]
        if row["ingredient_code"]:
            wasted[store, day, row["ingredient_code"]] += Decimal(row["quantity"])
        else:
            for ingredient, quantity in RECIPES[row["product_sku"]].items():
                exploded = Decimal(row["quantity"]) * quantity * per_unit(ingredient)
                wasted[store, day, ingredient] += exploded
    assert daily(env, "wasted_quantity") == {k: v for k, v in wasted.items() if v}
    (lines,) = env.query("select count(distinct waste_id) from marts.fct_waste")[0]
    assert lines == len(bucket_rows(env, "waste"))

    counted = {
        (r["store_code"], r["count_date"], r["ingredient_code"]): Decimal(r["counted_quantity"])
        for r in bucket_rows(env, "stock_counts")
    }
    assert daily(env, "counted_closing_quantity") == {k: v for k, v in counted.items() if v}


def test_counts_stay_close_to_what_the_records_expect(env: Env) -> None:
    rows = env.query(
        "select abs(variance_quantity) / greatest(counted_closing_quantity, 1) "
        "from marts.fct_inventory_daily where variance_quantity is not null "
        "order by 1"
    )
    assert len(rows) > 500
    assert rows[len(rows) // 2][0] < 0.03  # the median count is within 3% of the records
    cover = env.query(
        "select count(*), count(distinct store_code), min(runs_out_rank) "
        "from marts.rpt_stock_cover where days_of_cover is not null"
    )[0]
    assert cover[0] > 40 and cover[1] == 2 and cover[2] == 1
