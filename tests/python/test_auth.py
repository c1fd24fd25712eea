"""Who sees what, below the browser: `mypizza users` (hashed passwords in a file outside
git), the data layer called for each role (every page query returns only the user's
stores, whatever stores it is asked for), and the pre-commit check refusing the user file
and the cookie key. The stores each role may see are read from seeds/stores.csv and the
POS database, not from the code under test."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import bcrypt
import pytest
from pos_truth import daily_store_sales
from support import MYPIZZA, REPO, Env

PASSWORD = "correct horse battery"  # test only: pragma: allowlist secret
COOKIE_KEY = "test-cookie-key-for-the-dashboard-tests"  # pragma: allowlist secret


def users_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DASHBOARD__USERS_FILE": str(tmp_path / "users.yaml"),
        "DASHBOARD__COOKIE_KEY": COOKIE_KEY,
    }


def users_cmd(env: dict, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MYPIZZA, "users", *args, *(["--password-stdin"] if args[0] == "add" else [])],
        cwd=REPO,
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
    )


def run_in_process(env: dict, args: tuple, password: str) -> tuple[int, str]:
    """`mypizza users ARGS` through the CLI's main(), the environment restored after."""
    import io
    from contextlib import redirect_stderr

    from mypizza.cli import main

    saved, stdin = dict(os.environ), sys.stdin
    err = io.StringIO()
    try:
        os.environ.update(env)
        sys.stdin = io.StringIO(password + "\n")  # what --password-stdin reads
        extra = ["--password-stdin"] if args[0] == "add" else []
        with redirect_stderr(err):
            code = main(["users", *args, *extra])
    finally:
        sys.stdin = stdin
        os.environ.clear()
        os.environ.update(saved)
    return code, err.getvalue()


# ---------------------------------------------------------------- mypizza users
def test_users_are_stored_hashed_outside_git_and_checked(tmp_path: Path) -> None:
    env = users_env(tmp_path)
    added = users_cmd(env, "add", "anna", "--role", "store_manager", "--store", "rom01")
    assert added.returncode == 0, added.stderr
    carlo = users_cmd(env, "add", "carlo", "--role", "area_manager", "--region", "Centre")
    assert carlo.returncode == 0, carlo.stderr
    assert users_cmd(env, "add", "hq", "--role", "head_office").returncode == 0
    path = tmp_path / "users.yaml"
    text = path.read_text()
    assert PASSWORD not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    import yaml

    entry = yaml.safe_load(text)["usernames"]["anna"]
    assert bcrypt.checkpw(PASSWORD.encode(), entry["password"].encode())
    assert entry["roles"] == ["store_manager"] and entry["stores"] == ["rom01"]
    listed = users_cmd(env, "list").stdout
    assert "3 users" in listed and "region Centre" in listed and "stores rom01" in listed

    # rules broken: each a clear error, nothing written (run in-process: quicker)
    before = path.read_bytes()
    for args, says in (
        (("add", "bob", "--role", "store_manager"), "needs --store"),
        (("add", "bob", "--role", "area_manager"), "needs --region"),
        (("add", "bob", "--role", "head_office", "--store", "rom01"), "--store is for store"),
        (("add", "anna", "--role", "head_office"), "user anna exists"),
        (("add", "Bad Name!", "--role", "head_office"), "user name"),
        (("add", "bob", "--role", "head_office"), "at least 10 characters"),
        (("remove", "nobody"), "no user nobody"),
    ):
        code, err = run_in_process(env, args, password="short" if "bob" in args else PASSWORD)
        assert code == 1 and says in err, (args, err)
    assert path.read_bytes() == before
    assert users_cmd(env, "remove", "carlo").returncode == 0
    assert "2 users" in users_cmd(env, "list").stdout


