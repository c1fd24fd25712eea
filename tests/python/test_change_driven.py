"""A change of any age reaches every mart with one plain `mypizza run`.

A world of 2 stores x 35 days is run once (`mypizza run`), advanced one day, and then rows
more than 30 days old are changed in every source, the way each real system writes them:

- POS: a chargeback, the order's status set to `refunded` and a refund payment (negative
  amount) inserted, both stamped with the time of the change, as the POS writes refunds;
- POS: a menu price correction (a product's price and `updated_at`);
- feedback platform: a review edited (new version, rating, text; the old version in its
  edit history; `updated_at` moved), as the platform stores edits;
- franchise: the store's export sent again with one order line's quantity changed;
- inventory: a stock count file of an old day uploaded again with one count corrected.

After one plain `mypizza run`, every table of the `marts` schema must equal, row for row,
a full build of a fresh warehouse from the same world (`mypizza run` on an empty one).
Two things are left out of the comparison, on purpose:

- `_dlt_load_id`: the dlt load a row was last computed from, a bookkeeping column that
  names loads, which differ between two warehouses by construction;
- `fct_order_items.list_price`: the menu price valid when the order was placed comes from
  the snapshot of the POS products (SCD type 2), a history the POS does not keep (it
  overwrites prices). A fresh warehouse snapshots the menu only as it is now, so it cannot
  know the price before the correction: it is checked against the POS's own charges
  instead.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from support import Env

pytestmark = pytest.mark.e2e  # builds worlds of its own with dbt

START = date(2026, 3, 2)
DAYS = 35
OLD_DAY = START + timedelta(days=2)  # 34 days before the last day after the advance
SKIPPED = {"_dlt_load_id"}
SNAPSHOT_COLUMNS = {"fct_order_items": {"list_price"}}


def _sqlite_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _chargeback(world: Path, at: datetime) -> dict:
    """Refund an old completed order in full, as the POS writes refunds."""
    with sqlite3.connect(world / "pos.sqlite") as pos:
        order_id, method, total = pos.execute(
            "select o.order_id, p.method, sum(p.amount_cents) from orders o "
            "join payments p using (order_id) "
            "where o.business_date = ? and o.status = 'completed' "
            "group by o.order_id, p.method having count(*) = 1 and sum(p.amount_cents) > 0 "
            "order by o.order_id limit 1",
            [OLD_DAY.isoformat()],
        ).fetchone()
        pos.execute(
            "update orders set status = 'refunded', updated_at = ? where order_id = ?",
            [_sqlite_time(at), order_id],
        )
        (payment_id,) = pos.execute("select max(payment_id) + 1 from payments").fetchone()
        pos.execute(
            "insert into payments (payment_id, order_id, method, kind, amount_cents, paid_at, "
            "updated_at) values (?, ?, ?, 'refund', ?, ?, ?)",
            [payment_id, order_id, method, -total, _sqlite_time(at), _sqlite_time(at)],
        )
    return {"order_id": order_id, "refund_cents": total}


def _price_correction(world: Path, at: datetime) -> dict:
    with sqlite3.connect(world / "pos.sqlite") as pos:
        product_id, sku, cents = pos.execute(
            "select product_id, sku, price_cents from products "
            "where is_active and category = 'pizza' order by product_id limit 1"
        ).fetchone()
        pos.execute(
            "update products set price_cents = ?, updated_at = ? where product_id = ?",
            [cents + 50, _sqlite_time(at), product_id],
        )
    return {"product_id": product_id, "sku": sku, "old_cents": cents, "new_cents": cents + 50}


def _edit_review(world: Path, at: datetime) -> dict:
    """Edit an old review as the platform stores edits: new version, old one in history."""
    path = world / "feedback" / "feedback.sqlite"
    assert path.exists(), path
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(path) as con:
        review_id, text = con.execute(
            "select id, document from reviews where created_at >= ? and created_at < ? "
            "order by seq limit 1",
            [f"{OLD_DAY.isoformat()}T00:00:00Z", f"{OLD_DAY.isoformat()}T23:59:59Z"],
        ).fetchone()
        doc = json.loads(text)
        doc["edit_history"].append(
            {
                "version": doc["version"],
                "rating": doc["rating"],
                "title": doc["title"],
                "text": doc["text"],
                "written_at": doc["edited_at"] or doc["created_at"],
                "replaced_at": stamp,
            }
        )
        doc["rating"] = 1 if doc["rating"] >= 3 else 5
        doc["version"] += 1
        doc["text"] = f"{doc['text']} Update: changed my mind."
        doc["edited_at"] = stamp
        doc["updated_at"] = stamp
        con.execute(
            "update reviews set updated_at = ?, document = ? where id = ?",
            [stamp, json.dumps(doc, ensure_ascii=False, separators=(",", ":")), review_id],
        )
    return {"review_id": review_id, "rating": doc["rating"]}


def _rewrite_csv(path: Path, encoding: str, change) -> None:
    """Rewrite a CSV in place (same encoding and line endings), as a re-upload does."""
    raw = path.read_bytes()
    newline = "\r\n" if b"\r\n" in raw else "\n"
    rows = list(csv.reader(io.StringIO(raw.decode(encoding), newline="")))
    header, body = rows[0], rows[1:]
    result = change(header, body)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=newline).writerows([header, *body])
    path.write_bytes(out.getvalue().encode(encoding))
    later = time.time() + 5  # a re-upload is newer than every file loaded before
    os.utime(path, (later, later))
    return result


def _resend_franchise_export(world: Path) -> dict:
    """The franchise store sends its export again, one old order line's quantity changed."""
    stores = sorted(p for p in (world / "franchise").iterdir() if p.is_dir())
    assert stores, "the world has no franchise stores"
    folder = stores[0]
    with (folder / "orders.csv").open(encoding="cp1252", newline="") as f:
        orders = list(csv.DictReader(f))
    old_orders = {row["order_id"] for row in orders if date.fromisoformat(row["date"]) == OLD_DAY}
    assert old_orders, f"no franchise order on {OLD_DAY} in {folder}"

    def change(header: list[str], body: list[list[str]]) -> dict:
        order_col, qty_col = header.index("order_id"), header.index("quantity")
        detail_col = header.index("order_details_id")
        row = next(r for r in body if r[order_col] in old_orders)
        row[qty_col] = str(int(row[qty_col]) + 2)
        return {
            "store_code": folder.name,
            "order_details_id": int(row[detail_col]),
            "quantity": int(row[qty_col]),
        }

    return _rewrite_csv(folder / "order_details.csv", "cp1252", change)


