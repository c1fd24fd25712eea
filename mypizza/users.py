"""The dashboard's users: who may log in, with which role, seeing which stores.

The user file is YAML in streamlit-authenticator's credentials layout (``usernames: NAME:
{name, password, roles}``) plus what this project adds per user: ``stores`` (a store
manager's store codes) or ``region`` (an area manager's region, as in the stores seed).
Passwords are stored only as bcrypt hashes. The file is a secret: its path comes from dlt
config (``[dashboard] users_file`` in .dlt/secrets.toml, or ``DASHBOARD__USERS_FILE``),
by default ``dashboard_users.yaml`` beside the warehouse (a git-ignored folder), and the
pre-commit check refuses it. The cookie key that signs the login cookie comes the same way
(``[dashboard] cookie_key`` / ``DASHBOARD__COOKIE_KEY``).

    mypizza users add NAME --role store_manager --store rom01    (asks for the password)
    mypizza users add NAME --role area_manager --region Centre
    mypizza users add NAME --role head_office
    mypizza users list | remove NAME
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROLES = ("store_manager", "area_manager", "head_office")
USERS_FILE_NAME = "dashboard_users.yaml"
DEFAULT_SESSION_HOURS = 8.0
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
COOKIE_KEY_HINT = (
    "set DASHBOARD__COOKIE_KEY, or `cookie_key` under [dashboard] in .dlt/secrets.toml "
    "(`mypizza users add` writes one there when none is set)"
)


class UsersError(ValueError):
    """A user command or the user file broke a rule (named in the message)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    stores: tuple[str, ...] = ()
    region: str | None = None

    def describe(self) -> str:
        scope = {
            "store_manager": f"stores {', '.join(self.stores)}",
            "area_manager": f"region {self.region}",
            "head_office": "every store",
        }[self.role]
        return f"{self.username:<20} {self.role:<14} {scope}"


def _config(key: str) -> object:
    """A value of the [dashboard] section: env DASHBOARD__KEY, then dlt's toml files."""
    value = os.environ.get(f"DASHBOARD__{key.upper()}")
    if value:
        return value
    import dlt

    os.environ.setdefault("DLT_PROJECT_DIR", str(Path(__file__).resolve().parents[1]))
    try:
        return dlt.secrets.get(f"dashboard.{key}")
    except Exception:  # noqa: BLE001 - a missing or unreadable toml is the same as unset
        return None


def users_file() -> Path:
    """The user file: [dashboard] users_file, else beside the warehouse (git-ignored)."""
    configured = _config("users_file")
    if configured:
        return Path(str(configured)).expanduser()
    warehouse = Path(os.environ.get("MYPIZZA_WAREHOUSE", "warehouse/mypizza.duckdb"))
    if not warehouse.is_absolute():
        warehouse = Path(__file__).resolve().parents[1] / warehouse
    return warehouse.parent / USERS_FILE_NAME


def cookie_key() -> str | None:
    value = _config("cookie_key")
    return str(value) if value else None


def session_hours() -> float:
    """How long a login lasts (the cookie's and the session's lifetime)."""
    value = _config("session_hours")
    try:
        hours = float(value) if value is not None else DEFAULT_SESSION_HOURS
    except (TypeError, ValueError) as error:
        raise UsersError(f"[dashboard] session_hours: {value!r} is not a number") from error
    if hours <= 0:
        raise UsersError(f"[dashboard] session_hours: {hours} must be above 0")
    return hours


def read_credentials(path: Path | None = None) -> dict:
    """The user file as streamlit-authenticator's credentials dict (empty if no file)."""
    path = path or users_file()
    if not path.exists():
        return {"usernames": {}}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data.get("usernames", {}), dict):
        raise UsersError(f"{path}: 'usernames' must be a mapping of user name to user")
    data.setdefault("usernames", {})
    return data


def user_from_entry(username: str, entry: dict) -> User:
    roles = entry.get("roles") or []
    role = roles[0] if roles else None
    if role not in ROLES:
        raise UsersError(f"user {username}: role {role!r} is not one of {', '.join(ROLES)}")
    return User(username, role, tuple(entry.get("stores") or ()), entry.get("region"))


def get_user(username: str, path: Path | None = None) -> User | None:
    entry = read_credentials(path)["usernames"].get(username)
    return user_from_entry(username, entry) if entry else None


