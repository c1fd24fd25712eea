"""The simulated inventory system: deterministic, steppable, and its files follow the sales.

Runs against real worlds (a real SQLite POS, real files in the world's bucket folder)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator import bucket_url_for, pos_url_for, simulate
from simulator.catalog import MENU, SEASONAL, sku
from simulator.inventory import (
    DELIVERIES_HEADER,
    STOCK_COUNTS_HEADER,
    WASTE_HEADER,
    read_sales,
    write_bucket,
)
from simulator.pos.writer import connect
from simulator.recipes import (
    INGREDIENT_BY_CODE,
    INGREDIENTS_SEED_PATH,
    RECIPES,
    RECIPES_SEED_PATH,
    render_ingredients_seed,
    render_recipes_seed,
)
from simulator.world import load_world

START = date(2026, 3, 20)
REWRITE = (
    '`python -c "from simulator.recipes import write_inventory_seeds; write_inventory_seeds()"`'
)


def bucket_files(world: Path) -> dict[str, str]:
    """Path inside the bucket -> md5 of the content, for every file."""
    bucket = world / "bucket"
    return {
        p.relative_to(bucket).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(bucket.rglob("*"))
        if p.is_file()
    }


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def rows_of(world: Path, kind: str) -> list[dict[str, str]]:
    return [r for p in sorted((world / "bucket").glob(f"inventory/*/*/{kind}.csv"))
            for r in read_rows(p)]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Milano, Roma and London for 16 days, in one go."""
    path = tmp_path_factory.mktemp("inv") / "world"
    simulate(path, stores=3, days=16, start=START, seed=7)
    return path


# ---------------------------------------------------------------- determinism
def test_stepping_gives_the_same_files_and_leaves_old_ones_alone(
    world: Path, tmp_path: Path
) -> None:
    stepped = tmp_path / "stepped"
    simulate(stepped, stores=3, days=10, start=START, seed=7)
    written = {p: p.stat().st_mtime_ns for p in (stepped / "bucket").rglob("*") if p.is_file()}
    for days in (1, 5):
        simulate(stepped, days=days)
    assert bucket_files(stepped) == bucket_files(world)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in written.items())


