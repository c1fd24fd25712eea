"""The conventions (docs/conventions.md) that pytest checks: what needs the warehouse's
columns (catalog.json) on the built test world, every column of every model documented
(dbt-bouncer's catalog check and dbt-coverage at 100%); that the manifest checks `make
conventions` runs do catch a model without a primary-key test (dbt-bouncer's check, not
counted again here); and that no tracked file holds an absolute path of a developer's
machine (tools/check_machine_paths.py, also a pre-commit hook).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from support import BIN, REPO, Env


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


def test_a_model_without_a_primary_key_test_fails_the_conventions(
    built_world: Env, tmp_path: Path
) -> None:
    """The manifest of the built world, less the key tests of dim_stores, fails dbt-bouncer's
    primary-key checks (the project's own and dbt-bouncer's), naming the model."""
    manifest = json.loads((built_world.target / "manifest.json").read_text())
    model = "model.mypizza.dim_stores"
    keys = [
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test"
        and node.get("attached_node") == model
        and (node.get("test_metadata") or {}).get("name")
        in ("unique", "not_null", "unique_combination_of_columns")
    ]
    assert keys, "dim_stores has key tests to take away"
    for uid in keys:
        del manifest["nodes"][uid]
        for children in manifest["child_map"].values():
            if uid in children:
                children.remove(uid)
        manifest["parent_map"].pop(uid, None)
    manifest["child_map"].pop(model, None)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(manifest))
    config = tmp_path / "dbt-bouncer.yml"
    shutil.copyfile(REPO / "dbt-bouncer.yml", config)
    bouncer = subprocess.run(
        [str(BIN / "dbt-bouncer"), "run", "--config-file", str(config), "--only", "manifest_checks"]
        + ["--check", "check_model_has_unique_test,check_model_has_primary_key_test"],
        cwd=REPO,
        env={**built_world.vars, "DBT_PROJECT_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    out = bouncer.stdout + bouncer.stderr
    assert bouncer.returncode != 0, out
    assert "dim_stores" in out and "check_model_has_primary_key_test" in out, out


# ---------------------------------------------------------------- the repository itself
def test_no_tracked_file_holds_a_developer_machine_path() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    files = [name for name in tracked if name and (REPO / name).is_file()]
    assert len(files) > 200
    check = subprocess.run(
        [sys.executable, "tools/check_machine_paths.py", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_the_machine_path_check_names_what_it_finds(tmp_path: Path) -> None:
    home, work, windows = "/" + "home/ana/", "/" + "work/shared/x.csv", "C:" + "\\Users\\ana\\x"
    bad = tmp_path / "bad.py"
    bad.write_text(f"a = '{home}notes.txt'\nb = '/tmp/ok'\nc = '{work}'\nd = r'{windows}'\n")
    good = tmp_path / "good.md"
    good.write_text("/usr/bin/chromium, /tmp/mypizza, ~/project, https://x.org/home/page\n")
    check = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_machine_paths.py"), str(bad), str(good)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 1
    lines = check.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{bad}:1", f"{bad}:3", f"{bad}:4"]
    assert home in lines[0] and "/" + "work/shared" in lines[1] and "Users" in lines[2]
