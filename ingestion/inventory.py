"""The stores' inventory bucket as a dlt source.

Each store's inventory system drops files into a bucket (any fsspec URL: a local folder,
``s3://...``) under date-partitioned paths:

- ``inventory/<store_code>/<YYYY-MM-DD>/stock_counts.csv``: end-of-day stock counts;
- ``inventory/<store_code>/<YYYY-MM-DD>/deliveries.csv``: supplier deliveries;
- ``inventory/<store_code>/<YYYY-MM-DD>/waste.csv``: waste logs;
- ``backups/<YYYY-MM-DD>/inventory.parquet``: the nightly full backup of the system.

One resource lists the bucket like dlt's ``filesystem`` resource, incrementally on the
files' modification date (a re-run reads only files written or re-uploaded since; a file
older than the cursor is dropped as it is listed: ``ingestion/buckets.changed_files``), and one
transformer reads each file strictly: CSV with pyarrow against the expected header and
column types, Parquet with pyarrow against the expected columns. Every row keeps the file
it came from (``file_path`` relative to the bucket, ``file_name``, ``file_row_number``,
``file_modified_at``). A file that breaks a rule (a bad header, a value that does not parse,
an empty required value, a truncated file, rows of another store or day than its path
says) loads nothing: it is quarantined in the ``files`` table with its path and the
problem, and the other files still load. ``files`` holds one row per file ever seen, with
its status (``loaded``, ``quarantined`` or ``ignored``), so it doubles as the load ledger.

Re-reads are idempotent: rows are merged with the ``delete-insert`` strategy on
``file_path`` (the merge key), so a file read again (re-uploaded, or fixed after a
quarantine) replaces the rows it loaded before instead of adding to them.

Config (section ``sources.inventory``): ``bucket_url`` and, for object stores,
``credentials`` (for S3: ``aws_access_key_id``, ``aws_secret_access_key`` and, for an
S3-compatible server, ``endpoint_url``); ``file_glob`` (default ``**/*``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from dlt.common.configuration import configspec
from dlt.sources import DltResource
from dlt.sources.credentials import FileSystemCredentials
from dlt.sources.filesystem import FileItemDict
from fsspec import AbstractFileSystem

from ingestion.buckets import (
    BucketConfiguration,
    FileRuleError,
    changed_files,
    decode_text,
    ledger,
    replace_on_key,
)

FILES_TABLE = "files"
LINEAGE = {
    "file_path": pa.string(),
    "file_name": pa.string(),
    "file_row_number": pa.int64(),
    "file_modified_at": pa.timestamp("us", tz="UTC"),
}
QUANTITY = pa.decimal128(18, 3)
STAMP = pa.timestamp("us", tz="UTC")
DAY = r"(?P<day>\d{4}-\d{2}-\d{2})"
STORE = r"(?P<store>[a-z0-9_-]+)"


class InventoryFileError(FileRuleError):
    """A file of the bucket breaks a rule; the message says which and how to fix it."""


@dataclass(frozen=True)
class FileKind:
    """A kind of file the inventory systems write: where it lives and what it holds."""

    table: str  # raw table it loads into
    file_name: str
    layout: str  # how its path must look, for messages
    path: re.Pattern[str]
    columns: dict[str, pa.DataType]  # every column, in order, with its type
    required: tuple[str, ...]  # columns that must hold a value on every row
    date_column: str  # must equal the day in the path
    store_column: str | None = None  # must equal the store in the path

    @property
    def is_csv(self) -> bool:
        return self.file_name.endswith(".csv")


def _store_day_kind(table: str, date_column: str, columns: dict, required: tuple) -> FileKind:
    file_name = f"{table}.csv"
    return FileKind(
        table=table,
        file_name=file_name,
        layout=f"inventory/<store_code>/<YYYY-MM-DD>/{file_name}",
        path=re.compile(rf"inventory/{STORE}/{DAY}/{re.escape(file_name)}"),
        columns=columns,
        required=required,
        date_column=date_column,
        store_column="store_code",
    )


KINDS: list[FileKind] = [
    _store_day_kind(
        "stock_counts",
        "count_date",
        {
            "store_code": pa.string(),
            "count_date": pa.date32(),
            "ingredient_code": pa.string(),
            "counted_quantity": QUANTITY,
            "unit": pa.string(),
            "counted_at": STAMP,
        },
        ("store_code", "count_date", "ingredient_code", "counted_quantity", "unit"),
    ),
    _store_day_kind(
        "deliveries",
        "delivery_date",
        {
            "store_code": pa.string(),
            "delivery_date": pa.date32(),
            "delivery_id": pa.string(),
            "line_number": pa.int64(),
            "supplier_code": pa.string(),
            "ingredient_code": pa.string(),
            "quantity": QUANTITY,
            "unit": pa.string(),
            "unit_cost_cents": pa.int64(),
            "currency": pa.string(),
            "received_at": STAMP,
        },
        (
            "store_code",
            "delivery_date",
            "delivery_id",
            "line_number",
            "supplier_code",
            "ingredient_code",
            "quantity",
            "unit",
            "unit_cost_cents",
            "currency",
        ),
    ),
    _store_day_kind(
        "waste",
        "waste_date",
        {
            "store_code": pa.string(),
            "waste_date": pa.date32(),
            "waste_id": pa.string(),
            "ingredient_code": pa.string(),
            "product_sku": pa.string(),
            "quantity": QUANTITY,
            "unit": pa.string(),
            "reason": pa.string(),
            "recorded_at": STAMP,
        },
        ("store_code", "waste_date", "waste_id", "quantity", "unit", "reason"),
    ),
    FileKind(
        table="inventory_backups",
        file_name="inventory.parquet",
        layout="backups/<YYYY-MM-DD>/inventory.parquet",
        path=re.compile(rf"backups/{DAY}/inventory\.parquet"),
        columns={
            "backup_date": pa.date32(),
            "store_code": pa.string(),
            "ingredient_code": pa.string(),
            "unit": pa.string(),
            "on_hand_quantity": QUANTITY,
            "last_counted_date": pa.date32(),
            "reorder_point": QUANTITY,
            "par_level": QUANTITY,
            "supplier_code": pa.string(),
            "unit_cost_cents": pa.int64(),
            "currency": pa.string(),
            "exported_at": STAMP,
        },
        required=("backup_date", "store_code", "ingredient_code", "unit", "on_hand_quantity"),
        date_column="backup_date",
    ),
]
KIND_BY_FILE_NAME = {kind.file_name: kind for kind in KINDS}
TABLES = [kind.table for kind in KINDS]


# ---------------------------------------------------------------- reading one file
def _csv_problem(error: Exception, columns: list[str]) -> str:
    """pyarrow's message, with the column named instead of numbered."""
    text = str(error)
    match = re.match(r"In CSV column #(\d+): (.*)", text, re.S)
    if match and int(match.group(1)) < len(columns):
        return f"column '{columns[int(match.group(1))]}': {match.group(2).strip()}"
    return text.strip()


