"""The feedback pipeline (dlt rest_api) against the simulated platform's real HTTP server on
127.0.0.1, into a real DuckDB file: paging, retries of 429/500, incremental merge of edited
reviews, nested child tables, auth."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.feedback import FeedbackApiError
from ingestion.pipelines import load
from simulator import FeedbackApiServer, simulate
from simulator.feedback import KINDS, feedback_path

TOKEN = "test-token"
CHILD_TABLES = {
    "reviews__tags",
    "reviews__product_ids",
    "reviews__replies",
    "reviews__edit_history",
    "mentions__hashtags",
}


def documents(world: Path, kind: str) -> dict[str, dict]:
    with sqlite3.connect(feedback_path(world)) as con:
        docs = (json.loads(d) for (d,) in con.execute(f"select document from {kind}"))
        return {d["id"]: d for d in docs}


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt's retry waits, shortened so a test with many 429s stays fast."""
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "0.05")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.01")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feedback-pipeline") / "world"
    simulate(path, stores=2, days=14, start=date(2026, 4, 6), seed=21)
    return path


@pytest.fixture
def api(world: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedbackApiServer]:
    """The world's API with a token, pointed at by dlt config (small pages: many of them)."""
    with FeedbackApiServer(world, token=TOKEN) as server:
        monkeypatch.setenv("SOURCES__FEEDBACK__BASE_URL", server.url)
        monkeypatch.setenv("SOURCES__FEEDBACK__TOKEN", TOKEN)
        monkeypatch.setenv("SOURCES__FEEDBACK__PAGE_SIZE", "40")
        yield server


