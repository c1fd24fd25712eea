"""The store managers' dashboard (dashboard/app.py) in a real browser.

It is started as `make dashboard` starts it, on a free port over the shared built world's
published warehouse, with users made by `mypizza users add`; headless Chromium logs in,
picks a store in the sidebar, goes through the pages (a test each) and reads the figures
shown. Each is checked against the same figure worked out independently: from the POS
database with plain SQL (pos_truth) and from other marts than the ones the dashboard reads,
never from the dashboard's own queries. Then who sees what: a logged-out visitor gets the
login form and no figures; a store manager sees only their store in every selector and
figure, and asking for another store by URL, page link or a forged or expired login
cookie gets nothing of it.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import expect
from pos_truth import daily_store_sales
from support import MYPIZZA, Env

REPO = Path(__file__).resolve().parents[2]
STREAMLIT = str(Path(sys.executable).with_name("streamlit"))
VIEWPORT = {"width": 1400, "height": 1000}
COOKIE_KEY = "dashboard-test-cookie-key-0c5e-4b1d-9a7f"  # test only: pragma: allowlist secret
PASSWORDS = {"hq": "head office pass 1", "manager": "manager pass 22"}  # pragma: allowlist secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Store:
    code: str
    name: str
    currency: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.currency})"

    @property
    def symbol(self) -> str:
        return {"EUR": "€", "GBP": "£", "USD": "$"}[self.currency]


@pytest.fixture(scope="module")
def stores(built_world: Env) -> list[Store]:
    """The world's stores with sales; the POS's first (the POS database vouches for them)."""
    rows = built_world.query(
        """
        select store_code, store_name, currency from marts.dim_stores
        where store_code in (select store_code from marts.rpt_daily_store_sales)
        order by source_system <> 'mypizza_pos', store_name desc
        """,
        published=True,
    )
    assert len(rows) >= 3
    return [Store(*row) for row in rows]


@contextlib.contextmanager
def served(env: dict[str, str], folder: Path, manager_store: str) -> Iterator[str]:
    """The dashboard's URL, served by `streamlit run` as `make dashboard` does with ``env``,
    with a head office user `hq` and a store manager `manager` of ``manager_store``, both
    made by `mypizza users add` in ``folder``'s users file; stopped afterwards."""
    env = {
        **env,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "DASHBOARD__USERS_FILE": str(folder / "users.yaml"),
        "DASHBOARD__COOKIE_KEY": COOKIE_KEY,
    }
    for user, role in (("hq", "head_office"), ("manager", "store_manager")):
        scope = ["--store", manager_store] if user == "manager" else []
        added = subprocess.run(
            [MYPIZZA, "users", "add", user, "--role", role, *scope, "--password-stdin"],
            input=PASSWORDS[user] + "\n",
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert added.returncode == 0, added.stderr
    port = free_port()
    log = folder / "streamlit.log"
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


@pytest.fixture(scope="module")
def dashboard(built_world, stores, tmp_path_factory) -> Iterator[str]:
    """The dashboard served over the built world's published warehouse (`served`), its
    store manager managing the first POS store."""
    with served(built_world.vars, tmp_path_factory.mktemp("dashboard"), stores[0].code) as url:
        yield url


def amount(text: str) -> Decimal:
    """`€12,345.67` -> Decimal('12345.67')."""
    return Decimal("".join(ch for ch in text if ch.isdigit() or ch in ".-"))


def metric(page, label: str) -> str:
    """The value shown by the st.metric labelled exactly `label` (waits for it)."""
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True))
    box.first.wait_for(timeout=60_000)
    # during a rerun Streamlit shows the last run's elements (stale) beside the new ones, so
    # two can show for a moment: wait until the page has settled on one (a page that really
    # shows two still fails, after 30 s)
    expect(box).to_have_count(1, timeout=30_000)
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def settle(page) -> None:
    """Wait until Streamlit has finished the rerun (no spinner/status widget running)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
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


def log_in(browser, url: str, user: str, password: str | None = None, path: str = ""):
    """A fresh browser context (no cookies) logged in as ``user``; returns its page."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url + path)
    form = page.locator('[data-testid="stForm"]')
    form.wait_for(timeout=60_000)
    form.get_by_label("Username", exact=True).fill(user)
    form.get_by_label("Password", exact=True).fill(password or PASSWORDS[user])
    form.get_by_role("button", name="Login").click()
    return page


