"""The same dbt project on Apache Spark (dbt-spark, a local Spark session), proven equal to
DuckDB on one small world.

The world is simulated, loaded into a real DuckDB warehouse and built there with
`dbt build`; the warehouse's raw schemas are exported to Parquet and `dbt build --target
spark` builds the same world again, the raw tables registered over the export by the
project's on-run-start hook. Every mart (every table of the `marts` schema, whoever added
it) must come out the same on both engines, compared exactly: row count and, per column,
non-null values, sum of numbers, true booleans, a checksum of strings, first, last and
summed days and instants (mypizza.spark). Spark's marts are measured on the Parquet files
it wrote, by DuckDB with the same query as DuckDB's own: only the data can differ.

Needs `make setup-spark` (pyspark, dbt-spark, Java 17): skipped without pyspark, unless
MYPIZZA_REQUIRE_SPARK is set (`make test-spark` sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

if os.environ.get("MYPIZZA_REQUIRE_SPARK"):
    import pyspark  # noqa: F401  (fails loudly: make setup-spark installs it)
else:
    pytest.importorskip("pyspark", reason="Spark extras missing: run `make setup-spark`")

from mypizza.spark import (  # noqa: E402
    compare_profiles,
    export_raw,
    profile_duckdb,
    profile_parquet,
    spark_tables_dir,
)

# pyspark 4.3 warns about pandas 3 on import; nothing here goes through pandas
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# the marts of the sales and core areas; marts added later are compared too
KNOWN_MARTS = {
    "dim_customers",
    "dim_dates",
    "dim_products",
    "dim_stores",
    "fct_order_items",
    "fct_orders",
    "rpt_daily_store_sales",
}


@dataclass
class Builds:
    """One world built on both engines, each with its own dbt target folder."""

    root: Path
    env: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    exported: dict[str, int] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return Path(self.env["MYPIZZA_WAREHOUSE"])

    def start(self, step: str, *command: str, target_dir: Path | None = None) -> Callable:
        """Start ``command``; the function returned waits for it and asserts it passed
        (or, with ``stop=True``, ends it)."""
        env = dict(self.env)
        if target_dir is not None:
            env["DBT_TARGET_PATH"] = str(target_dir)
        log = self.root / f"{step.replace(' ', '-')}.log"
        started = time.perf_counter()
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)

        def finish(stop: bool = False) -> None:
            if stop:
                process.kill()
                process.wait()
                return
            returncode = process.wait()
            self.seconds[step] = time.perf_counter() - started
            assert returncode == 0, (
                f"{step} failed (exit {returncode}): {' '.join(command)}\n{log.read_text()[-8000:]}"
            )

        return finish

    def run(self, step: str, *command: str, target_dir: Path | None = None) -> None:
        self.start(step, *command, target_dir=target_dir)()

    def run_results(self, engine: str) -> dict[str, str]:
        data = json.loads((self.root / f"target-{engine}" / "run_results.json").read_text())
        return {r["unique_id"]: r["status"] for r in data["results"]}


@pytest.fixture(scope="module")
def builds(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Builds]:
    root = tmp_path_factory.mktemp("spark")
    env = {
        **os.environ,
        "MYPIZZA_WORLD": str(root / "world"),
        "MYPIZZA_WAREHOUSE": str(root / "warehouse" / "mypizza.duckdb"),
        "MYPIZZA_SPARK_RAW": str(root / "raw"),
        "MYPIZZA_SPARK_DIR": str(root / "spark"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DO_NOT_TRACK": "1",
        "SPARK_LOCAL_IP": "127.0.0.1",  # no network beyond this machine
    }
    env.pop("MYPIZZA_DBT_TARGET", None)
    b = Builds(root, env)
    mypizza, dbt = str(BIN / "mypizza"), str(BIN / "dbt")
    world = ["--stores", "2", "--days", "14", "--start", "2026-03-02", "--seed", "7"]
    b.run("simulate", mypizza, "simulate", *world)
    b.run("ingest", mypizza, "ingest", "all")
    started = time.perf_counter()
    b.exported = export_raw(b.warehouse, root / "raw")
    b.seconds["export"] = time.perf_counter() - started
    # the two builds side by side: Spark reads the export, DuckDB its own warehouse
    spark_build = b.start(
        "spark build", dbt, "build", "--target", "spark", target_dir=root / "target-spark"
    )
    try:
        b.run("duckdb build", dbt, "build", "--target", "prod", target_dir=root / "target-duckdb")
    except BaseException:
        spark_build(stop=True)
        raise
    spark_build()
    yield b
    # how long each step took, on the terminal even with -q
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            steps = ", ".join(f"{step} {s:.0f} s" for step, s in b.seconds.items())
            reporter.write_line(f"\n[test_spark] {steps}")


@pytest.fixture(scope="module")
def profiles(builds: Builds) -> dict[str, dict]:
    """Every mart measured on both builds; Spark's are its Parquet files, read by DuckDB
    with the same query, so nothing but the data can differ."""
    started = time.perf_counter()
    spark_marts = spark_tables_dir(REPO, env=builds.env) / "marts.db"
    result = {"duckdb": profile_duckdb(builds.warehouse), "spark": profile_parquet(spark_marts)}
    builds.seconds["profiles"] = time.perf_counter() - started
    return result


def test_spark_build_passes_every_node_duckdb_builds(builds: Builds) -> None:
    duckdb_nodes, spark_nodes = builds.run_results("duckdb"), builds.run_results("spark")
    # saved queries and exposures have nothing to build: dbt reports them `no-op`
    failed = {node: s for node, s in spark_nodes.items() if s not in ("success", "pass", "no-op")}
    assert not failed, f"nodes not passing on Spark: {failed}"
    # the same models, seeds, unit and data tests ran on both engines, but for snapshots
    # and their tests: switched off on Spark (dbt_project.yml), and only they may be
    manifest = json.loads((builds.root / "target-spark" / "manifest.json").read_text())
    off = set(manifest["disabled"])
    # ... and the unit test of an incremental run: Spark rebuilds incremental models in full
    incremental_unit_tests = {
        "unit_test.mypizza.fct_orders.test_fct_orders_incremental_run_rebuilds_lookback_and_new_orders"
    }
    assert all(uid.startswith("snapshot.") or uid in incremental_unit_tests for uid in off), (
        f"switched off on Spark: {off}"
    )
    off |= {uid for uid, node in manifest["nodes"].items() if node.get("attached_node") in off}
    expected = set(duckdb_nodes) - off
    assert set(spark_nodes) == expected, (
        f"only on DuckDB: {sorted(expected - set(spark_nodes))}; "
        f"only on Spark: {sorted(set(spark_nodes) - expected)}"
    )
    kinds = {n.split(".")[0] for n in spark_nodes}
    assert {"model", "seed", "test", "unit_test"} <= kinds, kinds
    assert sum(n.startswith("test.") for n in spark_nodes) > 20


def test_marts_agree_between_duckdb_and_spark(profiles: dict[str, dict]) -> None:
    problems = compare_profiles(profiles["duckdb"], profiles["spark"])
    assert not problems, "marts differ (DuckDB != Spark):\n" + "\n".join(problems)


def test_the_comparison_is_not_trivial(builds: Builds, profiles: dict[str, dict]) -> None:
    marts = profiles["duckdb"]
    assert set(marts) >= KNOWN_MARTS, sorted(marts)
    for name, measures in marts.items():
        assert measures["count"] > 0, f"{name} is empty"
        sums = {m: v for m, v in measures.items() if m.startswith(("sum", "true(", "checksum("))}
        assert any(sums.values()), f"{name}: nothing to compare but the row count: {measures}"
    orders, lines = marts["fct_orders"], marts["fct_order_items"]
    # every POS order and line is in the sales marts (beside other sources' orders)
    assert orders["count"] >= builds.exported["raw_pos.orders"] > 1000
    assert lines["count"] >= builds.exported["raw_pos.order_items"]
    assert orders["sum(order_total)"] == lines["sum(line_total)"] > 10_000
    assert orders["true(is_voided)"] > 0 and orders["true(is_refunded)"] > 0
    assert orders["sum(refund_amount)"] > 0
    assert orders["min(ordered_at)"] < orders["max(ordered_at)"]


def test_a_difference_is_reported_by_mart_and_measure() -> None:
    duckdb = {"fct_orders": {"count": 3, "sum(net_total)": 10, "sum(score)": 0.1 + 0.2}}
    same = {"fct_orders": {"count": 3, "sum(net_total)": 10, "sum(score)": 0.3}}
    assert compare_profiles(duckdb, same) == []  # float sums: only the order of addition
    other = {"fct_orders": {"count": 3, "sum(net_total)": 11}, "dim_x": {"count": 1}}
    assert compare_profiles(duckdb, other) == [
        "dim_x: only on the second engine",
        "fct_orders.sum(net_total): 10 != 11",
        "fct_orders.sum(score): 0.30000000000000004 != '<absent>'",
    ]
