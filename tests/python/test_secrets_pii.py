"""Secrets and PII: an API token set the supported ways (env var here) never shows up in
mypizza's output, dlt's or dbt's logs and state, or any string in the warehouse; the raw PII
the sources send (POS customers' names, e-mails and phones; reviewers' names and e-mails;
mention authors' handles) never reaches a mart, a snapshot or the docs site. The PII values
are read from the source systems themselves."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import MYPIZZA, REPO, Env

from simulator import FeedbackApiServer, simulate
from simulator.feedback import feedback_path

TOKEN = "tok-Zq8W3xS1-never-print-me-4f1c"  # made up: pragma: allowlist secret


def string_columns(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] | None) -> list:
    where = "data_type = 'VARCHAR'"
    if schemas:
        where += f" and table_schema in ({', '.join(repr(s) for s in schemas)})"
    return con.execute(
        f"select table_schema, table_name, column_name from information_schema.columns "
        f"where {where} and table_catalog = current_database() order by all"
    ).fetchall()


def hits(path: Path, values: set[str], schemas: tuple[str, ...] | None) -> list[str]:
    """Columns of ``schemas`` (all if None) holding any of ``values`` inside a string."""
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("create temp table needles (v varchar)")
        con.executemany("insert into needles values (?)", [[v] for v in values])
        for schema, table, column in string_columns(con, schemas):
            (n,) = con.execute(
                f'select count(*) from "{schema}"."{table}" as t join needles '
                f'on contains(t."{column}", needles.v)'
            ).fetchone()
            if n:
                found.append(f"{schema}.{table}.{column}: {n}")
    return found


# ---------------------------------------------------------------- secrets
@pytest.mark.e2e  # dbt runs with the token in its environment
def test_the_token_is_never_written_anywhere(tmp_path: Path) -> None:
    env = Env(tmp_path)
    simulate(env.world, stores=1, days=2, start=date(2026, 4, 6), seed=5)
    with FeedbackApiServer(env.world, token=TOKEN) as api:
        env.vars.update(SOURCES__FEEDBACK__BASE_URL=api.url, SOURCES__FEEDBACK__TOKEN=TOKEN)
        ingest = subprocess.run(
            [MYPIZZA, "ingest", "feedback"],
            cwd=REPO,
            env=env.vars,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert api.stats[200] > 0 and api.stats[401] == 0  # the token was used, and accepted
    # dbt with the token in its environment, writing its log and artifacts
    dbt = env.dbt("run", "--select", "stg_feedback__reviews", "--debug")
    assert dbt.returncode == 0, dbt.stdout[-3000:]
    assert (env.root / "logs" / "dbt.log").exists()

    for text in (ingest.stdout, ingest.stderr, dbt.stdout, dbt.stderr):
        assert TOKEN not in text
    files = [p for p in env.root.rglob("*") if p.is_file() and env.world not in p.parents]
    assert any(".mypizza.dlt" in str(p) for p in files)  # dlt's state and load packages
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
    # the warehouse compresses strings, so ask it too: every string column of every schema
    assert hits(env.warehouse, {TOKEN}, None) == []
    (reviews,) = env.query("select count(*) from raw_feedback.reviews")[0]
    assert reviews > 0


def test_secrets_live_only_in_env_or_the_ignored_secrets_file() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".dlt/secrets.toml"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, ".dlt/secrets.toml must be git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", ".dlt"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == [".dlt/config.toml"]
    assignments = re.findall(
        r"^\s*(\w*(?:token|password|secret|key)\w*)\s*=",
        (REPO / ".dlt" / "config.toml").read_text(),
        flags=re.MULTILINE | re.IGNORECASE,
    )
    assert assignments == []


# ---------------------------------------------------------------- PII
@pytest.fixture(scope="module")
def pii(built_world: Env) -> dict[str, set[str]]:
    """The raw PII values the built world's sources hold (at least 6 characters)."""
    with sqlite3.connect(built_world.world / "pos.sqlite") as con:
        customers = con.execute(
            "select first_name || ' ' || last_name, email, phone from customers"
        ).fetchall()
    with sqlite3.connect(feedback_path(built_world.world)) as con:
        reviews = [json.loads(d) for (d,) in con.execute("select document from reviews")]
        mentions = [json.loads(d) for (d,) in con.execute("select document from mentions")]
    values = {
        "names": {c[0] for c in customers} | {r["reviewer"]["name"] for r in reviews},
        "emails": {c[1] for c in customers} | {r["reviewer"]["email"] for r in reviews},
        "phones": {c[2] for c in customers if c[2]},
        "handles": {m["author"]["handle"] for m in mentions},
    }
    values = {kind: {v for v in vs if v and len(v) >= 6} for kind, vs in values.items()}
    assert all(values.values()), {k: len(v) for k, v in values.items()}
    return values


def test_raw_pii_is_in_raw_but_never_in_marts_or_snapshots(
    built_world: Env, pii: dict[str, set[str]]
) -> None:
    everything = set().union(*pii.values())
    raw = hits(built_world.published, everything, ("raw_pos", "raw_feedback"))
    assert raw  # the check finds PII where it is (the raw layer)
    assert hits(built_world.published, everything, ("marts", "snapshots")) == []


def test_the_docs_site_holds_no_pii(built_world: Env, pii: dict[str, set[str]]) -> None:
    texts = {
        name: (built_world.target / name).read_text()
        for name in ("catalog.json", "manifest.json", "index.html")
        if (built_world.target / name).exists()
    }
    assert {"catalog.json", "manifest.json"} <= set(texts)
    for name, text in texts.items():
        emails = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text))
        assert not emails & pii["emails"], name
        handles = set(re.findall(r"@[\w.]+", text))
        assert not handles & pii["handles"], name
        names = {" ".join(m) for m in re.findall(r"\b([A-Z][\w'-]+) ([A-Z][\w'-]+)\b", text)}
        assert not names & pii["names"], name
        digits = {re.sub(r"\D", "", p) for p in pii["phones"]}
        found = {re.sub(r"\D", "", m) for m in re.findall(r"\+?[\d][\d ().-]{7,}\d", text)}
        assert not found & digits, name
