"""pre-commit check: no secrets and no warehouses in the repository.

Fails, naming the file (and line), when a file that must stay local is committed: dlt's
``secrets.toml``, ``.env`` files, DuckDB warehouses and their WALs, SQLite databases; or
when a file's text holds something that looks like a credential: a private key, a cloud or
GitHub/Slack token, or a password/token/secret assigned a literal value. A line that is a
deliberate, harmless example says so with ``pragma: allowlist secret``.

    python tools/check_committed_files.py FILE...   (pre-commit passes the files)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import file_checks  # tools/, beside this script

FORBIDDEN_NAMES = {"secrets.toml": "dlt secrets", ".env": "environment secrets"}
FORBIDDEN_SUFFIXES = {
    ".duckdb": "a DuckDB warehouse",
    ".duckdb.wal": "a DuckDB write-ahead log",
    ".sqlite": "a SQLite database",
    ".sqlite3": "a SQLite database",
}
SECRET_PATTERNS = {
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    "a Slack token": re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}"),
    "a credential assigned a literal": re.compile(
        r"""(?ix)\b[\w.]*(?:password|passwd|secret|token|api_?key|access_?key)\b\s*[:=]\s*
        ["'](?![{$<])(?P<value>[^"'\s]{12,})["']"""
    ),
}
# values that say they are not real: test doubles and documentation
PLACEHOLDER = re.compile(r"(?i)not-a-secret|example|dummy|fake|placeholder|changeme|your[_-]|xxxx")
ALLOW = "pragma: allowlist secret"
MAX_BYTES = 2_000_000


def problems(path: Path) -> list[str]:
    name = path.name
    found = [
        f"{path}: {why} must not be committed" for n, why in FORBIDDEN_NAMES.items() if n == name
    ]
    found += [
        f"{path}: {why} must not be committed (generated data stays local)"
        for suffix, why in FORBIDDEN_SUFFIXES.items()
        if name.endswith(suffix)
    ]
    if found or not path.is_file() or path.stat().st_size > MAX_BYTES:
        return found
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return found  # binary: the name checks above are what applies
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW in line:
            continue
        for what, pattern in SECRET_PATTERNS.items():
            match = pattern.search(line)
            if match and not PLACEHOLDER.search(match.groupdict().get("value") or ""):
                found.append(
                    f"{path}:{number}: looks like {what}; "
                    "keep it in .dlt/secrets.toml or the environment"
                )
    return found


if __name__ == "__main__":
    sys.exit(file_checks.run(problems, sys.argv[1:]))