def _first_bad_row(data: bytes, kind: FileKind, column: str) -> int | None:
    """The 1-based data row whose ``column`` does not convert to its type, if one does not."""
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in kind.columns}, strings_can_be_null=True
        ),
    )
    for index, value in enumerate(table[column].to_pylist()):
        if value is None:
            continue
        try:
            pa.array([value], pa.string()).cast(kind.columns[column])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return index + 1
    return None


def read_csv_file(data: bytes, kind: FileKind) -> pa.Table:
    """The rows of a CSV file of ``kind``, typed; FileRuleError if it breaks a rule."""
    decode_text(data, "utf-8", send_again="upload it again")  # whole UTF-8 text
    first_line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip("\r")
    header = next(csv.reader([first_line]))
    expected = list(kind.columns)
    missing = [c for c in expected if c not in header]
    unexpected = [c for c in header if c not in expected]
    if missing or unexpected or len(header) != len(set(header)):
        details = []
        if missing:
            details.append(f"missing {', '.join(missing)}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected)}")
        if len(header) != len(set(header)):
            details.append("a column named twice")
        raise InventoryFileError(
            f"bad header ({'; '.join(details)}): expected the columns {', '.join(expected)}"
        )
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=kind.columns, strings_can_be_null=True, include_columns=expected
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        problem = _csv_problem(error, header)
        match = re.match(r"column '([^']+)'", problem)
        row = _first_bad_row(data, kind, match.group(1)) if match else None
        where = f" in row {row}" if row else ""
        raise InventoryFileError(f"a value does not parse{where}: {problem}") from error
    return table


