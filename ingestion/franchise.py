"""The franchise stores' CSV exports (another, older POS) as a dlt source.

Each franchise store drops its export into a bucket (any fsspec URL: a local folder,
``s3://...``), one folder per store named by its store code, four files in each::

    <store_code>/orders.csv          order_id,date,time           (local date and time)
    <store_code>/order_details.csv   order_details_id,order_id,pizza_id,quantity
    <store_code>/pizzas.csv          pizza_id,pizza_type_id,size,price
    <store_code>/pizza_types.csv     pizza_type_id,name,category,ingredients

The files are Windows-1252 text (CRLF line endings, as the old POS writes them). A store
sends either a whole year (the same ids again) or only its new days.

The bucket is listed with dlt's ``filesystem`` resource. A store whose files changed since
its last successful load (name, size or modification date) is read whole and checked
before any of its rows is yielded: the four files present, the header, every line's
field count and values (whole numbers, dates, times, prices), no id twice, and every
order line pointing at an order and a pizza of the export, every pizza at a pizza type.
A store that breaks a rule loads nothing this run; the ``exports`` table records it as
``rejected`` with the file, the line and the problem, the rows it loaded before stay as
they were, and the other stores still load. It is read again on every run until fixed.

Rows are merged on their natural key, the store code plus the export's id, so a resent
file replaces the rows it sent before instead of doubling them. Every row keeps its
store code, the file it came from, its line number there and the file's modification date.

Config (section ``sources.franchise``): ``bucket_url`` and, for object stores,
``credentials``; ``encoding`` (default ``cp1252``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.configuration import configspec
from dlt.common.storages.fsspec_filesystem import FileItemDict
from dlt.sources import DltResource
from dlt.sources.credentials import FileSystemCredentials
from dlt.sources.filesystem import filesystem
from fsspec import AbstractFileSystem

from ingestion.buckets import (
    BucketConfiguration,
    FileRuleError,
    decode_text,
    ledger,
    replace_on_key,
)

EXPORTS_TABLE = "exports"
STORE_CODE = re.compile(r"[a-z0-9_-]+")
PRICE = pa.decimal128(18, 2)


class ExportError(ValueError):
    """A store's export breaks a rule; the message names the file, the line and the rule."""

    def __init__(self, file_name: str, line: int | None, problem: str) -> None:
        self.file_name = file_name
        self.line = line
        self.problem = problem
        where = f"{file_name} line {line}" if line else file_name
        super().__init__(f"{where}: {problem}")


# ---------------------------------------------------------------- values
def _whole(value: str) -> int:
    if not re.fullmatch(r"-?\d{1,18}", value):
        raise ValueError(f"'{value}' is not a whole number")
    return int(value)


def _positive(value: str) -> int:
    number = _whole(value)
    if number <= 0:
        raise ValueError(f"{number} is not a positive whole number")
    return number


def _day(value: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)")
    return date.fromisoformat(value)


def _clock(value: str) -> str:
    if not re.fullmatch(r"\d{2}:\d{2}:\d{2}", value):
        raise ValueError(f"'{value}' is not a time of day (HH:MM:SS)")
    time.fromisoformat(value)  # hours 0-23, minutes and seconds 0-59
    return value


