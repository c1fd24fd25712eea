"""The store managers' dashboard (dashboard/app.py) in a real browser.

It is started as `make dashboard` starts it, on a free port over the shared built world's
published warehouse; headless Chromium opens it, picks a store in the sidebar, goes through
the three pages and reads the figures shown. Each is checked against the same figure worked
out independently: from the POS database with plain SQL (pos_truth) and from other marts
than the ones the dashboard reads, never from the dashboard's own queries.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pos_truth import daily_store_sales

REPO = Path(__file__).resolve().parents[2]
STREAMLIT = str(Path(sys.executable).with_name("streamlit"))
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(built_world, tmp_path_factory) -> Iterator[str]:
    """The dashboard's URL, served by `streamlit run` over the built world's warehouse."""
    port = free_port()
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    env = {**built_world.vars, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [STREAMLIT, "run", "dashboard/app.py", "--server.headless", "true"]
            + ["--server.port", str(port), "--server.address", "127.0.0.1"]
            + ["--client.toolbarMode", "viewer"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"streamlit exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"streamlit did not start:\n{log.read_text()}"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def amount(text: str) -> Decimal:
    """`€12,345.67` -> Decimal('12345.67')."""
    return Decimal("".join(ch for ch in text if ch.isdigit() or ch in ".-"))


def metric(page, label: str) -> str:
    """The value shown by the st.metric labelled exactly `label` (waits for it)."""
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True))
    box.first.wait_for(timeout=30_000)
    assert box.count() == 1, f"{box.count()} metrics labelled {label!r}"
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def settle(page) -> None:
    """Wait until Streamlit has finished the rerun (no spinner/status widget running)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=30_000)
    page.wait_for_timeout(700)  # charts draw after the script finished
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")


def snap(page, path: Path) -> None:
    """Screenshot the whole page: the window is made as tall as the page's content."""
    box = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    height = max(VIEWPORT["height"], int(box["y"] + box["height"]) + 40) if box else 2000
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.wait_for_timeout(800)  # charts resize to the window
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def pick_days(page, first: str, last: str) -> None:
    """The sidebar's range of business days: both ends typed in, then the picker closed."""
    ends = page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input[type="date"]')
    ends.nth(0).fill(first, force=True)
    ends.nth(1).fill(last, force=True)
    page.keyboard.press("Escape")
    page.locator("h1").first.click()  # the range is applied when the picker loses focus


def test_dashboard_pages_show_the_marts_figures(built_world, chromium, dashboard, artifacts):
    q = lambda sql: built_world.query(sql, published=True)  # noqa: E731
    # a store of the myPizza POS (so the POS database can vouch for it), not the first listed
    [(store, name, currency)] = q(
        """
        select store_code, store_name, currency from marts.dim_stores
        where source_system = 'mypizza_pos'
            and store_code in (select store_code from marts.rpt_daily_store_sales)
        order by store_name desc limit 1
        """
    )
    symbol = {"EUR": "€", "GBP": "£", "USD": "$"}[currency]
    truth = daily_store_sales(built_world.world / "pos.sqlite")
    pos_net = sum(v[4] for (s, _), v in truth.items() if s == store)
    pos_orders = sum(v[0] for (s, _), v in truth.items() if s == store)
    [(mart_net, mart_orders)] = q(
        f"select sum(net_sales), sum(orders) from marts.rpt_daily_store_sales "
        f"where store_code = '{store}'"
    )
    assert (mart_net, mart_orders) == (pos_net, pos_orders)

    page = chromium.new_page(viewport=VIEWPORT)
    try:
        page.goto(dashboard)
        metric(page, f"Net sales ({currency})")  # every store at first
        settle(page)
        # the world's stores sell in EUR and (the franchise store) USD: a row of figures each
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(8, timeout=30_000)

        # the store filter: the sidebar's select box, then the store's option
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
        page.get_by_role("option", name=f"{name} ({currency})").click()
        # one store: one currency, one row of four figures
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(4, timeout=30_000)
        settle(page)
        shown = metric(page, f"Net sales ({currency})")
        assert shown.startswith(symbol), shown
        assert amount(shown) == pos_net, (shown, pos_net)
        assert int(amount(metric(page, f"Orders ({currency} stores)"))) == pos_orders
        aov = amount(metric(page, f"Average order value ({currency})"))
        assert abs(aov - pos_net / pos_orders) <= Decimal("0.005")
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 3  # trend, heat, mix

        # the range filter: the last 7 business days
        week = sorted(day for (s, day) in truth if s == store)[-7:]
        pick_days(page, week[0], week[-1])
        days_shown = page.locator('[data-testid="stMetric"]').filter(
            has=page.get_by_text(f"Days with sales ({currency} stores)", exact=True)
        )
        expect(days_shown.locator('[data-testid="stMetricValue"]')).to_have_text(
            "7", timeout=30_000
        )
        settle(page)
        week_net = sum(v[4] for (s, day), v in truth.items() if s == store and day in week)
        week_orders = sum(v[0] for (s, day), v in truth.items() if s == store and day in week)
        assert amount(metric(page, f"Net sales ({currency})")) == week_net
        assert int(amount(metric(page, f"Orders ({currency} stores)"))) == week_orders
        snap(page, artifacts / "dashboard_sales.png")

        page.locator('[data-testid="stSidebarNav"]').get_by_text("Inventory", exact=True).click()
        metric(page, "Runs out first")
        settle(page)
        [(first_out,)] = q(
            f"select ingredient_name from marts.rpt_stock_cover "
            f"where store_code = '{store}' and runs_out_rank = 1"
        )
        assert metric(page, "Runs out first") == first_out
        [(waste_cost,)] = q(
            f"""
            select sum(waste_cost) from marts.fct_waste
            where store_code = '{store}' and waste_date between '{week[0]}' and '{week[-1]}'
            """
        )
        shown = metric(page, f"Waste cost ({currency})")
        assert shown.startswith(symbol) and amount(shown) == waste_cost, (shown, waste_cost)
        snap(page, artifacts / "dashboard_inventory.png")

        page.locator('[data-testid="stSidebarNav"]').get_by_text("Customers", exact=True).click()
        metric(page, "Average rating")
        first_day = min(day for (s, day) in truth)
        pick_days(page, first_day, max(day for (s, day) in truth))  # every week
        since = date.fromisoformat(first_day).strftime("%d %b %Y")
        page.get_by_text(f"start between {since}", exact=False).wait_for(timeout=30_000)
        settle(page)
        metric(page, "Average rating")
        settle(page)
        # the latest week's reviews of the store, averaged here from the review fact
        [(reviews, stars)] = q(
            f"""
            select count(*), sum(rating) from marts.fct_reviews
            where store_code = '{store}' and date_trunc('week', review_date) = (
                select max(date_trunc('week', review_date)) from marts.fct_reviews
                where store_code = '{store}')
            """
        )
        assert int(amount(metric(page, "Reviews"))) == reviews
        rating = amount(metric(page, "Average rating"))
        assert abs(rating - Decimal(stars) / reviews) <= Decimal("0.005")
        snap(page, artifacts / "dashboard_customers.png")
    finally:
        page.close()
