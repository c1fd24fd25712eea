"""Sales: how much did my store sell, when, what, and through which channel?"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import money, number, percent

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

access, f, labels = data.page_context()
st.title("Sales")
st.caption(f"{f.start:%a %d %b %Y} – {f.end:%a %d %b %Y} · net sales are after refunds")

daily = data.sales_daily(access, f)
if daily.empty:
    st.info("No sales for this store and range.")
    st.stop()

# Headline figures, one row per currency: sums of the mart's daily figures; the average order
# value over the range is the mart's definition (net sales summed / orders summed).
for currency, rows in daily.groupby("currency", sort=True):
    net, orders = rows["net_sales"].sum(), int(rows["orders"].sum())
    cols = st.columns(4)
    cols[0].metric(f"Net sales ({currency})", money(net, currency), border=True)
    cols[1].metric(f"Orders ({currency} stores)", number(orders), border=True)
    cols[2].metric(
        f"Average order value ({currency})",
        money(net / orders if orders else None, currency),
        border=True,
    )
    cols[3].metric(
        f"Days with sales ({currency} stores)", number(rows["sales_date"].nunique()), border=True
    )

st.subheader("Net sales per day and 7-day trend")
daily["store"] = daily["store_code"].map(labels)
for currency, rows in daily.groupby("currency", sort=True):
    rows = rows.assign(
        net=rows["net_sales"].astype(float), trend=rows["net_sales_7d_average"].astype(float)
    )
    base = alt.Chart(rows).encode(
        x=alt.X(
            "yearmonthdate(sales_date):O",
            title=None,
            axis=alt.Axis(format="%a %d %b", labelAngle=0, labelOverlap="greedy"),
        ),
        color=alt.Color(
            "store:N",
            title="Store",
            legend=alt.Legend(orient="bottom", labelLimit=320),
            scale=alt.Scale(scheme="tableau10"),
        ),
    )
    bars = base.mark_bar(opacity=0.35).encode(
        y=alt.Y("net:Q", title=f"Net sales ({currency})"),
        xOffset="store:N",
        tooltip=[
            alt.Tooltip("store:N"),
            alt.Tooltip("sales_date:T", title="Day", format="%a %d %b"),
            alt.Tooltip("net:Q", title="Net sales", format=",.2f"),
            alt.Tooltip("trend:Q", title="7-day average", format=",.2f"),
        ],
    )
    line = base.mark_line(point=True, strokeWidth=3).encode(y="trend:Q")
    st.altair_chart((bars + line).properties(height=300), width="stretch")
st.caption(
    "Bars: net sales of the day. Line: average daily net sales over the 7 days ending that day."
)

left, right = st.columns(2)
products = data.product_sales(access, f)
products["product"] = products["product_name"] + products["size"].map(
    lambda s: f" ({s})" if isinstance(s, str) and s else ""
)
products["sales"] = [
    money(v, c) for v, c in zip(products["line_sales"], products["currency"], strict=True)
]
products["units"] = products["units_sold"].map(number)
shown = {"product": "Product", "category": "Category", "units": "Units", "sales": "Sales"}
best = products.sort_values(["units_sold", "line_sales"], ascending=False).head(5)
worst = products.sort_values(["units_sold", "line_sales"], ascending=True).head(5)
with left:
    st.subheader("Best sellers")
    st.table(best[list(shown)].rename(columns=shown), hide_index=True, width="stretch")
with right:
    st.subheader("Worst sellers")
    st.table(worst[list(shown)].rename(columns=shown), hide_index=True, width="stretch")
st.caption("By units sold over the range; sales are line totals after discounts, before refunds.")

hourly = data.sales_by_hour(access, f)
heat_col, mix_col = st.columns([3, 2])
with heat_col:
    st.subheader("Orders by hour and weekday")
    heat = hourly.groupby(["day_of_week", "hour_of_day"], as_index=False)["orders"].sum()
    heat["weekday"] = heat["day_of_week"].map(lambda d: WEEKDAYS[int(d) - 1])
    chart = (
        alt.Chart(heat)
        .mark_rect()
        .encode(
            x=alt.X(
                "hour_of_day:O", title="Hour of day (store's clock)", axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y("weekday:O", sort=WEEKDAYS, title=None),
            color=alt.Color("orders:Q", title="Orders", scale=alt.Scale(scheme="oranges")),
            tooltip=["weekday", "hour_of_day", "orders"],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")
with mix_col:
    st.subheader("Channel mix")
    mix = hourly.groupby(["order_channel", "currency"], as_index=False)[
        ["orders", "net_sales"]
    ].sum()
    total_orders = mix["orders"].sum()
    mix["share"] = mix["orders"] / total_orders * 100 if total_orders else 0
    mix = mix.sort_values("orders", ascending=False)
    chart = (
        alt.Chart(mix.assign(net=mix["net_sales"].astype(float)))
        .mark_arc(innerRadius=55)
        .encode(
            theta="orders:Q",
            color=alt.Color("order_channel:N", title="Channel"),
            tooltip=["order_channel", "orders", alt.Tooltip("share:Q", format=".1f")],
        )
        .properties(height=200)
    )
    st.altair_chart(chart, width="stretch")
    table = pd.DataFrame(
        {
            "Channel": mix["order_channel"].str.replace("_", " "),
            "Orders": mix["orders"].astype(int),
            "Share of orders": mix["share"].map(percent),
            "Net sales": [
                money(v, c) for v, c in zip(mix["net_sales"], mix["currency"], strict=True)
            ],
        }
    )
    st.table(table, hide_index=True, width="stretch")
