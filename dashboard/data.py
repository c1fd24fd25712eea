"""Reading the marts for the dashboard, for one logged-in user; no business logic lives here.

Access is enforced HERE, where the data is read, not in the pages: every query the dashboard
runs goes through ``scoped_query``, which takes the user's ``Access`` and binds the stores
the query may read as the parameter ``$stores`` (the stores asked for, intersected with the
user's own; never string-built SQL). A query without ``$stores`` is refused, and a result
holding a ``store_code`` the user may not see is an error, not a page. So no widget, page,
URL parameter or crafted session state can show another store's rows: whatever a page asks
for, the data layer answers only for the user's stores. Pages read data only through the
functions below (or ``scoped_query``); see docs/security.md.

Every query opens its own read-only connection to the PUBLISHED copy of the warehouse
(`<warehouse dir>/mypizza.published.duckdb`, beside `MYPIZZA_WAREHOUSE`) and closes it at
once: a pipeline's atomic swap of that file is seen by the next query, and the dashboard
never holds the file the pipeline writes. Results are cached per file version (path,
modification time), so a new build shows on the next refresh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from mypizza.live import live_path, read_heartbeat, stale_after
from mypizza.users import User
from mypizza.warehouse import published_path

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
ALL_STORES = "All stores"


def _warehouse() -> Path:
    """The warehouse named by MYPIZZA_WAREHOUSE (as every command)."""
    return Path(os.environ.get("MYPIZZA_WAREHOUSE", "warehouse/mypizza.duckdb"))


def warehouse_file() -> Path:
    """The published copy of the warehouse."""
    return published_path(_warehouse()).resolve()


def live_file() -> Path:
    """The live slice `mypizza live` publishes beside the warehouse (docs/live.md)."""
    return live_path(_warehouse()).resolve()


def live_source() -> Path:
    """Where the Today page reads: the live slice, or, with no live loop ever run, the
    published copy (the nightly build builds the live models too)."""
    return live_file() if live_file().exists() else warehouse_file()


class AccessError(PermissionError):
    """A query that would not be limited to the user's stores."""


@dataclass(frozen=True)
class Access:
    """Who is reading, and the store codes they may see (resolved from the role)."""

    username: str
    role: str
    stores: frozenset[str]

    @property
    def chain_wide(self) -> bool:
        """Chain-wide figures (every store together) are for head office only."""
        return self.role == "head_office"

    def allowed(self, requested: tuple[str, ...] | list[str]) -> list[str]:
        """The stores asked for that this user may see, in the order asked."""
        return [code for code in requested if code in self.stores]


def access_for(user: User) -> Access:
    """The stores a user may see: a store manager's own, an area manager's region's (as the
    published dim_stores says), every store for head office."""
    if user.role == "head_office":
        sql = "select store_code from marts.dim_stores"
        params: dict[str, object] = {}
    elif user.role == "area_manager":
        sql = "select store_code from marts.dim_stores where region = $region"
        params = {"region": user.region or ""}
    else:
        sql = "select store_code from marts.dim_stores where store_code in (select unnest($own))"
        params = {"own": list(user.stores)}
    codes = _read(sql, params)["store_code"].dropna()
    return Access(user.username, user.role, frozenset(codes))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(sql: str, params: tuple, path: str, version: float) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(sql, {name: value for name, value in params}).df()


def _read(sql: str, params: dict[str, object], source: Path | None = None) -> pd.DataFrame:
    path = source or warehouse_file()
    frozen = tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in sorted(params.items())
    )
    frame = _cached(sql, frozen, str(path), path.stat().st_mtime)
    return frame.copy()


def scoped_query(
    access: Access | None,
    sql: str,
    stores: tuple[str, ...] | list[str],
    *,
    source: Path | None = None,
    **params: object,
) -> pd.DataFrame:
    """Run a SELECT on the published warehouse (or ``source``, the live slice), limited to
    the user's stores.

    ``sql`` filters on ``$stores`` (e.g. ``where store_code in (select unnest($stores))``);
    it is bound to ``stores`` intersected with the user's own, and the other ``params`` are
    bound by name (``$start``, ...). Values are never formatted into the SQL."""
    if access is None:
        raise AccessError("no logged-in user: no data")
    if "$stores" not in sql:
        raise AccessError("a dashboard query must filter on $stores (the user's stores)")
    frame = _read(sql, {"stores": list(access.allowed(stores)), **params}, source)
    if "store_code" in frame.columns:
        leaked = set(frame["store_code"].dropna()) - set(access.stores)
        if leaked:
            raise AccessError(f"a query returned stores {sorted(leaked)} outside the user's")
    return frame


