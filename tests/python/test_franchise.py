"""The franchise integration on a real export nobody here wrote: Plato's Pizza's 2015 CSV
export (tests/data/maven_pizza_2015, kept byte for byte), loaded as a store through
`mypizza` (the dlt franchise pipeline, then dbt build), must reproduce the totals its
publisher gives, read from the marts; a resend changes nothing; a malformed export is
rejected with the store, file, line and problem, and loses nothing."""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from support import DATA, DBT, Env

from ingestion.franchise import FILE_BY_NAME, ExportError, read_export, read_export_file

MAVEN = DATA / "maven_pizza_2015"
FILES = ("orders.csv", "order_details.csv", "pizzas.csv", "pizza_types.csv")

# Published with the data set: what a correct load must reproduce.
PLATOS = {
    "orders": 21_350,
    "order_lines": 48_620,
    "pizzas_sold": 49_574,
    "revenue": Decimal("817860.05"),
    "trading_days": 358,
}


class FranchiseEnv(Env):
    """A world, a franchise bucket, a warehouse and a dbt target of their own."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bucket = root / "bucket"
        self.vars["SOURCES__FRANCHISE__BUCKET_URL"] = self.bucket.resolve().as_uri()

    def dbt_build(self) -> str:
        """Plain `dbt build` from the repository root, as analysts run it (no docs: faster)."""
        return self.run(DBT, "build")

    def store_totals(self, store_code: str) -> dict[str, object]:
        """The published figures, computed from the marts for one store."""
        orders, revenue = self.query(
            "select count(*), sum(order_total) from marts.fct_orders "
            f"where store_code = '{store_code}' and not is_voided"
        )[0]
        lines, sold, line_revenue = self.query(
            "select count(*), sum(quantity), sum(line_total) from marts.fct_order_items "
            f"where store_code = '{store_code}' and not is_voided"
        )[0]
        days, day_orders, day_items, gross = self.query(
            "select count(*), sum(orders), sum(items_sold), sum(gross_sales) "
            f"from marts.rpt_daily_store_sales where store_code = '{store_code}'"
        )[0]
        assert (orders, revenue) == (day_orders, gross) and sold == day_items
        assert line_revenue == revenue
        return {
            "orders": orders,
            "order_lines": lines,
            "pizzas_sold": sold,
            "revenue": revenue,
            "trading_days": days,
        }


def copy_export(source: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(source / name, folder / name)  # byte for byte


def test_the_real_export_is_in_the_repository_byte_for_byte() -> None:
    """The data set is part of the repository: missing or altered (a tool converting its
    CRLF or its Windows-1252 text) is a failure, never a skip."""
    sums = (DATA / "SHA256SUMS").read_text().split("\n")
    expected = dict(reversed(line.split("  ", 1)) for line in sums if line)
    assert sorted(expected) == sorted(f"maven_pizza_2015/{name}" for name in FILES)
    for name, digest in expected.items():
        path = DATA / name
        assert path.is_file(), f"{path} is missing: it is tracked in git (git checkout -- {path})"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was altered"
    orders = (MAVEN / "orders.csv").read_bytes()
    assert orders.count(b"\r\n") == orders.count(b"\n") == PLATOS["orders"] + 1


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> FranchiseEnv:
    env = FranchiseEnv(tmp_path_factory.mktemp("franchise"))
    env.mypizza("simulate", "--stores", "1", "--days", "2", "--start", "2026-03-02", "--seed", "5")
    copy_export(MAVEN, env.bucket / "platos")
    copy_export(env.root / "world" / "franchise" / "tonys", env.bucket / "tonys")
    env.first_output = env.mypizza("ingest", "all")
    env.dbt_build()
    env.first_totals = {s: env.store_totals(s) for s in ("platos", "tonys")}
    env.first_raw = env.query(
        "select store_code, count(*) from raw_franchise.order_details group by 1 order by 1"
    )
    return env


@pytest.fixture(scope="module")
def resent(env: FranchiseEnv) -> FranchiseEnv:
    """Round two: platos resends its whole year (the same ids), tonys sends an export with
    a bad number in order_details.csv, a new store newco one without pizzas.csv."""
    copy_export(MAVEN, env.bucket / "platos")
    (env.bucket / "platos" / "orders.csv").touch()
    tonys = env.bucket / "tonys" / "order_details.csv"
    lines = tonys.read_bytes().split(b"\r\n")
    lines[3] = lines[3].rsplit(b",", 1)[0] + b",two"  # a bad number on line 4
    tonys.write_bytes(b"\r\n".join(lines))
    newco = env.bucket / "newco"
    copy_export(MAVEN, newco)
    (newco / "pizzas.csv").unlink()
    env.second_output = env.mypizza("ingest", "franchise")  # exits 0: the others loaded
    env.dbt_build()
    return env


@pytest.mark.e2e
def test_the_real_export_reproduces_the_published_totals(env: FranchiseEnv) -> None:
    assert "REJECTED" not in env.first_output
    assert env.first_totals["platos"] == PLATOS


@pytest.mark.e2e
def test_franchise_rows_are_in_every_sales_mart_beside_the_pos(env: FranchiseEnv) -> None:
    systems = dict(
        env.query("select source_system, count(*) from marts.fct_orders group by source_system")
    )
    assert systems.keys() == {"mypizza_pos", "franchise_csv"}
    assert env.query(
        "select source_system, currency, timezone from marts.dim_stores where store_code = 'platos'"
    ) == [("franchise_csv", "USD", "America/New_York")]
    # local 2015-01-01 11:38:36 in New York (EST, UTC-5) is 16:38:36 UTC
    ((ordered_at, channel, status),) = env.query(
        "select cast(ordered_at as varchar), order_channel, order_status from marts.fct_orders "
        "where store_code = 'platos' and order_id = 1"
    )
    assert (ordered_at, channel, status) == ("2015-01-01 16:38:36", "unknown", "completed")
    # summer time (EDT, UTC-4): the first order of 2015-07-01, local 11:xx, is 15:xx UTC
    (hour,) = env.query(
        "select extract(hour from ordered_at) from marts.fct_orders "
        "where store_code = 'platos' and sales_date = date '2015-07-01' order by ordered_at limit 1"
    )[0]
    assert hour >= 14
    mapped = dict(
        env.query(
            "select source_product_code, sku from marts.dim_products "
            "where store_code = 'platos' and source_product_code in ('pepperoni_m', 'hawaiian_m')"
        )
    )
    assert mapped == {"pepperoni_m": "PZ-DIAV-M", "hawaiian_m": None}  # unmapped: kept


@pytest.mark.e2e
def test_a_resent_year_changes_nothing(resent: FranchiseEnv) -> None:
    assert "REJECTED store platos" not in resent.second_output
    assert "orders" in resent.second_output.split("franchise:")[-1]  # read again, not skipped
    assert (
        resent.query(
            "select store_code, count(*) from raw_franchise.order_details group by 1 order by 1"
        )
        == resent.first_raw
    )
    assert resent.store_totals("platos") == PLATOS


@pytest.mark.e2e
def test_a_malformed_export_is_rejected_and_nothing_is_lost(resent: FranchiseEnv) -> None:
    out = resent.second_output
    assert "REJECTED store newco: pizzas.csv: the file is missing" in out, out
    assert (
        "REJECTED store tonys: order_details.csv line 4: column 'quantity': 'two' is not a "
        "whole number" in out
    ), out
    statuses = dict(resent.query("select store_code, status from raw_franchise.exports"))
    assert statuses == {"newco": "rejected", "platos": "loaded", "tonys": "rejected"}
    assert resent.store_totals("tonys") == resent.first_totals["tonys"]  # what it had before
    assert resent.query("select count(*) from raw_franchise.orders where store_code = 'newco'") == [
        (0,)
    ]
    # still rejected on the next run, until the store sends a good export
    assert "REJECTED store tonys" in resent.mypizza("ingest", "franchise")


# ---------------------------------------------------------------- the checks, file by file
def test_a_truncated_file_names_its_last_line() -> None:
    data = (MAVEN / "order_details.csv").read_bytes()[:-7]
    with pytest.raises(ExportError, match=r"order_details.csv line 48621: .*truncated"):
        read_export_file(data, FILE_BY_NAME["order_details.csv"])


def test_a_cut_off_line_inside_a_file_is_named() -> None:
    data = b"order_id,date,time\r\n1,2015-01-01,11:38:36\r\n2,2015-01-01\r\n"
    with pytest.raises(ExportError, match=r"orders.csv line 3: 2 field\(s\) where 3"):
        read_export_file(data, FILE_BY_NAME["orders.csv"])


def test_windows_1252_text_is_read_as_such() -> None:
    columns = read_export_file(
        (MAVEN / "pizza_types.csv").read_bytes(), FILE_BY_NAME["pizza_types.csv"]
    )
    calabrese = columns["ingredients"][columns["pizza_type_id"].index("calabrese")]
    assert calabrese.startswith("\u2018Nduja Salami")


def test_an_order_line_of_an_unknown_pizza_is_rejected() -> None:
    files = {name: (MAVEN / name).read_bytes() for name in FILES}
    files["pizzas.csv"] = files["pizzas.csv"].replace(b"hawaiian_m,", b"hawaii_m,")
    with pytest.raises(ExportError, match=r"order_details.csv line 2: pizza_id hawaiian_m"):
        read_export(files)