def test_another_seed_gives_other_files(world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    simulate(other, stores=3, days=2, start=START, seed=8)
    mine = bucket_files(world)
    theirs = bucket_files(other)
    assert theirs and all(mine.get(path) != digest for path, digest in theirs.items())


def test_a_day_left_half_written_is_completed(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    simulate(copy, stores=3, days=4, start=START, seed=7)
    last = START + timedelta(days=3)
    (copy / "bucket" / "backups" / last.isoformat() / "inventory.parquet").unlink()
    (copy / "bucket" / "inventory" / "rom01" / last.isoformat() / "waste.csv").unlink()
    simulate(copy)  # no days: only brings the bucket up to date
    expected = {p: d for p, d in bucket_files(world).items() if p.split("/")[-2] <= str(last)}
    assert bucket_files(copy) == expected


# ---------------------------------------------------------------- layout and content
def test_the_bucket_holds_every_kind_of_file_under_dated_paths(world: Path) -> None:
    files = bucket_files(world)
    days = [START + timedelta(days=i) for i in range(16)]
    assert bucket_url_for(world) == (world / "bucket").resolve().as_uri()
    for day in days:
        assert f"backups/{day}/inventory.parquet" in files
        for store in ("mil01", "rom01", "lon01"):
            assert f"inventory/{store}/{day}/waste.csv" in files  # leftover dough, daily
    counts = [p for p in files if p.endswith("stock_counts.csv")]
    assert 3 * 16 * 0.85 < len(counts) < 3 * 16  # a count missed now and then
    assert {p.split("/")[0] for p in files} == {"inventory", "backups"}

    headers = {
        "stock_counts": STOCK_COUNTS_HEADER,
        "deliveries": DELIVERIES_HEADER,
        "waste": WASTE_HEADER,
    }
    for kind, header in headers.items():
        some = next((world / "bucket").glob(f"inventory/*/*/{kind}.csv"))
        assert some.read_text(encoding="utf-8").splitlines()[0] == ",".join(header)
    backup = pq.read_table(world / "bucket" / "backups" / str(START) / "inventory.parquet")
    assert backup.num_rows == 3 * len(INGREDIENT_BY_CODE)
    assert str(backup.schema.field("on_hand_quantity").type) == "decimal128(18, 3)"


def test_deliveries_waste_and_counts_look_like_a_bakery(world: Path) -> None:
    deliveries = rows_of(world, "deliveries")
    suppliers = {r["supplier_code"] for r in deliveries}
    assert {"MOLINO", "CASEIFICIO", "SALUMI", "ORTO", "DISPENSA", "BEVANDE"} <= suppliers
    for row in deliveries:
        ingredient = INGREDIENT_BY_CODE[row["ingredient_code"]]
        packs = Decimal(row["quantity"]) / Decimal(str(ingredient.pack_size))
        assert packs == int(packs) > 0  # whole packs
        assert row["unit"] == ingredient.unit and int(row["unit_cost_cents"]) > 0
        assert row["currency"] == ("GBP" if row["store_code"] == "lon01" else "EUR")
    costs = defaultdict(set)
    for row in deliveries:
        if row["supplier_code"] != "CASH":
            costs[row["ingredient_code"], row["currency"]].add(row["unit_cost_cents"])
    assert any(len(c) > 1 for c in costs.values())  # suppliers change prices now and then

    waste = rows_of(world, "waste")
    reasons = {r["reason"] for r in waste}
    assert {"expired", "burnt"} <= reasons <= {"expired", "burnt", "dropped", "damaged"}
    for row in waste:
        assert bool(row["ingredient_code"]) != bool(row["product_sku"])  # one or the other
        assert row["product_sku"] in RECIPES or not row["product_sku"]
    assert len({r["waste_id"] for r in waste}) == len(waste)

    counts = rows_of(world, "stock_counts")
    assert all(Decimal(r["counted_quantity"]) >= 0 for r in counts)
    by_day = defaultdict(set)
    for row in counts:
        by_day[row["store_code"], row["count_date"]].add(row["ingredient_code"])
    assert all(codes == set(INGREDIENT_BY_CODE) for codes in by_day.values())


def test_counts_follow_from_sales_through_the_recipes(world: Path) -> None:
    """Count after count, the stock moves by deliveries minus what the recipes say the
    sales took minus waste; what is left over is counting error and over-portioning."""
    engine = connect(pos_url_for(world))
    try:
        sales = read_sales(engine, START, START + timedelta(days=15))
    finally:
        engine.dispose()
    moves: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for (store, day), sold in sales.items():
        for code, units in sold.items():
            for ingredient, grams in RECIPES[code].items():
                per_unit = Decimal(str(INGREDIENT_BY_CODE[ingredient].per_recipe_unit))
                moves[store, str(day), ingredient] -= units * grams * per_unit
    for row in rows_of(world, "deliveries"):
        key = (row["store_code"], row["delivery_date"], row["ingredient_code"])
        moves[key] += Decimal(row["quantity"])
    for row in rows_of(world, "waste"):
        day = (row["store_code"], row["waste_date"])
        if row["ingredient_code"]:
            moves[(*day, row["ingredient_code"])] -= Decimal(row["quantity"])
        else:
            for ingredient, grams in RECIPES[row["product_sku"]].items():
                per_unit = Decimal(str(INGREDIENT_BY_CODE[ingredient].per_recipe_unit))
                moves[(*day, ingredient)] -= Decimal(row["quantity"]) * grams * per_unit
    counted = {
        (r["store_code"], r["count_date"], r["ingredient_code"]): Decimal(r["counted_quantity"])
        for r in rows_of(world, "stock_counts")
    }
    errors = []
    for (store, day, ingredient), quantity in counted.items():
        previous = str(date.fromisoformat(day) - timedelta(days=1))
        before = counted.get((store, previous, ingredient))
        if before is None or INGREDIENT_BY_CODE[ingredient].category == "produce":
            continue
        expected = before + moves[store, day, ingredient]
        scale = max(before, quantity, Decimal(1))
        errors.append(abs(quantity - expected) / scale)
    errors.sort()
    assert len(errors) > 1000
    assert errors[len(errors) // 2] < Decimal("0.02")  # the median day is off by < 2%
    assert errors[int(len(errors) * 0.9)] < Decimal("0.08")


def test_write_bucket_is_a_no_op_on_a_complete_world(world: Path) -> None:
    state = load_world(world)
    engine = connect(pos_url_for(world))
    try:
        report = write_bucket(
            world,
            seed=state.seed,
            start=state.start,
            store_codes=state.stores,
            end=state.end,
            engine=engine,
        )
    finally:
        engine.dispose()
    assert report.files == 0 and "up to date" in str(report)


# ---------------------------------------------------------------- the catalogue and seeds
def test_every_product_the_pos_can_sell_has_a_recipe() -> None:
    skus = {sku(item, size) for item in MENU + SEASONAL for size in item.prices}
    assert skus <= set(RECIPES)
    assert set(RECIPES) - skus == {"PREP-DOUGH"}
    for code, recipe in RECIPES.items():
        assert recipe, code
        for ingredient, quantity in recipe.items():
            assert ingredient in INGREDIENT_BY_CODE, (code, ingredient)
            assert isinstance(quantity, int) and quantity > 0  # whole grams, ml or pieces
    assert RECIPES["PZ-MARG-L"]["FLOUR"] > RECIPES["PZ-MARG-M"]["FLOUR"]
    assert RECIPES["PZ-MARG-M"]["FLOUR"] > RECIPES["PZ-MARG-S"]["FLOUR"]


def test_the_inventory_seeds_are_the_catalogue() -> None:
    for path, render in (
        (INGREDIENTS_SEED_PATH, render_ingredients_seed),
        (RECIPES_SEED_PATH, render_recipes_seed),
    ):
        assert path.read_text(encoding="utf-8") == render(), (
            f"{path.name} drifted from simulator/recipes.py; rewrite it with {REWRITE}"
        )
