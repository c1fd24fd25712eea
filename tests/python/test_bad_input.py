"""Bad input, catalogued per source (README, "Bad input"): each case is loaded, quarantined
with the rule it breaks, or rejected with a message naming the source, the table, file or
endpoint, the row or key, and the rule; and nothing good is dropped.

One tiny world (1 store x 2 days) is simulated once; each source gets its own copy to
spoil. Expected numbers come from the spoilt source itself (SQLite, the files), never from
the pipeline. POS and inventory cases run `mypizza ingest <source>` as a user does; the API
cases call the pipeline in-process against the simulated API's failure modes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import MYPIZZA, REPO, Env

from ingestion.feedback import FeedbackApiError
from ingestion.pipelines import load
from ingestion.pos import _keys_clean, _quarantine_bad_keys
from simulator import FeedbackApiServer, simulate
from simulator.feedback import feedback_path

TOKEN = "bad-input-token"  # pragma: allowlist secret (made up)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("bad-input") / "world"
    simulate(world, stores=1, days=2, start=date(2026, 4, 6), seed=42)
    return world


def env_with_world(pristine: Path, root: Path) -> Env:
    env = Env(root)
    shutil.copytree(pristine, env.world)
    return env


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


# ---------------------------------------------------------------- POS
def _rebuild_order_items_with_nullable_key(con: sqlite3.Connection) -> None:
    """A POS that declares order_item_id the key but does not forbid NULL in it (SQLite
    allows that for a non-integer key, as some real POS databases do)."""
    con.executescript(
        """
        alter table order_items rename to order_items_old;
        create table order_items (
            order_item_id bigint, order_id bigint not null, product_id integer not null,
            quantity integer not null, unit_price_cents integer not null,
            discount_cents integer not null, is_voided boolean not null,
            updated_at datetime not null, primary key (order_item_id));
        insert into order_items select * from order_items_old;
        drop table order_items_old;
        """
    )


@pytest.fixture(scope="module")
def pos_env(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A POS with two null-key lines, a negative quantity, an order line of a product the
    POS does not have and a new column on orders; ingested, then the quarantine built."""
    env = env_with_world(pristine, tmp_path_factory.mktemp("pos-bad"))
    with sqlite3.connect(env.world / "pos.sqlite") as con:
        _rebuild_order_items_with_nullable_key(con)
        ids = [i for (i,) in con.execute("select order_item_id from order_items order by 1")]
        con.execute(
            "insert into order_items select null, order_id, product_id, quantity, "
            "unit_price_cents, discount_cents, is_voided, updated_at from order_items "
            "where order_item_id in (?, ?)",
            ids[:2],
        )
        con.execute("update order_items set quantity = -3 where order_item_id = ?", [ids[2]])
        con.execute("update order_items set product_id = 99999 where order_item_id = ?", [ids[3]])
        con.execute("alter table orders add column loyalty_points integer")
        con.execute("update orders set loyalty_points = 7")
        env.source_lines = con.execute("select count(*) from order_items").fetchone()[0]
        env.source_orders = con.execute("select count(*) from orders").fetchone()[0]
    env.bad_ids = {"negative": ids[2], "orphan": ids[3]}
    env.ingest_output = env.mypizza("ingest", "pos")
    env.dbt_output = env.dbt(
        "build",
        "--indirect-selection",
        "cautious",
        "--select",
        "quarantine_pos__order_items stg_pos__order_items assert_no_quarantined_pos_order_items",
    )
    return env


def test_pos_null_key_is_quarantined_and_the_rest_loads(pos_env: Env) -> None:
    rows = pos_env.query(
        "select order_item_id, quarantine_rule from raw_pos.quarantine_order_items"
    )
    assert rows == [(None, "primary key order_item_id is null")] * 2
    (loaded,) = pos_env.query("select count(*) from raw_pos.order_items")[0]
    assert loaded == pos_env.source_lines - 2  # every line with a key, none dropped
    assert "quarantine_order_items 2" in pos_env.ingest_output


def test_pos_new_column_is_loaded(pos_env: Env) -> None:
    rows = pos_env.query(
        "select count(*), min(loyalty_points), max(loyalty_points) from raw_pos.orders"
    )
    assert rows == [(pos_env.source_orders, 7, 7)]


