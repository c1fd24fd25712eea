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
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from filelock import FileLock

MYPIZZA = str(Path(sys.executable).with_name("mypizza"))
DBT = str(Path(sys.executable).with_name("dbt"))
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MYPIZZA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and other test output (git-ignored)


class Env:
    """A world, a warehouse and a dbt target folder of its own, in one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.world = root / "world"
        self.warehouse = root / "warehouse" / "mypizza.duckdb"
        self.published = self.warehouse.with_name("mypizza.published.duckdb")
        self.target = root / "target"
        self.vars = {
            **os.environ,
            "MYPIZZA_WORLD": str(self.world),
            "MYPIZZA_WAREHOUSE": str(self.warehouse),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(root / "logs"),
        }
        # the world's own sources, whatever the developer's shell points elsewhere
        self.vars.pop("SOURCES__INVENTORY__BUCKET_URL", None)

    def mypizza(self, *args: str, check: bool = True) -> str:
        """Run `mypizza ARGS` as a user does; returns stdout (fails the test on error)."""
        result = subprocess.run(
            [MYPIZZA, *args], cwd=REPO, env=self.vars, capture_output=True, text=True
        )
        if check:
            assert result.returncode == 0, f"mypizza {args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `dbt ARGS` from the repository root against this warehouse (prod target)."""
        return subprocess.run([DBT, *args], cwd=REPO, env=self.vars, capture_output=True, text=True)

    def query(self, sql: str, published: bool = False) -> list[tuple]:
        path = self.published if published else self.warehouse
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """2 stores x 14 days, every source, after one `mypizza run`. Read-only for tests."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this session's folder, the same for every xdist worker
    env = Env(shared / "built_world")
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
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests save what a person wants to look at afterwards (screenshots)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
