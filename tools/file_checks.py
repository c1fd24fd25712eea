"""What the pre-commit checks in tools/ share: run one file check over the files pre-commit
passes, print every problem found, and exit 1 if there was one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def run(problems: Callable[[Path], list[str]], argv: list[str]) -> int:
    """``problems(path)`` over every file named in ``argv``; 1 when any file has one."""
    found = [problem for name in argv for problem in problems(Path(name))]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0
