"""The simulated feedback platform: deterministic, steppable, consistent with the POS, and
its HTTP API pages, filters, authenticates and fails the way a real one does. Real SQLite
files, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from simulator import FeedbackApiServer, pos_url_for, simulate
from simulator.feedback import KINDS, feedback_path

START = date(2026, 3, 23)  # Europe moves its clocks on 2026-03-29


def dump(world: Path) -> dict[str, list[tuple]]:
    """Every row of the feedback file, in id order."""
    with sqlite3.connect(feedback_path(world)) as con:
        return {
            k: con.execute(f"select * from {k} order by 1").fetchall() for k in (*KINDS, "meta")
        }


def documents(world: Path, kind: str) -> list[dict]:
    with sqlite3.connect(feedback_path(world)) as con:
        return [json.loads(d) for (d,) in con.execute(f"select document from {kind} order by id")]


def get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of a GET."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two stores (Milano, Roma) for 16 days."""
    path = tmp_path_factory.mktemp("feedback") / "world"
    simulate(path, stores=2, days=16, start=START, seed=9)
    return path


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_documents_and_steps_change_nothing(
    world: Path, tmp_path: Path
) -> None:
    again, stepped = tmp_path / "again", tmp_path / "stepped"
    simulate(again, stores=2, days=16, start=START, seed=9)
    simulate(stepped, stores=2, days=9, start=START, seed=9)
    for days in (1, 4, 2):
        simulate(stepped, days=days)
    assert dump(again) == dump(world)
    assert dump(stepped) == dump(world)

    other = tmp_path / "other"
    simulate(other, stores=2, days=3, start=START, seed=10)
    assert dump(other)["reviews"] != dump(again)["reviews"][: len(dump(other)["reviews"])]


def test_advancing_stamps_every_change_later_than_anything_before(tmp_path: Path) -> None:
    path = tmp_path / "world"
    simulate(path, stores=2, days=12, start=START, seed=9)
    before = {k: {d["id"]: d for d in documents(path, k)} for k in KINDS}
    latest = max(d["updated_at"] for docs in before.values() for d in docs.values())
    simulate(path, days=2)
    changed = 0
    for kind in KINDS:
        for doc in documents(path, kind):
            old = before[kind].get(doc["id"])
            if old != doc:
                changed += 1
                assert doc["updated_at"] > latest, doc["id"]
    assert changed > 0


# ---------------------------------------------------------------- consistency
def test_reviews_belong_to_the_orders_of_the_pos(world: Path) -> None:
    pos = sqlite3.connect(pos_url_for(world).removeprefix("sqlite:///"))
    orders = {r[0]: r for r in pos.execute("select order_id, store_id, channel from orders")}
    stores = dict(pos.execute("select store_id, store_code from stores"))
    customers = {r[0]: r[1] for r in pos.execute("select order_id, customer_id from orders")}
    emails = dict(pos.execute("select customer_id, email from customers"))
    lines = defaultdict(set)
    for order_id, product_id in pos.execute(
        "select order_id, product_id from order_items where not is_voided"
    ):
        lines[order_id].add(product_id)
    products = {p for (p,) in pos.execute("select product_id from products")}

    reviews = documents(world, "reviews")
    online = [r for r in reviews if r["order_id"] is not None]
    assert len(reviews) > 100 and len(online) > 0.6 * len(reviews)
    for review in online:
        order_id, store_id, channel = orders[review["order_id"]]
        assert review["channel"] == channel in ("web", "delivery_app")
        assert review["store_code"] == stores[store_id]
        assert set(review["product_ids"]) == lines[order_id]
        if customers[order_id] is not None:  # a loyalty customer: the POS e-mail
            assert review["reviewer"]["email"] == emails[customers[order_id]]
    for review in reviews:
        assert review["channel"] in ("web", "delivery_app", "in_store")
        assert set(review["product_ids"]) <= products
        assert 1 <= review["rating"] <= 5 and review["created_at"] <= review["updated_at"]
        assert "@" in review["reviewer"]["email"] and review["reviewer"]["name"]


def test_reviews_are_nested_multilingual_and_live_on(world: Path) -> None:
    reviews = documents(world, "reviews")
    assert {r["language"] for r in reviews} >= {"it", "en"}
    assert any(ch for r in reviews for ch in r["text"] if ord(ch) > 0x1F000)  # emoji
    assert any(r["tags"] for r in reviews) and any(r["replies"] for r in reviews)
    assert any(r["rating"] <= 2 for r in reviews) and any(r["rating"] == 5 for r in reviews)
    edited = [r for r in reviews if r["edit_history"]]
    assert edited, "some reviews are edited in later days"
    for review in edited:
        assert review["version"] == len(review["edit_history"]) + 1
        last = review["edit_history"][-1]
        assert last["replaced_at"] == review["edited_at"] <= review["updated_at"]
        assert review["text"].startswith(last["text"]) and review["text"] != last["text"]
    for review in reviews:
        for reply in review["replies"]:
            assert review["created_at"] < reply["replied_at"] <= review["updated_at"]
    mentions = documents(world, "mentions")
    assert mentions and all(m["hashtags"][0] == "mypizza" for m in mentions)
    assert any(m["updated_at"] > m["posted_at"] for m in mentions)  # likes came in later


# ---------------------------------------------------------------- the HTTP API
def test_api_pages_with_a_cursor_and_filters_on_updated_since(world: Path) -> None:
    expected = sorted(documents(world, "reviews"), key=lambda d: (d["updated_at"], d["id"]))
    with FeedbackApiServer(world) as server:
        seen, cursor, pages = [], None, 0
        while True:
            url = f"{server.url}/reviews?limit=50" + (f"&cursor={cursor}" if cursor else "")
            status, _, body = get(url)
            assert status == 200
            seen += body["data"]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages > 2 and seen == expected

        since = expected[len(expected) // 2]["updated_at"]
        status, _, body = get(f"{server.url}/reviews?limit=500&updated_since={since}")
        assert [d["id"] for d in body["data"]] == [
            d["id"] for d in expected if d["updated_at"] >= since
        ]
        assert get(f"{server.url}/reviews?limit=0")[0] == 400
        assert get(f"{server.url}/reviews?updated_since=yesterday")[0] == 400
        assert get(f"{server.url}/reviews?cursor=nonsense")[0] == 400
        assert get(f"{server.url}/orders")[0] == 404


def test_api_wants_the_token(world: Path) -> None:
    with FeedbackApiServer(world, token="right") as server:
        assert get(f"{server.url}/mentions", token="right")[0] == 200
        status, headers, body = get(f"{server.url}/mentions", token="wrong")
        assert status == 401 and "Bearer" in headers["WWW-Authenticate"]
        assert "token" in body["message"]
        assert get(f"{server.url}/mentions")[0] == 401
        assert get(f"{server.url}/health")[0] == 200


def test_api_throws_429_and_500_but_never_too_often_in_a_row(world: Path) -> None:
    with FeedbackApiServer(world, fault_rate=0.6, retry_after=3) as server:
        answers = [get(f"{server.url}/reviews?limit=5") for _ in range(30)]
    statuses = [status for status, _, _ in answers]
    assert {200, 429, 500} <= set(statuses)
    assert all(h["Retry-After"] == "3" for s, h, _ in answers if s == 429)
    runs = "".join("x" if s != 200 else "." for s in statuses).split(".")
    assert max(len(run) for run in runs) <= 2
    assert server.stats[200] == statuses.count(200)
