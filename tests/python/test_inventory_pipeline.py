"""The inventory pipeline on a real bucket: a folder of a simulated world, and the same files
on a real S3-protocol server (moto) on 127.0.0.1, loaded into a real DuckDB file."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support import BIN, MYPIZZA, REPO, moto_s3_server, query

from ingestion.inventory import KIND_BY_FILE_NAME, TABLES
from ingestion.pipelines import load
from simulator import bucket_url_for, simulate

START = date(2026, 3, 2)
MOTO_SERVER = str(BIN / "moto_server")


def file_rows(bucket: Path) -> dict[str, int]:
    """Rows per file of the bucket (path inside the bucket), read here with csv / pyarrow."""
    import pyarrow.parquet as pq

    rows = {}
    for path in sorted(p for p in bucket.rglob("*") if p.is_file()):
        key = path.relative_to(bucket).as_posix()
        if path.suffix == ".csv":
            rows[key] = len(list(csv.DictReader(io.StringIO(path.read_text()))))
        else:
            rows[key] = pq.read_metadata(path).num_rows
    return rows


def rows_per_table(files: dict[str, int]) -> dict[str, int]:
    counts: Counter = Counter()
    for path, n in files.items():
        counts[KIND_BY_FILE_NAME[path.rsplit("/", 1)[1]].table] += n
    return {table: n for table, n in counts.items() if n}


def raw_counts(warehouse: Path) -> dict[str, int]:
    return {t: query(warehouse, f"select count(*) from raw_inventory.{t}")[0][0] for t in TABLES}


def rows_by_file(warehouse: Path) -> dict[str, int]:
    counts: Counter = Counter()
    for table in TABLES:
        sql = f"select file_path, count(*) from raw_inventory.{table} group by file_path"
        counts.update(dict(query(warehouse, sql)))
    return dict(counts)


def touch_later(path: Path) -> None:
    """Give a file a modification date after every other file (as an upload would)."""
    later = time.time() + 5
    os.utime(path, (later, later))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inv-pipe") / "world"
    simulate(path, stores=2, days=5, start=START, seed=11)
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inv-wh") / "mypizza.duckdb"


# ---------------------------------------------------------------- a folder
def test_first_load_lands_every_file_with_its_lineage(world: Path, warehouse: Path) -> None:
    bucket = world / "bucket"
    files = file_rows(bucket)
    result = load("inventory", warehouse, progress=None, bucket_url=bucket_url_for(world))

    assert result.rows == {**rows_per_table(files), "files": len(files)}
    assert raw_counts(warehouse) == rows_per_table(files)
    assert rows_by_file(warehouse) == {p: n for p, n in files.items() if n}
    assert sorted(p for _, p, _ in result.files) == sorted(files)
    assert result.problems == [] and result.rows_per_second > 0
    assert f"{len(files):,} files read: {len(files):,} loaded, 0 quarantined" in str(result)

    # every row knows its file and its place in it
    (bad,) = query(
        warehouse,
        "select count(*) from raw_inventory.stock_counts "
        "where file_name <> 'stock_counts.csv' or file_row_number < 1 "
        "or file_path not like 'inventory/' || store_code || '/' "
        "|| cast(count_date as varchar) || '/stock_counts.csv'",
    )[0]
    assert bad == 0
    ledger = dict(query(warehouse, "select file_path, file_url from raw_inventory.files"))
    some = next(iter(files))
    assert ledger[some] == (bucket / some).resolve().as_uri()
    types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_inventory' and table_name = 'deliveries'",
        )
    )
    assert types["quantity"] == "DECIMAL(18,3)" and types["delivery_date"] == "DATE"
    assert types["unit_cost_cents"] == "BIGINT"


def test_rerun_without_new_files_loads_nothing(world: Path, warehouse: Path) -> None:
    before = raw_counts(warehouse)
    result = load("inventory", warehouse, progress=None, bucket_url=bucket_url_for(world))
    assert result.rows == {} and result.files == []
    assert "nothing new" in str(result)
    assert raw_counts(warehouse) == before


def test_advancing_a_day_loads_exactly_that_days_files(world: Path, warehouse: Path) -> None:
    before = file_rows(world / "bucket")
    simulate(world, days=1)
    new = {p: n for p, n in file_rows(world / "bucket").items() if p not in before}
    assert new and all("/2026-03-07/" in p for p in new)

    result = load("inventory", warehouse, progress=None, bucket_url=bucket_url_for(world))

    assert sorted(p for _, p, _ in result.files) == sorted(new)
    assert result.rows == {**rows_per_table(new), "files": len(new)}
    assert raw_counts(warehouse) == rows_per_table(file_rows(world / "bucket"))


def test_a_file_uploaded_again_replaces_its_rows(world: Path, warehouse: Path) -> None:
    path = next(p for p in sorted((world / "bucket").rglob("waste.csv")))
    key = path.relative_to(world / "bucket").as_posix()
    total = raw_counts(warehouse)["waste"]
    before = rows_by_file(warehouse)[key]

    touch_later(path)  # the same content again: read again, not doubled
    result = load("inventory", warehouse, progress=None, bucket_url=bucket_url_for(world))
    assert result.rows == {"waste": before, "files": 1}
    assert raw_counts(warehouse)["waste"] == total

    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # corrected: one line fewer
    touch_later(path)
    load("inventory", warehouse, progress=None, bucket_url=bucket_url_for(world))
    assert rows_by_file(warehouse)[key] == before - 1
    assert raw_counts(warehouse)["waste"] == total - 1
    path.write_text("".join(lines))
    touch_later(path)
    load("inventory", warehouse, progress=None, bucket_url=bucket_url_for(world))
    assert raw_counts(warehouse)["waste"] == total


def test_the_listing_makes_items_only_of_files_changed_since_the_cursor(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inventory's listing (ingestion/buckets.changed_files) yields what dlt's own
    ``filesystem`` resource yields, but builds a file item only for a file at or after the
    incremental cursor: a night's listing costs what arrived, not what the bucket holds."""
    import dlt
    import pendulum
    from dlt.sources.filesystem import filesystem

    import ingestion.buckets as buckets

    # a pipeline of its own: the resources read their cursor from the active pipeline's state
    dlt.pipeline("inventory_listing", pipelines_dir=str(tmp_path))
    url = bucket_url_for(world)
    dlts = {i["relative_path"]: dict(i) for i in filesystem(url, file_glob="**/*")}
    ours = {i["relative_path"]: dict(i) for i in buckets.changed_files(url, file_glob="**/*")}
    assert len(ours) == len(file_rows(world / "bucket")) > 30
    assert ours == dlts  # same files, same fields, same values

    newest = sorted(world.joinpath("bucket").rglob("*.csv"))[-3:]
    for path in newest:
        touch_later(path)
    since = pendulum.from_timestamp(min(p.stat().st_mtime for p in newest))
    made = []
    original = buckets._file_item

    def counted(*args: object) -> dict:
        made.append(args[3])
        return original(*args)

    monkeypatch.setattr(buckets, "_file_item", counted)
    cursor = dlt.sources.incremental("modification_date", initial_value=since)
    listed = list(buckets.changed_files(url, file_glob="**/*", modified=cursor))
    changed = {p.relative_to(world / "bucket").as_posix() for p in newest}
    assert {i["relative_path"] for i in listed} == changed
    assert len(made) == len(changed)  # no item made of the other files


