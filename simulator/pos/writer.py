"""The POS database side of the simulator: create, write, read back, drop.

Only portable SQLAlchemy Core, so the POS can be any database SQLAlchemy speaks (SQLite
by default, Postgres, ...). Rows go in with executemany, one transaction per business day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine, Update, bindparam, create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection

from simulator.pos.generate import (
    CustomerState,
    DayChanges,
    PosState,
    ProductState,
    RecentOrder,
    menu_index,
    refund_day,
)
from simulator.pos.schema import POS_TABLES, metadata

TABLES = {name: metadata.tables[name] for name in POS_TABLES}
PRIMARY_KEYS = {name: next(iter(table.primary_key.columns)).name for name, table in TABLES.items()}
# Insert order respects foreign keys.
INSERT_ORDER = ["stores", "products", "customers", "orders", "order_items", "payments"]
UPDATABLE = {
    "products": ["price_cents", "is_active", "updated_at"],
    "customers": ["email", "loyalty_tier", "updated_at"],
    "orders": ["status", "completed_at", "updated_at"],
}


def connect(url: str) -> Engine:
    """An engine on the POS database at ``url``; a missing driver is a RuntimeError naming
    the package to install."""
    try:
        return create_engine(url)
    except ImportError as error:
        from ingestion.pos import missing_driver

        raise missing_driver(url, error) from error


def existing_tables(engine: Engine) -> list[str]:
    """The POS tables that exist in the database."""
    names = set(inspect(engine).get_table_names())
    return [t for t in POS_TABLES if t in names]


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)


def drop_tables(engine: Engine) -> None:
    """Drop the POS tables (children first); other tables are left alone."""
    metadata.drop_all(engine, checkfirst=True)


def row_counts(conn: Connection, names: list[str] = POS_TABLES) -> dict[str, int]:
    """Rows per POS table."""
    return {
        name: conn.execute(select(func.count()).select_from(TABLES[name])).scalar_one()
        for name in names
    }


def last_write(conn: Connection) -> datetime | None:
    """The latest ``updated_at`` in the POS database, or None when it is empty."""
    stamps = [conn.execute(select(func.max(t.c.updated_at))).scalar() for t in TABLES.values()]
    return max((s for s in stamps if s is not None), default=None)


def _update_statement(name: str) -> Update:
    table = TABLES[name]
    key = PRIMARY_KEYS[name]
    values = {col: bindparam(f"b_{col}") for col in UPDATABLE[name]}
    return table.update().where(table.c[key] == bindparam("b_id")).values(values)


def write_rows(conn: Connection, inserts: dict[str, list[dict]]) -> None:
    """Insert rows, table by table in foreign-key order, with executemany."""
    for name in INSERT_ORDER:
        rows = inserts.get(name)
        if rows:
            conn.execute(TABLES[name].insert(), rows)
    advance_sequences(conn)


def write_day(conn: Connection, changes: DayChanges) -> None:
    """Apply a day's inserts, then its updates (in the order they happened)."""
    write_rows(conn, changes.inserts)
    for name in ("products", "customers", "orders"):
        rows = changes.updates.get(name)
        if rows:
            conn.execute(_update_statement(name), rows)


def advance_sequences(conn: Connection) -> None:
    """Move each key's sequence past the largest key, so the POS itself can go on inserting.

    The simulator writes its own ids. SQLite (rowid) and MySQL (AUTO_INCREMENT) continue
    after the largest key by themselves; a Postgres SERIAL/IDENTITY column draws from a
    sequence that explicit ids leave behind (the POS's next insert would collide with
    ``orders_pkey``). Called in the transaction that wrote the rows."""
    if conn.dialect.name != "postgresql":
        return
    for name, key in PRIMARY_KEYS.items():
        conn.execute(
            text(
                "select setval(pg_get_serial_sequence(:table, :key), "
                f"coalesce((select max({key}) from {name}), 0) + 1, false)"
            ),
            {"table": name, "key": key},
        )


def assign_payment_ids(changes: DayChanges, state: PosState) -> None:
    """Number the day's payments (sales and refunds) in the order they were taken."""
    rows = changes.inserts.get("payments", [])
    rows.sort(key=lambda r: (r["paid_at"], r["order_id"], r["kind"]))
    for payment_id, row in zip(state.take_ids("payments", len(rows)), rows, strict=True):
        row["payment_id"] = payment_id


def load_state(conn: Connection, seed: int, end: date | None) -> PosState:
    """Read back what the simulator needs from the POS database of a world whose last
    simulated day is ``end``: current products and customers, orders of the last three days
    that may still be delivered or refunded, and the next id of every table."""
    state = PosState()
    for name, table in TABLES.items():
        top = conn.execute(select(func.max(table.c[PRIMARY_KEYS[name]]))).scalar()
        state.next_id[name] = (top or 0) + 1

    index = menu_index()
    products = TABLES["products"]
    for row in conn.execute(select(products).order_by(products.c.product_id)):
        item, size = index[row.sku]
        state.products.append(
            ProductState(row.product_id, row.sku, item, size, row.price_cents, row.is_active)
        )

    customers = TABLES["customers"]
    query = select(
        customers.c.customer_id,
        customers.c.home_store_id,
        customers.c.first_name,
        customers.c.last_name,
        customers.c.email,
        customers.c.loyalty_tier,
    ).order_by(customers.c.customer_id)
    for row in conn.execute(query):
        state.add_customer(CustomerState(*row))

    if end is None:
        return state
    orders, items, payments = TABLES["orders"], TABLES["order_items"], TABLES["payments"]
    query = (
        select(
            orders.c.order_id,
            orders.c.store_id,
            orders.c.business_date,
            orders.c.status,
            orders.c.ordered_at,
            orders.c.completed_at,
        )
        .where(orders.c.business_date >= end - timedelta(days=2))
        .where(orders.c.status.in_(["completed", "in_delivery"]))
        .order_by(orders.c.order_id)
    )
    recent = {
        row.order_id: RecentOrder(
            *row, method="", line_totals=[], refund_day=refund_day(seed, row[0], row[2])
        )
        for row in conn.execute(query)
    }
    if not recent:
        return state
    first = min(recent)
    query = (
        select(
            items.c.order_id,
            items.c.quantity,
            items.c.unit_price_cents,
            items.c.discount_cents,
            items.c.is_voided,
        )
        .where(items.c.order_id >= first)
        .order_by(items.c.order_item_id)
    )
    for order_id, quantity, unit, discount, voided in conn.execute(query):
        if order_id in recent and not voided:
            recent[order_id].line_totals.append(quantity * unit - discount)
    query = (
        select(payments.c.order_id, payments.c.method)
        .where(payments.c.order_id >= first)
        .where(payments.c.kind == "payment")
    )
    for order_id, method in conn.execute(query):
        if order_id in recent:
            recent[order_id].method = method
    state.recent = list(recent.values())
    return state
