"""Totals computed straight on the POS database with plain SQL (sqlite3), independently of
the simulator, the pipeline and dbt: what the marts must reproduce."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

DAILY_SALES_SQL = """
with lines as (
    select
        order_id,
        sum(case when is_voided then 0 else quantity end) as items,
        sum(case when is_voided then 0 else quantity * unit_price_cents - discount_cents end)
            as total_cents
    from order_items
    group by order_id
),
refunds as (
    select order_id, -sum(amount_cents) as refund_cents
    from payments
    where kind = 'refund'
    group by order_id
)
select
    s.store_code,
    o.business_date,
    count(*) as orders,
    coalesce(sum(l.items), 0) as items_sold,
    coalesce(sum(l.total_cents), 0) as gross_cents,
    coalesce(sum(r.refund_cents), 0) as refund_cents
from orders as o
inner join stores as s on s.store_id = o.store_id
left join lines as l on l.order_id = o.order_id
left join refunds as r on r.order_id = o.order_id
where o.status <> 'voided'
group by s.store_code, o.business_date
order by s.store_code, o.business_date
"""


def daily_store_sales(pos_sqlite: Path) -> dict[tuple[str, str], tuple]:
    """(store_code, date) -> (orders, items_sold, gross, refunds, net) as Decimals."""
    with sqlite3.connect(pos_sqlite) as con:
        rows = con.execute(DAILY_SALES_SQL).fetchall()
    cents = Decimal("0.01")
    return {
        (store, str(day)[:10]): (
            orders,
            items,
            Decimal(gross) * cents,
            Decimal(refund) * cents,
            Decimal(gross - refund) * cents,
        )
        for store, day, orders, items, gross, refund in rows
    }


def table_counts(pos_sqlite: Path) -> dict[str, int]:
    with sqlite3.connect(pos_sqlite) as con:
        names = [
            n
            for (n,) in con.execute(
                "select name from sqlite_master where type = 'table' order by name"
            )
        ]
        return {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


def max_updated_at(pos_sqlite: Path) -> dict[str, str]:
    with sqlite3.connect(pos_sqlite) as con:
        return {
            t: con.execute(f'select max(updated_at) from "{t}"').fetchone()[0]
            for t in table_counts(pos_sqlite)
        }


def rows_updated_since(pos_sqlite: Path, marks: dict[str, str]) -> dict[str, int]:
    """Rows per table whose updated_at is later than ``marks`` (what an incremental load reads)."""
    with sqlite3.connect(pos_sqlite) as con:
        return {
            t: con.execute(f'select count(*) from "{t}" where updated_at > ?', (m,)).fetchone()[0]
            for t, m in marks.items()
        }