def test_pos_negative_quantity_and_unknown_product_are_quarantined_by_dbt(pos_env: Env) -> None:
    result = pos_env.dbt_output
    assert result.returncode == 0, result.stdout[-3000:]
    quarantined = dict(
        pos_env.query(
            "select order_item_id, quarantine_rule from quarantine.quarantine_pos__order_items"
        )
    )
    assert quarantined == {
        pos_env.bad_ids["negative"]: "negative quantity",
        pos_env.bad_ids["orphan"]: "order line of a product the POS does not have",
    }
    staged = {i for (i,) in pos_env.query("select order_item_id from staging.stg_pos__order_items")}
    assert not staged & set(quarantined)
    assert len(staged) == pos_env.source_lines - 2 - 2  # null keys, then the two quarantined
    # the warning test kept what it found (store_failures)
    assert "WARN 2 assert_no_quarantined_pos_order_items" in result.stdout
    (audit,) = pos_env.query(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_name = 'assert_no_quarantined_pos_order_items'"
    )[0]
    assert {i for i, _ in pos_env.query(f"select * from {audit}")} == set(quarantined)


def test_pos_key_seen_again_is_merged_and_a_type_change_is_rejected(
    pristine: Path, tmp_path: Path
) -> None:
    env = env_with_world(pristine, tmp_path)
    env.mypizza("ingest", "pos")
    pos = env.world / "pos.sqlite"
    with sqlite3.connect(pos) as con:
        (line,) = con.execute("select min(order_item_id) from order_items").fetchone()
        con.execute(
            "update order_items set quantity = 9, updated_at = '2026-05-01 10:00:00' "
            "where order_item_id = ?",
            [line],
        )
        lines = con.execute("select count(*) from order_items").fetchone()[0]
    env.mypizza("ingest", "pos")
    assert env.query(f"select quantity from raw_pos.order_items where order_item_id = {line}") == [
        (9,)
    ]
    assert env.query("select count(*) from raw_pos.order_items") == [(lines,)]

    with sqlite3.connect(pos) as con:  # the POS now keeps quantity as text
        con.executescript(
            """
            alter table order_items rename to order_items_old;
            create table order_items (
                order_item_id bigint not null, order_id bigint not null,
                product_id integer not null, quantity text not null,
                unit_price_cents integer not null, discount_cents integer not null,
                is_voided boolean not null, updated_at datetime not null,
                primary key (order_item_id));
            insert into order_items select * from order_items_old;
            drop table order_items_old;
            update order_items set quantity = 'two', updated_at = '2026-05-02 10:00:00'
            where order_item_id = (select max(order_item_id) from order_items);
            """
        )
    result = _run(env, "ingest", "pos")
    assert result.returncode == 1
    message = result.stderr
    for words in ("source pos", "table order_items", "column quantity", "was bigint", "frozen"):
        assert words in message, message
    assert env.query("select count(*) from raw_pos.order_items") == [(lines,)]


def test_pos_duplicate_key_in_one_batch_keeps_the_latest_and_quarantines_the_other() -> None:
    """A source that declares a key it does not enforce (SQLite cannot make one here)."""
    batch = pa.table(
        {
            "order_item_id": [1, 2, 2, 3],
            "quantity": [1, 5, 6, 1],
            "updated_at": ["2026-04-06 10:00", "2026-04-06 10:00", "2026-04-06 11:00", "x"],
        }
    )
    good, quarantine = list(_quarantine_bad_keys("order_items", ["order_item_id"])(batch))
    assert good.to_pydict()["quantity"] == [1, 6, 1]
    rows = quarantine.data if hasattr(quarantine, "data") else quarantine
    assert [(r["order_item_id"], r["quantity"]) for r in rows] == [(2, 5)]
    assert "duplicate primary key (2,)" in rows[0]["quarantine_rule"]


def test_pos_duplicate_key_across_two_batches_is_quarantined_not_loaded_twice() -> None:
    """Rows come in key order, so a repeated key straddling two batches is the first row of
    the second: it is held back, and the keys loaded stay unique across the extraction."""
    split = _quarantine_bad_keys("order_items", ["order_item_id"])
    first = pa.table({"order_item_id": [1, 2], "updated_at": ["2026-04-06", "2026-04-06"]})
    second = pa.table({"order_item_id": [2, 3], "updated_at": ["2026-04-07", "2026-04-06"]})
    assert list(split(first)) == [first]
    good, quarantine = list(split(second))
    assert good.to_pydict()["order_item_id"] == [3]
    rows = quarantine.data if hasattr(quarantine, "data") else quarantine
    assert [r["order_item_id"] for r in rows] == [2]
    assert "read earlier in this load" in rows[0]["quarantine_rule"]


@pytest.mark.parametrize(
    ("keys", "clean"),
    [
        ([1, 2, 3], True),  # key order: the vectorised check
        ([3, 1, 2], True),  # any order: the grouping
        ([1, 2, 2], False),
        ([1, None, 3], False),
        (["b", "a"], True),
        (["a", "a"], False),
    ],
)
def test_pos_batch_key_check(keys: list, clean: bool) -> None:
    assert _keys_clean(pa.table({"k": keys}), ["k"]) is clean


