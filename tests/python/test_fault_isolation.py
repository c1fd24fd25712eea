"""A failing part holds back only itself (docs/failures.md), with real processes and real
servers on 127.0.0.1.

One copy of the session's built world (2 stores x 14 days, published) goes through three
nights, each a real `mypizza run` after `mypizza simulate --days 1`:

1. the feedback API down (connection refused) and a stock count written twice in one
   store's new day (the error-severity uniqueness test of stg_inventory__stock_counts fails);
2. the feedback API refusing the token (HTTP 401) and the inventory bucket missing
   (``s3://`` on a moto S3 server that has no such bucket);
3. every fault cleared: a plain `mypizza run`.

After the faulty nights: exit status 3 (partial), each fault in one or two lines and never
a traceback; the sales marts in the published copy advance by the new day; the marts of the
affected areas are exactly (every row) what they were before the night; `mypizza status`
shows what is held back and since when. After the third: exit 0 and every area has caught
up. The areas affected are written out here from the models' lineage, not taken from the
code under test.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from support import MYPIZZA, REPO, Env, free_port, moto_s3_server

from simulator import FeedbackApiServer
from simulator.feedback import feedback_path

MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))
TOKEN = "fault-isolation-token"  # pragma: allowlist secret (made up)
WRONG = "not-the-token"  # pragma: allowlist secret (made up)
# marts, by what they read (models/marts/*, their refs)
SALES = (
    "fct_orders",
    "fct_order_items",
    "rpt_daily_store_sales",
    "rpt_sales_trend_daily",
    "rpt_product_sales_daily",
    "rpt_sales_by_hour",
)
FEEDBACK = (  # read the feedback source
    "fct_reviews",
    "fct_review_products",
    "rpt_product_feedback",
    "rpt_store_satisfaction_weekly",
    "rpt_complaint_tags_weekly",
)
STOCK_COUNTS = ("fct_inventory_daily", "rpt_stock_cover")  # read stg_inventory__stock_counts
INVENTORY = (*STOCK_COUNTS, "fct_waste")  # read the inventory source
DUPLICATE_TEST = (
    "unique_combination_of_columns_stg_inventory__stock_counts_store_code__count_date__"
    "ingredient_code"
)
# the seconds after which the shortened retries of these tests give up on a dead API
QUICK_RETRIES = {
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "0.2",
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
}


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free 127.0.0.1 port: an object store without our bucket."""
    with moto_s3_server() as url:
        yield url


def rows(path: Path, table: str) -> list[tuple]:
    """Every row of a mart, in a fixed order: equal lists are the same content."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select * from marts.{table} order by all").fetchall()


def newest(path: Path, table: str, column: str) -> date:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select max({column}) from marts.{table}").fetchone()[0]


class Night:
    """One `mypizza run` (the world advanced a day before): its output, exit status and
    the published copy before and after, then `mypizza status`."""

    def __init__(self, env: Env, name: str, variables: dict[str, str]) -> None:
        self.before = env.root / f"before-{name}.duckdb"
        # when the copy readers see was published (the env fixture's copytree kept it)
        self.published_at = env.published.stat().st_mtime
        shutil.copyfile(env.published, self.before)
        self.result = subprocess.run(
            [MYPIZZA, "run"],
            cwd=REPO,
            env={**env.vars, **variables},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        self.out, self.err = self.result.stdout, self.result.stderr
        self.after = env.root / f"after-{name}.duckdb"
        shutil.copyfile(env.published, self.after)
        with sqlite3.connect(env.world / "pos.sqlite") as con:
            (newest_order,) = con.execute("select max(ordered_at) from orders").fetchone()
        now = (datetime.fromisoformat(newest_order) + timedelta(hours=2)).isoformat()
        self.status = subprocess.run(
            [MYPIZZA, "status", "--now", now],
            cwd=REPO,
            env=env.vars,
            capture_output=True,
            text=True,
        )
        log = [self.out, self.err, self.status.stdout, self.status.stderr]
        (env.root / f"{name}.log").write_text("\n".join(log))  # for whoever debugs it

    def gave_up_after(self, source: str) -> float:
        (seconds,) = re.findall(rf"{source}: NOT LOADED \(gave up after ([\d.]+) s\)", self.out)
        return float(seconds)

    def held_marts(self) -> dict[str, set[str]]:
        """The report's held-back marts, by root cause."""
        report = self.out.split("\nHeld back (", 1)[1].split("\n\n", 1)[0]
        lines = report.splitlines()[1:]
        held: dict[str, set[str]] = {}
        for reason, marts in zip(lines[::2], lines[1::2], strict=True):
            names = marts.split("marts:", 1)[1].split(" (and ")[0]
            held[reason.strip()] = {m.strip() for m in names.split(",")}
        return held


