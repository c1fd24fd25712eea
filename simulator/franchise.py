"""The franchise stores of the simulated world: pizza places on another, older POS that
send CSV exports instead of sharing the myPizza POS database.

Each franchise store of the catalogue (``FRANCHISE_STORES``) keeps its export in a folder
of the world's franchise bucket, ``<world>/franchise/<store_code>/``, in the old POS's
format: ``orders.csv`` (order_id,date,time in local time), ``order_details.csv``,
``pizzas.csv`` and ``pizza_types.csv``, Windows-1252 text with CRLF line endings, as the
real exports come. The export covers every simulated day: a new day's orders are added to
the end of ``orders.csv`` and ``order_details.csv`` (the lines already there stay as they
were, ids keep counting), so a pipeline reading it again sees the same ids again plus the
new ones. A file is rewritten only when its content changes.

Deterministic: a day's orders depend only on the world's seed, the store and the day,
never on how the world was stepped, and they draw nothing from the POS simulation.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from simulator.catalog import FRANCHISE_STORES, FranchiseStore, holiday_factor

BUCKET_DIR = "franchise"
ENCODING = "cp1252"


def franchise_dir(world_dir: Path) -> Path:
    """The folder of a world's franchise bucket (one sub-folder per franchise store)."""
    return Path(world_dir) / BUCKET_DIR


def franchise_bucket_url_for(world_dir: Path) -> str:
    """The fsspec URL (``file://``) of a world's franchise bucket."""
    return franchise_dir(world_dir).resolve().as_uri()


@dataclass(frozen=True)
class PizzaType:
    """A pizza of the old POS's menu: its id there, prices (store currency) per size."""

    pizza_type_id: str
    name: str
    category: str
    ingredients: str
    prices: dict[str, str]  # size -> price
    popularity: float


# The old POS's ids, as the franchise stores use them (the same software as Plato's Pizza).
FRANCHISE_MENU: list[PizzaType] = [
    PizzaType(
        "margherita",
        "The Margherita Pizza",
        "Classic",
        "Tomatoes, Mozzarella Cheese, Basil, Garlic",
        {"S": "12", "M": "16", "L": "20.5"},
        12,
    ),
    PizzaType(
        "pepperoni",
        "The Pepperoni Pizza",
        "Classic",
        "Mozzarella Cheese, Pepperoni",
        {"S": "9.75", "M": "12.5", "L": "15.25"},
        10,
    ),
    PizzaType(
        "hawaiian",
        "The Hawaiian Pizza",
        "Classic",
        "Sliced Ham, Pineapple, Mozzarella Cheese",
        {"S": "10.5", "M": "13.25", "L": "16.5"},
        8,
    ),
    PizzaType(
        "four_cheese",
        "The Four Cheese Pizza",
        "Veggie",
        "Ricotta Cheese, Gorgonzola Piccante Cheese, Mozzarella Cheese, "
        "Parmigiano Reggiano Cheese, Garlic",
        {"S": "12.75", "M": "14.75", "L": "17.95"},
        6,
    ),
    PizzaType(
        "napolitana",
        "The Napolitana Pizza",
        "Classic",
        "Tomatoes, Anchovies, Green Olives, Red Onions, Garlic",
        {"S": "12", "M": "16", "L": "20.5"},
        4,
    ),
    PizzaType(
        "ital_veggie",
        "The Italian Vegetables Pizza",
        "Veggie",
        "Eggplant, Artichokes, Tomatoes, Zucchini, Red Peppers, Garlic, Pesto Sauce",
        {"S": "12.75", "M": "16.75", "L": "21"},
        4,
    ),
    PizzaType(
        "calabrese",
        "The Calabrese Pizza",
        "Supreme",
        "\u2018Nduja Salami, Pancetta, Tomatoes, Red Onions, Friggitello Peppers, Garlic",
        {"S": "12.25", "M": "16.25", "L": "20.25"},
        5,
    ),
    PizzaType(
        "bbq_ckn",
        "The Barbecue Chicken Pizza",
        "Chicken",
        "Barbecued Chicken, Red Peppers, Green Peppers, Tomatoes, Red Onions, Barbecue Sauce",
        {"S": "12.75", "M": "16.75", "L": "20.75"},
        9,
    ),
    PizzaType(
        "the_greek",
        "The Greek Pizza",
        "Classic",
        "Kalamata Olives, Feta Cheese, Tomatoes, Garlic, Beef Chuck Roast, Red Onions",
        {"S": "12", "M": "16", "L": "20.5", "XL": "25.5"},
        3,
    ),
]
SIZE_WEIGHTS = {"S": 0.28, "M": 0.34, "L": 0.34, "XL": 0.04}
# Opening 11:00-23:00 local; orders per hour, lunch and dinner peaks.
HOUR_WEIGHTS = {
    **{11: 4, 12: 10, 13: 9, 14: 5, 15: 3, 16: 4},
    **{17: 8, 18: 10, 19: 9, 20: 6, 21: 3, 22: 1},
}
WEEKDAY_FACTORS = (0.9, 0.95, 1.0, 1.05, 1.25, 1.3, 1.0)  # Monday .. Sunday