def pick_store(page, store: Store) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option", name=store.label).click()


def go_to(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()


@pytest.fixture(scope="module")
def truth(built_world):
    """Daily sales per (store, day) straight from the POS database."""
    return daily_store_sales(built_world.world / "pos.sqlite")


def test_sales_page(built_world, chromium, dashboard, stores, truth, artifacts):
    store = stores[0]
    pos_net = sum(v[4] for (s, _), v in truth.items() if s == store.code)
    pos_orders = sum(v[0] for (s, _), v in truth.items() if s == store.code)
    page = log_in(chromium, dashboard, "hq")
    try:
        metric(page, f"Net sales ({store.currency})")  # every store at first
        settle(page)
        # the world's stores sell in EUR and (the franchise store) USD: a row of figures each
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(8, timeout=60_000)
        pick_store(page, store)
        # one store: one currency, one row of four figures
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(4, timeout=60_000)
        settle(page)
        shown = metric(page, f"Net sales ({store.currency})")
        assert shown.startswith(store.symbol), shown
        assert amount(shown) == pos_net, (shown, pos_net)
        assert int(amount(metric(page, f"Orders ({store.currency} stores)"))) == pos_orders
        aov = amount(metric(page, f"Average order value ({store.currency})"))
        assert abs(aov - pos_net / pos_orders) <= Decimal("0.005")
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 3  # trend, heat, mix

        # the range filter: the last 7 business days
        week = sorted(day for (s, day) in truth if s == store.code)[-7:]
        pick_days(page, week[0], week[-1])
        days_shown = page.locator('[data-testid="stMetric"]').filter(
            has=page.get_by_text(f"Days with sales ({store.currency} stores)", exact=True)
        )
        expect(days_shown.locator('[data-testid="stMetricValue"]')).to_have_text(
            "7", timeout=60_000
        )
        settle(page)
        week_net = sum(v[4] for (s, day), v in truth.items() if s == store.code and day in week)
        week_orders = sum(v[0] for (s, day), v in truth.items() if s == store.code and day in week)
        assert amount(metric(page, f"Net sales ({store.currency})")) == week_net
        assert int(amount(metric(page, f"Orders ({store.currency} stores)"))) == week_orders
        snap(page, artifacts / "dashboard_sales.png")
    finally:
        page.context.close()


def test_inventory_page(built_world, chromium, dashboard, stores, truth, artifacts):
    store = stores[0]
    q = lambda sql: built_world.query(sql, published=True)  # noqa: E731
    week = sorted(day for (s, day) in truth if s == store.code)[-7:]
    page = log_in(chromium, dashboard, "hq", path=f"/inventory?store={store.code}")
    try:
        metric(page, "Runs out first")
        pick_days(page, week[0], week[-1])
        page.get_by_text(f"{date.fromisoformat(week[0]):%a %d %b %Y} –").wait_for(timeout=60_000)
        settle(page)
        [(first_out,)] = q(
            f"select ingredient_name from marts.rpt_stock_cover "
            f"where store_code = '{store.code}' and runs_out_rank = 1"
        )
        assert metric(page, "Runs out first") == first_out
        [(waste_cost,)] = q(
            f"""
            select sum(waste_cost) from marts.fct_waste
            where store_code = '{store.code}' and waste_date between '{week[0]}' and '{week[-1]}'
            """
        )
        shown = metric(page, f"Waste cost ({store.currency})")
        assert shown.startswith(store.symbol) and amount(shown) == waste_cost, (shown, waste_cost)
        snap(page, artifacts / "dashboard_inventory.png")
    finally:
        page.context.close()


def test_customers_page(built_world, chromium, dashboard, stores, truth, artifacts):
    store = stores[0]
    q = lambda sql: built_world.query(sql, published=True)  # noqa: E731
    page = log_in(chromium, dashboard, "hq", path=f"/customers?store={store.code}")
    try:
        metric(page, "Average rating")
        first_day = min(day for (s, day) in truth)
        since = date.fromisoformat(first_day).strftime("%d %b %Y")
        page.get_by_text(f"start between {since}", exact=False).wait_for(timeout=60_000)
        settle(page)
        # the latest week's reviews of the store, averaged here from the review fact
        [(reviews, stars)] = q(
            f"""
            select count(*), sum(rating) from marts.fct_reviews
            where store_code = '{store.code}' and date_trunc('week', review_date) = (
                select max(date_trunc('week', review_date)) from marts.fct_reviews
                where store_code = '{store.code}')
            """
        )
        assert int(amount(metric(page, "Reviews"))) == reviews
        rating = amount(metric(page, "Average rating"))
        assert abs(rating - Decimal(stars) / reviews) <= Decimal("0.005")
        snap(page, artifacts / "dashboard_customers.png")
    finally:
        page.context.close()


# ---------------------------------------------------------------- who sees what
def shows_login_form_only(page) -> None:
    form = page.locator('[data-testid="stForm"]')
    form.wait_for(timeout=60_000)
    expect(form.get_by_label("Password", exact=True)).to_be_visible()
    settle(page)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 0
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def test_a_logged_out_visitor_gets_the_login_form_and_no_figures(
    chromium, dashboard, stores, truth
):
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        for path in ("", "/inventory", f"/customers?store={stores[0].code}"):
            page.goto(dashboard + path)
            shows_login_form_only(page)
            body = page.inner_text("body")
            assert not any(s.name in body or s.code in body for s in stores), path
        # a wrong password: refused, still nothing shown
        page = log_in(chromium, dashboard, "hq", password="not the password")
        page.get_by_text("Wrong user name or password").wait_for(timeout=60_000)
        shows_login_form_only(page)
        page.context.close()
        # a login cookie signed with another key, or expired, is no login
        for key, days in (("some other key of 32 bytes or more", 1), (COOKIE_KEY, -1)):
            forged = chromium.new_context(viewport=VIEWPORT)
            expires = (datetime.now() + timedelta(days=days)).timestamp()
            token = jwt.encode({"username": "hq", "exp_date": expires}, key, algorithm="HS256")
            forged.add_cookies([{"name": "mypizza_dashboard", "value": token, "url": dashboard}])
            page = forged.new_page()
            page.goto(dashboard)
            shows_login_form_only(page)
            forged.close()
    finally:
        context.close()


def test_a_store_manager_sees_only_their_store(built_world, chromium, dashboard, stores, truth):
    mine, others = stores[0], stores[1:]
    pos_net = sum(v[4] for (s, _), v in truth.items() if s == mine.code)
    page = log_in(chromium, dashboard, "manager")
    try:
        shown = metric(page, f"Net sales ({mine.currency})")
        settle(page)
        # one store: the selector offers it alone, and the figures are its own
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
        options = page.get_by_role("option")
        assert options.all_inner_texts() == [mine.label]
        page.keyboard.press("Escape")
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(4, timeout=60_000)
        assert amount(shown) == pos_net
        for title in ("Sales", "Inventory", "Customers"):
            if title != "Sales":
                go_to(page, title)
                page.locator("h1").get_by_text(title).wait_for(timeout=60_000)
                settle(page)
            body = page.inner_text("body")
            for other in others:
                assert other.name not in body and other.code not in body, (title, other)

        # asking for another store by URL, on every page: a warning, and only their store
        # (each page asked for another store: one store each, to keep the test short)
        for i, path in enumerate(("", "/inventory", "/customers")):
            other = others[i % len(others)]
            page.goto(f"{dashboard}{path}?store={other.code}")
            page.get_by_text(f"No store '{other.code}' among yours").wait_for(timeout=60_000)
            settle(page)
            body = page.inner_text("body")
            assert other.name not in body, (path, other)
            if path == "":
                assert amount(metric(page, f"Net sales ({mine.currency})")) == pos_net
                assert page.locator('[data-testid="stMetric"]').count() == 4
        # logging out ends it: the login form, and no figures
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Log out").click()
        shows_login_form_only(page)
        page.goto(dashboard)
        shows_login_form_only(page)
    finally:
        page.context.close()
