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


class DbtError(RuntimeError):
    """A dbt command failed; dbt's own output above says which node and why."""


@dataclass
class DbtResult:
    command: str
    seconds: float
    statuses: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.statuses.items()))
        return f"dbt {self.command}: {parts or 'nothing'} in {self.seconds:.1f} s"


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def run_dbt(repo: Path, target_dir: Path, *args: str, quiet: bool = False) -> DbtResult:
    """Run ``dbt <args>`` in ``repo`` (artifacts in ``target_dir``); raise DbtError on failure."""
    command = [dbt_executable(), *args]
    if quiet:
        command.insert(1, "--quiet")
    if not sys.stdout.isatty():
        command.insert(1, "--no-use-colors")
    started = time.time()
    if killpoints.requested():  # a crash-recovery test: maybe die in the middle of it
        completed = killpoints.run_dbt_until_killed(command, repo)
    else:
        completed = subprocess.run(command, cwd=repo, check=False)
    results = _read_run_results(target_dir / "run_results.json")
    if args and args[0] == "build":  # `mypizza status` reads it after docs overwrote the other
        _keep_build_results(target_dir, started)
    if completed.returncode != 0:
        raise DbtError(f"`dbt {' '.join(args)}` failed (exit {completed.returncode}); see above.")
    return results or DbtResult(" ".join(args), 0.0)


def _keep_build_results(target_dir: Path, started: float) -> None:
    latest = target_dir / "run_results.json"
    if latest.exists() and latest.stat().st_mtime >= started:
        shutil.copyfile(latest, target_dir / "last_build_run_results.json")


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
