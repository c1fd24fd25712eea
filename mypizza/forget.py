"""Erasing a person on request (GDPR article 17): `mypizza forget`.

    mypizza forget --email ADDRESS        a loyalty customer or reviewer, by e-mail
    mypizza forget --customer-id ID       a POS loyalty customer, by id
    mypizza forget --handle @HANDLE       a social-media mention author

Under the warehouse's writer lock, it:

1. finds the person in the raw layer (POS customers, feedback reviews and mentions): their
   e-mails, names, phones, handles, and the hash the models derive from the e-mail;
2. appends the erasure to the log, ``<warehouse stem>.erasures.jsonl`` (ingestion/
   suppression.py): when, which key (as a SHA-256, never the value), by whom, how many rows,
   and the keys every later load suppresses, so a full reload does not bring them back;
3. overwrites those values in every table of every schema of the warehouse (raw, dlt's
   staging, quarantine, snapshots, intermediate, marts): the person's own rows get the
   erased markers (``Erased``, ``erased-<digest>@erased.invalid``, no phone), any text that
   quotes them says ``[erased]``, the old e-mail hash becomes the marker's hash. Rows are
   never deleted: orders and reviews stay, linked to an erased customer, so totals do not
   change;
4. rewrites the database into a fresh file (``COPY FROM DATABASE``) and swaps it in: DuckDB
   keeps overwritten values in free blocks, which a copy of the file would carry along;
   the same for the other DuckDB files beside the warehouse (an analyst's dev file);
5. removes what dlt keeps of past loads (load packages, the last trace) and scrubs the
   text files of dbt's target folder and prod-state/, and Parquet files beside the warehouse;
6. publishes the rewritten warehouse (the copy readers use);
7. checks, byte by byte, that no file under the warehouse folder, dlt's folder and the
   target folder holds the person's e-mail, name or phone any more (plain or gzip), and
   fails loudly, naming the file, if one does.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import gzip
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.suppression import (
    ERASED_NAME,
    ERASED_TEXT,
    digest,
    erased_email,
    erased_handle,
    erasures_path,
)

DLT_PACKAGE_DIRS = ("load/loaded", "load/normalized", "normalize", "load/new")


class ForgetError(RuntimeError):
    """An erasure that cannot be done safely (named in the message)."""


@dataclass
class Person:
    """What the warehouse holds of one person, found from the key given."""

    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)
    customer_ids: set[int] = field(default_factory=set)
    rows: dict[str, int] = field(default_factory=dict)

    def needles(self) -> list[tuple[str, str]]:
        """(value, replacement) pairs to overwrite everywhere, longest value first."""
        pairs: dict[str, str] = {}
        for email in self.emails:
            marker = erased_email(digest(email))
            pairs[email] = marker
            pairs[_md5(email)] = _md5(marker)  # the models' hash of the e-mail
        for name in self.names:
            pairs[name] = ERASED_TEXT
        for phone in self.phones:
            pairs[phone] = ERASED_TEXT
        for handle in self.handles:
            marker = erased_handle(digest(handle))
            pairs[handle] = marker
            bare = handle.lstrip("@")
            if len(bare) >= 6:
                pairs[bare] = marker.lstrip("@")
        return sorted(
            ((v, r) for v, r in pairs.items() if v and len(v) >= 3),
            key=lambda p: len(p[0]),
            reverse=True,
        )

    def searched(self) -> set[str]:
        """The values a byte search must not find afterwards."""
        values = self.emails | self.names | self.phones | self.handles
        return {v for v in values if v and len(v) >= 5}


def _md5(email: str) -> str:
    import hashlib

    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - dbt.hash


# ---------------------------------------------------------------- finding the person
def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? and table_catalog = current_database()",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def find_person(
    con: duckdb.DuckDBPyConnection,
    email: str | None = None,
    customer_id: int | None = None,
    handle: str | None = None,
) -> Person:
    person = Person()
    if email:
        person.emails.add(email.strip())
    if customer_id is not None:
        person.customer_ids.add(customer_id)
    if handle:
        person.handles.add(handle.strip() if handle.startswith("@") else f"@{handle.strip()}")
    customer_cols = {"customer_id", "first_name", "last_name", "email", "phone"}
    customers = [
        (s, t)
        for s, t in _tables(con, "raw_%")
        if t in ("customers", "quarantine_customers") and customer_cols <= _columns(con, s, t)
    ]
    reviews = [
        (s, t)
        for s, t in _tables(con, "raw_%")
        if t == "reviews" and {"reviewer__email", "reviewer__name"} <= _columns(con, s, t)
    ]
    mentions = [
        (s, t)
        for s, t in _tables(con, "raw_%")
        if t == "mentions" and {"author__handle", "author__display_name"} <= _columns(con, s, t)
    ]
    # two passes: a customer id gives an e-mail, which finds the reviews, and so on
    for _ in range(2):
        emails = sorted(e.lower() for e in person.emails)
        for schema, table in customers:
            rows = con.execute(
                "select customer_id, first_name, last_name, email, phone "
                f'from "{schema}"."{table}" '
                "where customer_id in (select unnest($ids)) "
                "or lower(trim(email)) in (select unnest($emails))",
                {"ids": sorted(person.customer_ids), "emails": emails},
            ).fetchall()
            person.rows[f"{schema}.{table}"] = len(rows)
            for cid, first, last, mail, phone in rows:
                person.customer_ids.add(int(cid))
                person.names.add(f"{first} {last}")
                person.emails.add(mail)
                if phone:
                    person.phones.add(phone)
        emails = sorted(e.lower() for e in person.emails)
        for schema, table in reviews:
            rows = con.execute(
                f'select reviewer__name, reviewer__email from "{schema}"."{table}" '
                "where lower(trim(reviewer__email)) in (select unnest($emails))",
                {"emails": emails},
            ).fetchall()
            person.rows[f"{schema}.{table}"] = len(rows)
            person.names.update(r[0] for r in rows if r[0])
        for schema, table in mentions:
            rows = con.execute(
                f'select author__handle, author__display_name from "{schema}"."{table}" '
                "where author__handle in (select unnest($handles)) "
                "or author__display_name in (select unnest($names))",
                {"handles": sorted(person.handles), "names": sorted(person.names)},
            ).fetchall()
            person.rows[f"{schema}.{table}"] = len(rows)
            for found_handle, name in rows:
                person.handles.add(found_handle)
                if name:
                    person.names.add(name)
    person.emails = {e.strip() for e in person.emails if e and e.strip()}
    return person


def _tables(con: duckdb.DuckDBPyConnection, schema_like: str = "%") -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() "
        "and table_schema like ? order by all",
        [schema_like],
    ).fetchall()


# ---------------------------------------------------------------- overwriting
def overwrite(con: duckdb.DuckDBPyConnection, person: Person) -> int:
    """Overwrite the person's values in every string column of every table; returns the
    number of cells changed. The person's own POS rows get the erased markers."""
    changed = 0
    for schema, table in _tables(con, "raw_%"):
        cols = _columns(con, schema, table)
        if {"customer_id", "first_name", "last_name", "email"} <= cols and table.endswith(
            "customers"
        ):
            for cid in sorted(person.customer_ids):
                (mail,) = con.execute(
                    f'select any_value(email) from "{schema}"."{table}" where customer_id = ?',
                    [cid],
                ).fetchone() or (None,)
                marker = erased_email(digest(mail) if mail else digest(f"customer:{cid}"))
                phone = ", phone = null" if "phone" in cols else ""
                con.execute(
                    f'update "{schema}"."{table}" set first_name = ?, last_name = ?, '
                    f"email = ?{phone} where customer_id = ?",
                    [ERASED_NAME, ERASED_NAME, marker, cid],
                )
        if {"reviewer__name", "reviewer__email"} <= cols:
            for email in sorted(person.emails):
                con.execute(
                    f'update "{schema}"."{table}" set reviewer__name = ?, reviewer__email = ? '
                    "where lower(trim(reviewer__email)) = ?",
                    [ERASED_NAME, erased_email(digest(email)), email.strip().lower()],
                )
        if {"author__handle", "author__display_name"} <= cols:
            for handle in sorted(person.handles):
                con.execute(
                    f'update "{schema}"."{table}" set author__display_name = ? '
                    "where author__handle = ?",
                    [ERASED_NAME, handle],
                )
    needles = person.needles()
    if not needles:
        return changed
    params = {f"p{i}": re.escape(v) for i, (v, _) in enumerate(needles)}
    params |= {f"r{i}": r for i, (_, r) in enumerate(needles)}
    params["any"] = "(?i)" + "|".join(re.escape(v) for v, _ in needles)
    for schema, table in _tables(con):
        columns = con.execute(
            "select column_name from information_schema.columns where table_schema = ? "
            "and table_name = ? and table_catalog = current_database() "
            "and data_type in ('VARCHAR', 'JSON')",
            [schema, table],
        ).fetchall()
        for (column,) in columns:
            quoted = f'"{column}"'
            expr = quoted
            for i in range(len(needles)):
                expr = f"regexp_replace({expr}, $p{i}, $r{i}, 'gi')"
            (n,) = con.execute(
                f'update "{schema}"."{table}" set {quoted} = {expr} '
                f"where regexp_matches({quoted}, $any)",
                params,
            ).fetchone()
            changed += n
    return changed


