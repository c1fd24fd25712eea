"""The stores' inventory system: files it drops into a bucket, day by day.

Each store's inventory system does not expose a database; it writes files into a bucket
(a folder of the world, ``<world>/bucket/``, that any object store can mirror):

- ``inventory/<store_code>/<YYYY-MM-DD>/deliveries.csv``: what suppliers delivered that
  morning (unit cost per stock unit in cents, which moves now and then), plus emergency
  purchases at the cash & carry when a store runs short; only on days with deliveries;
- ``inventory/<store_code>/<YYYY-MM-DD>/waste.csv``: what was thrown away and why
  (``expired`` ingredients and leftover dough, ``burnt`` pizzas, ``dropped`` pastries,
  ``damaged`` goods); an ingredient in stock units, or a product (sku) in pieces;
- ``inventory/<store_code>/<YYYY-MM-DD>/stock_counts.csv``: the end-of-day count of every
  ingredient, by people: small errors, now and then a slip of a digit, and a missed day
  now and then (no file);
- ``backups/<YYYY-MM-DD>/inventory.parquet``: the nightly full backup of the inventory
  system, every store and ingredient: book stock, last count, reorder point, par level and
  current cost. The system does not see sales, so its book stock only moves with counts,
  deliveries and waste.

What the stores use follows from the sales in the POS database through the recipes
(:mod:`simulator.recipes`), plus a little over-portioning that is nobody's record (some
stores are heavier-handed with cheese than others), so stock counts drift from what the
records explain by that and by counting errors only.

:func:`write_bucket` replays the whole inventory history from the POS sales every time and
writes the days whose files are missing (a day is complete once its backup exists), so a
world comes out the same whether it is simulated in one go or a day at a time, and a run
that stopped half-way is completed by the next one. Files already written are never
touched again: their modification date is what the pipeline loads incrementally on.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from statistics import fmean
from time import perf_counter
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, and_, func, select

from simulator.catalog import MENU, MENU_CHANGES, SEASONAL, STORES, Store, holiday_factor, sku
from simulator.pos.schema import metadata
from simulator.randomness import hash01, local_to_utc, poisson, rng_for
from simulator.recipes import (
    DOUGH_BALL,
    EMERGENCY_SUPPLIER,
    INGREDIENT_BY_CODE,
    INGREDIENTS,
    RECIPES,
    SUPPLIERS,
    Ingredient,
    usage_per_unit,
)

BUCKET_DIR = "bucket"

STOCK_COUNTS_HEADER = [
    "store_code",
    "count_date",
    "ingredient_code",
    "counted_quantity",
    "unit",
    "counted_at",
]
DELIVERIES_HEADER = [
    "store_code",
    "delivery_date",
    "delivery_id",
    "line_number",
    "supplier_code",
    "ingredient_code",
    "quantity",
    "unit",
    "unit_cost_cents",
    "currency",
    "received_at",
]
WASTE_HEADER = [
    "store_code",
    "waste_date",
    "waste_id",
    "ingredient_code",
    "product_sku",
    "quantity",
    "unit",
    "reason",
    "recorded_at",
]
BACKUP_SCHEMA = pa.schema(
    [
        ("backup_date", pa.date32()),
        ("store_code", pa.string()),
        ("ingredient_code", pa.string()),
        ("unit", pa.string()),
        ("on_hand_quantity", pa.decimal128(18, 3)),
        ("last_counted_date", pa.date32()),
        ("reorder_point", pa.decimal128(18, 3)),
        ("par_level", pa.decimal128(18, 3)),
        ("supplier_code", pa.string()),
        ("unit_cost_cents", pa.int64()),
        ("currency", pa.string()),
        ("exported_at", pa.timestamp("s", tz="UTC")),
    ]
)

# ---------------------------------------------------------------- knobs of the stores
FORECAST_DAYS = 7  # orders follow what the same weekdays took last week
FORECAST_MARGIN = 1.1  # plus a tenth
SAFETY_DAYS = 1  # and cover one day more than until the next delivery
DOUGH_MARGIN = 1.02  # dough balls made in the morning, per pizza expected
BURNT_RATE = 0.01  # per pizza sold
DROPPED_RATE = 0.006  # per pastry sold
DAMAGED_PER_DAY = 0.04  # a tray of something perishable ruined
COUNT_MISSED_RATE = 0.03  # store-days without a stock count
COUNT_ERROR = 0.012  # relative error of a count
COUNT_SLIP_RATE = 0.002  # a digit slipped: ten times too much or too little
PRICE_CHANGE_RATE = 1 / 40  # per ingredient per day
EMERGENCY_MARKUP = 1.25  # the cash & carry is dearer
GBP_PER_EUR = 0.86
PORTION_BIAS = {"dairy": 0.04, "meat": 0.04, "produce": 0.03}  # up to this much over recipe
PERISHABLE_DAYS = 10  # shelf life up to which a tray can be ruined


def bucket_dir(world_dir: Path) -> Path:
    """The folder the inventory systems write into."""
    return Path(world_dir) / BUCKET_DIR


def bucket_url_for(world_dir: Path) -> str:
    """The fsspec URL (``file://``) of a world's inventory bucket."""
    return bucket_dir(world_dir).resolve().as_uri()


def backup_path(bucket: Path, day: date) -> Path:
    return bucket / "backups" / day.isoformat() / "inventory.parquet"


def store_day_dir(bucket: Path, store_code: str, day: date) -> Path:
    return bucket / "inventory" / store_code / day.isoformat()


# ---------------------------------------------------------------- what the world sold
def read_sales(engine: Engine, first: date, last: date) -> dict[tuple[str, date], Counter]:
    """(store code, business day) -> units sold per sku, over the lines that count as sales
    (line not voided, order not voided), from ``first`` to ``last``."""
    t = metadata.tables
    orders, items, stores, products = t["orders"], t["order_items"], t["stores"], t["products"]
    query = (
        select(
            stores.c.store_code,
            orders.c.business_date,
            products.c.sku,
            func.sum(items.c.quantity),
        )
        .select_from(
            items.join(orders, items.c.order_id == orders.c.order_id)
            .join(stores, orders.c.store_id == stores.c.store_id)
            .join(products, items.c.product_id == products.c.product_id)
        )
        .where(
            and_(
                orders.c.business_date.between(first, last),
                orders.c.status != "voided",
                items.c.is_voided.is_(False),
            )
        )
        .group_by(stores.c.store_code, orders.c.business_date, products.c.sku)
        .order_by(stores.c.store_code, orders.c.business_date, products.c.sku)
    )
    # The replay draws random numbers in the order of each day's skus, so the order must
    # not depend on the database: a GROUP BY comes back in whatever order its plan makes
    # (hash aggregation on Postgres), and ORDER BY sorts text by the database's collation
    # (hyphens weigh nothing in en_US). Sorted again here, in Python's code-point order.
    with engine.connect() as conn:
        rows = sorted(
            (store_code, day, code, int(units))
            for store_code, day, code, units in conn.execute(query)
        )
    sales: dict[tuple[str, date], Counter] = {}
    for store_code, day, code, units in rows:
        sales.setdefault((store_code, day), Counter())[code] = units
    return sales


def active_skus(start: date, day: date) -> set[str]:
    """The skus on the menu of a world that started on ``start``, on ``day``."""
    offset = (day - start).days
    added = {c for ch in MENU_CHANGES if ch.kind == "add" and ch.offset_days <= offset
             for c in ch.items}  # fmt: skip
    retired = {c for ch in MENU_CHANGES if ch.kind == "retire" and ch.offset_days <= offset
               for c in ch.items}  # fmt: skip
    items = [i for i in MENU if i.code not in retired]
    items += [i for i in SEASONAL if i.code in added and i.code not in retired]
    return {sku(item, size) for item in items for size in item.prices}


# ---------------------------------------------------------------- one store's stock
@dataclass
class Lot:
    """What is left of one delivery of an ingredient, and the day it must go."""

    quantity: float
    expires: date


@dataclass
class StoreStock:
    """The physical stock of a store (lots, oldest first) and what its people know."""

    store: Store
    lots: dict[str, deque[Lot]] = field(default_factory=dict)
    use: dict[str, deque[float]] = field(default_factory=dict)  # recent daily use
    pizzas: deque[int] = field(default_factory=lambda: deque(maxlen=FORECAST_DAYS))
    book: dict[str, float] = field(default_factory=dict)  # the system's stock
    last_counted: dict[str, date] = field(default_factory=dict)
    par: dict[str, float] = field(default_factory=dict)
    reorder: dict[str, float] = field(default_factory=dict)
    opened_in_world: bool = False

    def on_hand(self, code: str) -> float:
        return sum(lot.quantity for lot in self.lots.get(code, ()))

    def forecast(self, code: str) -> float:
        """Mean daily use over the last week."""
        recent = self.use.get(code)
        return fmean(recent) if recent else 0.0

    def expected_use(self, code: str, days: int) -> float:
        """Use expected over the next ``days`` days: the mean of the last week, or what the
        same weekdays took last week if that is more, with a margin."""
        recent = self.use.get(code)
        if not recent:
            return 0.0
        flat = fmean(recent) * days
        if len(recent) < FORECAST_DAYS:
            return flat * FORECAST_MARGIN
        by_weekday = sum(recent[k % FORECAST_DAYS] for k in range(days))
        return max(flat, by_weekday) * FORECAST_MARGIN

    def expected_pizzas(self) -> float:
        """Pizzas expected today: between the mean of the last week and the same weekday."""
        if len(self.pizzas) < FORECAST_DAYS:
            return fmean(self.pizzas) if self.pizzas else 0.0
        return (fmean(self.pizzas) + self.pizzas[0]) / 2

    def receive(self, code: str, quantity: float, expires: date) -> None:
        self.lots.setdefault(code, deque()).append(Lot(quantity, expires))

    def take(self, code: str, quantity: float) -> None:
        """Use ``quantity`` of an ingredient, oldest lots first (there is always enough)."""
        lots = self.lots.get(code)
        while quantity > 1e-9 and lots:
            lot = lots[0]
            used = min(lot.quantity, quantity)
            lot.quantity -= used
            quantity -= used
            if lot.quantity <= 1e-9:
                lots.popleft()

    def expire(self, day: date) -> dict[str, float]:
        """Throw away every lot whose last day has passed; what went, per ingredient."""
        gone: dict[str, float] = {}
        for code, lots in self.lots.items():
            while lots and lots[0].expires <= day:
                gone[code] = gone.get(code, 0.0) + lots.popleft().quantity
            # a later lot can expire before an earlier one only if shelf life changed: no
        return {c: q for c, q in gone.items() if q > 0.0005}


@dataclass
class DayFiles:
    """The rows of one day: per store its three CSV files, and the backup rows."""

    stock_counts: dict[str, list[dict]] = field(default_factory=dict)
    deliveries: dict[str, list[dict]] = field(default_factory=dict)
    waste: dict[str, list[dict]] = field(default_factory=dict)
    backup: list[dict] = field(default_factory=list)


def _q(value: float) -> str:
    """A quantity as the inventory system writes it: three decimals."""
    return f"{value:.3f}"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _packs(quantity: float, pack: float) -> float:
    return math.ceil(quantity / pack - 1e-9) * pack


def _next_delivery_gap(weekdays: tuple[int, ...], day: date) -> int:
    """Days from ``day`` to the supplier's next delivery after it."""
    for gap in range(1, 8):
        if (day + timedelta(days=gap)).weekday() in weekdays:
            return gap
    return 7


class PriceList:
    """Suppliers' prices per stock unit, in cents: a random walk per ingredient, a step now
    and then (mostly up), the same for every store; stores in the UK pay in pounds."""

    def __init__(self, seed: int, start: date, last: date) -> None:
        self.start = start
        days = (last - start).days + 1
        self.eur: dict[str, list[int]] = {}
        for ingredient in INGREDIENTS:
            factor, walk = 1.0, []
            for offset in range(days):
                day = start + timedelta(days=offset)
                if offset and hash01(seed, "supplier-price", ingredient.code, day) < (
                    PRICE_CHANGE_RATE
                ):
                    step = rng_for(seed, "supplier-price", ingredient.code, day)
                    factor *= 1 + step.uniform(-0.03, 0.08)
                walk.append(max(1, round(ingredient.cost_cents * factor)))
            self.eur[ingredient.code] = walk

    def cents(self, code: str, day: date, currency: str) -> int:
        eur = self.eur[code][(day - self.start).days]
        return eur if currency == "EUR" else max(1, round(eur * GBP_PER_EUR))


def _portion_bias(seed: int, store: Store, ingredient: Ingredient) -> float:
    top = PORTION_BIAS.get(ingredient.category, 0.0)
    return top * hash01(seed, store.code, ingredient.code, "portion")


def _delivery_row(
    store: Store,
    day: date,
    delivery_id: str,
    supplier: str,
    code: str,
    quantity: float,
    cents: int,
    received: datetime,
) -> dict:
    return {
        "store_code": store.code,
        "delivery_date": day.isoformat(),
        "delivery_id": delivery_id,
        "line_number": 0,  # numbered per delivery when written
        "supplier_code": supplier,
        "ingredient_code": code,
        "quantity": _q(quantity),
        "unit": INGREDIENT_BY_CODE[code].unit,
        "unit_cost_cents": cents,
        "currency": store.currency,
        "received_at": _stamp(received),
    }


def _waste_row(
    store: Store,
    day: date,
    ingredient: str | None,
    product: str | None,
    quantity: float,
    reason: str,
) -> dict:
    return {
        "store_code": store.code,
        "waste_date": day.isoformat(),
        "waste_id": "",
        "ingredient_code": ingredient or "",
        "product_sku": product or "",
        "quantity": _q(quantity),
        "unit": INGREDIENT_BY_CODE[ingredient].unit if ingredient else "pcs",
        "reason": reason,
        "recorded_at": "",
    }


class Replay:
    """The inventory of every store of a world, replayed day by day from its sales."""

    def __init__(self, seed: int, start: date, store_codes: list[str], last: date) -> None:
        by_code = {s.code: s for s in STORES}
        self.seed = seed
        self.start = start
        self.stores = [StoreStock(by_code[code]) for code in store_codes]
        self.zones = {code: ZoneInfo(by_code[code].timezone) for code in store_codes}
        self.prices = PriceList(seed, start, last)
        self.bias = {
            (s.store.code, i.code): _portion_bias(seed, s.store, i)
            for s in self.stores
            for i in INGREDIENTS
        }
        self.per_unit = {code: usage_per_unit(code) for code in RECIPES}

    def day(self, day: date, sales: dict[tuple[str, date], Counter]) -> DayFiles:
        files = DayFiles()
        for stock in self.stores:
            self._store_day(stock, day, sales.get((stock.store.code, day), Counter()), files)
        exported = datetime.combine(day + timedelta(days=1), time(2, 30), tzinfo=UTC)
        for stock in self.stores:
            store = stock.store
            for ingredient in INGREDIENTS:
                code = ingredient.code
                files.backup.append(
                    {
                        "backup_date": day,
                        "store_code": store.code,
                        "ingredient_code": code,
                        "unit": ingredient.unit,
                        "on_hand_quantity": _q(max(0.0, stock.book.get(code, 0.0))),
                        "last_counted_date": stock.last_counted.get(code),
                        "reorder_point": _q(stock.reorder.get(code, 0.0)),
                        "par_level": _q(stock.par.get(code, 0.0)),
                        "supplier_code": ingredient.supplier,
                        "unit_cost_cents": self.prices.cents(code, day, store.currency),
                        "currency": store.currency,
                        "exported_at": exported,
                    }
                )
        return files

    # -------------------------------------------------------------- a store's day
    def _usage(self, stock: StoreStock, sold: Counter, rng: random.Random) -> dict[str, float]:
        """What the day's sales really took: the recipes, plus some over-portioning."""
        used: dict[str, float] = {}
        for code, units in sold.items():
            for ingredient, per_unit in self.per_unit[code].items():
                used[ingredient] = used.get(ingredient, 0.0) + units * per_unit
        for ingredient in used:
            bias = self.bias[stock.store.code, ingredient]
            if bias:
                used[ingredient] *= 1 + max(0.0, bias + rng.gauss(0, 0.004))
        return used

    def _store_day(self, stock: StoreStock, day: date, sold: Counter, files: DayFiles) -> None:
        store = stock.store
        if day < store.opened or holiday_factor(day, store.country) == 0:
            return  # closed: nobody delivers, throws away or counts
        rng = rng_for(self.seed, store.code, day, "inventory")
        zone = self.zones[store.code]
        first_day = not stock.opened_in_world
        stock.opened_in_world = True

        # what the day will take: sales, dough left over, burnt and dropped products
        used = self._usage(stock, sold, rng)
        pizzas = sum(n for code, n in sold.items() if code.startswith("PZ-"))
        expected = stock.expected_pizzas() if stock.pizzas else pizzas
        dough_left = max(0, math.ceil(expected * DOUGH_MARGIN) - pizzas)
        products_wasted: list[tuple[str, int, str]] = []
        if dough_left:
            products_wasted.append((DOUGH_BALL, dough_left, "expired"))
        for reason, rate, prefix in (
            ("burnt", BURNT_RATE, "PZ-"),
            ("dropped", DROPPED_RATE, "PA-"),
        ):
            candidates = sorted(c for c in sold if c.startswith(prefix))
            n = poisson(rng, rate * sum(sold[c] for c in candidates))
            if n and candidates:
                picks = Counter(rng.choices(candidates, weights=[sold[c] for c in candidates], k=n))
                products_wasted += [(c, k, reason) for c, k in sorted(picks.items())]
        needed = dict(used)
        for code, units, _ in products_wasted:
            for ingredient, per_unit in self.per_unit[code].items():
                needed[ingredient] = needed.get(ingredient, 0.0) + units * per_unit

        # morning deliveries, then the cash & carry if something would run out
        deliveries = self._deliveries(stock, day, first_day, needed, rng)
        short = {c: q - stock.on_hand(c) for c, q in needed.items() if q > stock.on_hand(c) + 1e-9}
        if short:
            deliveries += self._emergency(stock, day, short, rng)
        line_numbers: Counter = Counter()
        for row in deliveries:
            line_numbers[row["delivery_id"]] += 1
            row["line_number"] = line_numbers[row["delivery_id"]]
        for code, quantity in needed.items():
            stock.take(code, quantity)

        # a tray of something perishable ruined, then what expires tonight
        waste_rows: list[dict] = []
        ingredient_waste: dict[str, float] = {}
        if rng.random() < DAMAGED_PER_DAY:
            fresh = [
                i.code
                for i in INGREDIENTS
                if i.shelf_life_days <= PERISHABLE_DAYS and stock.on_hand(i.code) > 0.05
            ]
            if fresh:
                code = rng.choice(fresh)
                quantity = round(stock.on_hand(code) * rng.uniform(0.05, 0.2), 3)
                if quantity > 0:
                    stock.take(code, quantity)
                    ingredient_waste[code] = quantity
                    waste_rows.append(_waste_row(store, day, code, None, quantity, "damaged"))
        for code, quantity in sorted(stock.expire(day).items()):
            quantity = round(quantity, 3)
            ingredient_waste[code] = ingredient_waste.get(code, 0.0) + quantity
            waste_rows.append(_waste_row(store, day, code, None, quantity, "expired"))
        for code, units, reason in products_wasted:
            waste_rows.append(_waste_row(store, day, None, code, units, reason))
            for ingredient, per_unit in self.per_unit[code].items():
                ingredient_waste[ingredient] = ingredient_waste.get(ingredient, 0.0) + (
                    units * per_unit
                )
        for n, row in enumerate(waste_rows, start=1):
            row["waste_id"] = f"{store.code}-{day:%Y%m%d}-W{n:03d}"
            seconds = (
                rng.randrange(22 * 3600, 23 * 3600)
                if row["reason"] == "expired"
                else (rng.randrange(11 * 3600, 22 * 3600))
            )
            row["recorded_at"] = _stamp(local_to_utc(day, seconds, zone))

        # the count after closing (unless nobody did it), and what the system books
        counted = self._count(stock, day, rng) if not self._count_missed(store, day) else {}
        delivered: dict[str, float] = {}
        for row in deliveries:
            delivered[row["ingredient_code"]] = delivered.get(row["ingredient_code"], 0.0) + float(
                row["quantity"]
            )
        for ingredient in INGREDIENTS:
            code = ingredient.code
            if code in counted:
                stock.book[code] = counted[code]
                stock.last_counted[code] = day
            else:
                stock.book[code] = (
                    stock.book.get(code, 0.0)
                    + delivered.get(code, 0.0)
                    - ingredient_waste.get(code, 0.0)
                )
        for code, quantity in needed.items():
            stock.use.setdefault(code, deque(maxlen=FORECAST_DAYS)).append(quantity)
        for code, recent in stock.use.items():
            if code not in needed:
                recent.append(0.0)
        stock.pizzas.append(pizzas)

        code = store.code
        if deliveries:
            files.deliveries[code] = deliveries
        if waste_rows:
            files.waste[code] = waste_rows
        if counted:
            at = _stamp(local_to_utc(day, 23 * 3600 + rng.randrange(600, 3000), zone))
            files.stock_counts[code] = [
                {
                    "store_code": code,
                    "count_date": day.isoformat(),
                    "ingredient_code": c,
                    "counted_quantity": _q(q),
                    "unit": INGREDIENT_BY_CODE[c].unit,
                    "counted_at": at,
                }
                for c, q in counted.items()
            ]

    def _deliveries(
        self, stock: StoreStock, day: date, first_day: bool, needed: dict[str, float],
        rng: random.Random,
    ) -> list[dict]:  # fmt: skip
        """The suppliers due today deliver what brings each ingredient up to its par level:
        the recent mean use times the days until their next delivery, plus a safety day.
        A store's first day in the world gets an opening delivery from every supplier, sized
        on that day's needs. Whatever the menu will need by the next delivery (a seasonal
        pizza about to be launched) is stocked at least one pack."""
        store = stock.store
        rows: list[dict] = []
        for supplier in SUPPLIERS:
            if supplier.emergency or not (first_day or day.weekday() in supplier.weekdays):
                continue
            gap = _next_delivery_gap(supplier.weekdays, day)
            menu = active_skus(self.start, day) | active_skus(self.start, day + timedelta(gap))
            on_menu = {i for code in menu | {DOUGH_BALL} for i in RECIPES[code]}
            seconds = rng.randrange(6 * 3600 + 1800, 9 * 3600 + 1800)
            received = local_to_utc(day, seconds, self.zones[store.code])
            delivery_id = f"{store.code}-{day:%Y%m%d}-{supplier.code}"
            for ingredient in INGREDIENTS:
                if ingredient.supplier != supplier.code:
                    continue
                code = ingredient.code
                par = stock.expected_use(code, gap + SAFETY_DAYS)
                if first_day:
                    par = max(par, needed.get(code, 0.0) * (gap + SAFETY_DAYS) * FORECAST_MARGIN)
                if code in on_menu:
                    par = max(par, ingredient.pack_size)
                stock.par[code] = par
                stock.reorder[code] = stock.expected_use(code, 2)
                missing = par - stock.on_hand(code)
                if missing <= 1e-9:
                    continue
                quantity = _packs(missing, ingredient.pack_size)
                stock.receive(code, quantity, day + timedelta(days=ingredient.shelf_life_days))
                cents = self.prices.cents(code, day, store.currency)
                rows.append(
                    _delivery_row(store, day, delivery_id, supplier.code, code, quantity, cents,
                                  received)
                )  # fmt: skip
        return rows

    def _emergency(
        self, stock: StoreStock, day: date, short: dict[str, float], rng: random.Random
    ) -> list[dict]:
        """Buy what is missing at the cash & carry, in whole packs, with half a day to spare."""
        store = stock.store
        seconds = rng.randrange(11 * 3600, 15 * 3600)
        received = local_to_utc(day, seconds, self.zones[store.code])
        delivery_id = f"{store.code}-{day:%Y%m%d}-{EMERGENCY_SUPPLIER}"
        rows = []
        for code in sorted(short):
            ingredient = INGREDIENT_BY_CODE[code]
            quantity = _packs(short[code] + 0.5 * stock.forecast(code), ingredient.pack_size)
            stock.receive(code, quantity, day + timedelta(days=ingredient.shelf_life_days))
            cents = round(self.prices.cents(code, day, store.currency) * EMERGENCY_MARKUP)
            rows.append(
                _delivery_row(store, day, delivery_id, EMERGENCY_SUPPLIER, code, quantity, cents,
                              received)
            )  # fmt: skip
        return rows

    def _count_missed(self, store: Store, day: date) -> bool:
        return hash01(self.seed, store.code, day, "count-missed") < COUNT_MISSED_RATE

    def _count(self, stock: StoreStock, day: date, rng: random.Random) -> dict[str, float]:
        """What people count after closing: near the truth, to the ingredient's precision."""
        counted = {}
        for ingredient in INGREDIENTS:
            true = stock.on_hand(ingredient.code)
            seen = true * (1 + rng.gauss(0, COUNT_ERROR)) if true > 0 else 0.0
            if true > 0 and rng.random() < COUNT_SLIP_RATE:
                seen *= rng.choice((10.0, 0.1))
            step = ingredient.count_step
            counted[ingredient.code] = round(max(0.0, round(seen / step) * step), 3)
        return counted


# ---------------------------------------------------------------- the bucket on disk
@dataclass
class BucketReport:
    """What one call of :func:`write_bucket` wrote."""

    bucket: Path
    days: int = 0
    files: int = 0
    rows: Counter = field(default_factory=Counter)  # rows per file kind
    seconds: float = 0.0

    def __str__(self) -> str:
        if not self.files:
            return f"inventory bucket {self.bucket}: up to date"
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(self.rows.items()))
        return (
            f"inventory bucket {self.bucket}: {self.files:,} files for {self.days} day(s) "
            f"in {self.seconds:.1f}s (rows: {kinds})"
        )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render_csv(header: list[str], rows: list[dict]) -> bytes:
    """CSV bytes as the inventory system writes them: a header, one line per row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def render_backup(rows: list[dict]) -> bytes:
    """Parquet bytes of a nightly backup (quantities are strings of three decimals)."""
    names = BACKUP_SCHEMA.names
    arrays = []
    for name in names:
        values = [row[name] for row in rows]
        kind = BACKUP_SCHEMA.field(name).type
        if pa.types.is_decimal(kind):
            arrays.append(pa.array(values, pa.string()).cast(kind))
        else:
            arrays.append(pa.array(values, kind))
    table = pa.Table.from_arrays(arrays, schema=BACKUP_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _write_day(bucket: Path, day: date, files: DayFiles, report: BucketReport) -> None:
    """Write one day's files; the backup last, so a day with a backup is complete."""
    for kind, header, by_store in (
        ("deliveries", DELIVERIES_HEADER, files.deliveries),
        ("waste", WASTE_HEADER, files.waste),
        ("stock_counts", STOCK_COUNTS_HEADER, files.stock_counts),
    ):
        for store_code, rows in sorted(by_store.items()):
            path = store_day_dir(bucket, store_code, day) / f"{kind}.csv"
            _write_atomically(path, render_csv(header, rows))
            report.files += 1
            report.rows[kind] += len(rows)
    _write_atomically(backup_path(bucket, day), render_backup(files.backup))
    report.files += 1
    report.rows["backups"] += len(files.backup)


def write_bucket(
    world_dir: Path,
    *,
    seed: int,
    start: date,
    store_codes: list[str],
    end: date | None,
    engine: Engine,
    progress: Callable[[str], None] | None = None,
) -> BucketReport:
    """Write the inventory files of every day from ``start`` to ``end`` that has none yet.

    The inventory is replayed from the first day on the POS sales of ``engine`` (cheap: the
    sales are read in one query), so the files of a day never depend on how the world was
    stepped. Days already written (their backup exists) are left alone.
    """
    started = perf_counter()
    bucket = bucket_dir(world_dir)
    report = BucketReport(bucket)
    if end is None:
        return report
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    missing = {day for day in days if not backup_path(bucket, day).exists()}
    if not missing:
        return report
    sales = read_sales(engine, start, end)
    replay = Replay(seed, start, store_codes, end)
    for day in days:
        files = replay.day(day, sales)
        if day in missing:
            _write_day(bucket, day, files, report)
            report.days += 1
    report.seconds = perf_counter() - started
    if progress:
        progress(str(report))
    return report