def _write(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(yaml.safe_dump(data, sort_keys=True))
    os.chmod(staging, 0o600)  # password hashes: readable by the owner only
    os.replace(staging, path)


def add_user(
    username: str,
    password: str,
    role: str,
    stores: list[str] | None = None,
    region: str | None = None,
    path: Path | None = None,
    replace: bool = False,
) -> User:
    import bcrypt  # what streamlit-authenticator checks passwords with

    path = path or users_file()
    if not USERNAME.match(username):
        raise UsersError(
            f"user name {username!r}: 2-32 characters, lower-case letters, digits, '.', '_', '-'"
        )
    if role not in ROLES:
        raise UsersError(f"role {role!r} is not one of {', '.join(ROLES)}")
    stores = [s.strip() for s in stores or [] if s.strip()]
    if role == "store_manager" and not stores:
        raise UsersError("a store_manager needs --store STORE_CODE (e.g. --store rom01)")
    if role == "area_manager" and not region:
        raise UsersError("an area_manager needs --region REGION (as in seeds/stores.csv)")
    if role != "store_manager" and stores:
        raise UsersError(f"--store is for store managers, not a {role}")
    if role != "area_manager" and region:
        raise UsersError(f"--region is for area managers, not a {role}")
    if len(password) < MIN_PASSWORD:
        raise UsersError(f"the password must have at least {MIN_PASSWORD} characters")
    data = read_credentials(path)
    if username in data["usernames"] and not replace:
        raise UsersError(f"user {username} exists (remove it first, or pass --replace)")
    entry: dict = {
        "name": username,
        "password": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode(),
        "roles": [role],
    }
    if stores:
        entry["stores"] = stores
    if region:
        entry["region"] = region
    data["usernames"][username] = entry
    _write(data, path)
    return user_from_entry(username, entry)


def remove_user(username: str, path: Path | None = None) -> None:
    path = path or users_file()
    data = read_credentials(path)
    if username not in data["usernames"]:
        raise UsersError(f"no user {username} in {path}")
    del data["usernames"][username]
    _write(data, path)


def list_users(path: Path | None = None) -> list[User]:
    data = read_credentials(path)
    return [user_from_entry(name, entry) for name, entry in sorted(data["usernames"].items())]


def ensure_cookie_key(project_dir: Path) -> str | None:
    """Write a random cookie key to .dlt/secrets.toml when none is configured; returns
    where it went (None if one was already set)."""
    if cookie_key():
        return None
    secrets_file = project_dir / ".dlt" / "secrets.toml"
    text = secrets_file.read_text() if secrets_file.exists() else ""
    if re.search(r"^\s*\[dashboard\]\s*$", text, flags=re.MULTILINE):
        raise UsersError(
            f"{secrets_file} has a [dashboard] section without cookie_key: add "
            '`cookie_key = "<a long random string>"` there'
        )
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    with open(secrets_file, "a") as handle:
        handle.write(f'\n[dashboard]\n# signs the dashboard login cookie\ncookie_key = "{key}"\n')
    os.chmod(secrets_file, 0o600)
    return str(secrets_file)


# ---------------------------------------------------------------- the `mypizza users` command
def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `mypizza users add|list|remove` (called by mypizza/cli.py)."""
    users = commands.add_parser(
        "users",
        help="the dashboard's users: add, list, remove",
        description="Manage who may log in to the dashboard and which stores they see. "
        "The user file: [dashboard] users_file (default dashboard_users.yaml beside the "
        "warehouse); passwords are stored as bcrypt hashes.",
    )
    actions = users.add_subparsers(dest="action", required=True, metavar="action")
    add = actions.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--store", action="append", help="a store manager's store code (repeat for more)"
    )
    add.add_argument("--region", help="an area manager's region (seeds/stores.csv)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.add_argument("--replace", action="store_true", help="replace an existing user")
    actions.add_parser("list", help="list the users and what they see")
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("username")
    users.set_defaults(func=cmd_users)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsersError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace, settings: object) -> int:
    path = users_file()
    if args.action == "list":
        found = list_users(path)
        print(f"{len(found)} users in {path}")
        for user in found:
            print(f"  {user.describe()}")
        return 0
    if args.action == "remove":
        remove_user(args.username, path)
        print(f"removed {args.username} from {path}")
        return 0
    password = _read_password(args.password_stdin)
    user = add_user(
        args.username, password, args.role, args.store, args.region, path, replace=args.replace
    )
    print(f"added {user.describe().strip()} to {path}")
    written = ensure_cookie_key(Path(getattr(settings, "repo", Path.cwd())))
    if written:
        print(f"wrote a new dashboard cookie key to {written} (git-ignored)")
    return 0