# ---------------------------------------------------------------- malformed files
def break_files(bucket: Path) -> dict[str, str]:
    """Spoil some files of a bucket; path inside the bucket -> words the problem must say."""
    day = START.isoformat()
    spoilt = {}

    def spoil(rel: str, words: str, change) -> None:
        path = bucket / rel
        path.write_bytes(change(path.read_bytes()))
        spoilt[rel] = words

    spoil(
        f"inventory/mil01/{day}/stock_counts.csv",
        "bad header",
        lambda b: b.replace(b"counted_quantity", b"qty", 1),
    )
    spoil(f"inventory/rom01/{day}/stock_counts.csv", "row 3", _bad_third_value)
    spoil(f"inventory/mil01/{day}/waste.csv", "truncated", lambda b: b[:-5])  # cut mid-line
    spoil(f"backups/{day}/inventory.parquet", "parquet", lambda b: b[: len(b) - 100])
    spoil(
        f"inventory/rom01/{day}/waste.csv",
        "store mil01",
        lambda b: b.replace(b"rom01,", b"mil01,"),
    )
    (bucket / "inventory" / "README.txt").write_text("not data\n")
    return spoilt


def _bad_third_value(data: bytes) -> bytes:
    lines = data.split(b"\n")
    fields = lines[3].split(b",")
    fields[3] = b"twelve"  # counted_quantity of the third data row
    lines[3] = b",".join(fields)
    return b"\n".join(lines)