def _correct_stock_count(world: Path) -> dict:
    """A stock count of an old day re-uploaded with one count corrected."""
    files = sorted(
        (world / "bucket" / "inventory").glob(f"*/{OLD_DAY.isoformat()}/stock_counts.csv")
    )
    assert files, f"no stock count on {OLD_DAY}"

    def change(header: list[str], body: list[list[str]]) -> dict:
        qty_col = next(i for i, name in enumerate(header) if "quantity" in name)
        row = body[0]
        row[qty_col] = f"{float(row[qty_col]) + 7.5:g}"
        return {
            "store_code": files[0].parts[-3],
            "ingredient_code": row[header.index("ingredient_code")],
            "counted": float(row[qty_col]),
        }

    return _rewrite_csv(files[0], "utf-8", change)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = Env(tmp_path_factory.mktemp("nightly"))
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    env.mypizza("simulate", "--stores", "2", "--days", str(DAYS), "--start", START.isoformat())
    env.mypizza("run")
    seconds["first run"] = time.perf_counter() - started
    env.mypizza("simulate", "--days", "1")
    last_day = START + timedelta(days=DAYS)
    # the night after the new day: later than everything the POS and the platform wrote
    at = datetime.combine(last_day + timedelta(days=1), datetime.min.time()).replace(hour=2)
    changes = {
        "chargeback": _chargeback(env.world, at),
        "price": _price_correction(env.world, at),
        "review": _edit_review(env.world, at),
        "franchise": _resend_franchise_export(env.world),
        "stock_count": _correct_stock_count(env.world),
    }
    record = json.loads((env.warehouse.parent / "prod-state" / "nightly.json").read_text())
    mark = time.perf_counter()
    nightly_output = env.mypizza("run")
    seconds["nightly run"] = time.perf_counter() - mark
    # which build wrote what, before the quiet night's build replaces run_results.json
    nightly_results = json.loads((env.target / "last_build_run_results.json").read_text())
    # and a night when no source brought anything: nothing to build, no docs to write
    mark = time.perf_counter()
    quiet_output = env.mypizza("run")
    seconds["quiet run"] = time.perf_counter() - mark
    (env.root / "nightly.log").write_text(nightly_output)
    (env.root / "quiet.log").write_text(quiet_output)

    fresh = Env(tmp_path_factory.mktemp("fresh"))
    shutil.copytree(env.world, fresh.world, copy_function=shutil.copy2)
    mark = time.perf_counter()
    fresh.mypizza("run")
    seconds["fresh run"] = time.perf_counter() - mark
    print("test_change_driven steps (s):", {k: round(v, 1) for k, v in seconds.items()})
    return {
        "nightly": env,
        "fresh": fresh,
        "changes": changes,
        "nightly_output": nightly_output,
        "quiet_output": quiet_output,
        "record_before": record,
        "nightly_invocation": nightly_results["metadata"]["invocation_id"],
        "nightly_ran": {r["unique_id"] for r in nightly_results["results"]},
    }


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = ? and table_schema = 'marts' order by table_name, ordinal_position",
        [catalog],
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def test_every_mart_equals_a_fresh_full_build(worlds: dict) -> None:
    with duckdb.connect() as con:
        con.execute(f"attach '{worlds['nightly'].warehouse}' as nightly (read_only)")
        con.execute(f"attach '{worlds['fresh'].warehouse}' as fresh (read_only)")
        nightly, fresh = _tables(con, "nightly"), _tables(con, "fresh")
        assert sorted(nightly) == sorted(fresh)
        assert len(nightly) >= 20
        different = {}
        for table, columns in sorted(fresh.items()):
            assert nightly[table] == columns, table
            skip = SKIPPED | SNAPSHOT_COLUMNS.get(table, set())
            cols = ", ".join(f'"{c}"' for c in columns if c not in skip)
            count = con.execute(f"select count(*) from fresh.marts.{table}").fetchone()[0]
            assert (
                count == con.execute(f"select count(*) from nightly.marts.{table}").fetchone()[0]
            ), table
            for a, b in (("nightly", "fresh"), ("fresh", "nightly")):
                extra = con.execute(
                    f"select {cols} from {a}.marts.{table} except all "
                    f"select {cols} from {b}.marts.{table} limit 3"
                ).fetchall()
                if extra:
                    different[f"{table} ({a} only)"] = extra
        assert different == {}


