"""Fixtures shared by the test files.

`built_world`: one small world, simulated and run through `mypizza run` once per test session
(the first xdist worker to ask builds it under a file lock; the others wait and reuse it).
Tests may read it, never change it: a test that advances a world or loads bad data makes its
own with `Env`.

`chromium`: Debian's Chromium (`make setup-browser` installs it), driven by Playwright, headless,
with a fresh profile and no background networking (the machine's network is closed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from support import ARTIFACTS, CHROMIUM, DATA, DBT, MYPIZZA, REPO, Env, query

# Re-exported for the files that import them from here (`from conftest import Env`).
__all__ = ["ARTIFACTS", "CHROMIUM", "DATA", "DBT", "MYPIZZA", "REPO", "Env", "query"]


# Files that build a world of their own with dbt, from before the markers: `e2e` as a whole.
# A new such file says so itself: `pytestmark = pytest.mark.e2e`.
E2E_FILES = {
    "test_bad_input.py",
    "test_concurrency.py",
    "test_crash_recovery.py",
    "test_feedback_marts.py",
    "test_incremental.py",
    "test_macros.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers (pyproject.toml) follow what a test uses: Chromium makes it `browser`, the
    built world `e2e`, Spark (test_spark*.py) `spark`."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "chromium" in names:
            item.add_marker(pytest.mark.browser)
        if "built_world" in names or item.path.name in E2E_FILES:
            item.add_marker(pytest.mark.e2e)
        if item.path.name.startswith("test_spark"):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """2 stores x 14 days, every source, after one `mypizza run`. Read-only for tests."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this session's folder, the same for every xdist worker
    env = Env(shared / "built_world")
    if "MYPIZZA_IOT_DAYS" not in os.environ:
        env.vars.pop("MYPIZZA_IOT_DAYS")  # the default days of devices: the IoT tests read them
    with FileLock(str(shared / "built_world.lock")):
        if not (env.root / "built.ok").exists():
            env.mypizza("simulate", "--stores", "2", "--days", "14", "--start", "2026-04-06")
            env.output = env.mypizza("run")
            (env.root / "run.log").write_text(env.output)
            (env.root / "built.ok").touch()
    env.output = (env.root / "run.log").read_text()
    return env


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A headless Chromium browser (a Playwright `Browser`)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup-browser` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        _renders_a_local_page(browser)
        yield browser
        browser.close()


def _renders_a_local_page(browser) -> None:
    """Before any test uses it: the browser loads a page from a server on 127.0.0.1 and
    renders it (a browser that starts but cannot do this fails here, saying so)."""
    import http.server
    import tempfile
    import threading

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "index.html").write_text("<h1 id='t'>myPizza</h1>")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        def handler(*args):
            return Quiet(*args, directory=folder)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
            shown = page.text_content("#t")
            page.close()
        finally:
            server.shutdown()
            server.server_close()
    if shown != "myPizza":
        pytest.fail(f"{CHROMIUM} started but did not render a local page (showed {shown!r})")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests save what a person wants to look at afterwards (screenshots)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