def test_malformed_files_are_quarantined_and_the_rest_load(world: Path, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    shutil.copytree(world / "bucket", bucket)
    spoilt = break_files(bucket)
    good = {p: n for p, n in file_rows(world / "bucket").items() if p not in spoilt}
    warehouse = tmp_path / "wh.duckdb"

    result = load("inventory", warehouse, progress=None, bucket_url=bucket.as_uri())

    problems = {path: (status, problem) for status, path, problem in result.problems}
    assert set(problems) == {*spoilt, "inventory/README.txt"}
    for path, words in spoilt.items():
        assert problems[path][0] == "quarantined"
        assert words.lower() in problems[path][1].lower(), (path, problems[path])
    assert problems["inventory/README.txt"][0] == "ignored"
    assert rows_by_file(warehouse) == {p: n for p, n in good.items() if n}
    text = str(result)
    for path in spoilt:
        assert f"quarantined {path}: " in text
    assert "5 quarantined, 1 ignored" in text

    ledger = dict(query(warehouse, "select file_path, status from raw_inventory.files"))
    assert {p for p, s in ledger.items() if s == "quarantined"} == set(spoilt)

    # the store fixes a file and uploads it again: it loads, and leaves the quarantine
    fixed = f"inventory/mil01/{START}/waste.csv"
    shutil.copyfile(world / "bucket" / fixed, bucket / fixed)
    touch_later(bucket / fixed)
    result = load("inventory", warehouse, progress=None, bucket_url=bucket.as_uri())
    assert [(s, p) for s, p, _ in result.files] == [("loaded", fixed)]
    assert rows_by_file(warehouse)[fixed] == file_rows(world / "bucket")[fixed]
    (status,) = query(
        warehouse, f"select status from raw_inventory.files where file_path = '{fixed}'"
    )[0]
    assert status == "loaded"


def test_ingest_inventory_prints_the_quarantined_files(world: Path, tmp_path: Path) -> None:
    """`mypizza ingest inventory` on the world's own bucket (the default), one file spoilt."""
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    rel = f"inventory/rom01/{START}/deliveries.csv"
    path = copy / "bucket" / rel
    path.write_text(path.read_text().replace("store_code", "shop", 1))
    env = {
        **os.environ,
        "MYPIZZA_WORLD": str(copy),
        "MYPIZZA_WAREHOUSE": str(tmp_path / "wh" / "mypizza.duckdb"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    env.pop("SOURCES__INVENTORY__BUCKET_URL", None)
    result = subprocess.run(
        [MYPIZZA, "ingest", "inventory"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"quarantined {rel}: bad header (missing store_code; unexpected shop)" in result.stdout
    assert "1 quarantined" in result.stdout


# ---------------------------------------------------------------- an S3-protocol server
@pytest.fixture
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free 127.0.0.1 port, for one test."""
    with moto_s3_server() as url:
        yield url


def test_the_same_pipeline_reads_an_s3_bucket(
    world: Path, warehouse: Path, s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="inventory",
        aws_secret_access_key="not-a-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="inventory-drop")
    bucket = world / "bucket"
    files = sorted(p for p in bucket.rglob("*") if p.is_file())
    last_day = max(p.parent.name for p in files if p.parent.name[:4].isdigit())
    for path in files:
        if last_day not in path.parts:
            s3.upload_file(str(path), "inventory-drop", path.relative_to(bucket).as_posix())
    for key, value in {
        "BUCKET_URL": "s3://inventory-drop",
        "CREDENTIALS__AWS_ACCESS_KEY_ID": "inventory",
        "CREDENTIALS__AWS_SECRET_ACCESS_KEY": "not-a-secret",
        "CREDENTIALS__ENDPOINT_URL": s3_server,
    }.items():
        monkeypatch.setenv(f"SOURCES__INVENTORY__{key}", value)
    s3_warehouse = tmp_path / "s3.duckdb"

    first = load("inventory", s3_warehouse, progress=None)  # the bucket from dlt config
    assert first.problems == [] and first.rows["files"] == len(files) - sum(
        last_day in p.parts for p in files
    )
    urls = {u for (u,) in query(s3_warehouse, "select file_url from raw_inventory.files")}
    assert all(u.startswith("s3://inventory-drop/") for u in urls)

    # the last day arrives: only its files are read
    for path in files:
        if last_day in path.parts:
            s3.upload_file(str(path), "inventory-drop", path.relative_to(bucket).as_posix())
    second = load("inventory", s3_warehouse, progress=None)
    assert {p for _, p, _ in second.files} == {
        p.relative_to(bucket).as_posix() for p in files if last_day in p.parts
    }
    assert load("inventory", s3_warehouse, progress=None).rows == {}

    # the same rows as from the folder, file by file and value by value
    assert rows_by_file(s3_warehouse) == rows_by_file(warehouse)
    columns = "store_code, count_date, ingredient_code, counted_quantity, file_path"
    sql = f"select {columns} from raw_inventory.stock_counts order by file_path, file_row_number"
    assert query(s3_warehouse, sql) == query(warehouse, sql)

    # a file uploaded again is read again and replaces its rows
    rel = next(p for p in (f.relative_to(bucket).as_posix() for f in files) if "waste" in p)
    time.sleep(1.1)  # S3 modification dates have whole seconds
    s3.upload_file(str(bucket / rel), "inventory-drop", rel)
    again = load("inventory", s3_warehouse, progress=None)
    assert [p for _, p, _ in again.files] == [rel]
    assert rows_by_file(s3_warehouse) == rows_by_file(warehouse)
