"""The simulated world: deterministic, steppable, and its POS database obeys the rules the
pipeline and the dbt models rely on. Everything runs against real SQLite databases."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, inspect, select

from simulator import SimulationReport, pos_url_for, simulate
from simulator.catalog import (
    SEED_HEADER,
    SEED_PATH,
    SOURCE_SYSTEM,
    STORES,
    read_seed,
    render_stores_seed,
    seed_rows,
)
from simulator.pos.schema import POS_TABLES, metadata

START = date(2026, 3, 20)  # Europe moves its clocks on 2026-03-29
UPDATED_AT = {t: list(metadata.tables[t].columns.keys()).index("updated_at") for t in POS_TABLES}


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every POS table, in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [
                    tuple(r)
                    for r in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def rows(world: Path, table: str) -> list[dict]:
    engine = create_engine(pos_url_for(world))
    try:
        with engine.connect() as conn:
            t = metadata.tables[table]
            result = conn.execute(select(t).order_by(*t.primary_key.columns))
            return [dict(r._mapping) for r in result]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Milano, Roma and London for 47 days: past the first two menu changes."""
    path = tmp_path_factory.mktemp("sim") / "world"
    simulate(path, stores=3, days=47, start=START, seed=7)
    return path


@pytest.fixture(scope="module")
def pos(world: Path) -> dict[str, list[dict]]:
    """The rows of the 47-day world, read once."""
    return {table: rows(world, table) for table in POS_TABLES}


@pytest.fixture(scope="module")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same world, simulated in four steps across the menu changes."""
    path = tmp_path_factory.mktemp("sim") / "world"
    simulate(path, stores=3, days=29, start=START, seed=7)
    for days in (1, 15, 2):
        simulate(path, days=days)
    return path


# ---------------------------------------------------------------- determinism
def test_same_seed_and_knobs_give_the_same_world(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, stores=2, days=4, start=START, seed=3)
    simulate(b, stores=2, days=4, start=START, seed=3)
    assert dump(pos_url_for(a)) == dump(pos_url_for(b))
    assert (a / "world.json").read_text() == (b / "world.json").read_text()

    c = tmp_path / "c"
    simulate(c, stores=2, days=4, start=START, seed=4)
    assert dump(pos_url_for(c))["orders"] != dump(pos_url_for(a))["orders"]


def test_ten_days_then_one_equals_eleven_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new world has kitchen devices for its last MYPIZZA_IOT_DAYS days only (simulator/
    # iot.py), so a 10-day world advanced by one starts its devices a day earlier than an
    # 11-day world: give both devices for every day, and the two must be one world.
    monkeypatch.setenv("MYPIZZA_IOT_DAYS", "30")
    stepped, one_go = tmp_path / "stepped", tmp_path / "one_go"
    simulate(stepped, stores=2, days=10, start=START, seed=5)
    report = simulate(stepped, days=1)
    simulate(one_go, stores=2, days=11, start=START, seed=5)

    assert report.days_simulated_now == 1
    assert report.end == START + timedelta(days=10)
    assert dump(pos_url_for(stepped)) == dump(pos_url_for(one_go))
    assert (stepped / "world.json").read_text() == (one_go / "world.json").read_text()


@pytest.mark.slow  # its own 47-day world, in four steps: 25 s
def test_stepping_across_menu_changes_and_refunds_changes_nothing(
    world: Path, stepped: Path
) -> None:
    one_go, in_steps = dump(pos_url_for(world)), dump(pos_url_for(stepped))
    assert {t: len(r) for t, r in in_steps.items()} == {t: len(r) for t, r in one_go.items()}
    assert in_steps == one_go


# ---------------------------------------------------------------- business rules
def test_totals_rule_holds_in_the_pos(pos: dict[str, list[dict]]) -> None:
    """line total = quantity * unit price - discount (standing lines); order total = sum of
    its standing lines; the order's payment = its total; refunds are negative, at most it."""
    orders = {o["order_id"]: o for o in pos["orders"]}
    totals: dict[int, int] = defaultdict(int)
    standing_lines: Counter = Counter()
    for line in pos["order_items"]:
        gross = line["quantity"] * line["unit_price_cents"]
        assert 0 <= line["discount_cents"] < gross
        assert 1 <= line["quantity"] <= 4
        if not line["is_voided"]:
            totals[line["order_id"]] += gross - line["discount_cents"]
            standing_lines[line["order_id"]] += 1
    payments: dict[int, list[dict]] = defaultdict(list)
    for p in pos["payments"]:
        payments[p["order_id"]].append(p)

    refunds = 0
    for order_id, order in orders.items():
        paid = [p for p in payments[order_id] if p["kind"] == "payment"]
        back = [p for p in payments[order_id] if p["kind"] == "refund"]
        if order["status"] == "voided":
            assert payments[order_id] == []
            continue
        assert standing_lines[order_id] >= 1
        assert len(paid) == 1 and paid[0]["amount_cents"] == totals[order_id] > 0
        app = order["channel"] in ("web", "delivery_app")
        assert paid[0]["method"] in (("app",) if app else ("card", "cash"))
        if order["status"] == "refunded":
            refunds += 1
            assert len(back) == 1
            assert -totals[order_id] <= back[0]["amount_cents"] < 0
            assert back[0]["method"] == paid[0]["method"]
            assert back[0]["paid_at"].date() > order["business_date"] - timedelta(days=1)
        else:
            assert back == []
    assert refunds > 50


