"""Incremental facts and the menu's price history, on a world advanced with late updates.

A copy of the shared built world (2 stores x 14 days, built once with `mypizza run`) gets a
price change in its POS (a manager raises one pizza's price before the stores open), is
advanced two days with `mypizza simulate --days 2` (new orders, plus late updates to the
old ones: deliveries confirmed next morning, refunds one to three days later), loaded
with `mypizza ingest all` and built incrementally. The same warehouse is then rebuilt
with `--full-refresh`, and every row of the three incremental facts must come out the
same both ways. The price history (snapshot `snp_pos__products`) must hold both prices,
and `fct_order_items.list_price` the one valid when each order was placed.

Only the facts and what they read are built (`--resource-type model snapshot seed`, no
tests): the full `mypizza run` with its ~400 nodes and the docs site would not fit the
test's time budget; the built world already ran it whole.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import time
from datetime import datetime, timedelta

import duckdb
import pytest
from conftest import Env

FACTS = ["fct_orders", "fct_order_items", "fct_inventory_daily"]
SELECT = ["--select", *(f"+{fact}" for fact in FACTS)]
ONLY_BUILD = ["--resource-type", "model", "--resource-type", "snapshot", "--resource-type", "seed"]
REPRICED_SKU = "PZ-MARG-M"
REPRICE_CENTS = 70


def _pos(env: Env) -> sqlite3.Connection:
    return sqlite3.connect(env.world / "pos.sqlite")


@pytest.fixture(scope="module")
def advanced(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = Env(tmp_path_factory.mktemp("incremental"))
    for part in ("world", "warehouse"):
        shutil.copytree(built_world.root / part, env.root / part)
    env.warehouse.with_name("mypizza.published.duckdb").unlink(missing_ok=True)

    with _pos(env) as pos:
        (last_day,) = pos.execute("select max(business_date) from orders").fetchone()
        before = dict(pos.execute("select order_id, status from orders").fetchall())
        # the day after the world's last, 05:00 UTC: before any (European) store opens
        changed_at = datetime.fromisoformat(last_day).replace(hour=5) + timedelta(days=1)
        (old_cents,) = pos.execute(
            "select price_cents from products where sku = ?", [REPRICED_SKU]
        ).fetchone()
        pos.execute(
            "update products set price_cents = ?, updated_at = ? where sku = ?",
            [old_cents + REPRICE_CENTS, _sqlite_time(changed_at), REPRICED_SKU],
        )

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    env.mypizza("simulate", "--days", "2")
    seconds["simulate"] = time.perf_counter() - started
    env.mypizza("ingest", "all")
    seconds["ingest"] = time.perf_counter() - seconds["simulate"] - started
    incremental = env.dbt("build", *SELECT, *ONLY_BUILD)
    seconds["incremental build"] = time.perf_counter() - sum(seconds.values()) - started
    assert incremental.returncode == 0, incremental.stdout[-5000:]
    run_sql = (env.target / "run" / "mypizza" / "models" / "marts" / "sales").glob("*.sql")
    compiled = {path.stem: path.read_text().lower() for path in run_sql}

    kept = env.root / "incremental.duckdb"
    shutil.copyfile(env.warehouse, kept)
    full = env.dbt("run", "--full-refresh", "--select", *FACTS)
    assert full.returncode == 0, full.stdout[-5000:]
    seconds["full refresh of the facts"] = time.perf_counter() - sum(seconds.values()) - started
    print("test_incremental steps (s):", {k: round(v, 1) for k, v in seconds.items()})
    return {
        "env": env,
        "incremental": kept,
        "compiled": compiled,
        "last_day": last_day,
        "before": before,
        "changed_at": changed_at,
        "old_cents": old_cents,
    }


def _sqlite_time(moment: datetime) -> str:
    """A timestamp as the POS database writes them."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _line_key(order_item_id: int) -> str:
    """fct_order_items.order_item_key of a POS line: md5 of source system and id."""
    return hashlib.md5(f"mypizza_pos-{order_item_id}".encode()).hexdigest()


