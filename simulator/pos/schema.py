"""Tables of the simulated point-of-sale (POS) database.

This is the schema a real POS exposes to the warehouse: the POS pipeline reads
whatever tables a database has, so a real POS only has to look like this.
Money is integer cents; timestamps are UTC (naive, as most POS databases store
them); ``business_date`` is the store's local trading day of an order.
Every table has ``updated_at``, moved forward whenever a row changes, which
the pipeline uses as its incremental cursor.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

stores = Table(
    "stores",
    metadata,
    Column("store_id", Integer, primary_key=True),
    Column("store_code", String(16), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("city", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),
)

products = Table(
    "products",
    metadata,
    Column("product_id", Integer, primary_key=True),
    Column("sku", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    # pizza | bread | pastry | drink
    Column("category", String(32), nullable=False),
    # S | M | L for pizzas and some drinks, NULL otherwise
    Column("size", String(4)),
    Column("price_cents", Integer, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", Integer, primary_key=True),
    # PII: first_name, last_name, email, phone
    Column("first_name", String(64), nullable=False),
    Column("last_name", String(64), nullable=False),
    Column("email", String(128), nullable=False),
    Column("phone", String(32)),
    Column("home_store_id", Integer, ForeignKey("stores.store_id"), nullable=False),
    Column("loyalty_tier", String(16), nullable=False),  # bronze | silver | gold
    Column("signed_up_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.store_id"), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.customer_id")),
    # walk_in | phone | web | delivery_app
    Column("channel", String(16), nullable=False),
    # placed | in_delivery | completed | voided | refunded
    Column("status", String(16), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("ordered_at", DateTime, nullable=False),
    Column("completed_at", DateTime),
    Column("updated_at", DateTime, nullable=False, index=True),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_item_id", BigInteger, primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.order_id"), nullable=False),
    Column("product_id", Integer, ForeignKey("products.product_id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    # price of one unit when it was sold, before the line discount
    Column("unit_price_cents", Integer, nullable=False),
    Column("discount_cents", Integer, nullable=False),
    # a line taken back before payment (the order itself stands)
    Column("is_voided", Boolean, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", BigInteger, primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.order_id"), nullable=False),
    Column("method", String(16), nullable=False),  # card | cash | app
    # payment (positive amount) | refund (negative amount)
    Column("kind", String(16), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("paid_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),
)

POS_TABLES = ["stores", "products", "customers", "orders", "order_items", "payments"]