def test_first_load_pages_through_everything_and_nests_arrays(
    world: Path, api: FeedbackApiServer, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh.duckdb"
    result = load("feedback", warehouse, progress=None)
    reviews, mentions = documents(world, "reviews"), documents(world, "mentions")
    assert result.rows["reviews"] == len(reviews) > 80
    assert result.rows["mentions"] == len(mentions) > 40
    # 40 documents a page: several pages of each, every one fetched once
    pages = -(-len(reviews) // 40) + -(-len(mentions) // 40)
    assert pages >= 4 and api.stats == {200: pages}

    sql = "select table_name from information_schema.tables where table_schema = 'raw_feedback'"
    tables = {t for (t,) in query(warehouse, sql)}
    assert CHILD_TABLES | set(KINDS) <= tables
    tags = sum(len(d["tags"]) for d in reviews.values())
    replies = sum(len(d["replies"]) for d in reviews.values())
    edits = sum(len(d["edit_history"]) for d in reviews.values())
    assert tags and replies and edits
    assert result.rows["reviews__tags"] == tags
    assert result.rows["reviews__replies"] == replies
    assert result.rows["reviews__edit_history"] == edits

    # the child rows hang off their review, in the document's order
    loaded = query(
        warehouse,
        "select r.id, t.value from raw_feedback.reviews__tags as t "
        "join raw_feedback.reviews as r on t._dlt_parent_id = r._dlt_id "
        "order by r.id, t._dlt_list_idx",
    )
    expected = [(i, tag) for i in sorted(reviews) for tag in reviews[i]["tags"]]
    assert loaded == expected
    (replied_at,) = query(warehouse, "select max(replied_at) from raw_feedback.reviews__replies")[0]
    assert replied_at.tzinfo is not None  # landed as a timestamp, not a string

    again = load("feedback", warehouse, progress=None)
    assert again.rows == {}


def test_throttled_and_failing_api_still_loads_everything(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FeedbackApiServer(world, token=TOKEN, fault_rate=0.5, fault_seed=3) as server:
        monkeypatch.setenv("SOURCES__FEEDBACK__BASE_URL", server.url)
        monkeypatch.setenv("SOURCES__FEEDBACK__TOKEN", TOKEN)
        monkeypatch.setenv("SOURCES__FEEDBACK__PAGE_SIZE", "10")
        warehouse = tmp_path / "wh.duckdb"
        result = load("feedback", warehouse, progress=None)
    assert server.stats[429] >= 3 and server.stats[500] >= 1, server.stats
    for kind in KINDS:
        ids = {i for (i,) in query(warehouse, f"select id from raw_feedback.{kind}")}
        assert ids == set(documents(world, kind)), kind
    assert result.rows["reviews"] == len(documents(world, "reviews"))


def test_edited_review_replaces_its_row_and_keeps_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, warehouse = tmp_path / "world", tmp_path / "wh.duckdb"
    simulate(world, stores=2, days=10, start=date(2026, 4, 6), seed=21)
    with FeedbackApiServer(world, token=TOKEN) as server:
        monkeypatch.setenv("SOURCES__FEEDBACK__BASE_URL", server.url)
        monkeypatch.setenv("SOURCES__FEEDBACK__TOKEN", TOKEN)
        load("feedback", warehouse, progress=None)
        before = documents(world, "reviews")
        simulate(world, days=4)  # the API serves the advanced world at once
        after = documents(world, "reviews")
        second = load("feedback", warehouse, progress=None)

    edited = [i for i in before if after[i]["version"] > before[i]["version"]]
    assert edited, "the world edits some reviews in four days"
    changed = [i for i in before if after[i] != before[i]]
    new = set(after) - set(before)
    assert second.rows["reviews"] == len(changed) + len(new)  # only what changed is read
    rows = dict(query(warehouse, "select id, rating from raw_feedback.reviews"))
    assert len(rows) == len(after)  # merged on id: one row per review
    versions = dict(query(warehouse, "select id, version from raw_feedback.reviews"))
    for review_id in edited:
        assert rows[review_id] == after[review_id]["rating"]
        assert versions[review_id] == after[review_id]["version"]
        history = query(
            warehouse,
            "select h.version, h.rating, h.text from raw_feedback.reviews__edit_history as h "
            "join raw_feedback.reviews as r on h._dlt_root_id = r._dlt_id "
            f"where r.id = '{review_id}' order by h._dlt_list_idx",
        )
        old = before[review_id]
        assert history[len(old["edit_history"])] == (old["version"], old["rating"], old["text"])
    (orphans,) = query(
        warehouse,
        "select count(*) from raw_feedback.reviews__replies as c "
        "left join raw_feedback.reviews as r on c._dlt_root_id = r._dlt_id where r.id is null",
    )[0]
    assert orphans == 0  # the replies of a replaced version went with it


def test_a_bad_token_says_what_to_set(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FeedbackApiServer(world, token=TOKEN) as server:
        monkeypatch.setenv("SOURCES__FEEDBACK__BASE_URL", server.url)
        monkeypatch.setenv("SOURCES__FEEDBACK__TOKEN", "not-the-token")
        with pytest.raises(FeedbackApiError) as error:
            load("feedback", tmp_path / "wh.duckdb", progress=None)
        assert server.stats == {401: 1}  # refused once, not retried
    message = str(error.value)
    assert "401" in message and "SOURCES__FEEDBACK__TOKEN" in message
    assert server.url in message and "not-the-token" not in message


def test_the_documents_load_through_parquet_files_not_insert_statements(
    api: FeedbackApiServer, tmp_path: Path
) -> None:
    """dlt's default for DuckDB is SQL INSERT files, which its loader reads whole into
    Python: a first load's memory then grew with the history (docs/performance.md). Every
    table of the load, the nested ones included, goes through Parquet instead."""
    from ingestion.pipelines import make_pipeline

    warehouse = tmp_path / "wh.duckdb"
    result = load("feedback", warehouse, progress=None)
    info = make_pipeline("feedback", warehouse, progress=None).last_trace.last_load_info
    jobs = [job for package in info.load_packages for job in package.jobs["completed_jobs"]]
    formats: dict[str, set[str]] = {}
    for job in jobs:  # the data files; "sql" jobs are the merges that follow them
        if job.job_file_info.file_format != "sql":
            formats.setdefault(job.job_file_info.table_name, set()).add(
                job.job_file_info.file_format
            )
    assert len(result.rows) >= 7
    assert {table: formats.get(table) for table in result.rows} == {
        table: {"parquet"} for table in result.rows
    }
