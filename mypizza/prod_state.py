"""Production's dbt artifacts, kept beside the published copy for analysts and slim CI.

After each successful build the pipeline keeps the ``manifest.json`` of that build in
``<warehouse folder>/prod-state/``: it describes exactly what the published copy holds, so
``dbt build --defer --state <that folder>`` (README, "Editing a model") and ``make
ci-changed`` compare an analyst's project with production's, whatever the analyst's own
``target/`` has been overwritten with since.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def prod_state_dir(warehouse: Path) -> Path:
    return warehouse.parent / "prod-state"


def keep_prod_state(target_dir: Path, warehouse: Path) -> Path:
    """Copy the build's manifest.json into prod-state/, swapped in atomically."""
    state = prod_state_dir(warehouse)
    state.mkdir(parents=True, exist_ok=True)
    staging = state / f".manifest.json.{os.getpid()}.tmp"
    try:
        shutil.copyfile(target_dir / "manifest.json", staging)
        os.replace(staging, state / "manifest.json")
    finally:
        staging.unlink(missing_ok=True)
    return state
