"""Kitchen: did chilled and frozen food stay cold, do the ovens keep up, are the devices well?"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import number, percent

access, f, labels = data.page_context()
st.title("Kitchen")
st.caption(
    f"Kitchen devices (fridges, freezer, oven) from {f.start:%d %b %Y} to {f.end:%d %b %Y} "
    "(days in UTC, by the devices' clocks) · spikes and stuck sensor values left out"
)

excursions = data.cold_chain_excursions(access, f)
health = data.device_health(access, f)
if health.empty:
    st.info("No kitchen device has reported for this store yet.")
    st.stop()

cols = st.columns(4)
cols[0].metric(
    "Cold-chain excursions",
    number(len(excursions)),
    help="A fridge above 5 °C or a freezer above -15 °C for 15 minutes or more",
    border=True,
)
cols[1].metric(
    "Longest excursion",
    "–" if excursions.empty else f"{float(excursions['duration_minutes'].max()):.0f} min",
    border=True,
)
cols[2].metric("Devices", number(len(health)), border=True)
cols[3].metric(
    "Lowest uptime",
    percent(health["uptime_pct"].min()),
    help="Readings received as a share of the readings the device counted",
    border=True,
)

st.subheader("Cold-chain excursions (HACCP)")
if excursions.empty:
    st.success("No excursion in this range: chilled and frozen food stayed cold.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "Store": excursions["store_code"].map(labels),
                "Device": excursions["device_id"],
                "Started (UTC)": pd.to_datetime(excursions["started_at"]).dt.strftime(
                    "%d %b %H:%M"
                ),
                "Ended (UTC)": pd.to_datetime(excursions["ended_at"]).dt.strftime("%d %b %H:%M"),
                "Minutes": excursions["duration_minutes"].astype(float).round(0),
                "Peak °C": excursions["peak_temperature_c"].astype(float),
                "Limit °C": excursions["limit_temperature_c"].astype(float),
            }
        ),
        hide_index=True,
        width="stretch",
    )

ovens = data.oven_utilisation(access, f)
st.subheader("Ovens against orders, by hour of the day")
if ovens.empty:
    st.info("No oven readings in this range.")
else:
    ovens["store"] = ovens["store_code"].map(labels)
    ovens["on_minutes_per_day"] = ovens["oven_on_minutes"].astype(float) / ovens["hours"]
    ovens["orders_per_day"] = ovens["orders"].astype(float) / ovens["hours"]
    left, right = st.columns(2)
    for col, field, title in (
        (left, "on_minutes_per_day", "Oven on (minutes of the hour, average day)"),
        (right, "orders_per_day", "Orders (average day)"),
    ):
        with col:
            st.caption(title)
            st.altair_chart(
                alt.Chart(ovens)
                .mark_bar()
                .encode(
                    x=alt.X("local_hour:O", title="Hour (store's clock)"),
                    y=alt.Y(f"{field}:Q", title=None),
                    color=alt.Color("store:N", title="Store", legend=alt.Legend(orient="bottom")),
                    xOffset="store:N",
                    tooltip=["store", "local_hour", alt.Tooltip(f"{field}:Q", format=".1f")],
                )
                .properties(height=240),
                width="stretch",
            )

st.subheader("Device health")
st.dataframe(
    pd.DataFrame(
        {
            "Store": health["store_code"].map(labels),
            "Device": health["device_id"],
            "Kind": health["device_kind"],
            "Last seen (UTC)": pd.to_datetime(health["last_seen_at"]).dt.strftime("%d %b %H:%M"),
            "Uptime": health["uptime_pct"].map(percent),
            "Gaps": health["gaps"].astype(int),
            "Reboots": health["reboots"].astype(int),
            "Spikes": health["spike_readings"].astype(int),
            "Stuck readings": health["stuck_readings"].astype(int),
            "Garbled messages": health["quarantined_messages"].astype(int),
        }
    ),
    hide_index=True,
    width="stretch",
)