def test_the_world_looks_like_a_pizza_chain(pos: dict[str, list[dict]]) -> None:
    orders = pos["orders"]
    lines = pos["order_items"]
    store_days = {(o["store_id"], o["business_date"]) for o in orders}
    assert len(store_days) == 3 * 47
    per_store_day = len(orders) / len(store_days)
    assert 120 <= per_store_day <= 200

    status = Counter(o["status"] for o in orders)
    channel = Counter(o["channel"] for o in orders)
    n = len(orders)
    assert 0.005 < status["voided"] / n < 0.02
    assert 0.008 < status["refunded"] / n < 0.025
    assert status["in_delivery"] > 0  # the last evening's deliveries are still on the road
    assert set(channel) == {"walk_in", "phone", "web", "delivery_app"}
    assert 0.3 < channel["walk_in"] / n < 0.5
    assert 0.25 < sum(o["customer_id"] is not None for o in orders) / n < 0.35
    assert 0.01 < sum(line["is_voided"] for line in lines) / len(lines) < 0.03
    assert 2.0 < len(lines) / n < 2.7
    assert any(line["discount_cents"] > 0 for line in lines)

    by_weekday = Counter(o["business_date"].weekday() for o in orders)
    assert by_weekday[5] > 1.3 * by_weekday[0]  # Saturdays beat Mondays

    customers = pos["customers"]
    assert len({c["email"] for c in customers}) > 0.9 * len(customers)
    assert {c["loyalty_tier"] for c in customers} == {"bronze", "silver", "gold"}
    assert sum(c["phone"] is None for c in customers) < 0.2 * len(customers)
    signed_up_in_world = [c for c in customers if c["signed_up_at"].date() >= START]
    assert len(signed_up_in_world) > 3 * 47 * 2


def test_timestamps_are_utc_and_business_dates_local(pos: dict[str, list[dict]]) -> None:
    stores = {s["store_id"]: s for s in pos["stores"]}
    utc = ZoneInfo("UTC")
    for order in pos["orders"]:
        zone = ZoneInfo(stores[order["store_id"]]["timezone"])
        local = order["ordered_at"].replace(tzinfo=utc).astimezone(zone)
        assert local.date() == order["business_date"]
        assert 10 <= local.hour < 23
        if order["completed_at"] is not None:
            assert order["completed_at"] > order["ordered_at"]
        assert order["updated_at"] >= order["ordered_at"]
    # London trades on London time: its first orders of a summer-time day are at 09:00 UTC
    london = [o for o in pos["orders"] if o["store_id"] == 3]
    first = min(o["ordered_at"] for o in london if o["business_date"] == START + timedelta(20))
    assert first.hour == 9


def test_menu_changes_update_products_on_their_dates(pos: dict[str, list[dict]]) -> None:
    products = {p["sku"]: p for p in pos["products"]}
    lines = pos["order_items"]
    orders = {o["order_id"]: o for o in pos["orders"]}
    by_id = {p["product_id"]: p["sku"] for p in products.values()}

    price_paid = defaultdict(set)
    for line in lines:
        day = orders[line["order_id"]]["business_date"]
        price_paid[by_id[line["product_id"]], day >= START + timedelta(30)].add(
            line["unit_price_cents"]
        )
    assert price_paid["PZ-MARG-M", False] == {850}
    assert price_paid["PZ-MARG-M", True] == {890}  # +5%, to 10 cents
    assert price_paid["DR-ESPR", True] == {150}  # drinks go up later
    assert products["PZ-MARG-M"]["price_cents"] == 890
    assert products["PZ-MARG-M"]["updated_at"] == datetime(2026, 4, 19, 6)
    assert products["DR-ESPR"]["updated_at"] == datetime.combine(START, datetime.min.time())

    seasonal = products["PZ-ZUCC-M"]
    assert seasonal["updated_at"] == datetime(2026, 5, 4, 6)
    first_sold = min(
        orders[line["order_id"]]["business_date"]
        for line in lines
        if by_id[line["product_id"]].startswith("PZ-ZUCC")
    )
    assert first_sold == START + timedelta(45)