def test_the_run_was_incremental_and_saw_late_updates(advanced: dict) -> None:
    # delete+insert: the incremental run replaced rows, it did not rebuild the tables
    for fact in ("fct_orders", "fct_order_items"):
        assert "delete from" in advanced["compiled"][fact], fact
    env = advanced["env"]
    with _pos(env) as pos:
        after = dict(pos.execute("select order_id, status from orders").fetchall())
        old_days = dict(
            pos.execute(
                "select order_id, status from orders where business_date <= ?",
                [advanced["last_day"]],
            ).fetchall()
        )
    late = {i: s for i, s in old_days.items() if advanced["before"][i] != s}
    # the advance refunded or completed orders of the days the first build had loaded
    assert len(late) >= 3, late
    assert len(after) > len(advanced["before"])
    with duckdb.connect(str(advanced["incremental"]), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select order_id, order_status from marts.fct_orders "
                "where source_system = 'mypizza_pos'"
            ).fetchall()
        )
    assert {i: statuses[i] for i in late} == late
    assert statuses == after


@pytest.mark.parametrize("fact", FACTS)
def test_incremental_equals_full_refresh(advanced: dict, fact: str) -> None:
    with duckdb.connect() as con:
        con.execute(f"attach '{advanced['incremental']}' as inc (read_only)")
        con.execute(f"attach '{advanced['env'].warehouse}' as full_refresh (read_only)")
        count = con.execute(f"select count(*) from full_refresh.marts.{fact}").fetchone()[0]
        assert count == con.execute(f"select count(*) from inc.marts.{fact}").fetchone()[0]
        assert count > 0
        for a, b in (("inc", "full_refresh"), ("full_refresh", "inc")):
            extra = con.execute(
                f"select * from {a}.marts.{fact} except all select * from {b}.marts.{fact} limit 5"
            ).fetchall()
            assert extra == [], f"{fact}: rows in {a} and not in {b}: {extra}"


def test_price_history_prices_every_line_at_order_time(advanced: dict) -> None:
    env = advanced["env"]
    new_cents = advanced["old_cents"] + REPRICE_CENTS
    changed_at = advanced["changed_at"]
    with _pos(env) as pos:
        product_id, current = pos.execute(
            "select product_id, price_cents from products where sku = ?", [REPRICED_SKU]
        ).fetchone()
        # what the POS charged for each line: the truth, straight from its database
        charged = dict(
            pos.execute("select order_item_id, unit_price_cents from order_items").fetchall()
        )
        prices_of_repriced = {
            cents
            for (cents,) in pos.execute(
                "select distinct unit_price_cents from order_items where product_id = ?",
                [product_id],
            )
        }
        sold_after = pos.execute(
            "select count(*) from order_items join orders using (order_id) "
            "where product_id = ? and ordered_at >= ?",
            [product_id, _sqlite_time(changed_at)],
        ).fetchone()[0]
    assert current == new_cents and sold_after > 0
    with duckdb.connect(str(advanced["incremental"]), read_only=True) as con:
        versions = con.execute(
            "select price_cents, dbt_valid_from, dbt_valid_to from snapshots.snp_pos__products "
            "where product_id = ? order by dbt_valid_from",
            [product_id],
        ).fetchall()
        lines = dict(
            con.execute(
                "select order_item_key, list_price from marts.fct_order_items "
                "where source_system = 'mypizza_pos'"
            ).fetchall()
        )
    assert [v[0] for v in versions] == [advanced["old_cents"], new_cents]
    assert versions[0][2] == versions[1][1] == changed_at
    assert versions[1][2] is None
    assert len(lines) == len(charged)
    # the first build snapshotted the menu as created, so every POS line has a list price
    wrong = [
        (item_id, lines.get(_line_key(item_id)), cents)
        for item_id, cents in charged.items()
        if lines.get(_line_key(item_id)) is None or round(lines[_line_key(item_id)] * 100) != cents
    ]
    assert wrong == [], wrong[:5]
    # and the repriced pizza sold at both prices: lines before and after the change
    assert prices_of_repriced == {advanced["old_cents"], new_cents}
