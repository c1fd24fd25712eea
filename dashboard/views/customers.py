"""Customers: how do guests rate us, how fast do we answer, what do they complain about?"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import number, percent

access, f, labels = data.page_context()
st.title("Customers")
st.caption(
    f"Weeks (Monday to Sunday) that start between {f.start:%d %b %Y} and {f.end:%d %b %Y} or "
    "hold its first day · a review counts in the week it was posted"
)

weekly = data.satisfaction_weekly(access, f)
if weekly.empty or weekly["reviews"].sum() == 0:
    st.info("No reviews for this store and range.")
    st.stop()
weekly["store"] = weekly["store_code"].map(labels)
weekly["week"] = pd.to_datetime(weekly["week_start_date"])

# the latest week with reviews, as the mart computed it (a single store) or per store
latest_week = weekly.loc[weekly["reviews"] > 0, "week"].max()
latest = weekly[(weekly["week"] == latest_week) & (weekly["reviews"] > 0)]
st.subheader(f"Week of {latest_week:%d %b %Y}")
for row in latest.itertuples():
    if len(f.stores) > 1:
        st.markdown(f"**{labels.get(row.store_code, row.store_code)}**")
    cols = st.columns(5)
    cols[0].metric("Reviews", number(row.reviews), border=True)
    cols[1].metric("Average rating", f"{number(row.average_rating, 2)} ★", border=True)
    cols[2].metric(
        "Bad reviews", percent(row.low_rating_share_pct), help="Share of 1-2★ reviews", border=True
    )
    cols[3].metric(
        "Answered", percent(row.response_rate_pct), help="Share of reviews answered", border=True
    )
    cols[4].metric(
        "Time to first reply",
        "–"
        if pd.isna(row.average_hours_to_first_reply)
        else f"{float(row.average_hours_to_first_reply):.1f} h",
        help="Average hours from a review to the store's first answer, answered reviews only",
        border=True,
    )

charts = st.columns(2)
plot = weekly[weekly["reviews"] > 0].assign(
    rating=lambda d: d["average_rating"].astype(float),
    bad=lambda d: d["low_rating_share_pct"].astype(float),
    hours=lambda d: d["average_hours_to_first_reply"].astype(float),
)
for col, field, title in (
    (charts[0], "rating", "Average rating (stars)"),
    (charts[1], "bad", "Share of bad reviews (%)"),
):
    with col:
        st.subheader(title)
        chart = (
            alt.Chart(plot)
            .mark_line(point=True, strokeWidth=3)
            .encode(
                x=alt.X("week:T", title="Week starting", axis=alt.Axis(format="%d %b")),
                y=alt.Y(
                    f"{field}:Q",
                    title=None,
                    scale=alt.Scale(zero=field != "rating"),
                    axis=alt.Axis(format=".2f" if field == "rating" else ".0f"),
                ),
                color=alt.Color(
                    "store:N",
                    title="Store",
                    legend=alt.Legend(orient="bottom", labelLimit=320),
                    scale=alt.Scale(scheme="tableau10"),
                ),
                tooltip=["store", alt.Tooltip("week:T", format="%d %b"), "reviews", f"{field}:Q"],
            )
            .properties(height=240)
        )
        st.altair_chart(chart, width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("Top complaints")
    tags = data.complaint_tags(access, f)
    if tags.empty:
        st.info("No complaints in this range.")
    else:
        chart = (
            alt.Chart(tags)
            .mark_bar()
            .encode(
                x=alt.X("reviews:Q", title="Reviews raising it"),
                y=alt.Y("tag_label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
                color=alt.Color("aspect:N", title="About"),
                tooltip=["tag_label", "aspect", "reviews"],
            )
            .properties(height=260)
        )
        st.altair_chart(chart, width="stretch")
with right:
    st.subheader("Week by week")
    recent = weekly.sort_values(["week", "store_code"], ascending=[False, True]).head(12)
    st.table(
        pd.DataFrame(
            {
                "Week": recent["week"].dt.strftime("%d %b"),
                "Store": recent["store_code"],
                "Reviews": recent["reviews"].astype(int),
                "Rating": recent["average_rating"].map(lambda v: number(v, 2)),
                "Bad": recent["low_rating_share_pct"].map(percent),
                "Answered": recent["response_rate_pct"].map(percent),
                "Reply (h)": recent["average_hours_to_first_reply"].map(lambda v: number(v, 1)),
            }
        ),
        hide_index=True,
        width="stretch",
    )