@dataclass(frozen=True)
class Filters:
    """What the sidebar selected: store codes and an inclusive range of business days."""

    stores: tuple[str, ...]
    start: date
    end: date

    @property
    def store_list(self) -> list[str]:
        return list(self.stores)


# ---------------------------------------------------------------- the pages' queries
def stores(access: Access) -> pd.DataFrame:
    """The user's stores that have sales: code, name, currency, region (the store picker)."""
    return scoped_query(
        access,
        """
        select stores.store_code, stores.store_name, stores.currency, stores.region
        from marts.dim_stores as stores
        where stores.store_code in (select unnest($stores))
            and stores.store_code in (select distinct store_code from marts.rpt_sales_trend_daily)
        order by stores.store_name
        """,
        sorted(access.stores),
    )


def sales_days(access: Access) -> pd.DataFrame:
    """The first and last business day with sales in the user's stores."""
    return scoped_query(
        access,
        """
        select min(sales_date) as first, max(sales_date) as last
        from marts.rpt_sales_trend_daily
        where store_code in (select unnest($stores))
        """,
        sorted(access.stores),
    )


def sales_daily(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, sales_date, currency, orders, net_sales, average_order_value,
            net_sales_7d_average
        from marts.rpt_sales_trend_daily
        where store_code in (select unnest($stores)) and sales_date between $start and $end
        order by store_code, sales_date
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def product_sales(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select product_name, category, size, currency, sum(units_sold) as units_sold,
            sum(line_sales) as line_sales
        from marts.rpt_product_sales_daily
        where store_code in (select unnest($stores)) and sales_date between $start and $end
        group by product_name, category, size, currency
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def sales_by_hour(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select day_of_week, hour_of_day, order_channel, currency, sum(orders) as orders,
            sum(net_sales) as net_sales
        from marts.rpt_sales_by_hour
        where store_code in (select unnest($stores)) and sales_date between $start and $end
        group by day_of_week, hour_of_day, order_channel, currency
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def stock_cover(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, ingredient_name, unit, as_of_date, closing_quantity, daily_use,
            days_of_cover, runs_out_date, reorder_point, is_below_reorder_point, runs_out_rank
        from marts.rpt_stock_cover
        where store_code in (select unnest($stores)) and runs_out_rank <= 10
        order by days_of_cover, runs_out_rank, store_code
        """,
        f.stores,
    )


def below_reorder_point(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select count(*) as ingredients
        from marts.rpt_stock_cover
        where store_code in (select unnest($stores)) and is_below_reorder_point
        """,
        f.stores,
    )


def waste(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select waste_reason, currency, count(*) as lines, sum(waste_cost) as waste_cost
        from marts.fct_waste
        where store_code in (select unnest($stores)) and waste_date between $start and $end
        group by waste_reason, currency
        order by waste_cost desc
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def satisfaction_weekly(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, week_start_date, reviews, average_rating, low_rating_share_pct,
            response_rate_pct, average_hours_to_first_reply, complaints, top_complaint_tags
        from marts.rpt_store_satisfaction_weekly
        where store_code in (select unnest($stores))
            and week_start_date between date_trunc('week', $start::date) and $end
        order by week_start_date, store_code
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def complaint_tags(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select tag_label, aspect, sum(complaint_reviews) as reviews
        from marts.rpt_complaint_tags_weekly
        where store_code in (select unnest($stores))
            and week_start_date between date_trunc('week', $start::date) and $end
        group by tag_label, aspect
        order by reviews desc, tag_label
        limit 8
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def cold_chain_excursions(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, device_id, device_kind, started_at, ended_at, is_ongoing,
            duration_minutes, peak_temperature_c, limit_temperature_c
        from marts.fct_cold_chain_excursions
        where store_code in (select unnest($stores))
            and excursion_date between $start and $end
        order by started_at desc
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


def device_health(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, device_id, device_kind, last_seen_at, minutes_silent, uptime_pct,
            gaps, reboots, spike_readings, stuck_readings, quarantined_messages
        from marts.rpt_device_health
        where store_code in (select unnest($stores))
        order by store_code, device_id
        """,
        f.stores,
    )


def oven_utilisation(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, local_hour, sum(oven_on_minutes) as oven_on_minutes,
            sum(pizzas_baked) as pizzas_baked, sum(orders) as orders,
            sum(pizzas_ordered) as pizzas_ordered, count(*) as hours
        from marts.rpt_oven_utilisation
        where store_code in (select unnest($stores))
            and hour_date between $start and $end
        group by store_code, local_hour
        order by store_code, local_hour
        """,
        f.stores,
        start=f.start,
        end=f.end,
    )


# ---------------------------------------------------------------- the Today page (live)
def live_freshness() -> dict:
    """How fresh the Today page's figures are: ``as_of`` (UTC, when the POS was read; for
    the published copy, when it was written), ``age`` in seconds, ``stale`` and why."""
    import datetime as dt

    source = live_source()
    now = dt.datetime.now(dt.UTC)
    beat = read_heartbeat(_warehouse().resolve()) or {}
    if source == live_file():
        with duckdb.connect(str(source), read_only=True) as con:
            (as_of,) = con.execute("select as_of from marts.live_meta").fetchone()
        as_of = as_of.astimezone(dt.UTC)
    else:
        as_of = dt.datetime.fromtimestamp(source.stat().st_mtime, dt.UTC)
    age = (now - as_of).total_seconds()
    reason = None
    if source != live_file():
        reason = "the live loop has not run: these are the nightly figures"
    elif beat.get("stopped_at"):
        reason = f"the live loop stopped at {beat['stopped_at']}"
    elif beat.get("error"):
        reason = f"the live loop is failing since {beat.get('failing_since')}: {beat['error']}"
    elif age > stale_after(float(beat.get("every", 2))):
        reason = "the live loop has not published for a while"
    return {"as_of": as_of, "age": age, "stale": reason is not None, "reason": reason}


def live_store_today(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, sales_date, currency, orders_taken, orders, net_sales,
            open_deliveries, late_deliveries, last_order_at
        from marts.rpt_live_store_today
        where store_code in (select unnest($stores))
        order by store_code
        """,
        f.stores,
        source=live_source(),
    )


def live_sales_by_hour(access: Access, f: Filters) -> pd.DataFrame:
    """Today's orders and net sales per store, hour and channel (each store's current day)."""
    return scoped_query(
        access,
        """
        select sales.store_code, sales.hour_of_day, sales.order_channel, sales.currency,
            sales.orders, sales.net_sales
        from marts.rpt_live_sales_by_hour as sales
        inner join marts.rpt_live_store_today as today
            on sales.store_code = today.store_code and sales.sales_date = today.sales_date
        where sales.store_code in (select unnest($stores))
        order by sales.store_code, sales.hour_of_day, sales.order_channel
        """,
        f.stores,
        source=live_source(),
    )


def live_open_deliveries(access: Access, f: Filters) -> pd.DataFrame:
    return scoped_query(
        access,
        """
        select store_code, order_id, order_channel, order_status, ordered_at, minutes_open,
            is_late
        from marts.rpt_live_open_deliveries
        where store_code in (select unnest($stores))
        order by is_late desc, minutes_open desc, order_id
        """,
        f.stores,
        source=live_source(),
    )


# every query a page runs, for the tests that call each one for each role
PAGE_QUERIES = (
    sales_daily,
    product_sales,
    sales_by_hour,
    stock_cover,
    below_reorder_point,
    waste,
    satisfaction_weekly,
    complaint_tags,
    cold_chain_excursions,
    device_health,
    oven_utilisation,
    live_store_today,
    live_sales_by_hour,
    live_open_deliveries,
)


def page_context() -> tuple[Access, Filters, dict[str, str]]:
    """What app.py put in the session for the page: the user's access, the filters, the
    store labels. A page run without a login gets nothing (app.py stops before pages)."""
    access = st.session_state.get("access")
    if not isinstance(access, Access):
        st.stop()
    return access, st.session_state["filters"], st.session_state["store_labels"]


def money(amount: object, currency: str | None) -> str:
    """`€1,234.56`; an unknown currency is written as its code after the amount."""
    if amount is None or pd.isna(amount):
        return "–"
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency or "")
    if symbol:
        return f"{sign}{symbol}{abs(value):,.2f}"
    return f"{sign}{abs(value):,.2f} {currency or ''}".strip()


def percent(value: object) -> str:
    """A percentage already expressed in points (`12.5` -> `12.5%`)."""
    if value is None or pd.isna(value):
        return "–"
    return f"{float(value):.1f}%"


def number(value: object, decimals: int = 0) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{float(value):,.{decimals}f}"
