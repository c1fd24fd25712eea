"""pre-commit check: no absolute path of a developer's machine in the repository.

A path that exists only on the machine it was written on (a home folder, the development
machines' work and shared-data folders, a local package index) makes the file wrong on every
other machine: a test that reads it fails or, worse, skips there. Fails, naming the file, the
line and the path, for:

- home folders: /home/<user>, /Users/<user>, /root, C:\\Users\\<user>;
- the development machines' folders: the work root and its folders (worktrees, shared
  data sets) and the local package index under /opt.

Data the project needs goes in the repository (real data sets: ``tests/data/``) or comes
from configuration (an environment variable, dlt config), with a relative default.
Portable system paths (``/tmp``, ``/usr/bin/...``, ``/dev/null``) are fine.

    python tools/check_machine_paths.py FILE...   (pre-commit passes the files)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import file_checks  # tools/, beside this script

# Written in pieces so that this file does not match itself.
SLASH = "/"
MACHINE_PATHS = re.compile(
    "|".join(
        [
            rf"(?<![\w.~-]){SLASH}home{SLASH}[A-Za-z0-9_.-]+{SLASH}",
            rf"(?<![\w.~-]){SLASH}Users{SLASH}[A-Za-z0-9_. -]+{SLASH}",
            rf"(?<![\w.~-]){SLASH}root{SLASH}[A-Za-z0-9_.-]",
            rf"(?<![\w.~-]){SLASH}work{SLASH}[A-Za-z0-9_-][A-Za-z0-9_.-]*",
            rf"(?<![\w.~-]){SLASH}opt{SLASH}pypi",
            r"\b[A-Za-z]:\\+Users\\+[A-Za-z0-9_. -]+",
        ]
    )
)
MAX_BYTES = 5_000_000


def problems(path: Path) -> list[str]:
    if not path.is_file() or path.stat().st_size > MAX_BYTES:
        return []
    data = path.read_bytes()
    if b"\0" in data:
        return []  # binary (an image)
    text = data.decode("utf-8", errors="replace")
    return [
        f"{path}:{number}: {match.group(0)!r} is a path of one developer's machine; put what "
        "it points at in the repository or read it from configuration"
        for number, line in enumerate(text.splitlines(), start=1)
        for match in MACHINE_PATHS.finditer(line)
    ]


if __name__ == "__main__":
    sys.exit(file_checks.run(problems, sys.argv[1:]))
