"""pre-commit check: every YAML file parses (dbt's Jinja strings are just strings here).

python tools/check_yaml.py FILE...   (pre-commit passes the files)
"""

from __future__ import annotations

import sys

import yaml


def main(argv: list[str]) -> int:
    failed = 0
    for name in argv:
        try:
            with open(name, encoding="utf-8") as handle:
                for _ in yaml.safe_load_all(handle):
                    pass
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            print(f"{name}: not valid YAML: {error}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