def pizza_id(pizza: PizzaType, size: str) -> str:
    return f"{pizza.pizza_type_id}_{size.lower()}"


def _orders_of_day(seed: int, store: FranchiseStore, day: date) -> list[tuple[str, list]]:
    """The store's orders of ``day``: (local time HH:MM:SS, [(pizza_id, quantity), ...])."""
    rng = random.Random(f"franchise:{seed}:{store.code}:{day.isoformat()}")
    mean = store.daily_orders * WEEKDAY_FACTORS[day.weekday()] * holiday_factor(day, "US")
    if mean <= 0:
        return []  # closed (Christmas Day)
    count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
    hours = rng.choices(list(HOUR_WEIGHTS), weights=list(HOUR_WEIGHTS.values()), k=count)
    seconds = sorted(h * 3600 + rng.randrange(3600) for h in hours)
    weights = [p.popularity for p in FRANCHISE_MENU]
    orders = []
    for second in seconds:
        lines: dict[str, int] = {}
        for _ in range(rng.choices((1, 2, 3, 4), weights=(50, 30, 14, 6))[0]):
            pizza = rng.choices(FRANCHISE_MENU, weights=weights)[0]
            sizes = list(pizza.prices)
            size = rng.choices(sizes, weights=[SIZE_WEIGHTS[s] for s in sizes])[0]
            key = pizza_id(pizza, size)
            lines[key] = lines.get(key, 0) + (2 if rng.random() < 0.08 else 1)
        clock = f"{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}"
        orders.append((clock, list(lines.items())))
    return orders


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(ENCODING)


def export_files(seed: int, store: FranchiseStore, start: date, end: date) -> dict[str, bytes]:
    """The four files of a store's export covering ``start`` .. ``end``: name -> bytes."""
    orders, details = [], []
    day = start
    while day <= end:
        for clock, lines in _orders_of_day(seed, store, day):
            order_id = len(orders) + 1
            orders.append([order_id, day.isoformat(), clock])
            for pid, quantity in lines:
                details.append([len(details) + 1, order_id, pid, quantity])
        day += timedelta(days=1)
    pizzas = [
        [pizza_id(p, size), p.pizza_type_id, size, str(Decimal(price))]
        for p in FRANCHISE_MENU
        for size, price in p.prices.items()
    ]
    types = [[p.pizza_type_id, p.name, p.category, p.ingredients] for p in FRANCHISE_MENU]
    return {
        "orders.csv": _csv(["order_id", "date", "time"], orders),
        "order_details.csv": _csv(
            ["order_details_id", "order_id", "pizza_id", "quantity"], details
        ),
        "pizzas.csv": _csv(["pizza_id", "pizza_type_id", "size", "price"], pizzas),
        "pizza_types.csv": _csv(["pizza_type_id", "name", "category", "ingredients"], types),
    }


def write_exports(world_dir: Path, *, seed: int, start: date, end: date | None) -> int:
    """Bring every franchise store's export up to ``end``; the number of files written
    (a file whose content is unchanged is left alone, modification date included)."""
    if end is None:
        return 0
    written = 0
    for store in FRANCHISE_STORES:
        folder = franchise_dir(world_dir) / store.code
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in export_files(seed, store, start, end).items():
            path = folder / name
            if path.exists() and path.read_bytes() == data:
                continue
            partial = path.with_name(f".{name}.partial")
            partial.write_bytes(data)
            partial.replace(path)  # never a half-written file in the bucket
            written += 1
    return written
