"""What a run did, and its exit status: the same facts for the end-of-run report, for
``prod-state/last_run.json`` and for `mypizza status`.

Exit statuses of `mypizza run`, `build` and `ingest` (docs/failures.md):

* 0 (``EXIT_OK``): every source loaded, the build passed, everything was published.
* 3 (``EXIT_PARTIAL``): published, but something is held back: a source did not load, or
  a model or an error-severity test failed; those parts keep their last good version.
  (`ingest`: some sources loaded, some did not.)
* 1 (``EXIT_FAILED``): nothing was published (dbt could not run, or the command could not
  start: the warehouse busy, no world, bad settings). (`ingest`: nothing loaded.)
* 2: the command line itself was wrong (argparse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.pipelines import LoadResult
    from mypizza.audit import Held
    from mypizza.dbt_runner import DbtResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3
OUTCOMES = {EXIT_OK: "OK", EXIT_PARTIAL: "PARTIAL", EXIT_FAILED: "NOTHING PUBLISHED"}


@dataclass
class Ingest:
    """The sources of one run: loaded (their results) and failed (their message)."""

    loaded: dict[str, LoadResult] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds_to_fail: dict[str, float] = field(default_factory=dict)


@dataclass
class Build:
    """The build of one run: dbt's results, what failed, what is held back, published."""

    build: DbtResult
    docs: DbtResult | None = None
    failures: list[str] = field(default_factory=list)
    held_back: dict[str, Held] = field(default_factory=dict)
    was_published: set[str] = field(default_factory=set)  # relations of the previous copy
    published: bool = False


def exit_status(ingest: Ingest, build: Build) -> int:
    if not build.published:
        return EXIT_FAILED
    docs_failed = build.docs is not None and build.docs.failed
    if ingest.failed or build.held_back or build.failures or docs_failed:
        return EXIT_PARTIAL
    return EXIT_OK


def record(ingest: Ingest, build: Build, started: datetime, finished: datetime) -> dict[str, Any]:
    """The run as ``prod-state/last_run.json`` keeps it."""
    status = exit_status(ingest, build)
    sources: dict[str, dict[str, Any]] = {
        name: {"status": "loaded", "rows": result.total_rows, "seconds": result.seconds}
        for name, result in ingest.loaded.items()
    }
    for name, message in ingest.failed.items():
        sources[name] = {
            "status": "failed",
            "error": message,
            "seconds": ingest.seconds_to_fail.get(name),
        }
    return {
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "exit_status": status,
        "outcome": OUTCOMES[status],
        "sources": dict(sorted(sources.items())),
        "build": {
            "returncode": build.build.returncode,
            "statuses": dict(build.build.statuses),
            "failures": build.failures,
            "docs_failed": bool(build.docs is not None and build.docs.failed),
        },
        "published": build.published,
        "held_back": [
            {**held.as_dict(), "was_published": held.relation in build.was_published}
            for held in build.held_back.values()
        ],
    }
