"""Paths the command line passes down: the repository, the warehouse and the world.

Read from the environment once, here, and handed to the pipelines and the simulator as
arguments; nothing below the command line imports this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WAREHOUSE = "warehouse/mypizza.duckdb"
DEFAULT_WORLD = "data/world"


def _path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path)


@dataclass(frozen=True)
class Settings:
    warehouse: Path
    world: Path
    repo: Path = REPO_ROOT

    @property
    def target_dir(self) -> Path:
        """dbt's target folder (artifacts and the docs site); DBT_TARGET_PATH moves it."""
        return _path(os.environ.get("DBT_TARGET_PATH", "target"))

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            warehouse=_path(os.environ.get("MYPIZZA_WAREHOUSE", DEFAULT_WAREHOUSE)),
            world=_path(os.environ.get("MYPIZZA_WORLD", DEFAULT_WORLD)),
        )

    def export(self) -> None:
        """Put the resolved paths and quiet defaults in the environment of child processes."""
        os.environ["MYPIZZA_WAREHOUSE"] = str(self.warehouse)
        os.environ["MYPIZZA_WORLD"] = str(self.world)
        # dlt finds .dlt/config.toml in the repository whatever the working directory.
        os.environ.setdefault("DLT_PROJECT_DIR", str(self.repo))
        os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        os.environ.setdefault("DO_NOT_TRACK", "1")