def rewrite(database: Path) -> None:
    """Copy the database into a fresh file and swap it in: the free blocks of the old
    file (which may still hold overwritten values) go with the old file."""
    fresh = database.with_name(f".{database.name}.{os.getpid()}.rewrite")
    fresh.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as con:
        con.execute("checkpoint")
        con.execute(f"attach '{_sql_path(fresh)}' as fresh")
        (name,) = con.execute("select current_database()").fetchone()
        con.execute(f'copy from database "{name}" to fresh')
        con.execute("detach fresh")
    os.replace(fresh, database)
    Path(f"{database}.wal").unlink(missing_ok=True)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _scrub_parquet(path: Path, person: Person) -> bool:
    needles = person.needles()
    with duckdb.connect() as con:
        rel = f"read_parquet('{_sql_path(path)}')"
        cols = con.execute(f"describe select * from {rel}").fetchall()
        strings = [c[0] for c in cols if c[1] == "VARCHAR"]
        if not strings:
            return False
        exprs = []
        for column in strings:
            expr = f'"{column}"'
            for i, _ in enumerate(needles):
                expr = f"regexp_replace({expr}, $p{i}, $r{i}, 'gi')"
            exprs.append(f'{expr} as "{column}"')
        params = {f"p{i}": re.escape(v) for i, (v, _) in enumerate(needles)}
        params |= {f"r{i}": r for i, (_, r) in enumerate(needles)}
        staging = path.with_name(f".{path.name}.scrub")
        con.execute(
            f"copy (select * replace ({', '.join(exprs)}) from {rel}) "
            f"to '{_sql_path(staging)}' (format parquet)",
            params,
        )
    os.replace(staging, path)
    return True


