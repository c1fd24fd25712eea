"""`mypizza status` on the shared built world: per source the last load, the rows, what is
held back and freshness against --now; the last dbt build; exit 1 when stale or failed.
Expected numbers come from the world's own source systems, not from the warehouse."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import MYPIZZA, REPO, Env

from simulator import iot

POS_TABLES = ("stores", "products", "customers", "orders", "order_items", "payments")


def status(env: Env, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYPIZZA, "status", *args],
        cwd=REPO,
        env={**env.vars, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


def line_of(output: str, source: str) -> list[str]:
    (line,) = [line for line in output.splitlines() if line.startswith(f"{source} ")]
    return line.split()


def newest_order(env: Env) -> datetime:
    with sqlite3.connect(env.world / "pos.sqlite") as con:
        (newest,) = con.execute("select max(ordered_at) from orders").fetchone()
    return datetime.fromisoformat(newest)


def test_fresh_world_is_ok_with_the_source_numbers(built_world: Env) -> None:
    newest = newest_order(built_world)
    now = newest + timedelta(hours=2)
    result = status(built_world, "--now", now.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(built_world.world / "pos.sqlite") as con:
        rows = sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in POS_TABLES)
    pos = line_of(result.stdout, "pos")
    assert int(pos[3].replace(",", "")) == rows  # rows loaded
    assert pos[4] == "0"  # nothing held back
    assert " ".join(pos[5:7]) == f"{newest:%Y-%m-%d %H:%M}"
    assert pos[-1] == "fresh"
    assert "dbt build: ok" in result.stdout and result.stdout.rstrip().endswith("status: OK")

    # the kitchen devices: what they sent (the simulator's outbox), each distinct message
    # once, either a reading or held back; fresh by the newest device time, not the load
    sent = {
        m
        for day in iot.outbox_days(built_world.world)
        for m in iot.read_outbox(built_world.world, day)
    }
    stamps = []
    for _, payload in sent:
        try:
            body = json.loads(payload)
            stamps.append(datetime.fromisoformat(body["ts"]))
        except (ValueError, KeyError, TypeError):
            continue
    line = line_of(result.stdout, "iot")
    rows, held = int(line[3].replace(",", "")), int(line[4].replace(",", ""))
    assert held > 0 and rows + held == len(sent)
    assert " ".join(line[5:7]) == f"{max(stamps).astimezone(UTC):%Y-%m-%d %H:%M}"
    assert line[-1] == "fresh"


def test_late_warns_and_stale_fails(built_world: Env) -> None:
    newest = newest_order(built_world)
    late = status(built_world, "--now", (newest + timedelta(days=2)).isoformat())
    assert late.returncode == 0 and line_of(late.stdout, "pos")[-1] == "late"
    stale = status(built_world, MYPIZZA_NOW=(newest + timedelta(days=5)).isoformat())
    assert stale.returncode == 1
    assert line_of(stale.stdout, "pos")[-1] == "stale"
    assert "status: PROBLEM: pos stale" in stale.stdout


def test_a_failed_or_missing_build_fails(built_world: Env, tmp_path: Path) -> None:
    now = (newest_order(built_world) + timedelta(hours=1)).isoformat()
    kept = built_world.target / "last_build_run_results.json"
    results = json.loads(kept.read_text())
    assert results["args"]["which"] == "build"
    results["results"][0]["status"] = "error"
    target = tmp_path / "target"
    target.mkdir()
    (target / kept.name).write_text(json.dumps(results))
    failed = status(built_world, "--now", now, DBT_TARGET_PATH=str(target))
    assert failed.returncode == 1 and "dbt build: failed" in failed.stdout
    assert "1 error" in failed.stdout
    (target / kept.name).unlink()
    missing = status(built_world, "--now", now, DBT_TARGET_PATH=str(target))
    assert missing.returncode == 1 and "dbt build never built" in missing.stdout


def test_a_new_warehouse_has_nothing_loaded(built_world: Env, tmp_path: Path) -> None:
    result = status(built_world, MYPIZZA_WAREHOUSE=str(tmp_path / "new.duckdb"))
    assert result.returncode == 1 and "nothing loaded yet" in result.stdout


def test_status_reads_the_published_copy_while_a_run_holds_the_warehouse(
    built_world: Env, tmp_path: Path
) -> None:
    import duckdb

    warehouse = tmp_path / "wh" / "mypizza.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(built_world.warehouse, warehouse)
    shutil.copyfile(built_world.published, warehouse.with_name("mypizza.published.duckdb"))
    now = (newest_order(built_world) + timedelta(hours=1)).isoformat()
    with duckdb.connect(str(warehouse)):  # a writer holds it
        result = status(built_world, "--now", now, MYPIZZA_WAREHOUSE=str(warehouse))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mypizza.published.duckdb" in result.stdout.splitlines()[0]


def test_a_partial_last_run_exits_3_with_what_is_held_back_and_for_how_long(
    built_world: Env, tmp_path: Path
) -> None:
    """A last run that published all but the feedback area (its API was down): the
    record mypizza keeps beside the warehouse (prod-state/last_run.json)."""
    warehouse = tmp_path / "wh" / "mypizza.duckdb"
    shutil.copytree(built_world.warehouse.parent, warehouse.parent)
    record = warehouse.parent / "prod-state" / "last_run.json"
    run = json.loads(record.read_text())
    assert run["exit_status"] == 0 and run["held_back"] == []  # the built world's run
    since = datetime.now(UTC) - timedelta(hours=5)
    run.update(
        exit_status=3,
        outcome="PARTIAL",
        held_back=[
            {
                "unique_id": "model.mypizza.fct_reviews",
                "relation": "marts.fct_reviews",
                "materialized": "table",
                "reason": "source feedback did not load",
                "via": "reads feedback",
                "stale_since": since.isoformat(),
            }
        ],
    )
    run["sources"]["feedback"] = {"status": "failed", "error": "source feedback: refused"}
    record.write_text(json.dumps(run))
    now = (newest_order(built_world) + timedelta(hours=1)).isoformat()
    result = status(built_world, "--now", now, MYPIZZA_WAREHOUSE=str(warehouse))
    assert result.returncode == 3, result.stdout + result.stderr
    out = result.stdout
    assert "last run: PARTIAL (exit 3)" in out
    assert "  feedback did not load: source feedback: refused" in out
    (line,) = [line for line in out.splitlines() if "marts.fct_reviews" in line]
    assert f"stale since {since:%Y-%m-%d %H:%M} UTC (5.0 h)" in line
    assert out.rstrip().endswith("status: PARTIAL: feedback did not load; 1 relations held back")