def test_the_default_user_file_and_secrets_are_git_ignored_and_refused_by_pre_commit(
    tmp_path: Path,
) -> None:
    for path in ("warehouse/dashboard_users.yaml", ".dlt/secrets.toml"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
        assert ignored.returncode == 0, f"{path} must be git-ignored"
    check = [sys.executable, str(REPO / "tools" / "check_committed_files.py")]
    users = tmp_path / "dashboard_users.yaml"
    users.write_text("usernames: {}\n")
    hashed = tmp_path / "users_copy.yaml"
    hashed.write_text(
        "usernames:\n  anna:\n    password: " + bcrypt.hashpw(b"x" * 12, bcrypt.gensalt()).decode()
    )
    key = tmp_path / "config.toml"
    key.write_text('[dashboard]\ncookie_key = "Zk3vQ9wL1xR7tY2u"\n')  # pragma: allowlist secret
    for path, says in ((users, "user file"), (hashed, "password hash"), (key, "credential")):
        result = subprocess.run([*check, str(path)], capture_output=True, text=True)
        assert result.returncode == 1 and says in result.stderr, (path, result.stderr)
    clean = tmp_path / "clean.py"
    clean.write_text("cookie_key = users.cookie_key()\n")
    assert subprocess.run([*check, str(clean)]).returncode == 0


# ---------------------------------------------------------------- the data layer, per role
@pytest.fixture(scope="module")
def data_layer(built_world: Env):
    """dashboard.data reading the built world's published warehouse."""
    os.environ["MYPIZZA_WAREHOUSE"] = str(built_world.warehouse)
    sys.path.insert(0, str(REPO))
    from dashboard import data

    yield data
    os.environ.pop("MYPIZZA_WAREHOUSE", None)


@pytest.fixture(scope="module")
def world_stores(built_world: Env) -> dict[str, str]:
    """Store code -> region of every store with sales in the world: the POS's stores and
    the franchise's, regions from the stores seed (read here with csv)."""
    with open(REPO / "seeds" / "stores.csv", newline="") as handle:
        regions = {row["store_code"]: row["region"] for row in csv.DictReader(handle)}
    sold = {s for (s, _) in daily_store_sales(built_world.world / "pos.sqlite")}
    franchise = {p.name for p in (built_world.world / "franchise").iterdir() if p.is_dir()}
    stores = {code: regions[code] for code in sold | franchise}
    assert len(stores) >= 3 and len(set(stores.values())) >= 2, stores
    return stores


def rows(frame) -> list[tuple]:
    """A result's rows as sorted tuples of strings (some queries leave the order free)."""
    return sorted(tuple(str(v) for v in row) for row in frame.itertuples(index=False))


def roles(world_stores: dict[str, str]):
    from mypizza.users import User

    pos_store = sorted(world_stores)[0]
    region = world_stores[pos_store]
    yield User("manager", "store_manager", (pos_store,)), {pos_store}
    in_region = {s for s, r in world_stores.items() if r == region}
    yield User("area", "area_manager", region=region), in_region
    yield User("hq", "head_office"), set(world_stores)


def test_each_role_gets_only_its_stores_from_every_query(data_layer, world_stores, built_world):
    data = data_layer
    everything = tuple(sorted(world_stores)) + ("zzz99", "x') or true --")
    span = data.Filters(everything, date(2000, 1, 1), date(2100, 1, 1))
    for user, allowed in roles(world_stores):
        access = data.access_for(user)
        assert set(access.stores) & set(world_stores) == allowed, user
        assert access.chain_wide == (user.role == "head_office")
        assert set(data.stores(access)["store_code"]) == allowed
        own = data.Filters(tuple(sorted(allowed)), span.start, span.end)
        others = tuple(s for s in world_stores if s not in allowed)
        for query in data.PAGE_QUERIES:
            asked_all = query(access, span)
            if "store_code" in asked_all.columns:
                assert set(asked_all["store_code"]) <= allowed, (user, query.__name__)
            # asking for every store gives exactly what asking for one's own gives
            assert rows(asked_all) == rows(query(access, own)), (user.role, query.__name__)
            # asking only for the others' stores gives nothing
            if others:
                theirs = query(access, data.Filters(others, span.start, span.end))
                assert theirs.empty or (
                    query is data.below_reorder_point and theirs.at[0, "ingredients"] == 0
                ), (user.role, query.__name__)

    # a store manager's sales are their store's, as the POS database has them
    manager, (store,) = next(iter(roles(world_stores)))
    truth = daily_store_sales(built_world.world / "pos.sqlite")
    sales = data.sales_daily(data.access_for(manager), span)
    pos_net = sum(v[4] for (s, _), v in truth.items() if s == store)
    assert abs(Decimal(str(sales["net_sales"].sum())) - pos_net) < Decimal("0.005")
    assert sales["orders"].sum() == sum(v[0] for (s, _), v in truth.items() if s == store)


def test_queries_not_limited_to_the_users_stores_are_refused(data_layer, world_stores):
    data = data_layer
    from mypizza.users import User

    access = data.access_for(User("m", "store_manager", (sorted(world_stores)[0],)))
    with pytest.raises(data.AccessError, match="must filter on"):
        data.scoped_query(access, "select store_code from marts.dim_stores", [])
    with pytest.raises(data.AccessError, match="no logged-in user"):
        data.scoped_query(None, "select 1 where 1 in (select unnest($stores))", [])
    # a query that ignores $stores while naming it cannot return other stores' rows
    with pytest.raises(data.AccessError, match="outside the user's"):
        data.scoped_query(
            access,
            "select store_code from marts.dim_stores where $stores is not null",
            list(world_stores),
        )


def test_pages_read_data_only_through_the_data_layer() -> None:
    """No page, nor the app, opens the warehouse or runs SQL of its own."""
    for path in sorted((REPO / "dashboard").rglob("*.py")):
        if path.name in ("data.py", "__init__.py"):
            continue
        text = path.read_text()
        for forbidden in ("duckdb", "_cached(", "_read(", ".execute(", "read_only"):
            assert forbidden not in text, f"{path.relative_to(REPO)} uses {forbidden}"