def _price(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a price (a decimal number)") from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:
        raise ValueError(f"'{value}' is not a price (0 or more, at most 2 decimals)")
    return amount


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("the value is empty")
    return value


@dataclass(frozen=True)
class ExportFile:
    """One of the four files of an export: its columns, their parsers and its key."""

    table: str
    columns: dict[str, tuple[Any, pa.DataType]]  # column -> (parser, arrow type)
    key: str

    @property
    def file_name(self) -> str:
        return f"{self.table}.csv"


FILES: list[ExportFile] = [
    ExportFile(
        "orders",
        {
            "order_id": (_whole, pa.int64()),
            "date": (_day, pa.date32()),
            "time": (_clock, pa.string()),
        },
        "order_id",
    ),
    ExportFile(
        "order_details",
        {
            "order_details_id": (_whole, pa.int64()),
            "order_id": (_whole, pa.int64()),
            "pizza_id": (_text, pa.string()),
            "quantity": (_positive, pa.int64()),
        },
        "order_details_id",
    ),
    ExportFile(
        "pizzas",
        {
            "pizza_id": (_text, pa.string()),
            "pizza_type_id": (_text, pa.string()),
            "size": (_text, pa.string()),
            "price": (_price, PRICE),
        },
        "pizza_id",
    ),
    ExportFile(
        "pizza_types",
        {
            "pizza_type_id": (_text, pa.string()),
            "name": (_text, pa.string()),
            "category": (_text, pa.string()),
            "ingredients": (str, pa.string()),
        },
        "pizza_type_id",
    ),
]
FILE_BY_NAME = {f.file_name: f for f in FILES}
TABLES = [f.table for f in FILES]
LINEAGE = {
    "store_code": pa.string(),
    "file_name": pa.string(),
    "file_line_number": pa.int64(),
    "file_modified_at": pa.timestamp("us", tz="UTC"),
}


# ---------------------------------------------------------------- reading one export
def read_export_file(data: bytes, spec: ExportFile, encoding: str = "cp1252") -> dict[str, list]:
    """The columns of one export file (values parsed, ``file_line_number`` added);
    ExportError naming the line and the problem when it breaks a rule."""
    try:
        text = decode_text(data, encoding, send_again="send it again")
    except FileRuleError as error:
        raise ExportError(spec.file_name, error.line, error.problem) from None
    reader = csv.reader(text.splitlines())
    header = next(reader)
    expected = list(spec.columns)
    if [h.strip().lstrip("\ufeff") for h in header] != expected:
        raise ExportError(
            spec.file_name, 1, f"bad header {','.join(header)}: expected {','.join(expected)}"
        )
    columns: dict[str, list] = {c: [] for c in expected}
    numbers: list[int] = []
    parsers = [spec.columns[c][0] for c in expected]
    for values in reader:
        line = reader.line_num
        if not values:
            continue  # a blank line
        if len(values) != len(expected):
            raise ExportError(
                spec.file_name,
                line,
                f"{len(values)} field(s) where {len(expected)} are expected "
                f"({','.join(expected)}): a cut-off or malformed line",
            )
        for column, parse, value in zip(expected, parsers, values, strict=True):
            try:
                columns[column].append(parse(value))
            except ValueError as error:
                raise ExportError(spec.file_name, line, f"column '{column}': {error}") from None
        numbers.append(line)
    seen: dict[Any, int] = {}
    for value, line in zip(columns[spec.key], numbers, strict=True):
        if value in seen:
            first = seen[value]
            raise ExportError(
                spec.file_name, line, f"{spec.key} {value} is there twice (first on line {first})"
            )
        seen[value] = line
    columns["file_line_number"] = numbers
    return columns


def _check_references(store: dict[str, dict[str, list]]) -> None:
    """Every order line points at an order and a pizza, every pizza at a pizza type."""
    checks = [
        ("order_details", "order_id", "orders", "order_id"),
        ("order_details", "pizza_id", "pizzas", "pizza_id"),
        ("pizzas", "pizza_type_id", "pizza_types", "pizza_type_id"),
    ]
    for table, column, parent, parent_key in checks:
        known = set(store[parent][parent_key])
        for value, line in zip(store[table][column], store[table]["file_line_number"], strict=True):
            if value not in known:
                raise ExportError(
                    f"{table}.csv",
                    line,
                    f"{column} {value} is not in {parent}.csv of the same export",
                )


def read_export(files: dict[str, bytes], encoding: str = "cp1252") -> dict[str, dict[str, list]]:
    """Read and check a store's four files (file name -> bytes): table -> columns."""
    missing = [f.file_name for f in FILES if f.file_name not in files]
    if missing:
        raise ExportError(
            missing[0], None, "the file is missing: an export holds " + ", ".join(FILE_BY_NAME)
        )
    store = {f.table: read_export_file(files[f.file_name], f, encoding) for f in FILES}
    _check_references(store)
    return store


def _arrow(spec: ExportFile, columns: dict[str, list], store_code: str, modified: Any) -> pa.Table:
    n = len(columns["file_line_number"])
    arrays = {
        "store_code": pa.array([store_code] * n, pa.string()),
        **{c: pa.array(columns[c], spec.columns[c][1]) for c in spec.columns},
        "file_name": pa.array([spec.file_name] * n, pa.string()),
        "file_line_number": pa.array(columns["file_line_number"], pa.int64()),
        "file_modified_at": pa.array([modified] * n, LINEAGE["file_modified_at"]),
    }
    key = ("store_code", spec.key)
    fields = [pa.field(name, arr.type, nullable=name not in key) for name, arr in arrays.items()]
    return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))


