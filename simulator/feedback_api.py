"""The feedback platform's HTTP API, served on 127.0.0.1 over a world's feedback documents.

Endpoints (JSON, UTF-8):

- ``GET /v1/reviews`` and ``GET /v1/mentions``: documents ordered by ``updated_at`` then
  ``id``. Query parameters: ``updated_since`` (ISO 8601; documents changed at or after it),
  ``limit`` (page size, 1 to 500, default 100) and ``cursor`` (from the previous page).
  Answer: ``{"data": [...], "next_cursor": "..." or null}``; the last page has no cursor.
- ``GET /v1/health``: ``{"status": "ok"}``, without authentication.

With a ``token``, every data request needs ``Authorization: Bearer <token>`` (401
otherwise). Like a real API under load it refuses some requests: a share ``fault_rate`` of
them gets 429 Too Many Requests with ``Retry-After`` (two in three) or 500 (one in three),
in an order fixed by ``fault_seed``, and never more than ``MAX_FAULTS_IN_A_ROW`` times in a
row for the same request, so a client that retries always gets through.

For the bad-input tests, ``failure`` makes it misbehave the way broken APIs do:
``malformed_json`` (the first page of reviews is cut off mid-JSON), ``missing_field`` (one
review comes without ``updated_at``, which the API promises), ``endless`` (the reviews'
``next_cursor`` always points back at the first page: a listing that never ends).

The documents are read from the world's feedback file on every request, so the API serves
what the world holds now, also while the world is being advanced.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from simulator.feedback import connect, feedback_path, iso, parse_iso

API_PREFIX = "/v1"
ENDPOINTS = {"reviews", "mentions"}
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
MAX_FAULTS_IN_A_ROW = 2
FAILURES = ("malformed_json", "missing_field", "endless")


class BadRequest(ValueError):
    """A request parameter the API cannot use; answered with 400 and this message."""


def _encode_cursor(updated_at: str, doc_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([updated_at, doc_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        updated_at, doc_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(updated_at), str(doc_id)
    except (ValueError, TypeError) as error:
        raise BadRequest(f"cursor '{cursor}' is not one this API gave out") from error


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def read_page(
    world_dir: Path, kind: str, updated_since: str | None, limit: int, cursor: str | None
) -> str:
    """One page of ``kind`` documents: the JSON body the API answers with."""
    path = feedback_path(world_dir)
    if not path.exists():  # a world simulated before it had a feedback platform
        return '{"data":[],"next_cursor":null}'
    clauses, params = [], []
    if updated_since:
        clauses.append("updated_at >= ?")
        params.append(iso(parse_iso(updated_since)))
    if cursor:
        after_updated, after_id = _decode_cursor(cursor)
        clauses.append("(updated_at > ? or (updated_at = ? and id > ?))")
        params += [after_updated, after_updated, after_id]
    where = f"where {' and '.join(clauses)}" if clauses else ""
    con = connect(path, read_only=True)
    try:
        rows = con.execute(
            f"select id, updated_at, document from {kind} {where} order by updated_at, id limit ?",
            [*params, limit + 1],
        ).fetchall()
    finally:
        con.close()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1][1], rows[-1][0]) if more else None
    # the documents are stored as JSON already: splice them in rather than parse them
    body = '{"data":[' + ",".join(r[2] for r in rows) + '],"next_cursor":'
    return body + json.dumps(next_cursor) + "}"


class FeedbackApiServer(ThreadingHTTPServer):
    """The API over one world's feedback documents in ``world_dir``, serving on a thread
    on ``host:port`` (port 0: a free one) from construction until :meth:`stop`.

    Use it as a context manager. ``url`` is the API's base URL (``http://host:port/v1``);
    ``stats`` counts the answers by status code. ``token``: require this bearer token.
    ``fault_rate``: share of requests answered 429 (with ``Retry-After: retry_after``
    seconds) or 500. ``failure``: one of ``FAILURES``, for tests of a broken API.
    """

    daemon_threads = True

    def __init__(
        self,
        world_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        fault_rate: float = 0.0,
        fault_seed: int = 0,
        retry_after: int = 1,
        failure: str | None = None,
    ) -> None:
        if not 0.0 <= fault_rate < 1.0:
            raise ValueError(f"fault_rate must be at least 0 and below 1, not {fault_rate}")
        if failure is not None and failure not in FAILURES:
            raise ValueError(f"failure must be one of {', '.join(FAILURES)}, not {failure!r}")
        self.failure = failure
        super().__init__((host, port), _Handler)
        self.world_dir = Path(world_dir)
        self.token = token
        self.fault_rate = fault_rate
        self.retry_after = retry_after
        self.stats: Counter = Counter()
        self._faults = random.Random(f"feedback-api-faults|{fault_seed}")
        self._faults_in_a_row: Counter = Counter()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="feedback-api")
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def fault_for(self, request_key: str) -> int | None:
        """The error status to answer this request with, or None to serve it."""
        with self._lock:
            u = self._faults.random()
            if u >= self.fault_rate or self._faults_in_a_row[request_key] >= MAX_FAULTS_IN_A_ROW:
                self._faults_in_a_row.pop(request_key, None)
                return None
            self._faults_in_a_row[request_key] += 1
            return 429 if u < self.fault_rate * 2 / 3 else 500

    def count(self, status: int) -> None:
        with self._lock:
            self.stats[int(status)] += 1

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FeedbackApiServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    server: FeedbackApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the pipeline's own progress says what happens

    def _send(self, status: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
        payload = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.server.count(status)

    def _error(self, status: HTTPStatus, message: str, headers: dict | None = None) -> None:
        self._send(status, {"error": status.phrase, "message": message}, headers)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        if path == f"{API_PREFIX}/health":
            self._send(200, {"status": "ok"})
            return
        kind = path.removeprefix(f"{API_PREFIX}/")
        if not path.startswith(f"{API_PREFIX}/") or kind not in ENDPOINTS:
            self._error(HTTPStatus.NOT_FOUND, f"no endpoint {parts.path}")
            return
        if self.server.token is not None:
            expected = f"Bearer {self.server.token}"
            if self.headers.get("Authorization") != expected:
                self._error(
                    HTTPStatus.UNAUTHORIZED,
                    "missing or invalid API token: send 'Authorization: Bearer <token>'",
                    {"WWW-Authenticate": 'Bearer realm="feedback"'},
                )
                return
        fault = self.server.fault_for(self.path)
        if fault == 429:
            retry = {"Retry-After": str(self.server.retry_after)}
            self._error(HTTPStatus.TOO_MANY_REQUESTS, "rate limit exceeded, retry later", retry)
            return
        if fault == 500:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "something went wrong, retry")
            return
        try:
            query = parse_qs(parts.query)
            limit, since = _limit(_one(query, "limit")), _since(_one(query, "updated_since"))
            page = read_page(self.server.world_dir, kind, since, limit, _one(query, "cursor"))
        except BadRequest as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
            return
        self._send(200, _misbehave(self.server.failure, kind, page))


def _misbehave(failure: str | None, kind: str, page: str) -> str:
    """The page as a broken API would answer it (see ``FAILURES``)."""
    if failure is None or kind != "reviews":
        return page
    if failure == "malformed_json":
        return page[: len(page) // 2]
    body = json.loads(page)
    if failure == "missing_field" and body["data"]:
        body["data"][0].pop("updated_at", None)
    if failure == "endless" and body["data"]:
        first = body["data"][0]
        body["next_cursor"] = _encode_cursor("0000", first["id"])  # back before the start
    return json.dumps(body)


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, not '{text}'")
    return int(text)


def _since(text: str | None) -> str | None:
    if text:
        try:
            parse_iso(text)
        except ValueError as error:
            raise BadRequest(f"updated_since '{text}' is not an ISO 8601 time") from error
    return text