def test_the_old_changes_reached_the_marts(worlds: dict) -> None:
    env, changes = worlds["nightly"], worlds["changes"]
    chargeback = changes["chargeback"]
    assert env.query(
        "select order_status, is_refunded, refund_amount, net_total from marts.fct_orders "
        f"where source_system = 'mypizza_pos' and order_id = {chargeback['order_id']}"
    ) == [("refunded", True, pytest.approx(chargeback["refund_cents"] / 100), 0)]
    review = changes["review"]
    assert env.query(
        f"select rating from marts.fct_reviews where review_id = '{review['review_id']}'"
    ) == [(review["rating"],)]
    franchise = changes["franchise"]
    assert env.query(
        "select oi.quantity from marts.fct_order_items oi "
        "join intermediate.int_order_items_unioned u "
        "using (order_item_key) "
        f"where u.store_code = '{franchise['store_code']}' "
        f"and u.order_item_id = {franchise['order_details_id']}"
    ) == [(franchise["quantity"],)]
    count = changes["stock_count"]
    assert env.query(
        "select counted_closing_quantity from marts.fct_inventory_daily "
        f"where store_code = '{count['store_code']}' "
        f"and ingredient_code = '{count['ingredient_code']}' "
        f"and inventory_date = '{OLD_DAY.isoformat()}'"
    ) == [(pytest.approx(count["counted"]),)]
    price = changes["price"]
    (current_price,) = env.query(
        "select current_price from marts.dim_products "
        f"where source_system = 'mypizza_pos' and sku = '{price['sku']}'"
    )
    assert current_price == (Decimal(price["new_cents"]) / 100,)


