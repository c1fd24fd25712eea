"""The conventions that need the warehouse's columns (catalog.json), on the built test world:
every column of every model documented (dbt-bouncer's catalog check and dbt-coverage at
100%), and every model with a primary-key test (counted here from the manifest). The
manifest-only checks (naming, lineage, freshness, governance) run in `make conventions`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, Env

BIN = Path(sys.executable).parent


def artifacts_project(env: Env, root: Path) -> Path:
    """A folder whose `target` is the built world's (dbt-bouncer reads $DBT_PROJECT_DIR/target)."""
    project = root / "project"
    project.mkdir()
    (project / "target").symlink_to(env.target)
    return project


def test_every_model_column_in_the_warehouse_is_documented(built_world: Env, tmp_path) -> None:
    project = artifacts_project(built_world, tmp_path)
    bouncer = subprocess.run(
        [str(BIN / "dbt-bouncer"), "run", "--config-file", "dbt-bouncer.yml"]
        + ["--only", "catalog_checks"],
        cwd=REPO,
        env={**built_world.vars, "DBT_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
    )
    assert bouncer.returncode == 0, f"dbt-bouncer:\n{bouncer.stdout}\n{bouncer.stderr}"

    report = tmp_path / "doc_coverage.json"
    coverage = subprocess.run(
        [str(BIN / "dbt-coverage"), "compute", "doc", "--project-dir", str(REPO)]
        + ["--run-artifacts-dir", str(built_world.target), "--cov-report", str(report)]
        + ["--model-path-filter", "models/", "--cov-fail-under", "1.0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert coverage.returncode == 0, f"dbt-coverage:\n{coverage.stdout}\n{coverage.stderr}"
    doc = json.loads(report.read_text())
    print(f"documentation coverage: {doc['covered']}/{doc['total']} columns")
    assert doc["total"] > 300 and doc["covered"] == doc["total"]


def test_every_model_has_a_primary_key_test(built_world: Env) -> None:
    manifest = json.loads((built_world.target / "manifest.json").read_text())
    models = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["package_name"] == "mypizza"
    }
    unique: dict[str, set[str]] = {m: set() for m in models}
    not_null: dict[str, set[str]] = {m: set() for m in models}
    keyed: set[str] = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node") not in models:
            continue
        name = (node.get("test_metadata") or {}).get("name")
        model, column = node["attached_node"], node.get("column_name")
        if name == "unique_combination_of_columns":
            keyed.add(model)
        elif name == "unique" and column:
            unique[model].add(column)
        elif name == "not_null" and column:
            not_null[model].add(column)
    keyed |= {m for m in models if unique[m] & not_null[m]}
    print(f"primary-key test coverage: {len(keyed)}/{len(models)} models")
    assert len(models) > 40
    assert sorted(models - keyed) == []