def read_parquet_file(data: bytes, kind: FileKind) -> pa.Table:
    """The rows of a Parquet file of ``kind``, cast to the expected types."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as error:
        raise InventoryFileError(
            f"not a readable Parquet file (truncated or corrupt?): {error}"
        ) from error
    missing = [c for c in kind.columns if c not in table.column_names]
    if missing:
        raise InventoryFileError(
            f"bad schema: missing columns {', '.join(missing)}; expected the columns "
            f"{', '.join(kind.columns)}"
        )
    table = table.select(list(kind.columns))
    try:
        return table.cast(pa.schema(list(kind.columns.items())))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InventoryFileError(f"a column has the wrong type: {error}") from error


def check_rows(table: pa.Table, kind: FileKind, day: date, store: str | None) -> None:
    """Required values present, and every row of the store and day its path says."""
    for column in kind.required:
        nulls = table[column].null_count
        if nulls:
            first = pc.index(pc.is_null(table[column]), True).as_py() + 1
            raise InventoryFileError(
                f"column '{column}' is empty in {nulls} row(s), the first in row {first}"
            )
    days = {d for d in table[kind.date_column].to_pylist() if d is not None}
    if days - {day}:
        other = ", ".join(sorted(str(d) for d in days - {day}))
        raise InventoryFileError(
            f"rows dated {other} in a file filed under {day}: '{kind.date_column}' must be "
            "the day in the path"
        )
    if kind.store_column and store is not None:
        stores = {s for s in table[kind.store_column].to_pylist() if s is not None}
        if stores - {store}:
            other = ", ".join(sorted(stores - {store}))
            raise InventoryFileError(
                f"rows of store {other} in a file filed under store {store}: "
                f"'{kind.store_column}' must be the store in the path"
            )


def read_file(item: FileItemDict | dict[str, Any], data: bytes) -> tuple[FileKind, pa.Table]:
    """Read one file of the bucket: its kind and its rows with their lineage columns."""
    path = item["relative_path"]
    kind = KIND_BY_FILE_NAME.get(item["file_name"])
    if kind is None:
        raise LookupError(f"not an inventory file (expected one of {', '.join(KIND_BY_FILE_NAME)})")
    match = kind.path.fullmatch(path)
    if not match:
        raise InventoryFileError(f"the path does not follow the layout {kind.layout}")
    try:
        day = date.fromisoformat(match.group("day"))
    except ValueError as error:
        raise InventoryFileError(f"the path holds no valid date ({match.group('day')})") from error
    store = match.groupdict().get("store")
    table = read_csv_file(data, kind) if kind.is_csv else read_parquet_file(data, kind)
    check_rows(table, kind, day, store)
    n = table.num_rows
    modified = pa.array([item["modification_date"]] * n, LINEAGE["file_modified_at"])
    lineage = {
        "file_path": pa.array([path] * n, pa.string()),
        "file_name": pa.array([item["file_name"]] * n, pa.string()),
        "file_row_number": pa.array(range(1, n + 1), pa.int64()),
        "file_modified_at": modified,
    }
    for name, values in lineage.items():
        key = name in ("file_path", "file_row_number")  # the primary key: never null
        table = table.append_column(pa.field(name, LINEAGE[name], nullable=not key), values)
    return kind, table


# ---------------------------------------------------------------- the dlt source
@dlt.transformer(name="inventory_files")
def read_inventory_files(items: list[FileItemDict]) -> Iterator[Any]:
    """Read a page of listed files: rows to their kind's table, one ledger row per file."""
    tables: dict[str, list[pa.Table]] = {}
    entries = []
    for item in items:
        entry = {
            "file_path": item["relative_path"],
            "file_name": item["file_name"],
            "file_url": item["file_url"],
            "file_modified_at": item["modification_date"],
            "size_in_bytes": item.get("size_in_bytes"),
            "file_kind": None,
            "status": "loaded",
            "problem": None,
            "row_count": 0,
        }
        kind = KIND_BY_FILE_NAME.get(item["file_name"])
        entry["file_kind"] = kind.table if kind else None
        try:
            kind, table = read_file(item, item.read_bytes() if kind else b"")
        except LookupError as error:
            entry.update(status="ignored", problem=str(error))
        except FileRuleError as error:  # InventoryFileError too
            entry.update(status="quarantined", problem=str(error))
        else:
            entry["row_count"] = table.num_rows
            if table.num_rows:
                tables.setdefault(kind.table, []).append(table)
        entries.append(entry)
    for name, parts in tables.items():
        yield dlt.mark.with_table_name(pa.concat_tables(parts), name)
    if entries:
        yield dlt.mark.with_table_name(entries, FILES_TABLE)


@configspec
class InventoryConfiguration(BucketConfiguration):
    """``sources.inventory``: the bucket (``bucket_url``, ``credentials``), which files to
    list (``file_glob``) and how many to read and load as one batch (``files_per_page``)."""

    file_glob: str | None = "**/*"
    files_per_page: int = 200
    # dlt does not inherit a spec's type resolvers: the credentials' type by the URL's protocol
    resolve_credentials_type = BucketConfiguration.resolve_credentials_type


@dlt.source(name="inventory", section="inventory", spec=InventoryConfiguration)
def inventory(
    bucket_url: str = dlt.secrets.value,
    credentials: FileSystemCredentials | AbstractFileSystem = dlt.secrets.value,
    file_glob: str = "**/*",
    files_per_page: int = 200,
) -> DltResource:
    """The files of the inventory bucket changed since the last run, read and quarantined.

    Rows replace the rows of their file (merge key ``file_path``), keyed by file and row
    number; the ``files`` ledger holds one row per file, replaced when it is read again."""
    files = changed_files(
        bucket_url=bucket_url,
        credentials=credentials,
        file_glob=file_glob,
        files_per_page=files_per_page,
    )
    resource = files | read_inventory_files
    replace_on_key(
        resource, dict.fromkeys(TABLES, ["file_path", "file_row_number"]), merge_key="file_path"
    )
    ledger(
        resource,
        FILES_TABLE,
        key="file_path",
        columns={
            "file_path": "text",
            "file_name": "text",
            "file_url": "text",
            "file_kind": "text",
            "status": "text",
            "problem": "text",
            "row_count": "bigint",
            "size_in_bytes": "bigint",
            "file_modified_at": "timestamp",
        },
    )
    return resource
