"""What the test files share: where the programs and the data sets are, `query()` on a DuckDB
file, and `Env`, a world with a warehouse of its own.

Import from here (`from support import Env, query`); conftest.py re-exports the same names
for the files that import them from there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

BIN = Path(sys.executable).parent  # the virtual environment the tests run in
MYPIZZA = str(BIN / "mypizza")
DBT = str(BIN / "dbt")
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"  # real data sets nobody here wrote (tests/data/README.md)
CHROMIUM = os.environ.get("MYPIZZA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and other test output (git-ignored)

# Where the developer's shell may point the sources (dlt config): a test's world reads its own.
SOURCE_LOCATIONS = (
    "SOURCES__POS__CREDENTIALS",
    "SOURCES__INVENTORY__BUCKET_URL",
    "SOURCES__FEEDBACK__BASE_URL",
    "SOURCES__FEEDBACK__TOKEN",
    "SOURCES__FRANCHISE__BUCKET_URL",
)


def query(database: Path | str, sql: str) -> list[tuple]:
    """The rows of ``sql`` on a DuckDB file, opened read-only for this one query."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


# A test world's kitchen devices publish for its last day only (default 5 days): IoT is
# most of a small world's ingest. The built world keeps the default for the IoT tests.
SMALL_WORLD = {"MYPIZZA_IOT_DAYS": "1"}


class Env:
    """A world, a warehouse and a dbt target folder of its own, in one folder.

    ``vars`` is the environment its commands run with; add to it (a bucket, a token) before
    running them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.world = root / "world"
        self.warehouse = root / "warehouse" / "mypizza.duckdb"
        self.published = self.warehouse.with_name("mypizza.published.duckdb")
        self.target = root / "target"
        self.vars = {
            **SMALL_WORLD,
            **os.environ,
            "MYPIZZA_WORLD": str(self.world),
            "MYPIZZA_WAREHOUSE": str(self.warehouse),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(root / "logs"),
        }
        for name in SOURCE_LOCATIONS:
            self.vars.pop(name, None)

    def run(self, program: str, *args: str, check: bool = True) -> str:
        """Run ``program ARGS`` from the repository root; returns stdout (with ``check``, a
        failure fails the test and shows both outputs)."""
        result = subprocess.run(
            [program, *args], cwd=REPO, env=self.vars, capture_output=True, text=True
        )
        if check:
            name = Path(program).name
            assert result.returncode == 0, f"{name} {args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def mypizza(self, *args: str, check: bool = True) -> str:
        """Run `mypizza ARGS` as a user does; returns stdout (fails the test on error)."""
        return self.run(MYPIZZA, *args, check=check)

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `dbt ARGS` from the repository root against this warehouse (prod target)."""
        return subprocess.run([DBT, *args], cwd=REPO, env=self.vars, capture_output=True, text=True)

    def query(self, sql: str, published: bool = False) -> list[tuple]:
        return query(self.published if published else self.warehouse, sql)


def free_port() -> int:
    """A TCP port nobody listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_s3_server(timeout: float = 60) -> Iterator[str]:
    """moto's S3 server on a free 127.0.0.1 port, stopped on exit; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
