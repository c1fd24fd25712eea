"""Erasure on request: `mypizza forget --email` on a copy of the built world.

The person is a loyalty customer of the POS who also wrote reviews, picked and described
(name, e-mail, phone) from the source systems themselves. Before: the warehouse holds them.
After `mypizza forget` and a `mypizza run`: a byte search of every file under the warehouse
folder (the DuckDB files, dlt's state and packages, prod-state), and the target folder
(docs site, artifacts) finds none of their e-mail, name or phone, plain or gzip; no string
column of any schema holds them; sales and review totals are unchanged and their orders
still belong to their (erased) customer id; the log records the erasure without personal
data. Then a full reload (warehouse and dlt state deleted, everything loaded again from the
sources, which still hold the person) does not bring them back.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from support import Env

from simulator.feedback import feedback_path


def files_holding(roots: list[Path], values: set[str]) -> list[str]:
    """Every (file, value) where the file's bytes, or its gzip content, hold the value."""
    found = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            texts = [data.lower()]
            if data[:2] == b"\x1f\x8b":
                texts.append(gzip.decompress(data).lower())
            for value in values:
                if any(value.lower().encode() in t for t in texts):
                    found.append(f"{path}: {value}")
    return found


def string_hits(path: Path, values: set[str]) -> list[str]:
    """Columns of any schema whose strings contain one of ``values`` (case-insensitive)."""
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_catalog = current_database()"
        ).fetchall()
        for schema, table, column in columns:
            for value in values:
                (n,) = con.execute(
                    f'select count(*) from "{schema}"."{table}" '
                    f'where contains(lower("{column}"), lower(?))',
                    [value],
                ).fetchone()
                if n:
                    found.append(f"{schema}.{table}.{column}: {value}")
    return found


ORDERS_OF = """
    select count(*) from marts.fct_orders as o
    join marts.dim_customers as c on c.customer_key = o.customer_key
    where c.customer_id = {id} and c.source_system = 'mypizza_pos'
"""


def totals(env: Env) -> dict[str, object]:
    [row] = env.query(
        """
        select
            (select sum(net_sales) from marts.rpt_daily_store_sales),
            (select sum(orders) from marts.rpt_daily_store_sales),
            (select count(*) from marts.fct_reviews),
            (select count(*) from marts.dim_customers)
        """,
        published=True,
    )
    return dict(zip(("net_sales", "orders", "reviews", "customers"), row, strict=True))


