"""The lake on object storage: every source landed by dlt as Parquet in an `s3://` bucket (a
real S3-protocol server, moto, on 127.0.0.1), and read back by DuckDB through the sources'
views (macros/lake/), which must hold exactly what dlt's merge left in a DuckDB warehouse
loaded from the same world.

One small world is loaded twice over: into a DuckDB warehouse's raw schemas (merged) and
into the bucket (appended); then the world moves on (new rows, updates to old ones) and
both are loaded again. `dbt run-operation register_raw_tables` with MYPIZZA_RAW=lake then
registers every source of the project over the bucket in another DuckDB file, each view
keeping the latest version of each key; every source table must equal its merged twin.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from support import BIN, REPO, moto_s3_server

# ingests a world twice over and runs dbt: minutes
pytestmark = pytest.mark.e2e

BUCKET = "lake"
KEY_ID, SECRET = "lake", "not-a-secret"
# dlt's own bookkeeping columns: row ids are new on every load, so only data is compared
DLT_COLUMNS = {"_dlt_id", "_dlt_load_id", "_dlt_root_id", "_dlt_parent_id"}
# when the IoT loader received a message: the wall clock of each of the two loads
LOAD_TIME_COLUMNS = {"raw_iot": {"received_at"}}


def duckdb_config(home: Path) -> dict[str, str]:
    """DuckDB's extensions and persistent secrets of the test's own HOME."""
    return {
        "secret_directory": str(home / ".duckdb" / "stored_secrets"),
        "extension_directory": str(home / ".duckdb" / "extensions"),
    }


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free 127.0.0.1 port."""
    with moto_s3_server() as url:
        yield url.removeprefix("http://")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, s3_server: str) -> dict[str, Path]:
    """The world loaded into a warehouse and into the bucket, twice; then the sources
    registered over the bucket in a third DuckDB file. Returns the files."""
    import boto3

    root = tmp_path_factory.mktemp("lake")
    boto3.client(
        "s3",
        endpoint_url=f"http://{s3_server}",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    home = root / "home"  # DuckDB's extensions and persistent secrets of this test only
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "MYPIZZA_WORLD": str(root / "world"),
        "MYPIZZA_WAREHOUSE": str(root / "warehouse" / "mypizza.duckdb"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_TARGET_PATH": str(root / "target"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop("MYPIZZA_RAW", None)
    lake = {
        "MYPIZZA_RAW": "lake",
        "MYPIZZA_WAREHOUSE": str(root / "lakehouse" / "mypizza.duckdb"),
        "DESTINATION__LAKE__BUCKET_URL": f"s3://{BUCKET}",
        "DESTINATION__LAKE__CREDENTIALS__AWS_ACCESS_KEY_ID": KEY_ID,
        "DESTINATION__LAKE__CREDENTIALS__AWS_SECRET_ACCESS_KEY": SECRET,
        "DESTINATION__LAKE__CREDENTIALS__ENDPOINT_URL": f"http://{s3_server}",
        "DESTINATION__LAKE__CREDENTIALS__REGION_NAME": "us-east-1",
    }

    def run(*command: str, extra: dict[str, str] | None = None) -> None:
        done = subprocess.run(
            command, cwd=REPO, env={**env, **(extra or {})}, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"[-6000:]

    mypizza = str(BIN / "mypizza")
    run(mypizza, "simulate", "--stores", "2", "--days", "5", "--start", "2026-03-02", "--seed", "3")
    run(mypizza, "ingest", "all")
    run(mypizza, "ingest", "all", extra=lake)
    run(mypizza, "simulate", "--days", "2")
    run(mypizza, "ingest", "all")
    run(mypizza, "ingest", "all", extra=lake)
    # DuckDB reads the bucket with its httpfs extension and a persistent secret of this
    # HOME, as a user's machine would (docs/scaling-out.md); the project holds no secret
    with duckdb.connect(config=duckdb_config(home)) as con:
        con.execute(
            f"create persistent secret lake (type s3, key_id '{KEY_ID}', secret '{SECRET}', "
            f"endpoint '{s3_server}', url_style 'path', use_ssl false, region 'us-east-1', "
            f"scope 's3://{BUCKET}')"
        )
    reader = root / "reader" / "mypizza.duckdb"
    reader.parent.mkdir()
    run(
        str(BIN / "dbt"),
        "run-operation",
        "register_raw_tables",
        "--target",
        "prod",
        extra={
            "MYPIZZA_RAW": "lake",
            "MYPIZZA_WAREHOUSE": str(reader),
            "DESTINATION__LAKE__BUCKET_URL": f"s3://{BUCKET}",
        },
    )
    return {"warehouse": Path(env["MYPIZZA_WAREHOUSE"]), "reader": reader, "home": home}


def test_every_load_is_in_the_bucket_as_parquet(loaded: dict[str, Path], s3_server: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{s3_server}",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    orders = [k for k in keys if k.startswith("raw_pos/orders/")]
    assert orders and all(k.endswith(".parquet") for k in orders)
    # two loads of the orders, each its own files: nothing was overwritten
    assert len({k.split("/")[-1].split(".")[0] for k in orders}) == 2
    for schema in ("raw_pos", "raw_inventory", "raw_feedback", "raw_franchise", "raw_iot"):
        assert any(k.startswith(f"{schema}/_dlt_loads/") for k in keys), schema


def test_the_lake_views_hold_what_dlt_merged(loaded: dict[str, Path]) -> None:
    config = duckdb_config(loaded["home"])
    with duckdb.connect(str(loaded["reader"]), read_only=True, config=config) as con:
        con.execute(f"attach '{loaded['warehouse']}' as merged (read_only)")
        views = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'mypizza' and table_type = 'VIEW' "
            "and table_name not like '%\\_\\_lake\\_files' escape '\\' order by all"
        ).fetchall()
        # every source of the project (five source systems), registered
        assert {s for s, _ in views} == {
            "raw_pos",
            "raw_inventory",
            "raw_feedback",
            "raw_franchise",
            "raw_iot",
        }
        assert len(views) >= 20, views
        compared = 0
        for schema, table in views:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_catalog = 'merged' and table_schema = ? and table_name = ? "
                    "order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in DLT_COLUMNS | LOAD_TIME_COLUMNS.get(schema, set())
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            lake = f'select {listed} from mypizza."{schema}"."{table}"'
            merged = f'select {listed} from merged."{schema}"."{table}"'
            (rows,) = con.execute(f"select count(*) from ({merged})").fetchone()
            (lake_rows,) = con.execute(f"select count(*) from ({lake})").fetchone()
            only_lake = con.execute(f"{lake} except all {merged}").fetchall()
            only_merged = con.execute(f"{merged} except all {lake}").fetchall()
            assert (lake_rows, only_lake[:3], only_merged[:3]) == (rows, [], []), (
                f"{schema}.{table}: the lake's current rows differ from dlt's merge"
            )
            compared += rows
        assert compared > 5000


def test_updated_rows_are_in_the_lake_more_than_once(loaded: dict[str, Path]) -> None:
    """The views had something to resolve: the bucket holds old versions of some orders
    and reviews beside their current ones."""
    config = duckdb_config(loaded["home"])
    with duckdb.connect(config=config) as con:
        for table, key in (("raw_pos/orders", "order_id"), ("raw_feedback/reviews", "id")):
            rows, keys = con.execute(
                f"select count(*), count(distinct {key}) "
                f"from read_parquet('s3://{BUCKET}/{table}/*.parquet', union_by_name = true)"
            ).fetchone()
            assert rows > keys, table


def test_a_wrong_raw_destination_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion.destinations import raw_target

    monkeypatch.setenv("MYPIZZA_RAW", "delta")
    with pytest.raises(ValueError, match=r"MYPIZZA_RAW='delta': must be one of duckdb, lake"):
        raw_target()
    monkeypatch.delenv("MYPIZZA_RAW")
    assert raw_target() == "duckdb"  # make run's default is unchanged


def test_spark_status_says_when_no_cluster_runs(tmp_path: Path) -> None:
    env = {**os.environ, "MYPIZZA_SPARK_DIR": str(tmp_path / "spark")}
    done = subprocess.run(
        [str(BIN / "mypizza"), "spark", "status"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert f"no Spark cluster of {tmp_path / 'spark'} runs" in done.stdout