def test_retired_products_stop_selling(tmp_path: Path) -> None:
    world = tmp_path / "w"
    simulate(world, stores=1, days=75, start=START, seed=1)
    before = {p["sku"]: p for p in rows(world, "products")}
    simulate(world, days=1)  # start + 75: Tonno e Cipolla retired
    after = {p["sku"]: p for p in rows(world, "products")}
    assert before["PZ-TONN-M"]["is_active"] and not after["PZ-TONN-M"]["is_active"]
    assert after["PZ-TONN-M"]["updated_at"] > before["PZ-TONN-M"]["updated_at"]
    tonno = {p["product_id"] for p in after.values() if p["sku"].startswith("PZ-TONN")}
    orders = {o["order_id"]: o for o in rows(world, "orders")}
    last_day = START + timedelta(75)
    sold = [
        line
        for line in rows(world, "order_items")
        if line["product_id"] in tonno and orders[line["order_id"]]["business_date"] == last_day
    ]
    assert sold == []


def test_christmas_is_closed(tmp_path: Path) -> None:
    world = tmp_path / "w"
    simulate(world, stores=2, days=3, start=date(2025, 12, 24), seed=2)
    per_day = Counter(o["business_date"] for o in rows(world, "orders"))
    assert per_day[date(2025, 12, 25)] == 0
    assert per_day[date(2025, 12, 24)] > 100 and per_day[date(2025, 12, 26)] > 100


# ---------------------------------------------------------------- advancing a world
def test_advancing_updates_old_rows(tmp_path: Path) -> None:
    world = tmp_path / "w"
    simulate(world, stores=2, days=6, start=START, seed=9)
    before = {o["order_id"]: o for o in rows(world, "orders")}
    last = START + timedelta(5)
    in_delivery = {i for i, o in before.items() if o["status"] == "in_delivery"}
    assert in_delivery and all(before[i]["business_date"] == last for i in in_delivery)

    report = simulate(world, days=3)
    after = {o["order_id"]: o for o in rows(world, "orders")}
    for i in in_delivery:  # confirmed delivered next morning, late at night the day before
        assert after[i]["status"] == "completed"
        assert after[i]["completed_at"] > after[i]["ordered_at"]
        assert after[i]["updated_at"].date() == last + timedelta(1)
    refunded_old = [
        i
        for i, o in before.items()
        if o["status"] == "completed" and after[i]["status"] == "refunded"
    ]
    assert len(refunded_old) >= 3
    refunds = {p["order_id"]: p for p in rows(world, "payments") if p["kind"] == "refund"}
    for i in refunded_old:
        assert refunds[i]["paid_at"] == after[i]["updated_at"] > before[i]["updated_at"]
        assert 1 <= (refunds[i]["paid_at"].date() - before[i]["business_date"]).days <= 3

    assert report.updated["orders"] >= len(in_delivery) + len(refunded_old)
    assert report.inserted["orders"] == len(after) - len(before)
    assert report.totals["orders"] == len(after)


def test_every_update_of_an_advance_is_later_than_anything_before(tmp_path: Path) -> None:
    world = tmp_path / "w"
    simulate(world, stores=3, days=5, start=START, seed=13)  # London is an hour behind
    for step in (1, 3):
        before = dump(pos_url_for(world))
        marks = {t: max(r[UPDATED_AT[t]] for r in before[t]) for t in POS_TABLES}
        simulate(world, days=step)
        after = dump(pos_url_for(world))
        for table in POS_TABLES:
            new_or_changed = set(after[table]) - set(before[table])
            old_keys = {r[0]: r for r in before[table]}
            at = UPDATED_AT[table]
            for row in new_or_changed:
                assert row[at] > marks[table], (table, row)
                if row[0] in old_keys:  # a changed row moved its updated_at
                    assert row[at] != old_keys[row[0]][at]
            if table in ("orders", "order_items", "payments", "customers"):
                assert new_or_changed, table


def test_an_existing_world_without_days_is_left_alone(tmp_path: Path) -> None:
    world = tmp_path / "w"
    first = simulate(world, stores=1, days=2, start=START)
    report = simulate(world)
    assert report.days_simulated_now == 0
    assert sum(report.inserted.values()) == sum(report.updated.values()) == 0
    assert report.totals == first.totals
    assert report.end == START + timedelta(1)
    assert "1 stores" in str(report) and "orders" in str(report)


