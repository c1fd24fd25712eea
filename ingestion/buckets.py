"""What the sources reading files that other systems drop into a bucket share (the inventory
systems' files, the franchise stores' exports): their config spec, the checks every text
file passes before it is parsed, and the table hints of what they load.

Config is declared the way dlt's own ``filesystem`` source declares it: a source takes
``bucket_url: str = dlt.secrets.value`` and ``credentials = dlt.secrets.value`` with a spec
derived from dlt's ``FilesystemConfigurationResource``, so the credentials' type follows the
URL's protocol (none for a local folder; key, secret and ``endpoint_url`` for ``s3://``) and
both are read from ``sources.<source name>`` in dlt config (``.dlt/config.toml``, environment
variables such as ``SOURCES__INVENTORY__BUCKET_URL``, ``.dlt/secrets.toml``).
"""

from __future__ import annotations

import codecs
from typing import Any

from dlt.sources import DltResource
from dlt.sources.filesystem.helpers import FilesystemConfigurationResource

# The merge that lets a file (an export) sent again replace what it sent before.
REPLACE_ON_KEY = {"disposition": "merge", "strategy": "delete-insert"}
ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252"}

# The spec of a bucket source: bucket_url, credentials by protocol, file_glob, files_per_page.
# A source derives its own with its defaults and settings (ingestion/inventory.py); dlt does
# not inherit the credentials' type resolver, so the derived spec names it again.
BucketConfiguration = FilesystemConfigurationResource


class FileRuleError(ValueError):
    """A file breaks a rule: ``problem`` says which and what to do, ``line`` (1-based) where,
    when one line is to blame."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        self.problem = problem
        self.line = line
        super().__init__(problem)


def decode_text(data: bytes, encoding: str, send_again: str) -> str:
    """The text of a whole file written in ``encoding``. FileRuleError when it is empty, cut
    off while being written (its last line has no line break: a truncated upload), or not
    text in that encoding (naming the first bad byte and its line). ``send_again`` is what the
    sender must do, e.g. "upload it again"."""
    if not data.strip():
        raise FileRuleError("the file is empty (not even a header)")
    # the encoding first: a file in another encoding (UTF-16) does not end in b"\n" either
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        name = ENCODING_NAMES.get(codecs.lookup(encoding).name, encoding)
        raise FileRuleError(
            f"not {name} text (byte 0x{data[error.start]:02x} on line {line}): the files "
            f"must be {name}; {send_again} as {name}",
            line=line,
        ) from None
    if not data.endswith(b"\n"):
        raise FileRuleError(
            "the last line does not end with a line break: the file was cut off while being "
            f"written (truncated); {send_again} whole",
            line=data.count(b"\n") + 1,
        )
    return text


def replace_on_key(
    resource: DltResource, keys: dict[str, Any], merge_key: str | None = None
) -> None:
    """Hints for the tables a file loads (table -> primary key): rows sent again replace
    the rows with their key (or, with ``merge_key``, every row their file sent before)."""
    for table, key in keys.items():
        resource.apply_hints(
            table_name=table,
            write_disposition=REPLACE_ON_KEY,
            primary_key=key,
            merge_key=merge_key,
            create_table_variant=True,
        )


def ledger(resource: DltResource, table: str, key: str, columns: dict[str, str]) -> None:
    """Hints for a source's ledger: one row per file (or export) with what became of it,
    replaced each time it is read again. ``columns``: name -> dlt data type; the key and
    ``status`` may never be empty, the other columns may."""
    resource.apply_hints(
        table_name=table,
        write_disposition=REPLACE_ON_KEY,
        primary_key=key,
        columns={
            name: {"data_type": data_type, "nullable": name not in (key, "status")}
            for name, data_type in columns.items()
        },
        create_table_variant=True,
    )
