"""TEST HOOK, not a feature: named crash points for tests/python/test_crash_recovery.py.

``MYPIZZA_KILL_AT=<point>`` makes the process SIGKILL itself (a real, uncatchable kill: no
``finally``, no atexit, no flush) at that point, so a test can prove a re-run recovers from
a crash anywhere. Unset (production), every call here returns at once and nothing of dlt is
patched; the variable is for tests only.

Points:

``<source>:extract``
    dlt has written the first batch of extracted items of ``<source>`` (pos, inventory,
    feedback, franchise) to its extract storage, the package is not committed.
``<source>:normalize``
    dlt has written the normalized load files and is about to commit the load package
    (and delete the extracted one).
``<source>:load``
    dlt has loaded the first job (table) of the package into the warehouse; the other
    jobs, the merge and the ``_dlt_loads`` row are not done.
``dbt:build@<n>``
    ``dbt build`` has reported ``n`` finished nodes; dbt and mypizza are both killed.
``dbt:docs``
    ``dbt docs generate`` has started; dbt and mypizza are both killed.
``publish``
    the published copy is half written (the staging file exists, held-back parts not yet
    restored from the previous copy, nothing swapped in).

Sources load in parallel threads, so the source a dlt stage belongs to is the calling
thread's (``ingesting``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENV_VAR = "MYPIZZA_KILL_AT"
STAGES = ("extract", "normalize", "load")
_loading = threading.local()  # .source: what this thread is loading
_installed = False


def requested() -> str | None:
    return os.environ.get(ENV_VAR) or None


def die(children: tuple[subprocess.Popen, ...] = ()) -> None:
    """SIGKILL the children, then this process: what an OOM killer or a pulled plug does."""
    print(f"[mypizza] {ENV_VAR}={requested()}: SIGKILL", flush=True)
    for child in children:
        os.kill(child.pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def at(point: str) -> None:
    """A named point in mypizza's own code (``publish``, ``dbt:docs``): die if requested."""
    if requested() == point:
        die()


def ingesting(source: str) -> None:
    """Tell the dlt hooks which source this thread is loading."""
    _loading.source = source


def _armed(stage: str) -> bool:
    return requested() == f"{getattr(_loading, 'source', None)}:{stage}"


def _after(method: Callable, stage: str, condition: Callable[[Any], bool] = bool) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if _armed(stage) and condition(result if result is not None else True):
            die()
        return result

    return wrapper


def _before(method: Callable, stage: str) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _armed(stage):
            die()
        return method(*args, **kwargs)

    return wrapper


def install() -> None:
    """Wrap dlt's stage internals if a kill point is requested (idempotent)."""
    global _installed
    point = requested()
    if _installed or not point or point.split(":")[-1] not in STAGES:
        return
    from dlt.common.storages.load_storage import LoadStorage
    from dlt.extract.extractors import ArrowExtractor, Extractor
    from dlt.load.load import Load

    Extractor.write_items = _after(Extractor.write_items, "extract")
    ArrowExtractor.write_items = _after(ArrowExtractor.write_items, "extract")
    LoadStorage.commit_new_load_package = _before(LoadStorage.commit_new_load_package, "normalize")

    def loaded_a_job(result: Any) -> bool:
        _, finalized, _ = result
        return any(job.state() == "completed" for job in finalized)

    Load.complete_jobs = _after(Load.complete_jobs, "load", loaded_a_job)
    _installed = True


_NODE_DONE = re.compile(r"^\S*\s*\d+ of \d+ (OK|PASS|WARN|ERROR|FAIL|SKIP)")


def run_dbt_until_killed(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run dbt, echoing its output; if a ``dbt:build@n`` or ``dbt:docs`` point is requested
    for this command, kill dbt and ourselves when it is reached."""
    point = requested() or ""
    build_at = int(point.split("@", 1)[1]) if point.startswith("dbt:build@") else None
    is_build = "build" in command
    is_docs = "docs" in command
    with subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as dbt:
        if point == "dbt:docs" and is_docs:
            # dbt has started and is reading the project (it runs quiet here)
            with contextlib.suppress(subprocess.TimeoutExpired):
                dbt.wait(timeout=2)
            die((dbt,))
        done = 0
        for line in dbt.stdout:
            sys.stdout.write(line)
            if build_at is not None and is_build and _NODE_DONE.search(line.strip()):
                done += 1
                if done >= build_at:
                    sys.stdout.flush()
                    die((dbt,))
        returncode = dbt.wait()
    return subprocess.CompletedProcess(command, returncode)
