"""Production's dbt artifacts, kept beside the published copy for analysts and slim CI.

After each successful build the pipeline keeps the ``manifest.json`` of that build in
``<warehouse folder>/prod-state/``: it describes exactly what the published copy holds, so
``dbt build --defer --state <that folder>`` (README, "Editing a model") and ``make
ci-changed`` compare an analyst's project with production's, whatever the analyst's own
``target/`` has been overwritten with since.

Beside it, ``last_run.json``: the outcome of the last run (what loaded, what failed, what
is held back from the published copy and since when), for `mypizza status` and the next
run's audit.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import fields
from pathlib import Path

from mypizza.audit import Held

HELD_FIELDS = [f.name for f in fields(Held)]


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


# ---------------------------------------------------------------- the last run's outcome
LAST_RUN = "last_run.json"


def last_run(warehouse: Path) -> dict | None:
    """What the last `mypizza run`/`build` recorded (``record_run``), or None."""
    path = prod_state_dir(warehouse) / LAST_RUN
    return json.loads(path.read_text()) if path.exists() else None


def previously_held(warehouse: Path) -> list[Held]:
    """The relations the last published copy holds back."""
    record = last_run(warehouse) or {}
    return [Held(**{k: h[k] for k in HELD_FIELDS}) for h in record.get("held_back", [])]


def record_run(warehouse: Path, record: dict) -> Path:
    """Keep ``record`` (mypizza/cli.py: sources loaded and failed, held back, published,
    exit status) as ``prod-state/last_run.json``, swapped in atomically. Each held-back
    relation gets ``stale_since``: when the version readers still see was published (kept
    from the last record while it stays held back; null: never published)."""
    previous = last_run(warehouse) or {}
    before = {h["unique_id"]: h for h in previous.get("held_back", [])}
    last_published = previous.get("last_published_at")
    for held in record.get("held_back", []):
        earlier = before.get(held["unique_id"])
        if earlier is not None:
            held["stale_since"] = earlier.get("stale_since")
        else:
            held["stale_since"] = last_published if held.get("was_published") else None
    if record.get("published"):
        record["last_published_at"] = record["finished_at"]
    else:
        record["last_published_at"] = last_published
    state = prod_state_dir(warehouse)
    state.mkdir(parents=True, exist_ok=True)
    staging = state / f".{LAST_RUN}.{os.getpid()}.tmp"
    try:
        staging.write_text(json.dumps(record, indent=2, default=str) + "\n")
        os.replace(staging, state / LAST_RUN)
    finally:
        staging.unlink(missing_ok=True)
    return state / LAST_RUN
