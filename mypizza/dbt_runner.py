"""Runs dbt from the repository root, as an analyst would, and reads what it did."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mypizza import killpoints

BUILD_RESULTS = "last_build_run_results.json"  # the last `dbt build`'s run_results.json


class DbtError(RuntimeError):
    """A dbt command failed; dbt's own output above says which node and why."""


@dataclass
class DbtResult:
    command: str
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    returncode: int = 0
    ran: bool = True  # False: dbt wrote no run results (it could not start or parse)

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.statuses.items()))
        return f"dbt {self.command}: {parts or 'nothing'} in {self.seconds:.1f} s"


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def run_dbt(
    repo: Path, target_dir: Path, *args: str, quiet: bool = False, check: bool = True
) -> DbtResult:
    """Run ``dbt <args>`` in ``repo`` (artifacts in ``target_dir``). A failure raises
    DbtError, or with ``check=False`` is returned (``returncode``; ``ran`` is False when
    dbt wrote no run results: it stopped before running any node)."""
    command = [dbt_executable(), *args]
    if quiet:
        command.insert(1, "--quiet")
    if not sys.stdout.isatty():
        command.insert(1, "--no-use-colors")
    started = time.time()
    if killpoints.requested():  # test hook: a crash-recovery test may die in the middle
        completed = killpoints.run_dbt_until_killed(command, repo)
    else:
        completed = subprocess.run(command, cwd=repo, check=False)
    result = read_results(target_dir, args, started, completed.returncode)
    if completed.returncode != 0 and check:
        raise DbtError(f"`dbt {' '.join(args)}` failed (exit {completed.returncode}); see above.")
    return result


def read_results(
    target_dir: Path, args: tuple[str, ...] | list[str], started: float, returncode: int
) -> DbtResult:
    """What ``dbt <args>``, started at ``started`` (``time.time()``) and ended with
    ``returncode``, did, from the run results it wrote in ``target_dir``; a build's are also
    kept as BUILD_RESULTS (docs generate overwrites the other). Also for a dbt started by
    someone else (the Dagster build, orchestration/definitions.py)."""
    latest = target_dir / "run_results.json"
    fresh = latest.exists() and latest.stat().st_mtime >= started
    results = _read_run_results(latest) if fresh else None
    if fresh and args and args[0] == "build":  # the audit and `mypizza status` read it
        shutil.copyfile(latest, target_dir / BUILD_RESULTS)  # after docs overwrote the other
    result = results or DbtResult(" ".join(args), time.time() - started, ran=False)
    result.returncode = returncode
    return result


def _read_run_results(path: Path) -> DbtResult | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    statuses: Counter = Counter()
    for result in data.get("results", []):
        resource_type = result["unique_id"].split(".", 1)[0]
        statuses[f"{resource_type}s {result['status']}"] += 1
    which = data.get("args", {}).get("which", "?")
    command = "docs generate" if which == "generate" else which
    return DbtResult(command, float(data.get("elapsed_time", 0.0)), statuses)
