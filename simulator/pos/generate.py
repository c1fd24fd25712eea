"""Demand and orders: what happens in the myPizza world on one business day.

:func:`simulate_day` turns the world's in-memory state (:class:`PosState`, always equal to
what :mod:`simulator.pos.writer` reads back from the POS database) into the rows a real POS
would insert and update that day, in this order:

1. menu changes dated that day (prices, new and retired products), stamped 06:00 UTC,
   before any store opens;
2. yesterday's late deliveries (``in_delivery``) confirmed ``completed``;
3. refunds of orders of the last three days (~1.5% of completed orders, 1-3 days later);
4. loyalty customers changing email or tier;
5. the day's orders, lines and payments, store by store, hour by hour;
6. new loyalty sign-ups.

Every random draw comes from a generator seeded by (world seed, store, day, purpose), or by
(world seed, purpose, order id) for the fate of an existing order, so a day comes out the
same whether the world is simulated in one go or advanced a day at a time. Updates made on
day D are stamped during day D's trading hours, later than anything written on D - 1.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from simulator import people
from simulator.catalog import (
    BUCKETS,
    MENU,
    SEASONAL,
    SIZE_WEIGHTS,
    MenuItem,
    Store,
    holiday_factor,
    menu_changes_on,
    sku,
)
from simulator.randomness import hash01, local_to_utc, poisson, rng_for

# ---------------------------------------------------------------- knobs of the world
OPEN_HOUR, CLOSE_HOUR = 10, 23  # local trading hours: orders from 10:00 to 22:59
HOUR_WEIGHTS = [3, 5, 12, 13, 6, 3, 3, 4, 8, 14, 15, 10, 4]  # 10:00 .. 22:00
HOURS = list(range(OPEN_HOUR, CLOSE_HOUR))
HOUR_CUM = list(accumulate(HOUR_WEIGHTS))
BUCKET_OF_HOUR = {h: 0 if h < 12 else 1 if h < 15 else 2 if h < 18 else 3 for h in HOURS}
WEEKDAY = [0.82, 0.86, 0.92, 1.0, 1.28, 1.38, 1.08]  # Monday .. Sunday
MONTH = [0.88, 0.92, 0.97, 1.0, 1.04, 1.06, 1.04, 0.95, 1.0, 1.0, 0.95, 1.08]
GROWTH_PER_YEAR = 0.05
RAMP_UP_DAYS = 120  # a new store reaches full trade in its first months

CHANNELS = ("walk_in", "phone", "web", "delivery_app")
CHANNEL_MIX = [  # per bucket: walk_in, phone, web, delivery_app
    (0.74, 0.04, 0.10, 0.12),
    (0.50, 0.10, 0.18, 0.22),
    (0.58, 0.08, 0.15, 0.19),
    (0.34, 0.12, 0.24, 0.30),
]
DELIVERY_HEAVY = {"GB", "IE"}  # more app deliveries, fewer walk-ins
CHANNEL_CUM = {  # (bucket, delivery heavy) -> cumulative weights
    (b, heavy): list(accumulate((w - 0.08 * heavy, p, web, app + 0.08 * heavy)))
    for b, (w, p, web, app) in enumerate(CHANNEL_MIX)
    for heavy in (False, True)
}
CUSTOMER_RATE = {"walk_in": 0.30, "phone": 0.35, "web": 0.62, "delivery_app": 0.05}
CARD_RATE = {"GB": 0.92, "IE": 0.9, "NL": 0.93, "DE": 0.55, "AT": 0.58, "IT": 0.64}
LINES_CUM = {
    "walk_in": list(accumulate([0.45, 0.30, 0.15, 0.07, 0.03])),
    "other": list(accumulate([0.22, 0.30, 0.24, 0.15, 0.09])),
}
QTY_CUM = list(accumulate([0.80, 0.13, 0.05, 0.02]))
CATEGORY_MIX = [  # per bucket
    {"pastry": 0.40, "bread": 0.15, "drink": 0.38, "pizza": 0.07},
    {"pizza": 0.52, "bread": 0.18, "drink": 0.25, "pastry": 0.05},
    {"pastry": 0.30, "bread": 0.22, "drink": 0.30, "pizza": 0.18},
    {"pizza": 0.62, "bread": 0.06, "drink": 0.26, "pastry": 0.06},
]
ORDER_VOID_RATE = 0.01
LINE_VOID_RATE = 0.035  # per line after the first: ~2% of all lines
LOYALTY_DISCOUNT = {"bronze": 0.20, "silver": 0.30, "gold": 0.45}  # chance of 10% off a line
WEB_PROMO_RATE = 0.05  # anonymous web orders with a 15% promo on a line
LATE_DELIVERY = 21 * 3600 + 45 * 60  # web/app orders from 21:45 are delivered after close
REFUND_RATE = 0.015
PARTIAL_REFUND_RATE = 0.3
SIGNUPS_PER_DAY = 4.0
CUSTOMER_CHANGE_RATE = 0.0015  # per customer per day
BASE_CUSTOMERS = 300, 6  # a store's loyalty base at world start: 300 + 6 per seat
TIERS = ("bronze", "silver", "gold")


# ---------------------------------------------------------------- state
@dataclass
class ProductState:
    """A row of ``products`` as it stands."""

    product_id: int
    sku: str
    item: MenuItem
    size: str | None
    price_cents: int
    is_active: bool


@dataclass
class CustomerState:
    """The parts of a ``customers`` row the simulator changes or needs."""

    customer_id: int
    home_store_id: int
    first_name: str
    last_name: str
    email: str
    loyalty_tier: str


@dataclass
class RecentOrder:
    """A standing order of the last days that may still be delivered or refunded."""

    order_id: int
    store_id: int
    business_date: date
    status: str
    ordered_at: datetime
    completed_at: datetime | None
    method: str
    line_totals: list[int]  # totals of the lines that stand
    refund_day: date | None = None  # the day it will be refunded, if it will


def refund_day(seed: int, order_id: int, business_date: date) -> date | None:
    """The day an order gets refunded (1-3 days after it), or None for most orders."""
    u = hash01(seed, "refund", order_id)
    if u >= REFUND_RATE:
        return None
    return business_date + timedelta(days=1 + int(u / REFUND_RATE * 3))


@dataclass
class PosState:
    """What the simulator needs to know about the POS database to simulate the next day."""

    products: list[ProductState] = field(default_factory=list)
    customers: dict[int, CustomerState] = field(default_factory=dict)
    pools: dict[int, list[int]] = field(default_factory=dict)  # home store -> customer ids
    everyone: list[int] = field(default_factory=list)  # all customer ids, in id order
    recent: list[RecentOrder] = field(default_factory=list)  # in order id order
    next_id: dict[str, int] = field(default_factory=dict)  # table -> next primary key

    def take_ids(self, table: str, n: int) -> range:
        first = self.next_id.get(table, 1)
        self.next_id[table] = first + n
        return range(first, first + n)

    def add_customer(self, customer: CustomerState) -> None:
        self.customers[customer.customer_id] = customer
        self.pools.setdefault(customer.home_store_id, []).append(customer.customer_id)
        self.everyone.append(customer.customer_id)


@dataclass(frozen=True)
class StoreContext:
    """A trading store of the world: its POS id, catalogue entry and time zone."""

    store_id: int
    store: Store
    zone: ZoneInfo

    def day_base(self, day: date) -> datetime:
        """Naive UTC datetime of local midnight starting ``day`` (valid through trading)."""
        noon = datetime.combine(day, time(12), tzinfo=self.zone)
        return datetime.combine(day, time()) - noon.utcoffset()


@dataclass
class DayChanges:
    """Rows to insert and updates to apply for one business day, per table."""

    inserts: dict[str, list[dict]] = field(default_factory=dict)
    updates: dict[str, list[dict]] = field(default_factory=dict)

    def insert(self, table: str, row: dict) -> None:
        self.inserts.setdefault(table, []).append(row)

    def update(self, table: str, row: dict) -> None:
        self.updates.setdefault(table, []).append(row)


def menu_index() -> dict[str, tuple[MenuItem, str | None]]:
    """sku -> (menu item, size) for every product the world can ever sell."""
    return {sku(item, size): (item, size) for item in MENU + SEASONAL for size in item.prices}


# ---------------------------------------------------------------- the world's first rows
def initial_rows(
    seed: int, start: date, stores: list[StoreContext], state: PosState
) -> dict[str, list[dict]]:
    """The rows a new world starts with: stores, the menu, and each store's loyalty base
    (customers who signed up in the up to three years before ``start``)."""
    midnight = datetime.combine(start, time())
    rows: dict[str, list[dict]] = {"stores": [], "products": [], "customers": []}
    for ctx in stores:
        s = ctx.store
        rows["stores"].append(
            {
                "store_id": ctx.store_id,
                "store_code": s.code,
                "name": s.name,
                "city": s.city,
                "timezone": s.timezone,
                "opened_on": s.opened,
                "seats": s.seats,
                "updated_at": midnight,
            }
        )
    for item in MENU:
        for size, price in item.prices.items():
            _add_product(state, rows["products"], item, size, price, midnight)

    drafts = []
    for ctx in stores:
        rng = rng_for(seed, ctx.store.code, "loyalty-base")
        first_day = max(ctx.store.opened, start - timedelta(days=3 * 365))
        span = (start - first_day).days
        if span <= 0:
            continue
        for seq in range(BASE_CUSTOMERS[0] + BASE_CUSTOMERS[1] * ctx.store.seats):
            day = first_day + timedelta(days=rng.randrange(span))
            seconds = rng.randrange(OPEN_HOUR * 3600, CLOSE_HOUR * 3600)
            tier = rng.choices(TIERS, cum_weights=(0.70, 0.92, 1.0))[0]
            person = _person(rng, ctx.store.country)
            when = local_to_utc(day, seconds, ctx.zone)
            drafts.append((when, ctx.store_id, seq, person, tier))
    rows["customers"] = _customer_rows(state, drafts)
    return rows


def _add_product(
    state: PosState, rows: list, item: MenuItem, size: str | None, price: int, at: datetime
) -> None:
    (product_id,) = state.take_ids("products", 1)
    code = sku(item, size)
    state.products.append(ProductState(product_id, code, item, size, price, True))
    rows.append(
        {
            "product_id": product_id,
            "sku": code,
            "name": item.name,
            "category": item.category,
            "size": size,
            "price_cents": price,
            "is_active": True,
            "updated_at": at,
        }
    )


def _person(rng: random.Random, country: str) -> tuple[str, str, str, str | None]:
    first, last = people.name(rng, country)
    return first, last, people.email(rng, first, last, country), people.phone(rng, country)


def _customer_rows(state: PosState, drafts: list[tuple]) -> list[dict]:
    """Give new customers their ids (in sign-up order) and record them in ``state``."""
    drafts.sort(key=lambda d: (d[0], d[1], d[2]))
    rows = []
    for customer_id, (when, store_id, _, person, tier) in zip(
        state.take_ids("customers", len(drafts)), drafts, strict=True
    ):
        first, last, mail, phone = person
        state.add_customer(CustomerState(customer_id, store_id, first, last, mail, tier))
        rows.append(
            {
                "customer_id": customer_id,
                "first_name": first,
                "last_name": last,
                "email": mail,
                "phone": phone,
                "home_store_id": store_id,
                "loyalty_tier": tier,
                "signed_up_at": when,
                "updated_at": when,
            }
        )
    return rows


# ---------------------------------------------------------------- one business day
def simulate_day(
    seed: int, start: date, day: date, stores: list[StoreContext], state: PosState
) -> DayChanges:
    """Simulate business day ``day``: mutate ``state`` and return the rows to write."""
    changes = DayChanges()
    for table in ("orders", "order_items", "payments"):
        changes.inserts[table] = []
    _menu_changes(start, day, state, changes)
    _complete_deliveries(seed, day, stores, state, changes)
    _refunds(seed, day, stores, state, changes)
    _customer_changes(seed, day, stores, state, changes)
    _orders(seed, start, day, stores, state, changes)
    _signups(seed, day, stores, state, changes)
    return changes


def _product_row(p: ProductState, at: datetime) -> dict:
    return {
        "b_id": p.product_id,
        "b_price_cents": p.price_cents,
        "b_is_active": p.is_active,
        "b_updated_at": at,
    }


def _menu_changes(start: date, day: date, state: PosState, changes: DayChanges) -> None:
    at = datetime.combine(day, time(6))
    for change in menu_changes_on(start, day):
        if change.kind == "reprice":
            for p in state.products:
                if p.is_active and p.item.category == change.category:
                    p.price_cents = int(round(p.price_cents * change.factor / 10.0)) * 10
                    changes.update("products", _product_row(p, at))
        elif change.kind == "retire":
            for p in state.products:
                if p.is_active and p.item.code in change.items:
                    p.is_active = False
                    changes.update("products", _product_row(p, at))
        elif change.kind == "add":
            known = {p.sku for p in state.products}
            rows = changes.inserts.setdefault("products", [])
            for item in SEASONAL:
                if item.code not in change.items:
                    continue
                for size, price in item.prices.items():
                    if sku(item, size) not in known:
                        _add_product(state, rows, item, size, price, at)


def _order_update(order: RecentOrder, at: datetime) -> dict:
    return {
        "b_id": order.order_id,
        "b_status": order.status,
        "b_completed_at": order.completed_at,
        "b_updated_at": at,
    }


def _complete_deliveries(
    seed: int, day: date, stores: list[StoreContext], state: PosState, changes: DayChanges
) -> None:
    by_id = {ctx.store_id: ctx for ctx in stores}
    for order in state.recent:
        if order.status != "in_delivery":
            continue
        rng = rng_for(seed, "deliver", order.order_id)
        order.status = "completed"
        order.completed_at = order.ordered_at + timedelta(seconds=rng.randrange(1800, 4200))
        # the driver's confirmation reaches the POS when the store opens next morning
        synced = by_id[order.store_id].day_base(day) + timedelta(
            seconds=OPEN_HOUR * 3600 + rng.randrange(1800)
        )
        changes.update("orders", _order_update(order, synced))


def _refunds(
    seed: int, day: date, stores: list[StoreContext], state: PosState, changes: DayChanges
) -> None:
    by_id = {ctx.store_id: ctx for ctx in stores}
    oldest = day - timedelta(days=3)
    state.recent = [o for o in state.recent if o.business_date >= oldest]
    for order in state.recent:
        if order.refund_day != day or order.status != "completed":
            continue
        rng = rng_for(seed, "refund", order.order_id)
        amount = sum(order.line_totals)
        if len(order.line_totals) > 1 and rng.random() < PARTIAL_REFUND_RATE:
            amount = rng.choice(order.line_totals)
        at = by_id[order.store_id].day_base(day) + timedelta(
            seconds=rng.randrange(11 * 3600, 20 * 3600)
        )
        order.status = "refunded"
        changes.update("orders", _order_update(order, at))
        changes.insert(
            "payments",
            {
                "order_id": order.order_id,
                "method": order.method,
                "kind": "refund",
                "amount_cents": -amount,
                "paid_at": at,
                "updated_at": at,
            },
        )
    state.recent = [o for o in state.recent if o.status != "refunded"]


def _customer_changes(
    seed: int, day: date, stores: list[StoreContext], state: PosState, changes: DayChanges
) -> None:
    for ctx in stores:
        pool = state.pools.get(ctx.store_id, [])
        rng = rng_for(seed, ctx.store.code, day, "customer-changes")
        picks = rng.sample(pool, min(len(pool), poisson(rng, len(pool) * CUSTOMER_CHANGE_RATE)))
        base = ctx.day_base(day)
        for customer_id in picks:
            c = state.customers[customer_id]
            if rng.random() < 0.4:
                c.email = people.email(rng, c.first_name, c.last_name, ctx.store.country)
            elif c.loyalty_tier == "bronze":
                c.loyalty_tier = "silver"
            elif c.loyalty_tier == "silver":
                c.loyalty_tier = "gold" if rng.random() < 0.8 else "bronze"
            else:
                c.loyalty_tier = "silver"
            at = base + timedelta(seconds=rng.randrange(OPEN_HOUR * 3600, 22 * 3600))
            changes.update(
                "customers",
                {
                    "b_id": customer_id,
                    "b_email": c.email,
                    "b_loyalty_tier": c.loyalty_tier,
                    "b_updated_at": at,
                },
            )


def demand(start: date, day: date, ctx: StoreContext, rng: random.Random) -> float:
    """Expected orders of a store on a day: size, weekday, season, holidays, growth."""
    s = ctx.store
    if day < s.opened:
        return 0.0
    mean = 70 + 1.5 * s.seats
    mean *= WEEKDAY[day.weekday()] * MONTH[day.month - 1] * holiday_factor(day, s.country)
    if s.country == "IT" and day.month == 8:
        mean *= 0.85  # Italians are at the seaside
    mean *= 1 + GROWTH_PER_YEAR * (day - start).days / 365
    age = (day - s.opened).days
    if age < RAMP_UP_DAYS:
        mean *= 0.55 + 0.45 * age / RAMP_UP_DAYS
    return mean * min(1.3, max(0.75, rng.gauss(1.0, 0.07)))  # weather, events, luck


def _menu_by_bucket(state: PosState) -> list[tuple[list[ProductState], list[float]]]:
    """Per hour bucket: the active products and their cumulative choice weights."""
    active = [p for p in state.products if p.is_active]
    kinds = {p.item.code: p.item for p in active}  # active menu items, each once
    result = []
    for b in range(len(BUCKETS)):
        category_total: dict[str, float] = {}
        for item in kinds.values():
            category_total[item.category] = category_total.get(item.category, 0) + item.weights[b]
        weights = []
        for p in active:
            cat = p.item.category
            share = p.item.weights[b] / category_total[cat] if category_total[cat] else 0.0
            if p.size is not None:
                sizes = SIZE_WEIGHTS[cat]
                share *= sizes[p.size] / sum(sizes[s] for s in p.item.prices)
            weights.append(CATEGORY_MIX[b][cat] * share)
        result.append((active, list(accumulate(weights))))
    return result


def _orders(
    seed: int,
    start: date,
    day: date,
    stores: list[StoreContext],
    state: PosState,
    changes: DayChanges,
) -> None:
    menu = _menu_by_bucket(state)
    drafts = []
    for index, ctx in enumerate(stores):
        rng = rng_for(seed, ctx.store.code, day, "orders")
        n = poisson(rng, demand(start, day, ctx, rng))
        seconds = sorted(h * 3600 + rng.randrange(3600) for h in rng.choices(HOURS, HOUR_CUM, k=n))
        base = ctx.day_base(day)
        for seq, second in enumerate(seconds):
            drafts.append(_draft_order(rng, ctx, day, index, seq, second, base, state, menu))

    drafts.sort(key=lambda d: (d["ordered_at"], d["_store_index"], d["_seq"]))
    order_ids = state.take_ids("orders", len(drafts))
    item_ids = state.take_ids("order_items", sum(len(d["_lines"]) for d in drafts))
    next_item = iter(item_ids)
    order_rows = changes.inserts["orders"]
    item_rows = changes.inserts["order_items"]
    payment_rows = changes.inserts["payments"]
    for order_id, d in zip(order_ids, drafts, strict=True):
        lines, payment = d.pop("_lines"), d.pop("_payment")
        del d["_store_index"], d["_seq"]
        d["order_id"] = order_id
        order_rows.append(d)
        totals = []
        for line in lines:
            line["order_item_id"] = next(next_item)
            line["order_id"] = order_id
            item_rows.append(line)
            if not line["is_voided"]:
                totals.append(line["quantity"] * line["unit_price_cents"] - line["discount_cents"])
        if payment is None:
            continue
        payment["order_id"] = order_id
        payment["amount_cents"] = sum(totals)
        payment_rows.append(payment)
        state.recent.append(
            RecentOrder(
                order_id,
                d["store_id"],
                day,
                d["status"],
                d["ordered_at"],
                d["completed_at"],
                payment["method"],
                totals,
                refund_day(seed, order_id, day),
            )
        )


def _draft_order(
    rng: random.Random,
    ctx: StoreContext,
    day: date,
    index: int,
    seq: int,
    second: int,
    base: datetime,
    state: PosState,
    menu: list[tuple[list[ProductState], list[float]]],
) -> dict:
    """One order of a store (without ids): channel, customer, lines, status, payment."""
    country = ctx.store.country
    hour = second // 3600
    bucket = BUCKET_OF_HOUR[hour]
    cum = CHANNEL_CUM[bucket, country in DELIVERY_HEAVY]
    channel = CHANNELS[bisect.bisect(cum, rng.random() * cum[-1])]
    ordered_at = base + timedelta(seconds=second)

    customer = None
    if rng.random() < CUSTOMER_RATE[channel]:
        pool = state.pools.get(ctx.store_id) or state.everyone
        if rng.random() < 0.1:
            pool = state.everyone  # a member from another store passing by
        if pool:
            customer = state.customers[pool[int(len(pool) * rng.random() ** 1.6)]]

    lines_cum = LINES_CUM["walk_in" if channel == "walk_in" else "other"]
    n_lines = bisect.bisect_left(lines_cum, rng.random() * lines_cum[-1]) + 1
    products, cum = menu[bucket]
    # the same product picked twice is one line with a bigger quantity
    chosen: dict[int, list] = {}
    for product in rng.choices(products, cum_weights=cum, k=n_lines):
        quantity = bisect.bisect_left(QTY_CUM, rng.random() * QTY_CUM[-1]) + 1
        if product.product_id in chosen:
            chosen[product.product_id][1] = min(4, chosen[product.product_id][1] + quantity)
        else:
            chosen[product.product_id] = [product, quantity]
    lines = []
    for i, (product, quantity) in enumerate(chosen.values()):
        voided = i > 0 and rng.random() < LINE_VOID_RATE
        lines.append(
            {
                "product_id": product.product_id,
                "quantity": quantity,
                "unit_price_cents": product.price_cents,
                "discount_cents": 0,
                "is_voided": voided,
                "updated_at": ordered_at + timedelta(seconds=rng.randrange(20, 180))
                if voided
                else ordered_at,
            }
        )
    standing = [line for line in lines if not line["is_voided"]]
    rate, pct = 0.0, 0
    if customer is not None:
        rate, pct = LOYALTY_DISCOUNT[customer.loyalty_tier], 10
    elif channel == "web":
        rate, pct = WEB_PROMO_RATE, 15
    if rng.random() < rate:
        line = rng.choice(standing)
        line["discount_cents"] = line["quantity"] * line["unit_price_cents"] * pct // 100

    status, completed_at, payment = "completed", None, None
    if rng.random() < ORDER_VOID_RATE:
        status = "voided"
        updated_at = ordered_at + timedelta(seconds=rng.randrange(60, 360))
    elif channel in ("web", "delivery_app"):
        paid_at = ordered_at + timedelta(seconds=rng.randrange(5, 40))
        payment = {"method": "app", "kind": "payment", "paid_at": paid_at, "updated_at": paid_at}
        if second >= LATE_DELIVERY:
            status, updated_at = "in_delivery", paid_at
        else:
            completed_at = ordered_at + timedelta(seconds=rng.randrange(1500, 3600))
            updated_at = completed_at
    else:
        card = rng.random() < (CARD_RATE.get(country, 0.75) if channel == "walk_in" else 0.5)
        if channel == "walk_in":
            completed_at = ordered_at + timedelta(seconds=rng.randrange(120, 900))
            paid_at = ordered_at + timedelta(seconds=rng.randrange(30, 150))
        else:  # phone: collected and paid at the counter
            completed_at = ordered_at + timedelta(seconds=rng.randrange(900, 2100))
            paid_at = completed_at
        updated_at = completed_at
        method = "card" if card else "cash"
        payment = {"method": method, "kind": "payment", "paid_at": paid_at, "updated_at": paid_at}

    return {
        "store_id": ctx.store_id,
        "customer_id": customer.customer_id if customer else None,
        "channel": channel,
        "status": status,
        "business_date": day,
        "ordered_at": ordered_at,
        "completed_at": completed_at,
        "updated_at": updated_at,
        "_store_index": index,
        "_seq": seq,
        "_lines": lines,
        "_payment": payment,
    }


def _signups(
    seed: int, day: date, stores: list[StoreContext], state: PosState, changes: DayChanges
) -> None:
    drafts = []
    for ctx in stores:
        if day < ctx.store.opened:
            continue
        rng = rng_for(seed, ctx.store.code, day, "signups")
        lam = SIGNUPS_PER_DAY * WEEKDAY[day.weekday()] * holiday_factor(day, ctx.store.country)
        base = ctx.day_base(day)
        for seq in range(poisson(rng, lam)):
            when = base + timedelta(seconds=rng.randrange(OPEN_HOUR * 3600, CLOSE_HOUR * 3600))
            drafts.append((when, ctx.store_id, seq, _person(rng, ctx.store.country), "bronze"))
    for row in _customer_rows(state, drafts):
        changes.insert("customers", row)