# ---------------------------------------------------------------- files
def test_inventory_bad_files_are_quarantined_and_a_duplicate_is_not_doubled(
    pristine: Path, tmp_path: Path
) -> None:
    env = env_with_world(pristine, tmp_path)
    bucket = env.world / "bucket"
    files = sorted(p for p in (bucket / "inventory").rglob("*.csv"))
    day1 = sorted({p.parent for p in files})[0]
    day2 = sorted({p.parent for p in files})[-1]
    spoilt = {
        day1 / "deliveries.csv": ("empty", b"", "the file is empty"),
        day1 / "stock_counts.csv": ("header", None, "bad header (missing counted_quantity"),
        day1 / "waste.csv": ("truncated", None, "truncated"),
        day2 / "waste.csv": ("encoding", None, "not UTF-8 text"),
    }
    for path, (kind, data, _) in spoilt.items():
        text = path.read_bytes()
        if kind == "header":
            data = text.replace(b"counted_quantity", b"qty", 1)
        elif kind == "truncated":
            data = text[:-5]
        elif kind == "encoding":
            data = text.decode().encode("utf-16")
        path.write_bytes(data)
    copy = day2 / "stock_counts (1).csv"
    shutil.copyfile(day2 / "stock_counts.csv", copy)
    out = env.mypizza("ingest", "inventory")
    for path, (_, _, words) in spoilt.items():
        rel = path.relative_to(bucket).as_posix()
        assert f"quarantined {rel}: " in out
        assert words in out.split(f"quarantined {rel}: ")[1].splitlines()[0]
    assert f"ignored {copy.relative_to(bucket).as_posix()}" in out
    ledger = dict(env.query("select file_path, status from raw_inventory.files"))
    assert {p for p, s in ledger.items() if s == "quarantined"} == {
        p.relative_to(bucket).as_posix() for p in spoilt
    }
    good = day2 / "stock_counts.csv"
    lines = len(good.read_text().splitlines()) - 1
    rel = good.relative_to(bucket).as_posix()
    sql = f"select count(*) from raw_inventory.stock_counts where file_path = '{rel}'"
    assert env.query(sql) == [(lines,)]
    # the same file uploaded again: its rows are replaced, not doubled
    later = time.time() + 5
    os.utime(good, (later, later))
    env.mypizza("ingest", "inventory")
    assert env.query(sql) == [(lines,)]


# ---------------------------------------------------------------- API
@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "0.05")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.01")


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        ("malformed_json", ["source feedback", "endpoint reviews", "malformed JSON"]),
        ("missing_field", ["source feedback", "endpoint reviews", "has no 'updated_at'"]),
        ("endless", ["source feedback", "/v1/reviews", "never ends", "next_cursor"]),
    ],
)
def test_api_failures_are_rejected_with_endpoint_and_rule(
    pristine: Path, tmp_path: Path, quick: None, failure: str, words: list[str]
) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with (
        FeedbackApiServer(pristine, token=TOKEN, failure=failure) as api,
        pytest.raises(FeedbackApiError) as raised,
    ):
        load("feedback", warehouse, progress=None, base_url=api.url, token=TOKEN, page_size=20)
    for word in words:
        assert word in str(raised.value)
    assert "the next run asks again" in str(raised.value)
    # nothing half-loaded: the next run (a healthy API) loads everything
    with FeedbackApiServer(pristine, token=TOKEN) as api:
        load("feedback", warehouse, progress=None, base_url=api.url, token=TOKEN, page_size=20)
    with sqlite3.connect(feedback_path(pristine)) as con:
        reviews = con.execute("select count(*) from reviews").fetchone()[0]
    assert query(warehouse, "select count(*) from raw_feedback.reviews") == [(reviews,)]


def test_api_bad_token_is_rejected_saying_what_to_set(pristine: Path, tmp_path: Path) -> None:
    env = env_with_world(pristine, tmp_path)
    with FeedbackApiServer(pristine, token=TOKEN) as api:
        env.vars["SOURCES__FEEDBACK__BASE_URL"] = api.url
        env.vars["SOURCES__FEEDBACK__TOKEN"] = "wrong-token"
        result = _run(env, "ingest", "feedback")
    assert result.returncode == 1
    assert f"{api.url}/reviews refused the token (HTTP 401)" in result.stderr
    assert "SOURCES__FEEDBACK__TOKEN" in result.stderr
    assert "wrong-token" not in result.stdout + result.stderr


def _run(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYPIZZA, *args], cwd=REPO, env=env.vars, capture_output=True, text=True, timeout=600
    )
