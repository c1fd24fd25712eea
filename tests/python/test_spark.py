"""The same dbt project on a real Spark cluster, reading the lake dlt wrote, proven equal to
DuckDB on one small world.

A standalone master, a worker and a Spark Connect server start on free 127.0.0.1 ports
(`mypizza spark up`'s code, mypizza/spark.py). Meanwhile a small world is simulated and
every source is loaded twice over: into a DuckDB warehouse's raw schemas (dlt merges) and
into a Parquet lake (dlt's filesystem destination, which appends); then the world moves on
(new rows, and updates to old ones) and both are loaded again, so the lake holds several
versions of some rows. `dbt build --target spark` runs over Spark Connect, its sources
registered over the lake with the latest version of each key resolved in SQL
(macros/lake/); `dbt build --target prod` runs on the DuckDB warehouse. Every mart (every
table of the `marts` schema, whoever added it) must come out the same, compared exactly:
row count and, per column, non-null values, sum of numbers, true booleans, a checksum of
strings, first, last and summed days and instants (mart_profiles). Spark's marts are
measured on the Parquet files it wrote, by DuckDB with the same query as DuckDB's own.

Needs `make setup-spark` (pyspark, dbt-spark) and Java 17: skipped without pyspark, unless
MYPIZZA_REQUIRE_SPARK is set (`make test-spark` sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from support import BIN, REPO, SMALL_WORLD

if os.environ.get("MYPIZZA_REQUIRE_SPARK"):
    import pyspark  # noqa: F401  (fails loudly: make setup-spark installs it)
else:
    pytest.importorskip("pyspark", reason="Spark extras missing: run `make setup-spark`")

from mart_profiles import compare_profiles, profile_duckdb, profile_parquet  # noqa: E402

from mypizza.spark import Cluster  # noqa: E402

# pyspark 4.3 warns about pandas 3 on import; nothing here goes through pandas
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")

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


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@dataclass
class Builds:
    """One world, loaded into DuckDB and into the lake, built on both engines."""

    root: Path
    env: dict[str, str]
    cluster: Cluster
    seconds: dict[str, float] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return Path(self.env["MYPIZZA_WAREHOUSE"])

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    def lake_env(self) -> dict[str, str]:
        """The same world landed in the lake: its own pipeline state (beside a warehouse
        file that is never written), MYPIZZA_RAW=lake."""
        return {
            "MYPIZZA_WAREHOUSE": str(self.root / "lakehouse" / "state.duckdb"),
            "MYPIZZA_RAW": "lake",
            "DESTINATION__LAKE__BUCKET_URL": str(self.lake),
        }

    def start(
        self, step: str, *command: str, extra: dict[str, str] | None = None, measure: bool = False
    ) -> Callable:
        """Start ``command``; the function returned waits for it and asserts it passed
        (or, with ``stop=True``, ends it). With ``measure``, its peak memory is kept."""
        env = {**self.env, **(extra or {})}
        log = self.root / f"{step.replace(' ', '-')}.log"
        started = time.perf_counter()
        if measure:
            command = ("/usr/bin/time", "-f", "%M", "-o", str(log.with_suffix(".rss")), *command)
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
            if measure:
                self.memory[step] = int(log.with_suffix(".rss").read_text().split()[-1]) * 1024

        return finish

    def run(self, step: str, *command: str, extra: dict[str, str] | None = None) -> None:
        self.start(step, *command, extra=extra)()

    def run_results(self, engine: str) -> dict[str, str]:
        data = json.loads((self.root / f"target-{engine}" / "run_results.json").read_text())
        return {r["unique_id"]: r["status"] for r in data["results"]}


@pytest.fixture(scope="module")
def builds(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Builds]:
    root = tmp_path_factory.mktemp("spark")
    master, ui, connect = free_ports(3)
    cluster = Cluster(
        home=root / "spark",
        master_port=master,
        ui_port=ui,
        connect_port=connect,
        worker_cores=2,
        cores_max=2,
    )
    env = {
        **SMALL_WORLD,
        **os.environ,
        "MYPIZZA_WORLD": str(root / "world"),
        "MYPIZZA_WAREHOUSE": str(root / "warehouse" / "mypizza.duckdb"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DO_NOT_TRACK": "1",
        "SPARK_LOCAL_IP": "127.0.0.1",  # no network beyond this machine
    }
    for name in ("MYPIZZA_DBT_TARGET", "MYPIZZA_RAW", "DESTINATION__LAKE__BUCKET_URL"):
        env.pop(name, None)
    b = Builds(root, env, cluster)
    # the cluster starts while the world is simulated and loaded
    failure: list[BaseException] = []

    def start_cluster() -> None:
        started = time.perf_counter()
        try:
            # ~30 s on an idle machine; a shared one has taken over 10 minutes
            cluster.up(timeout=900, say=lambda _: None)
        except BaseException as error:
            failure.append(error)
        b.seconds["cluster up"] = time.perf_counter() - started

    starter = threading.Thread(target=start_cluster)
    starter.start()
    try:
        mypizza, dbt = str(BIN / "mypizza"), str(BIN / "dbt")
        world = ["--stores", "2", "--days", "11", "--start", "2026-03-02", "--seed", "7"]
        b.run("simulate", mypizza, "simulate", *world)
        b.run("ingest", mypizza, "ingest", "all")
        b.run("ingest lake", mypizza, "ingest", "all", extra=b.lake_env())
        # the world moves on: new orders, and updates to old ones, appended to the lake
        b.run("simulate more", mypizza, "simulate", "--days", "3")
        b.run("ingest again", mypizza, "ingest", "all")
        b.run("ingest lake again", mypizza, "ingest", "all", extra=b.lake_env())
        starter.join()
        if failure:
            raise failure[0]
        spark_env = {
            **b.lake_env(),
            "SPARK_REMOTE": cluster.remote,
            "DBT_TARGET_PATH": str(root / "target-spark"),
        }
        spark_build = b.start(
            "spark build", dbt, "build", "--target", "spark", extra=spark_env, measure=True
        )
        try:
            duckdb_env = {"DBT_TARGET_PATH": str(root / "target-duckdb")}
            b.start(
                "duckdb build", dbt, "build", "--target", "prod", extra=duckdb_env, measure=True
            )()
        except BaseException:
            spark_build(stop=True)
            raise
        spark_build()
        b.memory.update({f"cluster {k}": v for k, v in cluster.peak_memory().items()})
        yield b
    finally:
        starter.join()
        cluster.down(say=lambda _: None)
    # how long each step took and what memory it peaked at, on the terminal even with -q
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            steps = ", ".join(f"{step} {s:.0f} s" for step, s in b.seconds.items())
            peaks = ", ".join(f"{k} {v / 2**20:,.0f} MB" for k, v in b.memory.items())
            reporter.write_line(f"\n[test_spark] {steps}\n[test_spark] peak RSS: {peaks}")


@pytest.fixture(scope="module")
def profiles(builds: Builds) -> dict[str, dict]:
    """Every mart measured on both builds; Spark's are its Parquet files, read by DuckDB
    with the same query, so nothing but the data can differ."""
    started = time.perf_counter()
    spark_marts = builds.cluster.tables_dir / "marts.db"
    result = {"duckdb": profile_duckdb(builds.warehouse), "spark": profile_parquet(spark_marts)}
    builds.seconds["profiles"] = time.perf_counter() - started
    return result


def test_the_cluster_ran_the_build(builds: Builds) -> None:
    # master, worker and Connect server were up, and the worker ran an executor for it
    roles = set(builds.memory)
    assert {"cluster master", "cluster worker-1", "cluster connect"} <= roles, roles
    assert any(r.startswith("cluster executor") for r in roles), roles
    # dbt spoke to the Connect server: no Spark of its own (a JVM) in the dbt process
    assert builds.memory["spark build"] < builds.memory["cluster connect"]
    # ... and Spark wrote the marts in the cluster's warehouse folder
    assert (builds.cluster.tables_dir / "marts.db" / "fct_orders").is_dir()


def test_the_lake_appends_every_load(builds: Builds) -> None:
    """The lake keeps what each load brought: updated rows are there twice or more, which
    the sources' views resolve (the marts' equality below proves they resolve right)."""
    with duckdb.connect() as con:
        orders = builds.lake / "raw_pos" / "orders" / "*.parquet"
        loads, rows, keys = con.execute(
            f"select count(distinct _dlt_load_id), count(*), count(distinct order_id) "
            f"from read_parquet('{orders}')"
        ).fetchone()
    with duckdb.connect(str(builds.warehouse), read_only=True) as con:
        (merged,) = con.execute("select count(*) from raw_pos.orders").fetchone()
    assert loads == 2
    assert keys == merged  # every order of the merged table, and no other
    assert rows > keys  # the second load brought new versions of orders it had


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
    with duckdb.connect(str(builds.warehouse), read_only=True) as con:
        (pos_orders,) = con.execute("select count(*) from raw_pos.orders").fetchone()
        (pos_lines,) = con.execute("select count(*) from raw_pos.order_items").fetchone()
    assert orders["count"] >= pos_orders > 1000
    assert lines["count"] >= pos_lines
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
