"""myPizza store managers' dashboard: `make dashboard` (streamlit run dashboard/app.py).

Nothing is shown before a login (dashboard/auth.py), and every page runs after it: a page
added to the navigation below is behind the login without doing anything. The sidebar holds
the filters every page shares (store, range of business days), offering only the user's
stores; the pages live in views/ and read the marts of the published warehouse only through
dashboard/data.py, which limits every query to the user's stores (docs/security.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from dashboard import data  # noqa: E402
from dashboard.auth import require_login  # noqa: E402
from dashboard.data import ALL_STORES, Filters, warehouse_file  # noqa: E402

st.set_page_config(
    page_title="myPizza · store managers", page_icon=":material/local_pizza:", layout="wide"
)

HERE = Path(__file__).resolve().parent
PAGES = [
    st.Page(HERE / "views" / "sales.py", title="Sales", icon=":material/payments:", default=True),
    st.Page(HERE / "views" / "today.py", title="Today", icon=":material/bolt:", url_path="today"),
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
# the pages are registered on every run (so a link to /inventory survives the login form),
# but listed and run only after a login
st.session_state.pop("access", None)
logged_in = st.session_state.get("authentication_status") is True
pages = st.navigation(PAGES, position="sidebar" if logged_in else "hidden")

if not warehouse_file().exists():
    st.error(
        f"No published warehouse at {warehouse_file()}: run `make run` first "
        "(or point MYPIZZA_WAREHOUSE at a built warehouse)."
    )
    st.stop()

access = require_login()
stores = data.stores(access)
days = data.sales_days(access)
if stores.empty:
    st.warning(f"User {access.username} has no store with sales in the published warehouse.")
    st.stop()
if days.empty or pd.isna(days.at[0, "first"]):
    st.warning("The published warehouse holds no sales yet: run `make run`.")
    st.stop()
first_day, last_day = (pd.Timestamp(days.at[0, c]).date() for c in ("first", "last"))

labels = {row.store_code: f"{row.store_name} ({row.currency})" for row in stores.itertuples()}
# chain-wide figures (every store together) are for head office; others see their own stores
everything = ALL_STORES if access.chain_wide else "All my stores"
options = [everything, *labels] if len(labels) > 1 else list(labels)
asked = st.query_params.get("store")  # a link to one store: ?store=rom01
if asked and asked not in labels:
    st.warning(f"No store {asked!r} among yours: showing your stores.")
with st.sidebar:
    st.markdown("### :material/local_pizza: myPizza")
    choice = st.selectbox(
        "Store",
        options,
        index=options.index(asked) if asked in labels else 0,
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

selected = tuple(labels) if choice == everything else (choice,)
st.session_state["access"] = access
st.session_state["filters"] = Filters(stores=selected, start=start, end=end)
st.session_state["store_labels"] = labels
pages.run()
