"""What the nightly build runs: only the work the night's loads and the project's changes need.

`mypizza run` and `mypizza build` ask :func:`plan` for their dbt arguments:

- **unit tests are left to CI** (`make test` runs them on every change of the project):
  they test SQL logic on fixed inputs, which a night's data cannot change;
- **areas whose sources brought nothing new are not rebuilt**: the build selects what is
  downstream of each dbt source whose dlt dataset committed a load since the last
  successful build (`source:<name>+`), plus what changed in the project since the build
  production's state describes (`state:modified+ --state <warehouse>/prod-state`). With
  no record of a successful build, no production manifest, or a full refresh, everything
  is built;
- **data tests that a constraint already enforces are left out**: a mart column with a
  `not_null` constraint in its enforced contract is checked by DuckDB as each row is
  written, so its `not_null` data test can find nothing the write did not refuse. They are
  left out when the production manifest declares the constraint and the warehouse's table
  holds it (an incremental table created before the constraint was declared does not).
  CI and Spark, which does not enforce constraints on Parquet tables, run them;
- **`dbt docs generate` runs only when the project changed**: the docs site describes the
  project (models, columns, descriptions, lineage); the data of a new day does not change
  it. A fingerprint of the manifest (without its timestamps) decides.

The record of the last successful build (`<warehouse>/prod-state/nightly.json`) is written
by :meth:`Plan.done` after the build (and the docs) succeeded: a failed night leaves the
older record, so the next night selects everything that changed since the last success.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

RECORD = "nightly.json"
PROD_TARGET = ["--target", "prod"]


def _state_dir(warehouse: Path) -> Path:
    return warehouse.parent / "prod-state"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def newest_loads(warehouse: Path, since: dict[str, str] | None = None) -> dict[str, str]:
    """Per raw dataset (schema) of the warehouse, when its newest load that brought data
    rows was committed (dlt's `_dlt_loads.inserted_at`, ISO text).

    Commit times, not load ids: a load package resumed after a crash keeps its older load
    id but is committed later. A load that only moved dlt's own state (an incremental
    cursor, nothing new) does not count: only loads whose id is on a row of a data table.
    ``since`` (the previous record) limits the look-up to loads committed after it.
    """
    if not warehouse.exists():
        return {}
    since = since or {}
    loads: dict[str, str] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # commit times as UTC text, as dbt's session (profiles.yml) renders them when the
        # models compare them with this record (macro nightly_loads_since)
        con.execute("set TimeZone = 'UTC'")
        tables = con.execute(
            "select table_schema, table_name from information_schema.columns "
            "where column_name = '_dlt_load_id' and left(table_name, 4) <> '_dlt' "
            "and table_schema in (select table_schema from information_schema.tables "
            "where table_name = '_dlt_loads') order by table_schema, table_name"
        ).fetchall()
        by_schema: dict[str, list[str]] = {}
        for schema, table in tables:
            by_schema.setdefault(schema, []).append(table)
        for schema, names in by_schema.items():
            committed = [
                (load_id, at)
                for load_id, at in con.execute(
                    f"select load_id, strftime(inserted_at, '%Y-%m-%dT%H:%M:%S.%f') "
                    f'from "{schema}"._dlt_loads where status = 0 order by inserted_at desc'
                ).fetchall()
                if at > since.get(schema, "")
            ]
            if not committed:
                if schema in since:
                    loads[schema] = since[schema]
                continue
            ids = [load_id for load_id, _ in committed]
            placeholders = ", ".join("?" for _ in ids)
            with_rows = set()
            for table in names:
                found = con.execute(
                    f'select distinct _dlt_load_id from "{schema}"."{table}" '
                    f"where _dlt_load_id in ({placeholders})",
                    ids,
                ).fetchall()
                with_rows.update(load_id for (load_id,) in found)
            newest = next((at for load_id, at in committed if load_id in with_rows), None)
            if newest is not None:
                loads[schema] = newest
            elif schema in since:
                loads[schema] = since[schema]
    return loads


def enforced_not_null_tests(warehouse: Path, manifest: dict) -> list[str]:
    """The names of the `not_null` data tests whose column DuckDB itself refuses nulls in:
    the model's contract is enforced and declares a `not_null` constraint on the column, and
    the table in the warehouse has the column NOT NULL (read from its catalog)."""
    wanted: dict[tuple[str, str, str], str] = {}
    for node in manifest.get("nodes", {}).values():
        meta = node.get("test_metadata") or {}
        if node.get("resource_type") != "test" or meta.get("name") != "not_null":
            continue
        model = manifest["nodes"].get(node.get("attached_node") or "", {})
        column = (meta.get("kwargs") or {}).get("column_name")
        declared = (model.get("columns", {}).get(column) or {}).get("constraints") or []
        if (
            (model.get("config") or {}).get("contract", {}).get("enforced")
            and (model.get("config") or {}).get("materialized") in ("table", "incremental")
            and any(c.get("type") == "not_null" for c in declared)
            and not (node.get("config") or {}).get("where")
        ):
            key = (model["schema"], model.get("alias") or model["name"], column)
            wanted[key] = node["name"]
    if not wanted or not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        not_null = set(
            con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where is_nullable = 'NO'"
            ).fetchall()
        )
    return sorted(name for key, name in wanted.items() if key in not_null)


def _source_names(manifest: dict) -> dict[str, set[str]]:
    """dbt source names by the schema they read (from a manifest)."""
    names: dict[str, set[str]] = {}
    for source in manifest.get("sources", {}).values():
        names.setdefault(source["schema"], set()).add(source["source_name"])
    return names


# What the docs site shows of a node; compile-time fields (compiled SQL, the macros a
# test resolved to) differ between a build, a selected build and `docs generate`.
_NODE_FIELDS = (
    "unique_id",
    "checksum",
    "description",
    "columns",
    "config",
    "patch_path",
    "tags",
    "meta",
    "docs",
    "access",
    "group",
    "contract",
    "constraints",
    "relation_name",
)


def _docs_view(manifest: dict) -> dict:
    """The part of a manifest the docs site is made of, without run-dependent fields."""
    view: dict = {}
    for kind in ("nodes", "sources"):
        view[kind] = {
            uid: {
                **{f: node.get(f) for f in _NODE_FIELDS},
                "depends_on": (node.get("depends_on") or {}).get("nodes"),
            }
            for uid, node in manifest.get(kind, {}).items()
        }
    view["docs"] = {uid: d.get("block_contents") for uid, d in manifest.get("docs", {}).items()}
    view["macros"] = {uid: m.get("macro_sql") for uid, m in manifest.get("macros", {}).items()}
    for kind in ("exposures", "metrics", "semantic_models", "saved_queries", "groups"):
        view[kind] = {
            uid: {k: v for k, v in item.items() if k not in ("created_at", "metadata")}
            for uid, item in manifest.get(kind, {}).items()
        }
    return view


def project_fingerprint(manifest_path: Path) -> str | None:
    """A hash of what the docs site shows of the project (see _docs_view)."""
    manifest = _read_json(manifest_path)
    if manifest is None:
        return None
    text = json.dumps(_docs_view(manifest), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Plan:
    """The dbt arguments of one build, and what to record once it succeeded."""

    warehouse: Path
    target_dir: Path
    build_args: list[str]
    loads: dict[str, str]
    reason: str
    record: dict = field(default_factory=dict)
    # the not_null data tests left out because a constraint enforces them (see the top)
    enforced_tests: list[str] = field(default_factory=list)

    def shown(self, args: list[str]) -> str:
        """The dbt command line as the log shows it: the left-out tests counted, not named."""
        names = set(self.enforced_tests)
        shown = []
        for arg in args:
            words = arg.split(" ")
            kept = [w for w in words if w not in names]
            if len(kept) < len(words):
                kept.insert(0, f"<{len(names)} not_null data tests that constraints enforce>")
            shown.append(" ".join(kept))
        return "dbt " + " ".join(shown)

    def docs_needed(self) -> bool:
        """True unless the docs site on disk describes this very project already."""
        site = self.target_dir / "static_index.html"
        fingerprint = project_fingerprint(self.target_dir / "manifest.json")
        return (
            not site.exists()
            or fingerprint is None
            or fingerprint != self.record.get("docs_fingerprint")
        )

    def docs_skipped(self) -> str:
        return "dbt docs generate: skipped, the project has not changed since the last docs"

    def done(self, docs_generated: bool) -> Path:
        """Record a successful build (and docs): the next night starts from here."""
        record = {
            "loads": self.loads,
            "docs_fingerprint": (
                project_fingerprint(self.target_dir / "manifest.json")
                if docs_generated
                else self.record.get("docs_fingerprint")
            ),
        }
        state = _state_dir(self.warehouse)
        state.mkdir(parents=True, exist_ok=True)
        path = state / RECORD
        tmp = path.with_name(f".{RECORD}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
        os.replace(tmp, path)
        return path


def plan(
    warehouse: Path, target_dir: Path, full_refresh: bool = False, held_back: Iterable[str] = ()
) -> Plan:
    """The dbt build arguments for tonight, from what the loads brought since the last one,
    leaving out the dbt selectors ``held_back`` (what depends on a source that failed)."""
    args = ["build", *PROD_TARGET, "--exclude-resource-type", "unit_test"]
    selectors_held_back = list(held_back)
    state = _state_dir(warehouse)
    record = _read_json(state / RECORD) or {}
    loads = newest_loads(warehouse, since=record.get("loads"))
    manifest = _read_json(state / "manifest.json")

    enforced: list[str] = []

    def excluding() -> list[str]:
        # one --exclude with one value, the selectors separated by spaces (dbt's union):
        # dagster-dbt's parser of the arguments takes one value per --select/--exclude and
        # leaves the rest to the option before, which dbt then refused
        left_out = [*selectors_held_back, *enforced]
        return ["--exclude", " ".join(left_out)] if left_out else []

    def everything(reason: str) -> Plan:
        extra = ["--full-refresh"] if full_refresh else []
        build_args = [*args, *excluding(), *extra]
        return Plan(warehouse, target_dir, build_args, loads, reason, record, enforced)

    if full_refresh:
        return everything("a full refresh builds everything")
    if not record.get("loads") or manifest is None:
        return everything("no record of a successful build: everything is built")
    enforced = enforced_not_null_tests(warehouse, manifest)
    changed = sorted(s for s, load in loads.items() if record["loads"].get(s) != load)
    if set(changed) >= set(loads):
        return everything("every source brought new data: everything is built")
    names = _source_names(manifest)
    selectors = [f"source:{name}+" for schema in changed for name in sorted(names.get(schema, ()))]
    selectors.append("state:modified+")
    # the production manifest the state selector compares with (kept after each build)
    return Plan(
        warehouse,
        target_dir,
        [*args, *excluding(), "--select", " ".join(selectors), "--state", str(state)],
        loads,
        f"new loads in {', '.join(changed) or 'no source'}: only what depends on them "
        "or changed in the project is built",
        record,
        enforced,
    )