def test_list_price_is_the_price_charged_at_order_time(worlds: dict) -> None:
    """The column left out of the comparison: right in the nightly warehouse, per the POS,
    for every line ordered since the price history starts (the first build's snapshot: a
    reprice before it left no trace the warehouse could see)."""
    env = worlds["nightly"]
    product_id = worlds["changes"]["price"]["product_id"]
    ((history_starts, versions),) = env.query(
        "select min(dbt_valid_from), count(*) from snapshots.snp_pos__products "
        f"where product_id = {product_id}"
    )
    assert versions == 2  # the price before the correction, and the corrected one
    with sqlite3.connect(env.world / "pos.sqlite") as pos:
        charged = dict(
            pos.execute(
                "select order_item_id, unit_price_cents from order_items join orders "
                "using (order_id) where product_id = ? and ordered_at >= ?",
                [product_id, _sqlite_time(history_starts.replace(tzinfo=None))],
            ).fetchall()
        )
    lines = dict(
        env.query(
            "select u.order_item_id, f.list_price from marts.fct_order_items f "
            "join intermediate.int_order_items_unioned u using (order_item_key) "
            f"where u.source_system = 'mypizza_pos' and u.product_id = {product_id}"
        )
    )
    assert len(charged) > 0
    assert {i: round(lines[i] * 100) for i in charged} == charged


def test_the_nightly_build_leaves_unit_tests_to_ci_and_skips_unchanged_docs(worlds: dict) -> None:
    nightly = worlds["nightly_output"]
    assert "--exclude-resource-type unit_test" in nightly
    assert "unit_tests" not in nightly  # no unit test among the build's results
    # the data changed, the project did not: the docs site of the first run still holds
    assert "dbt docs generate: skipped" in nightly
    assert (worlds["nightly"].target / "static_index.html").exists()


def test_the_nightly_leaves_out_the_not_null_tests_duckdb_enforces(worlds: dict) -> None:
    """Every mart column's not_null data test has a constraint DuckDB checks on write; the
    fresh build runs those tests (and they pass), the nightly leaves them out, and nothing
    else: the other data tests of the marts still run."""
    fresh = worlds["fresh"]
    manifest = json.loads((fresh.target / "manifest.json").read_text())
    fresh_results = json.loads((fresh.target / "last_build_run_results.json").read_text())
    passed = {r["unique_id"] for r in fresh_results["results"] if r["status"] == "pass"}
    nodes = manifest["nodes"]
    mart_not_null = {
        uid
        for uid, node in nodes.items()
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name") == "not_null"
        and nodes.get(node.get("attached_node") or "", {}).get("schema") == "marts"
    }
    assert len(mart_not_null) > 50
    for uid in mart_not_null:  # each one's column declares the constraint
        node = nodes[uid]
        column = node["test_metadata"]["kwargs"]["column_name"]
        constraints = nodes[node["attached_node"]]["columns"][column]["constraints"]
        assert any(c["type"] == "not_null" for c in constraints), uid
    assert mart_not_null <= passed
    ran = worlds["nightly_ran"]
    assert not mart_not_null & ran
    other_mart_tests = {
        uid
        for uid, node in nodes.items()
        if node["resource_type"] == "test"
        and nodes.get(node.get("attached_node") or "", {}).get("schema") == "marts"
        and uid not in mart_not_null
    }
    assert len(other_mart_tests) > 50 and other_mart_tests <= ran
    assert (
        f"<{len(mart_not_null)} not_null data tests that constraints enforce>"
        in (worlds["nightly_output"])
    )
    # DuckDB itself refuses a null in such a column (in a transaction rolled back anyway)
    with duckdb.connect(str(fresh.warehouse)) as con:
        con.begin()
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            con.execute("update marts.fct_orders set store_code = null")
        con.rollback()


