"""The command line: every subcommand answers --help, bad input gets a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MYPIZZA = str(Path(sys.executable).with_name("mypizza"))


@pytest.mark.parametrize("command", [[], ["simulate"], ["ingest"], ["build"], ["run"]])
def test_every_subcommand_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [MYPIZZA, *command, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mypizza")
    if command:
        assert f"mypizza {command[0]}" in result.stdout


def test_unknown_source_is_refused() -> None:
    result = subprocess.run(
        [MYPIZZA, "ingest", "nowhere"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "invalid choice: 'nowhere'" in result.stderr


def test_ingest_without_world_or_config_says_what_to_do(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MYPIZZA_WORLD": str(tmp_path / "no-world"),
        "MYPIZZA_WAREHOUSE": str(tmp_path / "wh.duckdb"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    result = subprocess.run(
        [MYPIZZA, "ingest", "pos"], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode != 0
    assert "no simulated world" in (result.stdout + result.stderr).lower()
    assert "SOURCES__POS__CREDENTIALS" in result.stdout + result.stderr


def test_the_writing_commands_take_wait_and_the_help_names_the_exit_statuses() -> None:
    for command in ("ingest", "build", "run"):
        out = subprocess.run(
            [MYPIZZA, command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "--wait" in out and "wait for it" in out, command
    out = subprocess.run([MYPIZZA, "--help"], capture_output=True, text=True, check=True).stdout
    words = " ".join(out.split())
    assert "0 all good; 3 partial" in words and "1 nothing published" in words


@pytest.mark.parametrize(
    ("setting", "workers"), [(None, 5), ("1", 1), ("2", 2), ("9", 5), ("0", 1)]
)
def test_ingest_workers_default_to_all_sources_and_follow_the_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, workers: int
) -> None:
    from mypizza.cli import ingest_workers

    if setting is None:
        monkeypatch.delenv("MYPIZZA_INGEST_WORKERS", raising=False)
    else:
        monkeypatch.setenv("MYPIZZA_INGEST_WORKERS", setting)
    assert ingest_workers(5) == workers


@pytest.mark.slow
def test_first_loads_run_one_at_a_time_and_a_nights_loads_at_once(tmp_path: Path) -> None:
    """A fresh warehouse: each source's first load (its history) starts after the one
    before it committed, as dlt's own record of loads shows (a load id is the time its
    package was started; `_dlt_loads.inserted_at` the time it was committed). The next
    day's loads run all at once."""
    import duckdb
    from support import Env

    env = Env(tmp_path)
    env.mypizza("simulate", "--stores", "1", "--days", "3")
    first = env.mypizza("ingest", "all")
    assert "first loads, one at a time: pos, inventory, feedback, franchise, iot" in first
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        spans = sorted(
            con.execute(
                f"select min(cast(load_id as double)), max(epoch(inserted_at)), '{schema}' "
                f"from {schema}._dlt_loads"
            ).fetchone()
            for schema in ("raw_pos", "raw_inventory", "raw_feedback", "raw_franchise", "raw_iot")
        )
    assert len(spans) == 5
    for (_, committed, before), (started, _, after) in zip(spans, spans[1:], strict=False):
        assert started >= committed, f"{after} started before {before} committed: {spans}"
    env.mypizza("simulate", "--days", "1")
    assert "one at a time" not in env.mypizza("ingest", "all")
