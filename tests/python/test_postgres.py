"""The POS on a real PostgreSQL server (docs/real-pos.md).

The test starts its own server from Debian's PostgreSQL binaries (`make setup-postgres`
installs them; missing, the test fails saying so): `initdb` and `pg_ctl` as an
unprivileged user (CI runs as root), on 127.0.0.1 and a free port, its data in a fresh
folder under /tmp, stopped and removed at the end.

One small world (2 stores x 14 days, then one more day) is simulated twice with the same
seed: into SQLite (conftest's `built_world`, copied) and into PostgreSQL (`mypizza simulate
--pos-url`). The
Postgres world is loaded the way docs/real-pos.md says: its SQL block makes the read-only
user, its shell block (host and port changed) loads the POS. Then every table of the
`marts` schema is compared, row for row, with the SQLite world's, before and after an
advance that updates earlier rows. The expected values are the SQLite run's, read straight
from the other warehouse, and the POS tables read straight from the two databases.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import MYPIZZA, REPO, Env
from sqlalchemy import create_engine, text

from simulator import simulate
from simulator.pos.schema import POS_TABLES, metadata

DOC = REPO / "docs" / "real-pos.md"
# the knobs of conftest's built_world (its default seed, 42): the SQLite side is that world
WORLD = ("--stores", "2", "--days", "14", "--start", "2026-04-06", "--seed", "42")
ADMIN, ADMIN_PASSWORD = "pos_owner", "owner-pw"  # pragma: allowlist secret (throw-away server)
DOC_HOST = "pos-db.internal:5432"  # the host and port the doc shows
MYPIZZA_DIR = Path(MYPIZZA).parent


# ---------------------------------------------------------------- the server
def _pg_bin() -> Path:
    """The folder of initdb and pg_ctl: MYPIZZA_PG_BIN, else Debian's newest PostgreSQL."""
    configured = os.environ.get("MYPIZZA_PG_BIN")
    candidates = (
        [Path(configured)]
        if configured
        else sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    pytest.fail(
        "PostgreSQL's initdb and pg_ctl were not found "
        f"({configured or '/usr/lib/postgresql/*/bin'}): run `make setup-postgres` "
        "(Debian's postgresql package) or set MYPIZZA_PG_BIN to a PostgreSQL bin folder"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A PostgreSQL server of its own: `initdb`, `pg_ctl start`, `pg_ctl stop`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        # not under pytest's folder: that one is private to root, the server's user needs in
        self.root = Path(tempfile.mkdtemp(prefix="mypizza-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "sockets"
        self.sockets.mkdir()
        self.user: dict = {}
        if os.geteuid() == 0:  # initdb and the server refuse to run as root
            try:
                account = pwd.getpwnam("postgres")  # Debian's package creates it
            except KeyError:
                account = pwd.getpwnam("nobody")
            self.user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            for path in (self.root, self.sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.port = 0

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.root,
            capture_output=True,
            text=True,
            **self.user,
        )
        if result.returncode:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stderr}\n{tail}")

    def start(self) -> Postgres:
        password = self.root / "pw"
        password.write_text(ADMIN_PASSWORD + "\n")
        if self.user:
            os.chown(password, self.user["user"], self.user["group"])
        self._run(
            "initdb", "-D", str(self.data), "-U", ADMIN, f"--pwfile={password}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-h 127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB"
            )
            try:
                self._run(
                    "pg_ctl", "start", "-D", str(self.data), "-l", str(self.root / "server.log"),
                    "-w", "-t", "60", "-o", options,
                )  # fmt: skip
                return self
            except RuntimeError:
                if attempt == 2:  # the port taken between the probe and the start, thrice
                    raise
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        """Over the Unix socket (trusted locally): no host in the URL."""
        return f"postgresql://{ADMIN}@/{database}?host={self.sockets}&port={self.port}"

    def execute(self, database: str, *statements: str) -> None:
        engine = create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres(_pg_bin())
    try:
        server.start()
        server.execute(
            "postgres", "create database pos", "create database empty", "create database tz"
        )
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- the doc
def doc_blocks(language: str) -> list[str]:
    """The fenced code blocks of docs/real-pos.md in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def doc_load_commands(postgres: Postgres) -> str:
    """The doc's shell block that points the pipeline at the POS and loads it, pointed at
    the test's server instead of pos-db.internal."""
    (block,) = [b for b in doc_blocks("sh") if "SOURCES__POS__CREDENTIALS" in b]
    assert DOC_HOST in block
    return block.replace(DOC_HOST, f"127.0.0.1:{postgres.port}")


def doc_credentials(postgres: Postgres) -> str:
    (url,) = re.findall(r'SOURCES__POS__CREDENTIALS="([^"]+)"', doc_load_commands(postgres))
    return url


# ---------------------------------------------------------------- the two worlds
def pos_rows(url: str) -> dict[str, list[tuple]]:
    """Every POS table, every row, in key order, read straight from the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [
                    tuple(row)
                    for row in conn.execute(
                        metadata.tables[name]
                        .select()
                        .order_by(*metadata.tables[name].primary_key.columns)
                    )
                ]
                for name in POS_TABLES
            }
    finally:
        engine.dispose()


def world_files(world: Path) -> dict[str, bytes]:
    """Every file of a world folder but its POS database, by relative path."""
    files = {}
    for path in sorted(world.rglob("*")):
        if path.is_file() and not path.name.startswith("pos.sqlite"):
            files[str(path.relative_to(world))] = path.read_bytes()
    body = json.loads(files.pop("world.json"))
    body.pop("pos_url")
    files["world.json"] = json.dumps(body, sort_keys=True).encode()
    return files


def mart_differences(one: Path, other: Path) -> tuple[dict[str, int], list[str]]:
    """Rows per marts table of ``one``, and every difference from ``other``: a table or a
    column missing or of another type, rows in one and not in the other (as multisets)."""
    problems: list[str] = []
    with duckdb.connect() as con:
        con.execute(f"attach '{one}' as a (read_only)")
        con.execute(f"attach '{other}' as b (read_only)")
        columns = {
            db: con.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_catalog = ? and table_schema = 'marts' order by table_name, "
                "ordinal_position",
                [db],
            ).fetchall()
            for db in ("a", "b")
        }
        if columns["a"] != columns["b"]:
            problems.append(f"columns differ: {set(columns['a']) ^ set(columns['b'])}")
        counts = {}
        for table in sorted({t for t, _, _ in columns["a"]}):
            counts[table] = con.execute(f"select count(*) from a.marts.{table}").fetchone()[0]
            # dlt's load ids (lineage in the incremental facts) say when each warehouse
            # loaded, not what: every other column must agree
            cols = ", ".join(
                f'"{c}"' for t, c, _ in columns["a"] if t == table and not c.startswith("_dlt")
            )
            for x, y in (("a", "b"), ("b", "a")):
                extra = con.execute(
                    f"select count(*) from (select {cols} from {x}.marts.{table} "
                    f"except all select {cols} from {y}.marts.{table})"
                ).fetchone()[0]
                if extra:
                    problems.append(f"marts.{table}: {extra} row(s) only in {x}")
    return counts, problems


class Worlds:
    def __init__(self, root: Path, postgres: Postgres, built_world: Env) -> None:
        self.postgres = postgres
        # the session's SQLite world (built_world, read-only), copied to be advanced here
        shutil.copytree(
            built_world.root, root / "sqlite", ignore=shutil.ignore_patterns("*.lock", "logs")
        )
        self.lite = Env(root / "sqlite")
        self.pg = Env(root / "postgres")
        for env in (self.lite, self.pg):
            env.vars.pop("SOURCES__POS__CREDENTIALS", None)
            env.vars.pop("SOURCES__POS__BACKEND", None)


@pytest.fixture(scope="module")
def worlds(
    postgres: Postgres, built_world: Env, tmp_path_factory: pytest.TempPathFactory
) -> Worlds:
    """The session's SQLite world (after `mypizza run`) and the same world simulated into
    Postgres, loaded as the doc says, then `mypizza run`."""
    worlds = Worlds(tmp_path_factory.mktemp("postgres-pos"), postgres, built_world)
    # the built world's kitchen devices: its days of them, not support.Env's one
    worlds.pg.vars.pop("MYPIZZA_IOT_DAYS", None)
    if "MYPIZZA_IOT_DAYS" in built_world.vars:
        worlds.pg.vars["MYPIZZA_IOT_DAYS"] = built_world.vars["MYPIZZA_IOT_DAYS"]
    worlds.pg.mypizza("simulate", *WORLD, "--pos-url", postgres.url("pos"))

    (sql,) = doc_blocks("sql")
    postgres.execute("pos", *[s for s in sql.split(";") if s.strip()])
    doc_run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", doc_load_commands(postgres)],
        cwd=REPO,
        env={**worlds.pg.vars, "PATH": f"{MYPIZZA_DIR}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert doc_run.returncode == 0, doc_run.stdout + doc_run.stderr
    worlds.doc_output = doc_run.stdout
    worlds.doc_raw = raw_rows(worlds.pg.warehouse)
    worlds.doc_source = pos_rows(postgres.url("pos"))

    worlds.pg.vars["SOURCES__POS__CREDENTIALS"] = doc_credentials(postgres)
    worlds.pg.mypizza("run")
    worlds.first = mart_differences(worlds.lite.warehouse, worlds.pg.warehouse)
    return worlds


# an incremental rebuild of what the marts need, without dbt's tests (run once above)
ONLY_BUILD = ["--resource-type", "model", "--resource-type", "snapshot", "--resource-type", "seed"]


@pytest.fixture(scope="module")
def advanced(worlds: Worlds) -> Worlds:
    """Both worlds advanced by a day (new orders, late deliveries and refunds of earlier
    ones), loaded and built again, incrementally."""
    for env in (worlds.lite, worlds.pg):
        env.mypizza("simulate", "--days", "1")
    for env in (worlds.lite, worlds.pg):
        env.mypizza("ingest", "all")
        build = env.dbt("build", "--target", "prod", *ONLY_BUILD)
        assert build.returncode == 0, build.stdout[-5000:]
    worlds.second = mart_differences(worlds.lite.warehouse, worlds.pg.warehouse)
    return worlds


def raw_rows(warehouse: Path) -> dict[str, list[tuple]]:
    """The raw POS tables as loaded, in key order, the source's columns only."""
    rows = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for name in POS_TABLES:
            table = metadata.tables[name]
            cols = ", ".join(c.name for c in table.columns)
            key = ", ".join(c.name for c in table.primary_key.columns)
            rows[name] = [
                tuple(r)
                for r in con.execute(f"select {cols} from raw_pos.{name} order by {key}").fetchall()
            ]
    return rows


# ---------------------------------------------------------------- the tests
def test_the_docs_commands_load_every_pos_table_row_for_row(worlds: Worlds) -> None:
    """docs/real-pos.md's SQL and shell blocks, run as written: the read-only user loads
    every POS table whole, each row as Postgres holds it."""
    source = worlds.doc_source
    assert all(source.values()), {t: len(r) for t, r in source.items()}
    loaded = {t: [_naive(r) for r in rows] for t, rows in worlds.doc_raw.items()}
    assert loaded == source
    for table, rows in source.items():
        assert re.search(rf"\b{table}\s+{len(rows)}\b", worlds.doc_output.replace(",", ""))


def _naive(row: tuple) -> tuple:
    """DuckDB gives dlt's timestamps with a UTC zone; the POS keeps naive UTC."""
    return tuple(
        v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v
        for v in row
    )


def test_every_mart_is_the_same_as_from_sqlite(worlds: Worlds) -> None:
    counts, problems = worlds.first
    assert not problems, problems
    assert len(counts) >= 15
    assert sum(1 for n in counts.values() if n) >= len(counts) - 2, counts  # not all empty
    assert counts["fct_orders"] > 500


def test_the_same_seed_gives_the_same_world_after_advancing(
    advanced: Worlds, postgres: Postgres
) -> None:
    lite, pg = advanced.lite.world, advanced.pg.world
    assert pos_rows(f"sqlite:///{lite / 'pos.sqlite'}") == pos_rows(postgres.url("pos"))
    files_lite, files_pg = world_files(lite), world_files(pg)
    assert sorted(files_lite) == sorted(files_pg)
    assert any(name.startswith("bucket/inventory/") for name in files_lite)
    different = [name for name in files_lite if files_lite[name] != files_pg[name]]
    assert not different


def test_every_mart_is_the_same_after_an_advance_with_updates(
    advanced: Worlds, postgres: Postgres
) -> None:
    counts, problems = advanced.second
    assert not problems, problems
    assert counts["fct_orders"] > advanced.first[0]["fct_orders"]
    # the advance changed earlier orders too (deliveries, refunds), and they were merged
    (changed,) = advanced.pg.query(
        "select count(*) from raw_pos.orders where updated_at::date > business_date + 1"
    )[0]
    assert changed > 0


def test_the_pos_can_go_on_inserting_after_the_simulator(advanced: Worlds, postgres: Postgres):
    """The simulator moved every key's sequence past its rows: rows inserted with no id get
    the next ids, as the POS itself would insert them."""
    engine = create_engine(postgres.url("pos"))
    try:
        with engine.connect() as conn:
            top = {
                t: conn.execute(text(f"select max({c.name}) from {t}")).scalar_one()
                for t in POS_TABLES
                for c in metadata.tables[t].primary_key.columns
            }
            now = "timestamp '2026-05-01 12:00:00'"
            new = {}
            new["stores"] = conn.execute(text(
                "insert into stores (store_code, name, city, timezone, opened_on, seats, "
                f"updated_at) values ('NEW', 'New', 'Bern', 'Europe/Zurich', date '2026-05-01', "
                f"10, {now}) returning store_id"
            )).scalar_one()  # fmt: skip
            new["products"] = conn.execute(text(
                "insert into products (sku, name, category, price_cents, is_active, updated_at)"
                f" values ('NEW-1', 'New', 'drink', 100, true, {now}) returning product_id"
            )).scalar_one()  # fmt: skip
            new["customers"] = conn.execute(text(
                "insert into customers (first_name, last_name, email, home_store_id, "
                "loyalty_tier, signed_up_at, updated_at) values ('A', 'B', 'a@b.invalid', "
                f"{new['stores']}, 'bronze', {now}, {now}) returning customer_id"
            )).scalar_one()  # fmt: skip
            new["orders"] = conn.execute(text(
                "insert into orders (store_id, customer_id, channel, status, business_date, "
                f"ordered_at, updated_at) values ({new['stores']}, {new['customers']}, "
                f"'walk_in', 'placed', date '2026-05-01', {now}, {now}) returning order_id"
            )).scalar_one()  # fmt: skip
            new["order_items"] = conn.execute(text(
                "insert into order_items (order_id, product_id, quantity, unit_price_cents, "
                f"discount_cents, is_voided, updated_at) values ({new['orders']}, "
                f"{new['products']}, 1, 100, 0, false, {now}) returning order_item_id"
            )).scalar_one()  # fmt: skip
            new["payments"] = conn.execute(text(
                "insert into payments (order_id, method, kind, amount_cents, paid_at, "
                f"updated_at) values ({new['orders']}, 'cash', 'payment', 100, {now}, {now}) "
                "returning payment_id"
            )).scalar_one()  # fmt: skip
            conn.rollback()  # the worlds stay as simulated for the other tests
    finally:
        engine.dispose()
    assert new == {t: top[t] + 1 for t in POS_TABLES}


def _ingest(env: Env, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MYPIZZA_DIR / "mypizza"), "ingest", "pos", *args],
        cwd=REPO,
        env={**env.vars, "SOURCES__POS__CREDENTIALS": url},
        capture_output=True,
        text=True,
    )


def test_a_socket_url_is_read_without_connectorx(
    worlds: Worlds, postgres: Postgres, tmp_path: Path
) -> None:
    """connectorx cannot use a Unix socket (`parse error: empty host`): the POS source
    reads such a URL with the pyarrow backend, whatever .dlt/config.toml chose."""
    env = Env(tmp_path)
    result = _ingest(env, postgres.socket_url("pos"))
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = {t: len(r) for t, r in raw_rows(env.warehouse).items()}
    assert loaded == {t: len(r) for t, r in pos_rows(postgres.url("pos")).items()}


def test_an_empty_database_is_an_error_naming_the_url_and_the_tables(
    postgres: Postgres, tmp_path: Path
) -> None:
    result = _ingest(Env(tmp_path), postgres.url("empty"))
    assert result.returncode == 1, result.stdout
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message  # one line, no traceback
    assert f"postgresql://{ADMIN}:***@127.0.0.1:{postgres.port}/empty" in message
    assert ADMIN_PASSWORD not in message
    assert "has no tables" in message
    for table in POS_TABLES:
        assert table in message
    assert "nothing new" not in result.stdout


def test_a_missing_driver_is_one_line_naming_the_package(
    postgres: Postgres, tmp_path: Path
) -> None:
    """pg8000 is a real PostgreSQL driver the environment does not have."""
    url = postgres.url("pos").replace("postgresql://", "postgresql+pg8000://")
    for args in (["ingest", "pos"], ["simulate", "--days", "1", "--pos-url", url]):
        env = Env(tmp_path / args[0])
        result = subprocess.run(
            [str(MYPIZZA_DIR / "mypizza"), *args],
            cwd=REPO,
            env={**env.vars, "SOURCES__POS__CREDENTIALS": url},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1, result.stdout
        message = result.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert "needs the Python package pg8000" in message
        assert "pip install 'pg8000'" in message


def test_an_unreachable_server_is_one_line(postgres: Postgres, tmp_path: Path) -> None:
    url = f"postgresql://{ADMIN}:{ADMIN_PASSWORD}@127.0.0.1:{_free_port()}/pos"
    result = _ingest(Env(tmp_path), url)
    assert result.returncode == 1, result.stdout
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "cannot reach the POS database" in message
    assert ADMIN_PASSWORD not in message


@pytest.mark.slow  # three loads and the doc's migration: 20 s
def test_a_column_type_change_is_refused_and_the_docs_migration_reloads(
    postgres: Postgres, tmp_path: Path
) -> None:
    """The POS moves orders.updated_at from timestamp to timestamptz: the load stops naming
    the table, the column and the type the warehouse holds, and writes nothing; the doc's
    migration block, run as written, reloads the POS with the new type."""
    url = postgres.url("tz")
    simulate(tmp_path / "world", stores=1, days=2, start=date(2026, 4, 6), seed=3, pos_url=url)
    env = Env(tmp_path / "env")
    assert _ingest(env, url).returncode == 0
    before = raw_rows(env.warehouse)
    postgres.execute(
        "tz",
        "alter table orders alter column updated_at type timestamptz "
        "using updated_at at time zone 'UTC'",
        "update orders set updated_at = timestamptz '2026-04-09 10:00:00+00' "
        "where order_id = (select min(order_id) from orders)",
    )

    refused = _ingest(env, url)
    assert refused.returncode == 1, refused.stdout
    assert "Traceback" not in refused.stderr, refused.stderr  # dlt warns, then one error line
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("[mypizza] pos FAILED after "), message
    for words in ("table orders", "column updated_at", "was timestamp", "now timestamp", "frozen"):
        assert words in message, message
    assert raw_rows(env.warehouse) == before  # nothing of the refused load written

    (block,) = [b for b in doc_blocks("sh") if "drop schema" in b]
    migrate = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=REPO,
        env={
            **env.vars,
            "SOURCES__POS__CREDENTIALS": url,
            "PATH": f"{MYPIZZA_DIR}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    loaded = {t: [_naive(r) for r in rows] for t, rows in raw_rows(env.warehouse).items()}
    source = {
        t: [_naive(r) for r in rows] for t, rows in pos_rows(url).items()
    }  # timestamptz comes back zoned from psycopg
    assert loaded == source
    assert max(r[-1] for r in loaded["orders"]).isoformat() == "2026-04-09T10:00:00"