def test_the_nightly_rewrote_exactly_the_orders_its_loads_touched(worlds: dict) -> None:
    """The fast path (docs/incremental.md): the nightly build's POS models recompute the
    orders the POS loads committed since the last good night wrote, old ones included, and
    nothing else; counted here from the raw tables and dlt's own record of loads."""
    env, since = worlds["nightly"], worlds["record_before"]["loads"]["raw_pos"]
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        touched = {
            order_id
            for (order_id,) in con.execute(
                "select order_id from (select order_id, _dlt_load_id from raw_pos.orders "
                "union all select order_id, _dlt_load_id from raw_pos.order_items "
                "union all select order_id, _dlt_load_id from raw_pos.payments) "
                "where order_id in (select order_id from staging.stg_pos__orders) "
                "and _dlt_load_id in (select load_id from raw_pos._dlt_loads where "
                "strftime(inserted_at, '%Y-%m-%dT%H:%M:%S.%f') > ?)",
                [since],
            ).fetchall()
        }
        rewritten = {
            order_id
            for (order_id,) in con.execute(
                "select order_id from intermediate.int_orders_summarised "
                "where _dbt_invocation_id = ?",
                [worlds["nightly_invocation"]],
            ).fetchall()
        }
        total = con.execute("select count(*) from intermediate.int_orders_summarised").fetchone()
    assert worlds["changes"]["chargeback"]["order_id"] in rewritten  # 34 days old
    assert rewritten == touched
    assert 0 < len(rewritten) < total[0] / 5, (len(rewritten), total[0])


def test_a_night_with_nothing_new_builds_nothing(worlds: dict) -> None:
    quiet = worlds["quiet_output"]
    assert "new loads in no source" in quiet, quiet[-3000:]
    assert "--select state:modified+" in quiet
    build_line = next(line for line in quiet.splitlines() if line.strip().startswith("dbt build:"))
    assert "models success" not in build_line, build_line


def _warehouse_with_loads(path: Path, loads: dict[str, list[tuple[str, str, bool]]]) -> None:
    """A DuckDB file shaped as dlt leaves it: per raw schema a `_dlt_loads` table and a
    data table; each load (id, commit time, brought rows?) is committed, and its id put
    on a data row when it brought rows (a state-only load does not)."""
    with duckdb.connect(str(path)) as con:
        for schema, entries in loads.items():
            con.execute(f"create schema {schema}")
            con.execute(
                f"create table {schema}._dlt_loads (load_id varchar, schema_name varchar, "
                "status bigint, inserted_at timestamptz)"
            )
            con.execute(f"create table {schema}.things (id bigint, _dlt_load_id varchar)")
            for n, (load_id, at, with_rows) in enumerate(entries):
                con.execute(
                    f"insert into {schema}._dlt_loads values (?, ?, 0, ?)", [load_id, schema, at]
                )
                if with_rows:
                    con.execute(f"insert into {schema}.things values (?, ?)", [n, load_id])


def test_the_plan_selects_what_the_loads_brought(tmp_path: Path) -> None:
    from mypizza import nightly

    warehouse = tmp_path / "warehouse" / "mypizza.duckdb"
    warehouse.parent.mkdir()
    _warehouse_with_loads(
        warehouse,
        {
            "raw_pos": [("1000.1", "2026-04-01 03:00:00+00", True)],
            "raw_feedback": [("1000.2", "2026-04-01 03:01:00+00", True)],
        },
    )
    target = tmp_path / "target"
    first = nightly.plan(warehouse, target)
    assert "--select" not in first.build_args  # no record of a build: everything
    assert first.build_args[:5] == [
        "build",
        "--target",
        "prod",
        "--exclude-resource-type",
        "unit_test",
    ]
    state = warehouse.parent / "prod-state"
    state.mkdir()
    manifest = {
        "sources": {
            "source.mypizza.pos.orders": {"schema": "raw_pos", "source_name": "pos"},
            "source.mypizza.feedback.reviews": {
                "schema": "raw_feedback",
                "source_name": "feedback",
            },
        }
    }
    (state / "manifest.json").write_text(json.dumps(manifest))
    first.done(docs_generated=False)

    # the next night: the POS committed a state-only load (nothing new) and, later, a load
    # package resumed after a crash, with an OLDER load id but rows; feedback only state
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw_pos._dlt_loads values ('1000.5', 'pos', 0, '2026-04-02 03:00:00+00')"
        )
        con.execute(
            "insert into raw_pos._dlt_loads values ('999.9', 'pos', 0, '2026-04-02 03:05:00+00')"
        )
        con.execute("insert into raw_pos.things values (7, '999.9')")
        con.execute(
            "insert into raw_feedback._dlt_loads "
            "values ('1000.6', 'feedback', 0, '2026-04-02 03:01:00+00')"
        )
    second = nightly.plan(warehouse, target)
    args = second.build_args
    # one value per option: dagster-dbt's parser takes one (mypizza/nightly.py)
    assert args[args.index("--select") + 1 : args.index("--state")] == [
        "source:pos+ state:modified+"
    ], args
    second.done(docs_generated=False)

    # a night when nothing brought rows: only what changed in the project
    third = nightly.plan(warehouse, target)
    args = third.build_args
    assert args[args.index("--select") + 1 : args.index("--state")] == ["state:modified+"]
    assert nightly.plan(warehouse, target, full_refresh=True).build_args[-1] == "--full-refresh"


