"""The dashboard's Today page (dashboard/views/today.py) in Chromium: the live slice, how
fresh it is, refreshing itself, and only the user's stores.

The dashboard runs as `make dashboard` runs it, over a copy of the shared built world's
published warehouse, with a live slice published beside it as `mypizza live` publishes it
(mypizza.live.publish_live). The figures are checked against the POS database (pos_truth);
a new slice, then a failing loop (its heartbeat), must show on the open page without a reload.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from pos_truth import daily_store_sales
from support import Env
from test_dashboard import (
    amount,
    go_to,
    log_in,
    metric,
    served,
    settle,
    snap,
)

from mypizza.live import Heartbeat, publish_live

REFRESH = 2  # seconds: the page's own refresh, shortened for the test


@pytest.fixture(scope="module")
def today(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """(dashboard URL, the copy's warehouse path, the POS stores' codes, names)."""
    root = tmp_path_factory.mktemp("today")
    warehouse = root / "warehouse" / "mypizza.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(built_world.published, warehouse.with_name("mypizza.published.duckdb"))
    shutil.copyfile(built_world.published, warehouse)  # what the live slice is read from
    publish_live(warehouse, datetime.now(UTC) - timedelta(seconds=3))
    stores = built_world.query(
        "select store_code, store_name from marts.dim_stores where source_system = "
        "'mypizza_pos' and store_code in (select store_code from marts.rpt_live_store_today) "
        "order by store_code",
        published=True,
    )
    assert len(stores) >= 2
    env = {
        **built_world.vars,
        "MYPIZZA_WAREHOUSE": str(warehouse),
        "DASHBOARD__TODAY_REFRESH_SECONDS": str(REFRESH),
    }
    with served(env, root, stores[0][0]) as url:
        yield url, warehouse, stores


def _as_of(page) -> str:
    caption = page.get_by_text(re.compile(r"as of \d\d:\d\d:\d\d UTC, \d+ s ago")).first
    caption.wait_for(timeout=60_000)
    return re.search(r"as of (\d\d:\d\d:\d\d)", caption.inner_text()).group(1)


def test_today_page_shows_the_live_slice_and_refreshes_itself(
    built_world, chromium, today, artifacts
):
    url, warehouse, stores = today
    truth = daily_store_sales(built_world.world / "pos.sqlite")
    code, others = stores[0][0], stores[1:]
    last_day = max(day for (store, day) in truth if store == code)
    orders, net = truth[code, last_day][0], truth[code, last_day][4]

    page = log_in(chromium, url, "manager", path="/today")
    try:
        page.locator("h1").get_by_text("Today").wait_for(timeout=60_000)
        settle(page)
        # the store manager's own store only, and its figures are the POS's for its day
        assert int(amount(metric(page, "Orders today (EUR stores)"))) == orders
        assert amount(metric(page, "Net sales today (EUR)")) == net
        body = page.inner_text("body")
        for other_code, other_name in others:
            assert other_code not in body and other_name not in body
        first = _as_of(page)

        # a new slice is published: the open page shows it by itself, no reload, fresh
        time.sleep(1.1)
        publish_live(warehouse, datetime.now(UTC))
        # (the caption of the new slice: "Live: as of" another time than the first's)
        newer = rf"^Live: as of (?!{re.escape(first)})\d\d:\d\d:\d\d UTC"
        expect(page.get_by_text(re.compile(newer))).to_be_visible(timeout=10 * REFRESH * 1000)
        assert _as_of(page) != first
        assert page.get_by_text("Stale").count() == 0
        snap(page, artifacts / "dashboard_today.png")

        # the loop fails (the POS unreachable): the page says the figures are stale
        beat = Heartbeat(pid=1, every=1.0, started_at=datetime.now(UTC).isoformat())
        beat.error = "cannot reach the POS database sqlite:///pos.sqlite: the file is missing"
        beat.failing_since = datetime.now(UTC).isoformat(timespec="seconds")
        beat.write(warehouse)
        page.get_by_text(re.compile("Stale: as of")).wait_for(timeout=6 * REFRESH * 1000)
        assert "cannot reach the POS database" in page.inner_text("body")
    finally:
        page.context.close()


def test_head_office_sees_every_pos_store_today(built_world, chromium, today):
    url, _, stores = today
    truth = daily_store_sales(built_world.world / "pos.sqlite")
    expected = 0
    for code, _ in stores:
        last_day = max(day for (store, day) in truth if store == code)
        expected += truth[code, last_day][0]
    page = log_in(chromium, url, "hq")
    try:
        metric(page, "Net sales (EUR)")
        go_to(page, "Today")
        page.locator("h1").get_by_text("Today").wait_for(timeout=60_000)
        settle(page)
        assert int(amount(metric(page, "Orders today (EUR stores)"))) == expected
    finally:
        page.context.close()