@pytest.fixture(scope="module")
def world(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A copy of the built world (simulated sources, warehouse, dlt state, target)."""
    root = tmp_path_factory.mktemp("forget") / "copy"
    shutil.copytree(built_world.root, root, ignore=shutil.ignore_patterns("*.lock"))
    env = Env(root)
    env.vars["MYPIZZA_ERASED_BY"] = "privacy-officer"
    return env


@pytest.fixture(scope="module")
def person(world: Env) -> dict:
    """A loyalty customer with a phone, orders and reviews, as the sources hold them."""
    with sqlite3.connect(world.world / "pos.sqlite") as con:
        customers = con.execute(
            """
            select c.customer_id, c.first_name, c.last_name, c.email, c.phone, count(*)
            from customers c join orders o using (customer_id)
            where c.phone is not null group by c.customer_id order by count(*) desc
            """
        ).fetchall()
    with sqlite3.connect(feedback_path(world.world)) as con:
        reviewers = {}
        for (document,) in con.execute("select document from reviews"):
            reviewer = json.loads(document)["reviewer"]
            reviewers.setdefault(reviewer["email"].lower(), []).append(reviewer["name"])
    for cid, first, last, email, phone, _orders in customers:
        if email.lower() in reviewers:
            return {
                "customer_id": cid,
                "name": f"{first} {last}",
                "email": email,
                "phone": phone,
                "reviews": len(reviewers[email.lower()]),
            }
    pytest.fail("no loyalty customer of the built world wrote a review")


def test_forget_erases_a_person_everywhere_and_keeps_the_totals(world: Env, person: dict):
    values = {person["email"], person["name"], person["phone"]}
    roots = [world.warehouse.parent, world.target]
    assert string_hits(world.published, values)  # the check finds them where they are
    before = totals(world)
    [(orders_before,)] = world.query(ORDERS_OF.format(id=person["customer_id"]), published=True)
    assert orders_before > 0

    out = world.mypizza("forget", "--email", person["email"].upper())
    assert person["email"] not in out and person["name"] not in out
    world.mypizza("run")

    assert files_holding(roots, values) == []
    assert string_hits(world.warehouse, values) == []
    assert string_hits(world.published, values) == []
    assert totals(world) == before
    [(orders_after, erased_names)] = world.query(
        f"""
        select
            ({ORDERS_OF.format(id=person["customer_id"])}),
            (select list(distinct first_name) from raw_pos.customers
             where customer_id = {person["customer_id"]})
        """,
        published=True,
    )
    assert orders_after == orders_before and erased_names == ["Erased"]

    # the erasure is logged: when, which key (hashed), by whom; no personal data
    [line] = world.warehouse.with_name("mypizza.erasures.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["key"] == "email" and record["by"] == "privacy-officer"
    assert record["key_sha256"] == hashlib.sha256(person["email"].lower().encode()).hexdigest()
    assert record["suppress"]["customer_ids"] == [person["customer_id"]]
    assert record["rows_found"]["raw_feedback.reviews"] == person["reviews"]
    assert not any(v.lower() in line.lower() for v in values)


def test_a_full_reload_does_not_bring_the_person_back(world: Env, person: dict):
    """After the test above: the warehouse and dlt's state deleted, the sources (which still
    hold the person) loaded again from scratch."""
    values = {person["email"], person["name"], person["phone"]}
    with sqlite3.connect(world.world / "pos.sqlite") as con:
        (still,) = con.execute(
            "select count(*) from customers where email = ?", [person["email"]]
        ).fetchone()
    assert still == 1  # the source system still holds them
    for path in world.warehouse.parent.iterdir():
        if path.name != "mypizza.erasures.jsonl":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    world.mypizza("ingest", "pos")
    world.mypizza("ingest", "feedback")
    assert files_holding([world.warehouse.parent], values) == []
    assert string_hits(world.warehouse, values) == []
    [(customers, reviews)] = world.query(
        f"""
        select
            (select count(*) from raw_pos.customers where customer_id = {person["customer_id"]}
                and first_name = 'Erased' and phone is null),
            (select count(*) from raw_feedback.reviews where reviewer__name = 'Erased')
        """
    )
    assert (customers, reviews) == (1, person["reviews"])


def test_the_suppression_map_erases_only_suppressed_rows(tmp_path: Path):
    """The load-time step on its own: arrow batches (POS) and documents (feedback)."""
    import pyarrow as pa

    from ingestion.suppression import (
        Suppressed,
        digest,
        suppress_customers,
        suppress_documents,
    )

    gone = Suppressed(emails={digest("Ann@X.example")}, customer_ids={7})
    batch = pa.table(
        {
            "customer_id": [1, 2, 7],
            "first_name": ["Ann", "Bob", "Cy"],
            "last_name": ["Lee", "Ray", "Oz"],
            "email": [" ann@x.example", "bob@y.example", "cy@z.example"],
            "phone": ["+1 555 0100", None, "+1 555 0107"],
        }
    )
    out = suppress_customers(gone)(batch).to_pylist()
    assert [r["first_name"] for r in out] == ["Erased", "Bob", "Erased"]
    assert out[0]["email"].endswith("@erased.invalid") and out[0]["phone"] is None
    assert out[1] == batch.to_pylist()[1]
    clean = pa.table({"customer_id": [3], "first_name": ["D"], "last_name": ["E"],
                      "email": ["d@e.example"], "phone": [None]})  # fmt: skip
    assert suppress_customers(gone)(clean) is clean  # untouched, not rebuilt

    review = {
        "id": 1,
        "text": "Ann Lee here, write to ann@x.example",
        "title": "ok",
        "reviewer": {"name": "Ann Lee", "email": "ann@x.example"},
        "replies": [{"text": "Thanks Ann!"}],
    }
    other = {**review, "id": 2, "reviewer": {"name": "Bob Ray", "email": "bob@y.example"}}
    erased, kept = suppress_documents("reviews", gone)([review, other])
    assert erased["reviewer"]["name"] == "Erased" and "ann" not in json.dumps(erased).lower()
    assert kept == other