def test_the_plan_leaves_out_only_the_not_null_tests_duckdb_enforces(tmp_path: Path) -> None:
    """A mart column with a not_null constraint in an enforced contract, NOT NULL in the
    warehouse's table: its not_null data test is left out of the nightly build. Kept: the
    test of a column without the constraint, of a table created before the constraint was
    declared (still nullable), of a view, and a test with a `where` of its own."""
    from mypizza import nightly

    warehouse = tmp_path / "warehouse" / "mypizza.duckdb"
    warehouse.parent.mkdir()
    _warehouse_with_loads(warehouse, {"raw_pos": [("1000.1", "2026-04-01 03:00:00+00", True)]})
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_a (k varchar not null, n bigint, old varchar)")
        con.execute("create view marts.rpt_v as select 'x' as k")

    def model(name: str, materialized: str, constrained: tuple[str, ...]) -> dict:
        return {
            "resource_type": "model",
            "name": name,
            "alias": name,
            "schema": "marts",
            "config": {"materialized": materialized, "contract": {"enforced": True}},
            "columns": {
                c: {"constraints": [{"type": "not_null"}] if c in constrained else []}
                for c in ("k", "n", "old")
            },
        }

    def not_null(model_name: str, column: str, where: str | None = None) -> dict:
        return {
            "resource_type": "test",
            "name": f"not_null_{model_name}_{column}",
            "attached_node": f"model.mypizza.{model_name}",
            "test_metadata": {"name": "not_null", "kwargs": {"column_name": column}},
            "config": {"where": where},
        }

    tests = [
        not_null("fct_a", "k"),  # constrained and NOT NULL in the table: left out
        not_null("fct_a", "n"),  # no constraint declared
        not_null("fct_a", "old"),  # declared, but the table predates it (nullable)
        not_null("rpt_v", "k"),  # a view enforces nothing
    ]
    manifest = {
        "nodes": {
            "model.mypizza.fct_a": model("fct_a", "incremental", ("k", "old")),
            "model.mypizza.rpt_v": model("rpt_v", "view", ("k",)),
            **{f"test.mypizza.{t['name']}": t for t in tests},
        },
        "sources": {"source.mypizza.pos.orders": {"schema": "raw_pos", "source_name": "pos"}},
    }
    assert nightly.enforced_not_null_tests(warehouse, manifest) == ["not_null_fct_a_k"]
    scoped = not_null("fct_a", "k", where="n > 0")
    scoped["name"] = "not_null_fct_a_k_scoped"
    manifest["nodes"]["test.mypizza.not_null_fct_a_k"] = scoped
    assert nightly.enforced_not_null_tests(warehouse, manifest) == []
    manifest["nodes"]["test.mypizza.not_null_fct_a_k"] = tests[0]

    # the first night builds and tests everything; the next ones leave the test out, and
    # the log counts it instead of naming it
    target = tmp_path / "target"
    first = nightly.plan(warehouse, target)
    assert "not_null_fct_a_k" not in first.build_args
    state = warehouse.parent / "prod-state"
    state.mkdir()
    (state / "manifest.json").write_text(json.dumps(manifest))
    first.done(docs_generated=False)
    second = nightly.plan(warehouse, target)
    args = second.build_args
    assert args[args.index("--exclude") + 1] == "not_null_fct_a_k"
    assert "not_null_fct_a_n" not in args and "not_null_fct_a_old" not in args
    assert "<1 not_null data tests that constraints enforce>" in second.shown(args)
    assert "not_null_fct_a_k" not in second.shown(args)
    assert "--exclude" not in nightly.plan(warehouse, target, full_refresh=True).build_args