# ---------------------------------------------------------------- files
def file_texts(path: Path) -> list[bytes]:
    """A file's bytes, and its content once decompressed if it is gzip."""
    data = path.read_bytes()
    texts = [data]
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError):
            texts.append(gzip.decompress(data))
    return texts


def files_holding(roots: list[Path], values: set[str]) -> list[tuple[Path, str]]:
    """(file, value) for every file under ``roots`` whose bytes hold one of ``values``
    (UTF-8, case-insensitive), gzip content included."""
    needles = {v: v.lower().encode() for v in values if v}
    found = []
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            texts = [t.lower() for t in file_texts(path)]
            for value, needle in needles.items():
                if any(needle in t for t in texts):
                    found.append((path, value))
    return found


def _scrub_files(roots: list[Path], person: Person, skip: set[Path]) -> list[Path]:
    """Overwrite the person's values in text files (JSON, HTML, logs) under ``roots``;
    delete binary ones that hold them (caches dbt and dlt rebuild). Returns what changed."""
    touched = []
    for path, _ in files_holding(roots, person.searched() | {_md5(e) for e in person.emails}):
        if path in touched or path in skip or path.suffix in (".duckdb", ".wal", ".parquet"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            path.unlink()  # e.g. dbt's partial-parse cache, a gzip package file
            touched.append(path)
            continue
        for value, replacement in person.needles():
            text = re.sub(re.escape(value), replacement, text, flags=re.IGNORECASE)
        path.write_text(text, encoding="utf-8")
        touched.append(path)
    return touched


def _dlt_leftovers(pipelines: Path) -> list[Path]:
    """What dlt keeps of past loads: finished load packages and the last run's trace."""
    if not pipelines.exists():
        return []
    pending = [
        p
        for pipeline in pipelines.iterdir()
        for p in (pipeline / "load" / "normalized", pipeline / "normalize")
        if p.exists() and any(f.is_file() and f.name != ".version" for f in p.rglob("*"))
    ]
    if pending:
        raise ForgetError(
            f"a load is pending in {pending[0]}: finish it first (`mypizza run`), then "
            "erase; its files would load the person again"
        )
    gone = []
    for pipeline in pipelines.iterdir():
        for sub in ("load/loaded", "trace.pickle"):
            path = pipeline / sub
            if path.is_dir():
                for package in path.iterdir():
                    shutil.rmtree(package) if package.is_dir() else package.unlink()
                    gone.append(package)
            elif path.exists():
                path.unlink()
                gone.append(path)
    return gone


# ---------------------------------------------------------------- the command
@dataclass
class Erasure:
    record: dict
    person: Person
    cells: int
    files: list[Path]


def forget(
    warehouse: Path,
    target_dir: Path,
    email: str | None = None,
    customer_id: int | None = None,
    handle: str | None = None,
    by: str | None = None,
) -> Erasure:
    """Erase one person everywhere the warehouse holds them; the caller holds the writer
    lock. Returns the record written to the erasure log."""
    from ingestion.pipelines import pipelines_dir
    from mypizza.prod_state import prod_state_dir
    from mypizza.warehouse import publish, published_path

    if sum(x is not None for x in (email, customer_id, handle)) != 1:
        raise ForgetError("give exactly one of --email, --customer-id, --handle")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email.strip()):
        raise ForgetError(f"--email {email!r} is not an e-mail address")
    if not warehouse.exists():
        raise ForgetError(f"no warehouse at {warehouse}")
    with duckdb.connect(str(warehouse)) as con:
        person = find_person(con, email=email, customer_id=customer_id, handle=handle)
    key_kind, key_value = (
        ("email", email)
        if email
        else ("customer_id", str(customer_id))
        if customer_id is not None
        else ("handle", handle)
    )
    record = {
        "erased_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key": key_kind,
        "key_sha256": digest(str(key_value)),
        "by": by or os.environ.get("MYPIZZA_ERASED_BY") or getpass.getuser(),
        "rows_found": {t: n for t, n in sorted(person.rows.items()) if n},
        "suppress": {
            "email_sha256": sorted({digest(e) for e in person.emails}),
            "name_sha256": sorted({digest(n) for n in person.names}),
            "handle_sha256": sorted({digest(h) for h in person.handles}),
            "customer_ids": sorted(person.customer_ids),
        },
    }
    leftovers = _dlt_leftovers(pipelines_dir(warehouse))  # refuses while a load is pending
    # the suppression list first: if anything below fails, no load brings the person back
    log = erasures_path(warehouse)
    with open(log, "a") as handle_:
        handle_.write(json.dumps(record, sort_keys=True) + "\n")
        handle_.flush()
        os.fsync(handle_.fileno())

    cells = 0
    databases = [warehouse] + sorted(
        p
        for p in warehouse.parent.glob("*.duckdb")
        if p != warehouse and p != published_path(warehouse)
    )
    for database in databases:
        with duckdb.connect(str(database)) as con:
            cells += overwrite(con, person)
        rewrite(database)
    scrubbed = [
        p
        for p in sorted(warehouse.parent.rglob("*.parquet"))
        if files_holding([p], person.searched()) and _scrub_parquet(p, person)
    ]
    roots = [warehouse.parent, target_dir, prod_state_dir(warehouse)]
    skip = {log, *databases, published_path(warehouse)}
    scrubbed += _scrub_files(roots, person, skip)
    publish(warehouse)
    left = [
        (p, v)
        for p, v in files_holding(roots + [pipelines_dir(warehouse)], person.searched())
        if p != log
    ]
    if left:
        where = ", ".join(sorted({str(p) for p, _ in left}))
        raise ForgetError(f"the person's data is still in: {where}")
    return Erasure(record, person, cells, leftovers + scrubbed)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `mypizza forget` (called by mypizza/cli.py)."""
    forget_ = commands.add_parser(
        "forget",
        help="erase a person's personal data everywhere the warehouse holds it (GDPR art. 17)",
        description="Erase a loyalty customer, reviewer or mention author: their personal "
        "data is overwritten in every table, the warehouse rewritten and re-published, and "
        "the erasure logged (without personal data) where every later load reads it, so "
        "the source systems cannot load them again. Their orders and reviews stay.",
    )
    key = forget_.add_mutually_exclusive_group(required=True)
    key.add_argument("--email", help="the person's e-mail address")
    key.add_argument("--customer-id", type=int, help="the POS loyalty customer id")
    key.add_argument("--handle", help="a social-media handle (@name)")
    forget_.add_argument("--by", help="who asks (logged; default: MYPIZZA_ERASED_BY or $USER)")
    forget_.add_argument(
        "--wait", action="store_true", help="if another run holds the warehouse, wait for it"
    )
    forget_.set_defaults(func=cmd_forget)


def cmd_forget(args: argparse.Namespace, settings: object) -> int:
    from mypizza.warehouse import writer_lock

    started = time.perf_counter()
    with writer_lock(settings.warehouse, wait=args.wait):
        done = forget(
            settings.warehouse,
            settings.target_dir,
            email=args.email,
            customer_id=args.customer_id,
            handle=args.handle,
            by=args.by,
        )
    found = ", ".join(f"{t} {n}" for t, n in done.record["rows_found"].items()) or "no rows"
    print(
        f"erased {done.record['key']} sha256:{done.record['key_sha256'][:12]}… "
        f"({found}; {done.cells} values overwritten, {len(done.files)} files cleaned) "
        f"in {time.perf_counter() - started:.1f} s; logged in {erasures_path(settings.warehouse)}"
    )
    return 0
