"""Write-audit-publish: which parts of a build are held back from the published copy.

After ``dbt build`` (the write), its ``run_results.json`` and ``manifest.json`` are read
(the audit). Held back are:

* every model, seed or snapshot that errored;
* the model an error-severity test failed on (a test declared on a column or a model holds
  back that model; a singular test, the models it reads); a unit test that failed holds
  back the model it tests;
* everything downstream of a source that did not load (excluded from the build with
  ``--exclude source:<name>+``);
* everything downstream of any of these (the manifest's ``child_map``);
* the models read together by a test tagged ``reconciles`` (e.g. ``fct_orders`` and
  ``rpt_daily_store_sales``): if one of them is held back, so are the others, so the
  published copy never pairs two builds' versions of marts that must agree;
* what was held back last time and was not rebuilt, and passed, this time.

Warn-severity tests hold nothing back. The publish (mypizza/warehouse.py) then takes every
held-back relation from the previous published copy, the last version that passed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RELATIONS = ("model", "seed", "snapshot")  # node types that are tables or views
FAILED = ("error", "fail", "runtime error")
RECONCILES = "reconciles"  # the tag of tests whose models are published together


@dataclass
class Held:
    """One relation held back: the last version that passed stays published."""

    unique_id: str
    relation: str  # schema.name in the warehouse
    materialized: str  # table, view, incremental, seed, snapshot, ...
    reason: str  # the root cause, in a few words: the failed test and its rows, the source
    via: str = ""  # how the root cause reaches it: "downstream of x", "published with y"

    @property
    def name(self) -> str:
        return self.unique_id.split(".")[-1]

    @property
    def schema(self) -> str:
        return self.relation.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.relation.split(".", 1)[1]

    @property
    def is_view(self) -> bool:
        return self.materialized == "view"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def failed_source_selectors(sources: Iterable[str]) -> list[str]:
    """dbt selectors of everything downstream of sources that did not load, for the build
    to leave out (a dbt source is named after the mypizza source it reads)."""
    return [f"source:{source}+" for source in sorted(sources)]


def _name(node: dict[str, Any]) -> str:
    return node.get("name") or node["unique_id"].split(".")[-1]


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


class Audit:
    """The held-back set of one build, from its dbt artifacts."""

    def __init__(self, manifest: dict[str, Any], results: dict[str, Any] | None) -> None:
        self.manifest = manifest
        self.nodes: dict[str, dict[str, Any]] = {
            **manifest.get("nodes", {}),
            **manifest.get("unit_tests", {}),
        }
        self.children: dict[str, list[str]] = manifest.get("child_map", {})
        self.results = {r["unique_id"]: r for r in (results or {}).get("results", [])}
        self.held: dict[str, Held] = {}

    # ------------------------------------------------------------ what counts
    def _relation(self, unique_id: str) -> dict[str, Any] | None:
        node = self.nodes.get(unique_id)
        if node is None or node.get("resource_type") not in RELATIONS:
            return None
        if node.get("config", {}).get("materialized") == "ephemeral":
            return None
        return node

    def _hold(self, unique_id: str, reason: str, via: str = "") -> bool:
        node = self.nodes.get(unique_id)
        if node is None or node.get("resource_type") not in RELATIONS or unique_id in self.held:
            return False
        materialized = node.get("config", {}).get("materialized", "table")
        relation = f"{node['schema']}.{node.get('alias') or node['name']}"
        self.held[unique_id] = Held(unique_id, relation, materialized, reason, via)
        return True

    def _subjects(self, test: dict[str, Any]) -> list[str]:
        """The relations a failed test speaks about."""
        if test.get("resource_type") == "unit_test":
            model = test.get("model")
            return [u for u in test.get("depends_on", {}).get("nodes", []) if _name_of(u) == model]
        attached = test.get("attached_node")
        if attached:
            return [attached]
        return [u for u in test.get("depends_on", {}).get("nodes", []) if u in self.nodes]

    # ------------------------------------------------------------ the audit
    def failed_sources(self, sources: Iterable[str]) -> None:
        for source in sorted(sources):
            roots = [
                u
                for u, node in self.manifest.get("sources", {}).items()
                if node.get("source_name") == source
            ]
            for root in roots:
                for child in self._descendants(root):
                    self._hold(child, f"source {source} did not load", f"reads {source}")

    def failures(self) -> None:
        for unique_id, result in sorted(self.results.items()):
            if result.get("status") not in FAILED:
                continue
            node = self.nodes.get(unique_id)
            if node is None:
                continue
            kind = node.get("resource_type")
            if kind in RELATIONS:
                message = _first_line(result.get("message"))
                self._hold(unique_id, f"{kind} {_name(node)} failed: {message}".rstrip(": "))
            elif kind == "test":
                rows = result.get("failures")
                what = f"{rows:,} failing rows" if isinstance(rows, int) else "could not run"
                for subject in self._subjects(node):
                    self._hold(subject, f"test {_name(node)} failed ({what})")
            elif kind == "unit_test":
                for subject in self._subjects(node):
                    self._hold(subject, f"unit test {_name(node)} failed")

    def carried(self, previous: Iterable[Held]) -> None:
        """Held last time and not rebuilt (successfully) this time: still held."""
        for held in previous:
            rebuilt = self.results.get(held.unique_id, {}).get("status") == "success"
            if not rebuilt and held.unique_id not in self.held and held.unique_id in self.nodes:
                self.held[held.unique_id] = held

    def close(self) -> dict[str, Held]:
        """Add descendants and reconciled partners until nothing changes."""
        groups = [
            [u for u in node.get("depends_on", {}).get("nodes", []) if self._relation(u)]
            for node in self.nodes.values()
            if node.get("resource_type") == "test" and RECONCILES in node.get("tags", [])
        ]
        changed = True
        while changed:
            changed = False
            for unique_id, held in list(self.held.items()):
                for child in self._descendants(unique_id):
                    changed |= self._hold(child, held.reason, f"downstream of {held.name}")
            for group in groups:
                held_members = [u for u in group if u in self.held]
                for member in group:
                    if held_members and member not in self.held:
                        first = self.held[held_members[0]]
                        via = f"published together with {first.name}"
                        changed |= self._hold(member, first.reason, via)
        return dict(sorted(self.held.items(), key=lambda item: item[1].relation))

    def _descendants(self, unique_id: str) -> list[str]:
        seen: list[str] = []
        stack = list(self.children.get(unique_id, []))
        while stack:
            child = stack.pop()
            if child in seen:
                continue
            seen.append(child)
            stack.extend(self.children.get(child, []))
        return [c for c in seen if self._relation(c) is not None]


def _name_of(unique_id: str) -> str:
    return unique_id.split(".")[-1]


def held_back(
    target_dir: Path,
    results_file: Path,
    failed_sources: Iterable[str] = (),
    previous: Iterable[Held] = (),
) -> dict[str, Held]:
    """What the build whose artifacts are in ``target_dir`` (its run results in
    ``results_file``, None when it did not run) holds back, by unique id."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    results = json.loads(results_file.read_text()) if results_file.exists() else None
    audit = Audit(manifest, results)
    audit.failed_sources(failed_sources)
    audit.failures()
    audit.carried(previous)
    return audit.close()


def build_failures(target_dir: Path, results_file: Path) -> list[str]:
    """One line per failed node of the build: the test and its failing rows, the model and
    its error; for the end-of-run report."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    lines = []
    for result in results.get("results", []):
        if result.get("status") not in FAILED:
            continue
        node = nodes.get(result["unique_id"], {"unique_id": result["unique_id"]})
        kind = node.get("resource_type", result["unique_id"].split(".")[0])
        rows = result.get("failures")
        detail = f"{rows:,} failing rows" if kind == "test" and isinstance(rows, int) else ""
        detail = detail or _first_line(result.get("message"))
        lines.append(f"{kind} {_name(node)}: {result['status']} ({detail})")
    return lines
