"""The myPizza catalogue: stores, menu, dated menu changes and the holiday calendar.

Static reference data the simulator draws from. A world with ``stores=N`` trades the first
N stores of :data:`STORES` (ordered so that a small world already spans Italy and the UK).
The dbt seed ``seeds/stores.csv`` is rendered from :data:`STORES` by
:func:`render_stores_seed`; rewrite it with
``python -c "from simulator.catalog import write_stores_seed; write_stores_seed()"``.

Menu changes (:data:`MENU_CHANGES`) are dated relative to a world's first day, so every
default world (90 days) shows the first four of them:

- start + 30 days: pizza prices up 5%
- start + 45 days: seasonal pizza Zucca e Salsiccia (S/M/L) added to the menu
- start + 60 days: drink prices up 10%
- start + 75 days: Tonno e Cipolla retired (``is_active`` false)
- start + 150 days: the seasonal pizza retired
- start + 240 days: bread and pastry prices up 8%
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SOURCE_SYSTEM = "mypizza_pos"
SEED_HEADER = [
    "store_code",
    "store_name",
    "city",
    "region",
    "country",
    "timezone",
    "currency",
    "opened_date",
    "seats",
    "source_system",
]
SEED_PATH = Path(__file__).resolve().parents[1] / "seeds" / "stores.csv"

TIMEZONES = {
    "IT": "Europe/Rome",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "AT": "Europe/Vienna",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
}


@dataclass(frozen=True)
class Store:
    """One store of the chain, as the head office knows it."""

    code: str
    name: str
    city: str
    region: str
    country: str  # ISO 3166-1 alpha-2
    opened: date
    seats: int

    @property
    def timezone(self) -> str:
        return TIMEZONES[self.country]

    @property
    def currency(self) -> str:
        return "GBP" if self.country == "GB" else "EUR"


def _s(
    code: str, name: str, city: str, region: str, country: str, opened: str, seats: int
) -> Store:
    return Store(code, f"myPizza {name}", city, region, country, date.fromisoformat(opened), seats)


# Order matters: a world with stores=N uses the first N.
STORES: list[Store] = [
    _s("mil01", "Milano Brera", "Milano", "North", "IT", "2009-04-18", 64),
    _s("rom01", "Roma Trastevere", "Roma", "Centre", "IT", "2011-05-20", 72),
    _s("lon01", "London Soho", "London", "UK", "GB", "2016-09-12", 58),
    _s("nap01", "Napoli Chiaia", "Napoli", "South", "IT", "2012-03-09", 80),
    _s("tor01", "Torino Po", "Torino", "North", "IT", "2013-10-04", 48),
    _s("ber01", "Berlin Mitte", "Berlin", "DACH", "DE", "2018-04-20", 60),
    _s("mad01", "Madrid Malasaña", "Madrid", "Iberia", "ES", "2019-02-15", 56),
    _s("par01", "Paris Marais", "Paris", "France", "FR", "2018-10-05", 50),
    _s("flo01", "Firenze Santo Spirito", "Firenze", "Centre", "IT", "2012-06-22", 52),
    _s("bol01", "Bologna Università", "Bologna", "North", "IT", "2014-01-24", 46),
    _s("mil02", "Milano Navigli", "Milano", "North", "IT", "2014-09-19", 70),
    _s("rom02", "Roma Prati", "Roma", "Centre", "IT", "2015-04-17", 60),
    _s("lon02", "London Shoreditch", "London", "UK", "GB", "2017-11-03", 54),
    _s("mun01", "München Schwabing", "München", "DACH", "DE", "2019-05-10", 62),
    _s("bcn01", "Barcelona Gràcia", "Barcelona", "Iberia", "ES", "2019-09-27", 58),
    _s("ven01", "Venezia Cannaregio", "Venezia", "North", "IT", "2015-07-03", 36),
    _s("gen01", "Genova Porto Antico", "Genova", "North", "IT", "2016-03-11", 44),
    _s("bar01", "Bari Murat", "Bari", "South", "IT", "2016-05-27", 50),
    _s("pal01", "Palermo Politeama", "Palermo", "South", "IT", "2017-02-10", 54),
    _s("man01", "Manchester Northern Quarter", "Manchester", "UK", "GB", "2019-06-14", 52),
    _s("ams01", "Amsterdam Jordaan", "Amsterdam", "Benelux", "NL", "2020-02-07", 42),
    _s("vie01", "Wien Neubau", "Wien", "DACH", "AT", "2020-09-18", 48),
    _s("lis01", "Lisboa Chiado", "Lisboa", "Iberia", "PT", "2021-04-23", 44),
    _s("dub01", "Dublin Temple Bar", "Dublin", "Ireland", "IE", "2021-08-20", 46),
    _s("mil03", "Milano Isola", "Milano", "North", "IT", "2017-03-24", 50),
    _s("rom03", "Roma Testaccio", "Roma", "Centre", "IT", "2018-06-08", 58),
    _s("ver01", "Verona Arena", "Verona", "North", "IT", "2018-09-14", 46),
    _s("ham01", "Hamburg Schanze", "Hamburg", "DACH", "DE", "2020-05-29", 52),
    _s("lyo01", "Lyon Presqu'île", "Lyon", "France", "FR", "2020-10-09", 46),
    _s("edi01", "Edinburgh Old Town", "Edinburgh", "UK", "GB", "2021-03-26", 44),
    _s("cat01", "Catania Etnea", "Catania", "South", "IT", "2018-11-30", 48),
    _s("pis01", "Pisa Borgo Stretto", "Pisa", "Centre", "IT", "2019-04-12", 38),
    _s("bru01", "Bruxelles Sablon", "Bruxelles", "Benelux", "BE", "2021-06-11", 46),
    _s("val01", "València Russafa", "València", "Iberia", "ES", "2021-10-01", 50),
    _s("lon03", "London Clapham", "London", "UK", "GB", "2020-07-17", 48),
    _s("fra01", "Frankfurt Sachsenhausen", "Frankfurt am Main", "DACH", "DE", "2021-11-19", 50),
    _s("mil04", "Milano Porta Romana", "Milano", "North", "IT", "2022-02-18", 54),
    _s("nap02", "Napoli Vomero", "Napoli", "South", "IT", "2019-12-06", 62),
    _s("bgy01", "Bergamo Città Alta", "Bergamo", "North", "IT", "2022-04-08", 40),
    _s("per01", "Perugia Corso Vannucci", "Perugia", "Centre", "IT", "2022-05-20", 36),
    _s("par02", "Paris Montmartre", "Paris", "France", "FR", "2022-06-24", 44),
    _s("bri01", "Bristol Harbourside", "Bristol", "UK", "GB", "2022-09-09", 46),
    _s("col01", "Köln Belgisches Viertel", "Köln", "DACH", "DE", "2022-10-14", 48),
    _s("sev01", "Sevilla Triana", "Sevilla", "Iberia", "ES", "2023-02-24", 52),
    _s("nic01", "Nice Vieux-Nice", "Nice", "France", "FR", "2023-04-14", 42),
    _s("rom04", "Roma San Lorenzo", "Roma", "Centre", "IT", "2023-05-26", 50),
    _s("tor02", "Torino San Salvario", "Torino", "North", "IT", "2023-09-15", 44),
    _s("lon04", "London Camden", "London", "UK", "GB", "2023-10-20", 50),
    _s("cag01", "Cagliari Marina", "Cagliari", "South", "IT", "2024-03-15", 40),
    _s("por01", "Porto Ribeira", "Porto", "Iberia", "PT", "2024-05-17", 42),
]
MAX_STORES = len(STORES)


FRANCHISE_SOURCE_SYSTEM = "franchise_csv"


@dataclass(frozen=True)
class FranchiseStore:
    """A franchise store: on another, older POS, sending CSV exports (simulator/franchise.py)
    in its own currency, prices as its menu (``FRANCHISE_MENU``) says. Every world has them."""

    code: str
    name: str
    city: str
    region: str
    country: str
    timezone: str
    currency: str
    opened: date
    seats: int
    daily_orders: int  # orders on an ordinary weekday


FRANCHISE_STORES: list[FranchiseStore] = [
    FranchiseStore(
        "tonys",
        "Tony's Pizza Hoboken",
        "Hoboken",
        "New Jersey",
        "US",
        "America/New_York",
        "USD",
        date(2012, 6, 1),
        40,
        45,
    ),
]


# ---------------------------------------------------------------- menu
# Hour buckets used for what people buy: morning 10-11, lunch 12-14, afternoon 15-17,
# evening 18-22 (local time).
BUCKETS = ("morning", "lunch", "afternoon", "evening")


@dataclass(frozen=True)
class MenuItem:
    """A kind of product; pizzas and some drinks come in sizes (one product row per size)."""

    code: str  # sku stem, e.g. PZ-MARG
    name: str
    category: str  # pizza | bread | pastry | drink
    prices: dict[str | None, int]  # size (or None) -> price in cents
    weights: tuple[float, float, float, float]  # popularity within category, per bucket


def _pizza(code: str, name: str, medium: int, popularity: float) -> MenuItem:
    prices = {"S": medium - 200, "M": medium, "L": medium + 300}
    return MenuItem(f"PZ-{code}", f"Pizza {name}", "pizza", prices, (popularity,) * 4)


def _item(code: str, name: str, category: str, price: int, weights: tuple) -> MenuItem:
    return MenuItem(code, name, category, {None: price}, weights)


MENU: list[MenuItem] = [
    _pizza("MARG", "Margherita", 850, 20),
    _pizza("MARI", "Marinara", 750, 6),
    _pizza("DIAV", "Diavola", 1050, 14),
    _pizza("CAPR", "Capricciosa", 1150, 9),
    _pizza("QFOR", "Quattro Formaggi", 1150, 9),
    _pizza("PROS", "Prosciutto e Funghi", 1100, 10),
    _pizza("BUFA", "Bufala", 1250, 8),
    _pizza("NAPO", "Napoletana", 1000, 5),
    _pizza("VEGE", "Vegetariana", 1050, 6),
    _pizza("TONN", "Tonno e Cipolla", 1050, 4),
    _pizza("SALS", "Salsiccia e Friarielli", 1200, 6),
    _pizza("CALZ", "Calzone", 1100, 5),
    _item("BR-FOCC", "Focaccia Genovese", "bread", 350, (6, 10, 8, 5)),
    _item("BR-FOCR", "Focaccia al Rosmarino", "bread", 380, (4, 7, 6, 4)),
    _item("BR-PANE", "Pane Casereccio", "bread", 450, (5, 3, 6, 2)),
    _item("BR-GRIS", "Grissini Torinesi", "bread", 250, (2, 3, 3, 5)),
    _item("PA-CORN", "Cornetto", "pastry", 150, (14, 2, 4, 1)),
    _item("PA-BOMB", "Bombolone", "pastry", 200, (6, 2, 5, 1)),
    _item("PA-SFOG", "Sfogliatella", "pastry", 250, (5, 3, 4, 2)),
    _item("PA-CANN", "Cannolo Siciliano", "pastry", 350, (2, 4, 5, 5)),
    _item("PA-TIRA", "Tiramisù", "pastry", 550, (1, 5, 4, 8)),
    _item("DR-ESPR", "Espresso", "drink", 150, (14, 6, 7, 2)),
    _item("DR-CAPP", "Cappuccino", "drink", 220, (12, 1, 3, 0.5)),
    _item("DR-ACQU", "Acqua Naturale", "drink", 150, (4, 8, 5, 6)),
    MenuItem("DR-ARAN", "Aranciata", "drink", {"S": 250, "M": 350, "L": 450}, (2, 5, 5, 5)),
    MenuItem("DR-COLA", "Cola", "drink", {"S": 250, "M": 350, "L": 450}, (2, 7, 6, 8)),
    MenuItem("DR-BIRR", "Birra alla Spina", "drink", {"M": 450, "L": 650}, (0, 4, 2, 12)),
    _item("DR-VINO", "Vino della Casa", "drink", 550, (0, 2, 1, 6)),
]
SEASONAL: list[MenuItem] = [_pizza("ZUCC", "Zucca e Salsiccia", 1250, 7)]

# Size mix: how often each size is chosen, per category.
SIZE_WEIGHTS = {
    "pizza": {"S": 0.22, "M": 0.50, "L": 0.28},
    "drink": {"S": 0.30, "M": 0.45, "L": 0.25},
}


@dataclass(frozen=True)
class MenuChange:
    """A dated change to the menu, applied to ``products`` by UPDATE (or INSERT for ``add``).

    ``kind``: ``reprice`` (category prices times ``factor``, rounded to 10 cents, active
    products only), ``add`` (the items' products appear) or ``retire`` (``is_active`` false).
    """

    offset_days: int  # days after the world's first day
    kind: str
    description: str
    category: str | None = None
    factor: float = 1.0
    items: tuple[str, ...] = ()


MENU_CHANGES: list[MenuChange] = [
    MenuChange(30, "reprice", "pizza prices up 5%", category="pizza", factor=1.05),
    MenuChange(45, "add", "seasonal pizza Zucca e Salsiccia added", items=("PZ-ZUCC",)),
    MenuChange(60, "reprice", "drink prices up 10%", category="drink", factor=1.10),
    MenuChange(75, "retire", "Pizza Tonno e Cipolla retired", items=("PZ-TONN",)),
    MenuChange(150, "retire", "seasonal pizza Zucca e Salsiccia retired", items=("PZ-ZUCC",)),
    MenuChange(240, "reprice", "bread prices up 8%", category="bread", factor=1.08),
    MenuChange(240, "reprice", "pastry prices up 8%", category="pastry", factor=1.08),
]


def menu_changes_on(start: date, day: date) -> list[MenuChange]:
    """The menu changes of a world that started on ``start`` that take effect on ``day``."""
    return [c for c in MENU_CHANGES if start + timedelta(days=c.offset_days) == day]


def sku(item: MenuItem, size: str | None) -> str:
    return item.code if size is None else f"{item.code}-{size}"


# ---------------------------------------------------------------- calendar
def easter(year: int) -> date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


# (month, day) -> demand factor; 0 means every store is closed.
HOLIDAYS: dict[tuple[int, int], float] = {
    (1, 1): 0.55,  # New Year's Day: late risers
    (2, 14): 1.35,  # Valentine's Day
    (10, 31): 1.15,  # Halloween
    (12, 24): 0.85,  # Christmas Eve: family dinners at home
    (12, 25): 0.0,  # Christmas Day: closed
    (12, 26): 0.75,
    (12, 31): 1.5,  # New Year's Eve
}
COUNTRY_HOLIDAYS: dict[str, dict[tuple[int, int], float]] = {
    "IT": {(8, 15): 0.55, (4, 25): 1.1, (6, 2): 1.1},  # Ferragosto: cities empty
    "GB": {(11, 5): 1.2},  # Bonfire Night
    "FR": {(7, 14): 1.2},
    "ES": {(1, 6): 0.8},
    "DE": {(10, 3): 1.1},
}


def holiday_factor(day: date, country: str) -> float:
    """Demand factor of a calendar day for a store in ``country`` (1.0 on ordinary days)."""
    key = (day.month, day.day)
    factor = HOLIDAYS.get(key, 1.0) * COUNTRY_HOLIDAYS.get(country, {}).get(key, 1.0)
    sunday = easter(day.year)
    if day == sunday:
        factor *= 0.7
    elif day == sunday + timedelta(days=1):
        factor *= 1.25 if country == "IT" else 1.05  # Pasquetta: picnics and pizza
    return factor


# ---------------------------------------------------------------- the dbt seed
def _seed_rows(stores, source_system: str) -> list[dict[str, str]]:
    """Rows of ``seeds/stores.csv`` for ``stores`` of ``source_system``."""
    return [
        {
            "store_code": s.code,
            "store_name": s.name,
            "city": s.city,
            "region": s.region,
            "country": s.country,
            "timezone": s.timezone,
            "currency": s.currency,
            "opened_date": s.opened.isoformat(),
            "seats": str(s.seats),
            "source_system": source_system,
        }
        for s in stores
    ]


def seed_rows() -> list[dict[str, str]]:
    """The rows of ``seeds/stores.csv`` that describe the chain's own (POS) stores."""
    return _seed_rows(STORES, SOURCE_SYSTEM)


def render_stores_seed(other_rows: list[dict[str, str]] | None = None) -> str:
    """CSV text of the stores seed: every catalogue store, then ``other_rows`` (stores of
    other source systems, e.g. a franchise, kept as they are)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SEED_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(seed_rows())
    writer.writerows(other_rows or [])
    return out.getvalue()


def read_seed(path: Path = SEED_PATH) -> list[dict[str, str]]:
    """Rows of a stores seed file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def franchise_seed_rows() -> list[dict[str, str]]:
    """The rows of ``seeds/stores.csv`` that describe the catalogue's franchise stores."""
    return _seed_rows(FRANCHISE_STORES, FRANCHISE_SOURCE_SYSTEM)


def write_stores_seed(path: Path = SEED_PATH) -> None:
    """Rewrite the stores seed from the catalogue, keeping rows of other source systems
    (e.g. franchise stores outside the simulation) and adding the catalogue's franchise
    stores after them."""
    ours = {r["store_code"] for r in franchise_seed_rows()}
    others = []
    if path.exists():
        others = [
            r
            for r in read_seed(path)
            if r.get("source_system") != SOURCE_SYSTEM and r["store_code"] not in ours
        ]
    path.write_text(render_stores_seed(others + franchise_seed_rows()), encoding="utf-8")
