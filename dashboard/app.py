"""myPizza store managers' dashboard: `make dashboard` (streamlit run dashboard/app.py).

The sidebar holds the filters every page shares (store, range of business days); the pages
live in views/. Every figure is read from a mart of the published warehouse (dashboard/data.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from dashboard.data import ALL_STORES, Filters, query, warehouse_file  # noqa: E402

st.set_page_config(
    page_title="myPizza · store managers", page_icon=":material/local_pizza:", layout="wide"
)

HERE = Path(__file__).resolve().parent
pages = st.navigation(
    [
        st.Page(
            HERE / "views" / "sales.py", title="Sales", icon=":material/payments:", default=True
        ),
        st.Page(
            HERE / "views" / "inventory.py",
            title="Inventory",
            icon=":material/inventory_2:",
            url_path="inventory",
        ),
        st.Page(
            HERE / "views" / "customers.py",
            title="Customers",
            icon=":material/reviews:",
            url_path="customers",
        ),
        st.Page(
            HERE / "views" / "kitchen.py",
            title="Kitchen",
            icon=":material/kitchen:",
            url_path="kitchen",
        ),
    ]
)

if not warehouse_file().exists():
    st.error(
        f"No published warehouse at {warehouse_file()}: run `make run` first "
        "(or point MYPIZZA_WAREHOUSE at a built warehouse)."
    )
    st.stop()

stores = query(
    """
    select stores.store_code, stores.store_name, stores.currency
    from marts.dim_stores as stores
    where stores.store_code in (select distinct store_code from marts.rpt_sales_trend_daily)
    order by stores.store_name
    """
)
days = query(
    "select min(sales_date) as first, max(sales_date) as last from marts.rpt_sales_trend_daily"
)
if days.empty or pd.isna(days.at[0, "first"]):
    st.warning("The published warehouse holds no sales yet: run `make run`.")
    st.stop()
first_day, last_day = (pd.Timestamp(days.at[0, c]).date() for c in ("first", "last"))

labels = {row.store_code: f"{row.store_name} ({row.currency})" for row in stores.itertuples()}
with st.sidebar:
    st.markdown("### :material/local_pizza: myPizza")
    choice = st.selectbox(
        "Store",
        [ALL_STORES, *labels],
        format_func=lambda code: labels.get(code, code),
        key="store",
    )
    picked = st.date_input(
        "Business days",
        value=(first_day, last_day),
        min_value=first_day,
        max_value=last_day,
        key="days",
    )
    # while a range is being picked the widget holds one day only: show that day
    start, end = (tuple(picked) * 2)[:2] if len(picked) == 1 else (picked or (first_day, last_day))
    st.caption(
        f"Data from {first_day:%d %b %Y} to {last_day:%d %b %Y}, read from the published "
        "warehouse. Amounts are in each store's currency; different currencies are never "
        "added together."
    )

selected = tuple(labels) if choice == ALL_STORES else (choice,)
st.session_state["filters"] = Filters(stores=selected, start=start, end=end)
st.session_state["store_labels"] = labels
pages.run()
