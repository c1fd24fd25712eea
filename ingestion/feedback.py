"""The customer feedback platform's HTTP API as a dlt source.

Reviews and social mentions are read with dlt's declarative ``rest_api`` source: bearer
token auth, cursor pagination (``next_cursor`` in the body, sent back as ``cursor``),
incremental on ``updated_at`` (sent as ``updated_since``) and merged on the document
``id``, so an edited review or a mention with new likes replaces its earlier version.
Nested arrays land as dlt child tables: ``reviews__tags``, ``reviews__product_ids``,
``reviews__replies``, ``reviews__edit_history`` and ``mentions__hashtags``. Retries of
429 and 5xx answers (honouring ``Retry-After``) are dlt's own, configured under
``[runtime]`` (``request_max_attempts``, ``request_backoff_factor``,
``request_max_retry_delay``).

Config (section ``sources.feedback``): ``base_url`` (e.g. ``https://api.example.com/v1``),
``token`` (a secret; none for an open API), ``page_size``.
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources
from requests import HTTPError, Request, Response

from ingestion.errors import SourceFailed, causes

INITIAL_VALUE = "1970-01-01T00:00:00Z"
TIMESTAMP = {"data_type": "timestamp"}
BIGINT = {"data_type": "bigint"}
TEXT = {"data_type": "text"}


def _columns(**types: dict) -> dict[str, dict]:
    """Column hints, so a column exists even before a document fills it."""
    return {name: {"name": name, **spec} for name, spec in types.items()}


REVIEW_COLUMNS = _columns(
    order_id=BIGINT,
    aspects__taste=BIGINT,
    aspects__delivery=BIGINT,
    aspects__service=BIGINT,
    created_at=TIMESTAMP,
    edited_at=TIMESTAMP,
    updated_at=TIMESTAMP,
)
REVIEW_NESTED = {
    "tags": {"columns": _columns(value=TEXT)},
    "product_ids": {"columns": _columns(value=BIGINT)},
    "replies": {"columns": _columns(id=TEXT, author_role=TEXT, text=TEXT, replied_at=TIMESTAMP)},
    "edit_history": {
        "columns": _columns(
            version=BIGINT,
            rating=BIGINT,
            title=TEXT,
            text=TEXT,
            written_at=TIMESTAMP,
            replaced_at=TIMESTAMP,
        )
    },
}
MENTION_COLUMNS = _columns(posted_at=TIMESTAMP, updated_at=TIMESTAMP)


class FeedbackApiError(SourceFailed):
    """The feedback API refused the pipeline (bad token, unknown URL, a broken listing)."""


class EndingCursorPaginator(JSONResponseCursorPaginator):
    """Cursor pagination (``next_cursor`` in the body, sent back as ``cursor``) that refuses
    a listing that never ends: a cursor the API already gave out in this listing is an
    error naming the endpoint, instead of a load that runs forever."""

    def __init__(self) -> None:
        super().__init__(cursor_path="next_cursor", cursor_param="cursor")
        self._seen: set[str] = set()

    def init_request(self, request: Request) -> None:
        self._seen = set()
        super().init_request(request)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        cursor = self._next_reference
        if cursor is None:
            return
        if cursor in self._seen:
            url = response.url.split("?")[0]
            raise FeedbackApiError(
                f"source feedback, endpoint {url}: the listing never ends (rule: every "
                f"page's next_cursor is new; {cursor!r} came back after "
                f"{len(self._seen)} pages). Nothing from this endpoint was loaded and its "
                "cursor did not move; the next run asks again."
            )
        self._seen.add(cursor)


def _endpoint(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "params": {
            "updated_since": {
                "type": "incremental",
                "cursor_path": "updated_at",
                "initial_value": INITIAL_VALUE,
            },
        },
    }


@dlt.source(name="feedback", section="feedback")
def feedback(
    base_url: str = dlt.config.value,
    token: TSecretStrValue | None = None,
    page_size: int = 100,
) -> list[DltResource]:
    """Reviews and social mentions from the feedback platform's API, incremental and merged."""
    client: dict[str, Any] = {
        "base_url": base_url,
        "paginator": EndingCursorPaginator(),
    }
    if token:
        client["auth"] = {"type": "bearer", "token": token}
    config: RESTAPIConfig = {
        "client": client,
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "data", "params": {"limit": page_size}},
        },
        "resources": [
            {
                "name": "reviews",
                "endpoint": _endpoint("reviews"),
                "columns": REVIEW_COLUMNS,
                "nested_hints": REVIEW_NESTED,
            },
            {
                "name": "mentions",
                "endpoint": _endpoint("mentions"),
                "columns": MENTION_COLUMNS,
            },
        ],
    }
    return rest_api_resources(config)


def explain_failure(failure: BaseException) -> FeedbackApiError | None:
    """A plain-words error for a load that failed on an HTTP 401, 403 or 404 of the API,
    malformed JSON, a document without its cursor field, or a listing that never ends."""
    resource = "?"
    for error in causes(failure):
        resource = getattr(error, "pipe_name", None) or resource
        if isinstance(error, FeedbackApiError):
            return error
        if isinstance(error, ValueError) and "JSONDecodeError" in type(error).__name__:
            return FeedbackApiError(
                f"source feedback, endpoint {resource}: the API answered with malformed JSON "
                f"({error}; rule: every page is a JSON document). Nothing from {resource} was "
                "loaded and its cursor did not move; the next run asks again."
            )
        if type(error).__name__ == "IncrementalCursorPathMissing":
            item = getattr(error, "item", None) or {}
            key = item.get("id", "?") if isinstance(item, dict) else "?"
            return FeedbackApiError(
                f"source feedback, endpoint {resource}: document id {key} has no "
                f"'{getattr(error, 'json_path', 'updated_at')}' (rule: required field, the "
                f"incremental cursor). Nothing from {resource} was loaded and its cursor did "
                "not move; the next run asks again."
            )
        if isinstance(error, HTTPError) and error.response is not None:
            status, url = error.response.status_code, error.response.url.split("?")[0]
            if status in (401, 403):
                return FeedbackApiError(
                    f"The feedback API at {url} refused the token (HTTP {status}). Set "
                    "SOURCES__FEEDBACK__TOKEN (or `token` under [sources.feedback] in "
                    ".dlt/secrets.toml) to a valid API token."
                )
            if status == 404:
                return FeedbackApiError(
                    f"The feedback API has no {url} (HTTP 404). Check SOURCES__FEEDBACK__BASE_URL "
                    "(or `base_url` under [sources.feedback]): it should end in the API version, "
                    "e.g. https://feedback.example.com/v1."
                )
    return None
