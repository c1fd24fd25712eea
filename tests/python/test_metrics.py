"""The semantic layer (models/semantic/) answered by MetricFlow's `mf`, as an analyst runs it,
checked against totals computed straight on the POS SQLite and the store master seed.

`mf` reads `<project dir>/target/semantic_manifest.json` (the path is fixed: it ignores
DBT_TARGET_PATH), with the project dir taken from DBT_PROJECT_DIR or the working directory.
So the test runs it in a folder of its own that links the project's files and whose `target`
is the built world's target; the warehouse is a copy of the published file, so `mf` (which
opens it read-write) never contends with the other tests reading the shared world.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from conftest import REPO, Env
from pos_truth import daily_store_sales

MF = str(Path(sys.executable).with_name("mf"))
PROJECT_FILES = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "snapshots",
    "tests",
)


def mf_project(env: Env, root: Path) -> dict[str, str]:
    """A project folder for `mf` over `env`'s target and a private copy of its warehouse."""
    project = root / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        (project / name).symlink_to(REPO / name)
    (project / "target").symlink_to(env.target)
    warehouse = root / "mypizza.duckdb"
    shutil.copyfile(env.published, warehouse)
    return {
        **env.vars,
        "MYPIZZA_WAREHOUSE": str(warehouse),
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(project),
        "DBT_LOG_PATH": str(root / "logs"),
    }


def store_regions() -> dict[str, str]:
    with (REPO / "seeds" / "stores.csv").open(newline="") as f:
        return {row["store_code"]: row["region"] for row in csv.DictReader(f)}


def test_weekly_revenue_by_region_matches_the_pos(built_world: Env, tmp_path: Path) -> None:
    env = mf_project(built_world, tmp_path)
    out = tmp_path / "revenue.csv"
    result = subprocess.run(
        [
            MF,
            "query",
            "--metrics",
            "revenue,orders,items_per_order",
            "--group-by",
            "metric_time__week,store__region",
            "--where",
            "{{ Dimension('store__source_system') }} = 'mypizza_pos'",
            "--order",
            "metric_time__week,store__region",
            "--csv",
            str(out),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and out.exists(), f"mf query:\n{result.stdout}\n{result.stderr}"
    with out.open(newline="") as f:
        got = {
            (row["metric_time__week"][:10], row["store__region"]): (
                Decimal(row["revenue"]).quantize(Decimal("0.01")),
                int(row["orders"]),
                round(float(row["items_per_order"]), 6),
            )
            for row in csv.DictReader(f)
        }

    # The truth: the POS's own orders, grouped by ISO week (Monday) and the seed's region.
    regions = store_regions()
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    orders: dict[tuple[str, str], int] = defaultdict(int)
    items: dict[tuple[str, str], int] = defaultdict(int)
    for (store, day), (n_orders, n_items, _gross, _refunds, net_sales) in daily_store_sales(
        built_world.world / "pos.sqlite"
    ).items():
        date = dt.date.fromisoformat(day)
        key = ((date - dt.timedelta(days=date.weekday())).isoformat(), regions[store])
        net[key] += net_sales
        orders[key] += n_orders
        items[key] += n_items
    want = {k: (net[k], orders[k], round(items[k] / orders[k], 6)) for k in net}

    assert len(want) >= 3  # 14 days over 2 stores: at least 3 weeks x regions
    assert got == want
