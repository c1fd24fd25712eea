"""Reading the marts and formatting their figures; no business logic lives here.

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

from mypizza.warehouse import published_path

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
ALL_STORES = "All stores"


def warehouse_file() -> Path:
    """The published copy of the warehouse named by MYPIZZA_WAREHOUSE (as every command)."""
    warehouse = Path(os.environ.get("MYPIZZA_WAREHOUSE", "warehouse/mypizza.duckdb"))
    return published_path(warehouse).resolve()


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(sql: str, params: tuple, path: str, version: float) -> pd.DataFrame:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(sql, list(params)).df()


def query(sql: str, *params: object) -> pd.DataFrame:
    """Run a SELECT on the published warehouse (a connection of its own, read-only)."""
    path = warehouse_file()
    return _cached(sql, tuple(params), str(path), path.stat().st_mtime)


@dataclass(frozen=True)
class Filters:
    """What the sidebar selected: store codes and an inclusive range of business days."""

    stores: tuple[str, ...]
    start: date
    end: date

    @property
    def store_list(self) -> list[str]:
        return list(self.stores)


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