# ---------------------------------------------------------------- the dlt source
def _signature(items: list[FileItemDict]) -> list[list]:
    return sorted(
        [i["file_name"], i.get("size_in_bytes"), str(i["modification_date"])] for i in items
    )


@configspec
class FranchiseConfiguration(BucketConfiguration):
    """``sources.franchise``: the bucket (``bucket_url``, ``credentials``) and the exports'
    text ``encoding``."""

    encoding: str = "cp1252"
    # dlt does not inherit a spec's type resolvers: the credentials' type by the URL's protocol
    resolve_credentials_type = BucketConfiguration.resolve_credentials_type


@dlt.source(name="franchise", section="franchise", spec=FranchiseConfiguration)
def franchise(
    bucket_url: str = dlt.secrets.value,
    credentials: FileSystemCredentials | AbstractFileSystem = dlt.secrets.value,
    encoding: str = "cp1252",
) -> DltResource:
    """The exports of the franchise stores changed since their last load, checked store by
    store; a store that breaks a rule is rejected (see ``exports``), the others load. Rows
    merge on the store code and the export's id."""
    listing = filesystem(bucket_url=bucket_url, credentials=credentials, file_glob="*/*")

    @dlt.resource(name="franchise_exports")
    def exports() -> Iterator[Any]:
        by_store: dict[str, list[FileItemDict]] = {}
        for item in listing:  # iterating a resource yields its files one by one
            store, _, name = item["relative_path"].partition("/")
            if STORE_CODE.fullmatch(store) and name in FILE_BY_NAME:
                by_store.setdefault(store, []).append(item)
        state = dlt.current.resource_state().setdefault("loaded", {})
        checked_at = datetime.now(UTC)
        for store_code in sorted(by_store):
            items = by_store[store_code]
            signature = _signature(items)
            if state.get(store_code) == signature:
                continue  # nothing changed since its last successful load
            entry = {
                "store_code": store_code,
                "status": "loaded",
                "file_name": None,
                "line_number": None,
                "problem": None,
                "checked_at": checked_at,
                "files": ", ".join(sorted(i["file_name"] for i in items)),
            }
            try:
                data = {i["file_name"]: i.read_bytes() for i in items}
                store = read_export(data, encoding)
            except ExportError as error:
                entry.update(
                    status="rejected",
                    file_name=error.file_name,
                    line_number=error.line,
                    problem=f"store {store_code}: {error}",
                )
                yield dlt.mark.with_table_name([entry], EXPORTS_TABLE)
                continue
            modified = {i["file_name"]: i["modification_date"] for i in items}
            for spec in FILES:
                table = _arrow(spec, store[spec.table], store_code, modified[spec.file_name])
                entry[f"{spec.table}_rows"] = table.num_rows
                if table.num_rows:
                    yield dlt.mark.with_table_name(table, spec.table)
            yield dlt.mark.with_table_name([entry], EXPORTS_TABLE)
            state[store_code] = signature

    resource = exports()
    replace_on_key(resource, {spec.table: ["store_code", spec.key] for spec in FILES})
    ledger(
        resource,
        EXPORTS_TABLE,
        key="store_code",
        columns={
            "store_code": "text",
            "status": "text",
            "file_name": "text",
            "line_number": "bigint",
            "problem": "text",
            "checked_at": "timestamp",
            "files": "text",
            **{f"{table}_rows": "bigint" for table in TABLES},
        },
    )
    return resource
