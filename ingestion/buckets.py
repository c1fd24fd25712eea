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
import glob
import os
import pathlib
import posixpath
import stat
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import dlt
from dlt.common.storages.configuration import FilesystemConfiguration, make_fsspec_url
from dlt.common.storages.fsspec_filesystem import (
    MTIME_DISPATCH,
    FileItem,
    FileItemDict,
    fsspec_filesystem,
    guess_mime_type,
)
from dlt.common.time import ensure_pendulum_datetime
from dlt.sources import DltResource
from dlt.sources.credentials import FileSystemCredentials
from dlt.sources.filesystem.helpers import AbstractFileSystem, FilesystemConfigurationResource

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


# ---------------------------------------------------------------- listing what changed
def _listing(
    fs_client: AbstractFileSystem, bucket_url: str, file_glob: str
) -> tuple[str, str, Iterator[tuple[str, float | None, dict[str, Any]]]]:
    """The bucket's root, its scheme and its files as (path, mtime in epoch seconds when the
    listing has it cheaply, listing entry). A local folder is listed as dlt's ``filesystem``
    lists it (Python's glob, so names starting with a dot stay unlisted); an object store
    with fsspec's ``glob``, one listing call per thousand keys."""
    if "file" in fs_client.protocol:
        if FilesystemConfiguration.is_local_path(bucket_url):
            bucket_url = FilesystemConfiguration.make_file_url(bucket_url)
        root = FilesystemConfiguration.make_local_path(bucket_url)

        def local() -> Iterator[tuple[str, float | None, dict[str, Any]]]:
            for path in glob.iglob(str(pathlib.Path(root).joinpath(file_glob)), recursive=True):
                try:
                    info = os.stat(path)
                except FileNotFoundError:  # deleted while we listed
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield path, info.st_mtime, {"size": info.st_size, "mtime": info.st_mtime}

        return root, "file", local()
    root = fs_client._strip_protocol(bucket_url)
    listed = fs_client.glob(posixpath.join(root, file_glob), detail=True)
    scheme = urlparse(bucket_url).scheme
    files = ((path, None, md) for path, md in listed.items() if md["type"] == "file")
    return root, scheme, files


def _file_item(root: str, scheme: str, bucket_url: str, path: str, md: dict) -> FileItem:
    """The FileItem dlt's ``filesystem`` would make of one listed file (same fields)."""
    if scheme == "file":
        name = pathlib.Path(path).name
        relative = pathlib.Path(path).relative_to(root).as_posix()
        url = FilesystemConfiguration.make_file_url(path)
    else:
        name = posixpath.basename(path)
        relative = posixpath.relpath(path, root)
        url = make_fsspec_url(scheme, path, bucket_url)
    mime_type, encoding = guess_mime_type(relative)
    item = FileItem(
        file_name=name,
        relative_path=relative,
        file_url=url,
        mime_type=mime_type,
        modification_date=MTIME_DISPATCH[scheme](md),
    )
    if md.get("size") is not None:
        item["size_in_bytes"] = int(md["size"])
    if encoding is not None:
        item["encoding"] = encoding
    return item


def _modified_before(since: datetime, scheme: str, mtime: float | None, md: dict) -> bool:
    """Whether a listed file was last modified before ``since``: by its epoch seconds when
    the listing has them, else by the date dlt parses from the listing entry. Epoch seconds
    carry nanoseconds and dlt's dates microseconds (rounded), so only a file older by more
    than a microsecond is dropped here; dlt's cursor decides the rest on its own dates."""
    if mtime is not None:
        return mtime < since.timestamp() - 1e-6
    changed_at = MTIME_DISPATCH[scheme](md)
    return changed_at is not None and changed_at < since


# The cursor of dlt's own ``filesystem`` resource: a file's modification date.
MODIFIED = dlt.sources.incremental("modification_date")


@dlt.resource(name="filesystem", primary_key="file_url", spec=FilesystemConfigurationResource)
def changed_files(
    bucket_url: str = dlt.secrets.value,
    credentials: FileSystemCredentials | AbstractFileSystem = dlt.secrets.value,
    file_glob: str = "**/*",
    files_per_page: int = 200,
    kwargs: dict[str, Any] | None = None,
    client_kwargs: dict[str, Any] | None = None,
    modified: dlt.sources.incremental[datetime] = MODIFIED,
) -> Iterator[list[FileItemDict]]:
    """The bucket's files modified since the last load, in pages: dlt's ``filesystem``
    resource, with the same items and the same incremental cursor (``modification_date``,
    whose state it keeps under the same resource name), except that a file older than the
    cursor is dropped as it is listed, before a file item is made of it.

    dlt's own listing makes an item of every file of the bucket (a ``realpath``, a URL and a
    parsed date each) and only then lets the cursor drop the old ones: 71.5 s a night for
    the 73,000 files of the large world, for 104 new ones. The cursor's own filter still
    runs on what is left (a file modified exactly at the cursor is deduplicated by URL)."""
    if isinstance(credentials, AbstractFileSystem):
        fs_client = credentials
    else:
        fs_client = fsspec_filesystem(
            bucket_url, credentials, kwargs=kwargs, client_kwargs=client_kwargs
        )[0]
    start = modified.start_value if modified is not None else None
    since = ensure_pendulum_datetime(start) if start is not None else None
    root, scheme, files = _listing(fs_client, bucket_url, file_glob)
    page: list[FileItemDict] = []
    for path, mtime, md in files:
        if since is not None and _modified_before(since, scheme, mtime, md):
            continue
        page.append(FileItemDict(_file_item(root, scheme, bucket_url, path, md), fs_client))
        if len(page) >= files_per_page:
            yield page
            page = []
    if page:
        yield page