@pytest.fixture(scope="module")
def env(built_world: Env, tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A copy of the built world: its world, warehouse (dlt state, published copy, prod
    state) and dbt target folder."""
    env = Env(tmp_path_factory.mktemp("faults"))
    for part in ("world", "warehouse", "target"):
        shutil.copytree(built_world.root / part, env.root / part)
    return env


@pytest.fixture(scope="module")
def nights(env: Env, s3_server: str) -> dict[str, Night]:
    done: dict[str, Night] = {}
    # 1. the feedback API down; one store's newest stock count file with a line twice
    env.mypizza("simulate", "--days", "1")
    spoilt = sorted((env.world / "bucket" / "inventory").glob("*/*/stock_counts.csv"))[-1]
    lines = spoilt.read_text().splitlines(keepends=True)
    spoilt.write_text("".join([*lines, lines[-1]]))
    down = {
        **QUICK_RETRIES,
        "SOURCES__FEEDBACK__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "SOURCES__FEEDBACK__TOKEN": TOKEN,
    }
    done["down"] = Night(env, "down", down)
    # 2. the feedback API refuses the token; the inventory bucket does not exist
    env.mypizza("simulate", "--days", "1")
    with FeedbackApiServer(env.world, token=TOKEN) as api:
        refused = {
            **QUICK_RETRIES,
            "SOURCES__FEEDBACK__BASE_URL": api.url,
            "SOURCES__FEEDBACK__TOKEN": WRONG,
            "SOURCES__INVENTORY__BUCKET_URL": "s3://no-such-bucket",
            "SOURCES__INVENTORY__CREDENTIALS__AWS_ACCESS_KEY_ID": "inventory",
            "SOURCES__INVENTORY__CREDENTIALS__AWS_SECRET_ACCESS_KEY": "not-a-secret",
            "SOURCES__INVENTORY__CREDENTIALS__ENDPOINT_URL": s3_server,
        }
        done["refused"] = Night(env, "refused", refused)
        done["refused"].api_url = api.url
    # 3. every fault cleared: the stock count file fixed (uploaded again), the defaults back
    env.mypizza("simulate", "--days", "1")
    spoilt.write_text("".join(spoilt.read_text().splitlines(keepends=True)[:-1]))
    later = time.time() + 5
    os.utime(spoilt, (later, later))
    done["cleared"] = Night(env, "cleared", {})
    return done


def same(night: Night, marts: tuple[str, ...], before: Path | None = None) -> None:
    """These marts of the published copy are, row for row, what they were before."""
    for mart in marts:
        assert rows(night.after, mart) == rows(before or night.before, mart), mart


def advanced(night: Night, marts: tuple[str, ...] = SALES, days: int = 1) -> None:
    """These marts of the published copy now reach ``days`` more days."""
    for mart in marts:
        was, now = newest(night.before, mart, "sales_date"), newest(night.after, mart, "sales_date")
        assert now == was + timedelta(days=days), (mart, was, now)


def plain(night: Night) -> None:
    """Faults in a line or two, never a traceback."""
    assert "Traceback" not in night.out + night.err
    for line in night.err.splitlines():
        if "FAILED" in line:
            assert len(line) < 400, line


def test_api_down_the_other_sources_load_and_only_its_marts_are_held_back(
    nights: dict[str, Night],
) -> None:
    night = nights["down"]
    assert night.result.returncode == 3, night.out[-3000:] + night.err
    assert "PARTIAL (exit 3)" in night.out
    plain(night)
    (failed,) = [line for line in night.err.splitlines() if "feedback FAILED" in line]
    assert "/v1/reviews refused the connection" in failed
    assert "SOURCES__FEEDBACK__BASE_URL" in failed
    for source in ("pos", "inventory", "franchise"):
        assert re.search(rf"^  {source}: [\d,]+ rows", night.out, re.MULTILINE), source
    assert night.held_marts()["source feedback did not load"] == set(FEEDBACK)
    same(night, FEEDBACK)
    advanced(night)


def test_a_failing_error_test_holds_back_only_the_marts_downstream(
    nights: dict[str, Night],
) -> None:
    night = nights["down"]
    assert f"FAILED test {DUPLICATE_TEST}: fail (1 failing rows)" in night.out
    held = night.held_marts()
    assert held[f"test {DUPLICATE_TEST} failed (1 failing rows)"] == set(STOCK_COUNTS)
    assert set(held) == {"source feedback did not load", *held} and len(held) == 2
    same(night, STOCK_COUNTS)
    # the rest of the inventory area advanced: waste is not read from the stock counts
    was, now = (newest(n, "fct_waste", "waste_date") for n in (night.before, night.after))
    assert now > was
    # the warehouse holds the failing rows; the published copy never showed them
    with duckdb.connect(str(night.after), read_only=True) as con:
        (twice,) = con.execute(
            "select count(*) - count(distinct (store_code, count_date, ingredient_code)) "
            "from raw_inventory.stock_counts"
        ).fetchone()
    assert twice == 1


def test_status_shows_the_partial_run_and_how_long_parts_are_stale(
    nights: dict[str, Night],
) -> None:
    night = nights["down"]
    out = night.status.stdout
    assert night.status.returncode == 3, out + night.status.stderr
    assert "last run: PARTIAL (exit 3)" in out
    assert "feedback did not load: source feedback:" in out
    assert out.rstrip().splitlines()[-1].startswith("status: PARTIAL: feedback did not load;")
    for mart in (*FEEDBACK, *STOCK_COUNTS):
        (line,) = [line for line in out.splitlines() if line.strip().startswith(f"marts.{mart} ")]
        assert "stale since" in line
    published = datetime.fromtimestamp(night.published_at).astimezone()
    since = re.search(r"stale since (\S+ \S+) UTC", out).group(1)
    stale_since = datetime.fromisoformat(since + "+00:00")
    assert abs((stale_since - published).total_seconds()) < 600  # when it was published


def test_refused_token_and_missing_bucket_hold_back_only_their_areas(
    nights: dict[str, Night],
) -> None:
    night = nights["refused"]
    assert night.result.returncode == 3, night.out[-3000:] + night.err
    plain(night)
    assert f"{night.api_url}/reviews refused the token (HTTP 401)" in night.err
    assert "SOURCES__FEEDBACK__TOKEN" in night.err
    assert WRONG not in night.out + night.err
    assert "source inventory: the bucket s3://no-such-bucket does not exist" in night.err
    assert "SOURCES__INVENTORY__BUCKET_URL" in night.err
    for source in ("pos", "franchise"):
        assert re.search(rf"^  {source}: [\d,]+ rows", night.out, re.MULTILINE), source
    assert night.held_marts() == {
        "source feedback did not load": set(FEEDBACK),
        "source inventory did not load": set(INVENTORY),
    }
    same(night, FEEDBACK)
    same(night, INVENTORY)
    same(night, STOCK_COUNTS, before=nights["down"].before)  # still the last that passed
    advanced(night)


def test_once_the_faults_are_cleared_one_plain_run_catches_up(
    nights: dict[str, Night], env: Env
) -> None:
    night = nights["cleared"]
    assert night.result.returncode == 0, night.out[-3000:] + night.err
    assert "OK (exit 0)" in night.out and "Held back" not in night.out
    assert night.status.returncode == 0, night.status.stdout
    assert night.status.stdout.rstrip().endswith("status: OK")
    day = newest(night.after, "fct_orders", "sales_date")
    assert day == newest(nights["down"].before, "fct_orders", "sales_date") + timedelta(days=3)
    assert newest(night.after, "fct_inventory_daily", "inventory_date") == day
    with sqlite3.connect(feedback_path(env.world)) as con:
        (reviews,) = con.execute("select count(*) from reviews").fetchone()
    assert len(rows(night.after, "fct_reviews")) == reviews
    # nothing is held back: the published marts are the warehouse's
    for mart in (*SALES, *FEEDBACK, *INVENTORY):
        assert rows(night.after, mart) == rows(env.warehouse, mart), mart


def test_seconds_until_each_source_was_given_up(nights: dict[str, Night]) -> None:
    """Bounded: the shortened retries of these tests give up within seconds."""
    faults = [("down", "feedback"), ("refused", "feedback"), ("refused", "inventory")]
    for name, source in faults:
        seconds = nights[name].gave_up_after(source)
        print(f"{name}: {source} given up after {seconds:.1f} s")
        assert 0 < seconds < 120
