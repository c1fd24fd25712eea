"""A failed load in one or two plain lines: what broke, and what to do about it.

dlt wraps what went wrong several layers deep (``PipelineStepFailed`` around a
``ResourceExtractionError`` around the ``requests`` or ``fsspec`` error), so ``causes``
walks that chain once for everyone, and ``explain`` turns the first cause it recognises
into a ``SourceFailed`` naming the source, the system it could not use and the setting to
check: unreachable, a refused token, a missing bucket, a refused type change. Anything it
does not recognise still gets one line (the innermost error), never a traceback.
"""

from __future__ import annotations

import ast
import errno
import re
from collections.abc import Callable, Iterator
from typing import Any


class SourceFailed(RuntimeError):
    """A source could not be loaded; the message says why and what to do."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class SchemaContractError(SourceFailed, ValueError):
    """A source's schema changed in a way the pipeline refuses (a column's type)."""


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and everything behind it, outermost first: dlt's wrapped ``exception``,
    then ``__cause__``, then ``__context__``; each error once."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__


def _setting(source: str, key: str) -> str:
    return f"SOURCES__{source.upper()}__{key.upper()} (or `{key}` under [sources.{source}])"


def describe_type(column: dict[str, Any]) -> str:
    """A dlt column's type in words: ``bigint``, ``text``, ``timestamp with time zone``,
    ``decimal(10,2)``."""
    data_type = column.get("data_type") or "unknown"
    if data_type in ("timestamp", "time") and column.get("timezone") is not None:
        return f"{data_type} {'with' if column['timezone'] else 'without'} time zone"
    if column.get("precision") is not None:
        scale = column.get("scale")
        return f"{data_type}({column['precision']}{'' if scale is None else f',{scale}'})"
    return data_type


def _type_change(source: str, error: BaseException) -> SourceFailed | None:
    from dlt.common.schema.exceptions import DataValidationError

    if not isinstance(error, DataValidationError):
        return None
    existing = (error.table_schema or {}).get("columns", {}).get(error.column_name, {})
    was = describe_type(existing) if existing.get("data_type") else "?"
    # dlt names the incoming column only in its message: "... Incoming column: {...}."
    incoming = re.search(r"Incoming column: (\{.*?\})\.", str(error))
    try:
        now = describe_type(ast.literal_eval(incoming.group(1))) if incoming else "?"
    except (ValueError, SyntaxError):
        now = "?"
    return SchemaContractError(
        f"source {source}, table {error.table_name}, column {error.column_name}: "
        f"its type changed (was {was}, now {now}; rule: column types are frozen, "
        f"{error.schema_entity}={error.contract_mode}). Nothing of this load was "
        "written; fix the source or migrate the raw column, then run again.",
        source,
    )


def _unreachable(source: str, error: BaseException) -> SourceFailed | None:
    """A server that refused or never answered the connection (after dlt's retries)."""
    import requests

    if isinstance(error, requests.ConnectionError | requests.Timeout):
        url = error.request.url.split("?")[0] if error.request is not None else "its URL"
        if isinstance(error, requests.Timeout):
            how = "did not answer in time"
        elif "refused" in str(error).lower():
            how = "refused the connection"
        else:
            how = "could not be reached"
        return SourceFailed(
            f"source {source}: {url} {how} (after dlt's retries). Check that the system is "
            f"up and that {_setting(source, 'base_url')} points at it.",
            source,
        )
    refused = isinstance(error, ConnectionRefusedError) or (
        isinstance(error, OSError) and error.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH)
    )
    if refused or type(error).__name__ in ("EndpointConnectionError", "ConnectTimeoutError"):
        how = f"cannot connect ({_first_line(error)})"
    elif isinstance(error, TimeoutError) or type(error).__name__ in TIMEOUTS:
        how = f"no answer in time ({_first_line(error)})"
    else:
        return None
    return SourceFailed(
        f"source {source}: {how}, after retrying. Check that the system is up and the "
        f"source's settings under [sources.{source}].",
        source,
    )


# timeouts of the object-store clients (botocore, aiohttp) that are not TimeoutErrors
TIMEOUTS = ("ReadTimeoutError", "SocketTimeoutError", "ServerTimeoutError")


def _missing_bucket(source: str, error: BaseException) -> SourceFailed | None:
    if isinstance(error, BucketMissing):
        return SourceFailed(
            f"source {source}: the bucket {error.url} does not exist. Check "
            f"{_setting(source, 'bucket_url')} and its credentials.",
            source,
        )
    return None


class BucketMissing(FileNotFoundError):
    """A source's bucket (or folder) is not there."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no bucket at {url}")
        self.url = url


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


RECOGNISERS: tuple[Callable[[str, BaseException], SourceFailed | None], ...] = (
    _type_change,
    _missing_bucket,
    _unreachable,
)


def explain(
    source: str,
    error: BaseException,
    specific: Callable[[BaseException], BaseException | None] | None = None,
) -> SourceFailed:
    """``error`` in plain words. ``specific`` (a source's own explanations, e.g. the
    feedback API's 401) is asked first; then the common cases; else the innermost error."""
    for cause in causes(error):  # a source's own plain words, however deep dlt wrapped them
        if isinstance(cause, SourceFailed):
            cause.source = source
            return cause
    if specific is not None:
        plain = specific(error)
        if plain is not None:
            if not isinstance(plain, SourceFailed):
                plain = SourceFailed(str(plain))
            plain.source = source
            return plain
    for cause in causes(error):
        for recognise in RECOGNISERS:
            plain = recognise(source, cause)
            if plain is not None:
                return plain
    *_, innermost = causes(error)
    return SourceFailed(
        f"source {source}: the load failed: {_first_line(innermost)}. Nothing of it was "
        "written; the next run tries again.",
        source,
    )
