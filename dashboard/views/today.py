"""Today: what is my store selling right now? The live slice, refreshed every few seconds.

Reads the live slice `mypizza live` publishes (docs/live.md) through dashboard/data.py, so
the user's stores limit it as every page. The figures refresh themselves (a Streamlit
fragment re-run every REFRESH_SECONDS) and say how fresh they are.
"""

from __future__ import annotations

import os

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import money, number

REFRESH_SECONDS = float(os.environ.get("DASHBOARD__TODAY_REFRESH_SECONDS", "3"))

access, f, labels = data.page_context()
st.title("Today")


@st.fragment(run_every=REFRESH_SECONDS)
def live_figures() -> None:
    fresh = data.live_freshness()
    as_of = fresh["as_of"]
    line = f"as of {as_of:%H:%M:%S} UTC, {fresh['age']:.0f} s ago"
    if fresh["stale"]:
        st.warning(f"Stale: {line}. {fresh['reason']}.", icon=":material/warning:")
    else:
        st.caption(f"Live: {line} · refreshes every {REFRESH_SECONDS:g} s")

    today = data.live_store_today(access, f)
    if today.empty:
        st.info("No order yet today for this store.")
        return
    days = ", ".join(sorted({f"{d:%a %d %b %Y}" for d in pd.to_datetime(today["sales_date"])}))
    st.caption(f"Business day: {days} · net sales are after refunds")
    for currency, rows in today.groupby("currency", sort=True):
        cols = st.columns(4)
        cols[0].metric(
            f"Net sales today ({currency})", money(rows["net_sales"].sum(), currency), border=True
        )
        cols[1].metric(
            f"Orders today ({currency} stores)", number(rows["orders"].sum()), border=True
        )
        cols[2].metric(
            f"Open deliveries ({currency} stores)",
            number(rows["open_deliveries"].sum()),
            border=True,
        )
        cols[3].metric(
            f"Late deliveries ({currency} stores)",
            number(rows["late_deliveries"].sum()),
            help="Open longer than 45 minutes",
            border=True,
        )

    hourly = data.live_sales_by_hour(access, f)
    if not hourly.empty:
        left, right = st.columns(2)
        with left:
            st.subheader("Orders per hour")
            st.altair_chart(
                alt.Chart(hourly)
                .mark_bar()
                .encode(
                    x=alt.X("hour_of_day:O", title="Hour (store's clock)"),
                    y=alt.Y("sum(orders):Q", title="Orders"),
                    color=alt.Color("order_channel:N", title="Channel"),
                ),
                use_container_width=True,
            )
        with right:
            st.subheader("Orders per channel")
            channels = hourly.groupby("order_channel", as_index=False)["orders"].sum()
            st.dataframe(
                channels.rename(columns={"order_channel": "Channel", "orders": "Orders"}),
                hide_index=True,
                use_container_width=True,
            )

    st.subheader("Open deliveries")
    deliveries = data.live_open_deliveries(access, f)
    if deliveries.empty:
        st.success("No delivery waiting.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "Store": deliveries["store_code"].map(labels),
                    "Order": deliveries["order_id"],
                    "Channel": deliveries["order_channel"],
                    "Status": deliveries["order_status"],
                    "Minutes open": deliveries["minutes_open"],
                    "Late": deliveries["is_late"].map({True: "late", False: ""}),
                }
            ),
            hide_index=True,
            use_container_width=True,
        )


live_figures()
