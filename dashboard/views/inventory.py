"""Inventory: what runs out first, and what do we throw away?"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import money, number

access, f, labels = data.page_context()
st.title("Inventory")

cover = data.stock_cover(access, f)
below = data.below_reorder_point(access, f)
st.subheader("Running out soonest")
if cover.empty:
    st.info("No stock counts for this store yet.")
else:
    as_of = pd.Timestamp(cover["as_of_date"].max()).date()
    st.caption(
        f"Stock at the end of {as_of:%a %d %b %Y} (the latest day counted, whatever the range "
        "picked), at the rate the last 7 days used it, sales and waste."
    )
    first = cover.iloc[0]
    cols = st.columns(3)
    cols[0].metric("Runs out first", first["ingredient_name"], border=True)
    cols[1].metric("Its days of cover", number(first["days_of_cover"], 1), border=True)
    cols[2].metric(
        "Ingredients below reorder point", number(below.at[0, "ingredients"]), border=True
    )
    table = pd.DataFrame(
        {
            "Store": cover["store_code"].map(labels),
            "Ingredient": cover["ingredient_name"],
            "In stock": [
                f"{number(q, 1)} {u}"
                for q, u in zip(cover["closing_quantity"], cover["unit"], strict=True)
            ],
            "Used per day": [
                f"{number(q, 1)} {u}"
                for q, u in zip(cover["daily_use"], cover["unit"], strict=True)
            ],
            "Days of cover": cover["days_of_cover"].astype(float),
            "Runs out on": pd.to_datetime(cover["runs_out_date"]).dt.strftime("%a %d %b"),
            "Below reorder point": cover["is_below_reorder_point"].map({True: "yes", False: "no"}),
        }
    )
    if len(f.stores) == 1:
        table = table.drop(columns="Store")
    st.dataframe(
        table.head(10 if len(f.stores) == 1 else 15),
        hide_index=True,
        width="stretch",
        column_config={
            "Days of cover": st.column_config.ProgressColumn(
                "Days of cover",
                format="%.1f",
                min_value=0.0,
                max_value=max(14.0, table["Days of cover"].max()),
            )
        },
    )

st.subheader("Waste by reason")
st.caption(
    f"{f.start:%a %d %b %Y} – {f.end:%a %d %b %Y} · valued at the supplier's price of the day"
)
waste = data.waste(access, f)
if waste.empty:
    st.info("No waste recorded for this store and range.")
    st.stop()
for currency, rows in waste.groupby("currency", sort=True):
    cols = st.columns([1, 2])
    with cols[0]:
        st.metric(
            f"Waste cost ({currency})", money(rows["waste_cost"].sum(), currency), border=True
        )
        st.table(
            pd.DataFrame(
                {
                    "Reason": rows["waste_reason"].str.replace("_", " "),
                    "Lines": rows["lines"].astype(int),
                    "Cost": [money(v, currency) for v in rows["waste_cost"]],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    with cols[1]:
        chart = (
            alt.Chart(rows.assign(cost=rows["waste_cost"].astype(float)))
            .mark_bar()
            .encode(
                x=alt.X("cost:Q", title=f"Waste cost ({currency})"),
                y=alt.Y("waste_reason:N", sort="-x", title=None),
                color=alt.value("#d9480f"),
                tooltip=["waste_reason", "lines", alt.Tooltip("cost:Q", format=",.2f")],
            )
            .properties(height=220)
        )
        st.altair_chart(chart, width="stretch")