def test_knobs_that_contradict_the_world_are_refused(tmp_path: Path) -> None:
    world = tmp_path / "w"
    simulate(world, stores=1, days=1, start=START, seed=1)
    for knobs in ({"stores": 2}, {"seed": 2}, {"start": START + timedelta(1)}):
        with pytest.raises(ValueError, match="fresh"):
            simulate(world, days=1, **knobs)
    report = simulate(world, days=1, stores=1, seed=1, start=START)  # the same knobs are fine
    assert report.days_total == 2
    with pytest.raises(ValueError, match="days"):
        simulate(world, days=-1)


def test_fresh_discards_the_world(tmp_path: Path) -> None:
    world = tmp_path / "w"
    simulate(world, stores=2, days=2, start=START, seed=1)
    (world / "left-over.txt").write_text("old")
    report = simulate(world, stores=1, days=1, start=START + timedelta(7), seed=2, fresh=True)
    assert report.created and report.stores == 1 and report.start == START + timedelta(7)
    assert not (world / "left-over.txt").exists()
    assert json.loads((world / "world.json").read_text())["seed"] == 2
    orders = rows(world, "orders")
    assert {o["business_date"] for o in orders} == {START + timedelta(7)}
    assert len(rows(world, "stores")) == 1


def test_a_new_world_ends_yesterday_by_default(tmp_path: Path) -> None:
    report = simulate(tmp_path / "w", stores=1, days=2)
    assert report.end == date.today() - timedelta(1)
    assert report.start == date.today() - timedelta(2)
    assert report.pos_url == f"sqlite:///{(tmp_path / 'w').resolve()}/pos.sqlite"
    assert isinstance(report, SimulationReport)


def test_the_pos_can_live_at_any_sqlalchemy_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'pos.db'}"
    (tmp_path / "elsewhere").mkdir()
    world, reference = tmp_path / "w", tmp_path / "ref"
    simulate(world, stores=2, days=3, start=START, seed=6, pos_url=url)
    simulate(world, days=1)
    simulate(reference, stores=2, days=4, start=START, seed=6)

    assert pos_url_for(world) == url
    assert not (world / "pos.sqlite").exists()
    assert dump(url) == dump(pos_url_for(reference))
    with pytest.raises(ValueError, match="pos_url"):
        simulate(world, days=1, pos_url=pos_url_for(reference))

    report = simulate(world, stores=1, days=1, start=START, fresh=True)  # keeps its URL
    assert report.pos_url == url and report.totals["stores"] == 1
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == set(POS_TABLES)
    engine.dispose()


def test_a_world_refuses_a_pos_that_already_has_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pos.db'}"
    simulate(tmp_path / "a", stores=1, days=1, start=START, pos_url=url)
    with pytest.raises(ValueError, match="fresh"):
        simulate(tmp_path / "b", stores=1, days=1, start=START, pos_url=url)


# ---------------------------------------------------------------- the stores seed
def test_the_stores_seed_is_the_catalogue() -> None:
    text = SEED_PATH.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(SEED_HEADER)
    ours = [r for r in read_seed() if r["source_system"] == SOURCE_SYSTEM]
    assert ours == seed_rows(), (
        "seeds/stores.csv drifted from simulator/catalog.py; rewrite it with "
        '`python -c "from simulator.catalog import write_stores_seed; write_stores_seed()"`'
    )
    assert render_stores_seed().splitlines() == [",".join(SEED_HEADER)] + [
        line for line in text.splitlines()[1:] if line.endswith(f",{SOURCE_SYSTEM}")
    ]


def test_the_catalogue_has_fifty_european_stores() -> None:
    assert len(STORES) == 50
    assert len({s.code for s in STORES}) == 50
    assert [s.code for s in STORES[:3]] == ["mil01", "rom01", "lon01"]
    assert all(s.timezone.startswith("Europe/") for s in STORES)
    assert {s.currency for s in STORES} == {"EUR", "GBP"}
    assert all(s.opened < date(2025, 1, 1) for s in STORES)


def test_an_interrupted_run_is_picked_up_where_it_stopped(tmp_path: Path) -> None:
    world, reference = tmp_path / "w", tmp_path / "ref"
    simulate(world, stores=2, days=3, start=START, seed=8)
    body = json.loads((world / "world.json").read_text())
    # as if the run died after committing its third day, before recording it
    (world / "world.json").write_text(json.dumps({**body, "days_simulated": 2}))
    report = simulate(world, days=1)
    assert report.days_total == 4 and report.end == START + timedelta(3)
    simulate(reference, stores=2, days=4, start=START, seed=8)
    assert dump(pos_url_for(world)) == dump(pos_url_for(reference))

    (world / "world.json").write_text(json.dumps({**body, "days_simulated": 1}))
    with pytest.raises(ValueError, match="fresh"):
        simulate(world, days=1)
