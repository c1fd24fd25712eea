"""The suppression list: people erased on request stay erased, whatever a later load reads.

`mypizza forget` (mypizza/forget.py) erases a person from the warehouse and appends a line
to the erasure log, ``<warehouse stem>.erasures.jsonl`` beside the warehouse: when, which
key, by whom, and the keys to suppress, as SHA-256 digests of the normalised (trimmed,
lower-case) e-mail, full name and handle, and the POS customer ids. No personal data is
written there. The log lives outside the warehouse file and dlt's state, so it survives a
full reload (a deleted warehouse, dropped raw tables, a reset pipeline).

While the source systems still hold the person, every load passes the POS ``customers``
rows and the feedback ``reviews`` and ``mentions`` documents through ``suppress_*``: a
suppressed person's rows load with their personal data replaced by the same markers
`mypizza forget` writes (``erased_marker``), so their orders and reviews still load, linked
to an erased customer, and nothing personal reaches the extract files, dlt's load packages
or the raw tables. The pipelines hook it in with ``apply_suppression(source, warehouse)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ERASED_NAME = "Erased"
ERASED_DOMAIN = "erased.invalid"  # RFC 2606: never a real mailbox
ERASED_TEXT = "[erased]"


def digest(value: str) -> str:
    """The SHA-256 of a normalised key (trimmed, lower-case): what the log stores."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def erased_email(email_digest: str) -> str:
    """The e-mail an erased person's rows carry: stable per person (so their POS rows and
    reviews stay linked through the e-mail hash) and personal to no one."""
    return f"erased-{email_digest[:16]}@{ERASED_DOMAIN}"


def erased_handle(handle_digest: str) -> str:
    return f"@erased-{handle_digest[:12]}"


def erasures_path(warehouse: Path) -> Path:
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(f"{warehouse.stem}.erasures.jsonl")


@dataclass
class Suppressed:
    """The keys of everyone erased: digests of e-mails, names, handles; customer ids."""

    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)
    customer_ids: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.emails or self.names or self.handles or self.customer_ids)


def read_suppressed(warehouse: Path) -> Suppressed:
    """Every key of the erasure log (an empty list when nobody was erased)."""
    found = Suppressed()
    path = erasures_path(warehouse)
    if not path.exists():
        return found
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            keys = json.loads(line)["suppress"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path}:{number}: not an erasure record ({error}); the suppression list "
                "must stay readable, or erased people could load again"
            ) from error
        found.emails.update(keys.get("email_sha256", []))
        found.names.update(keys.get("name_sha256", []))
        found.handles.update(keys.get("handle_sha256", []))
        found.customer_ids.update(int(i) for i in keys.get("customer_ids", []))
    return found


def scrub_text(text: Any, values: Iterable[str]) -> Any:
    """``text`` with every (case-insensitive) occurrence of ``values`` replaced by [erased]."""
    if not isinstance(text, str):
        return text
    for value in sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(value), ERASED_TEXT, text, flags=re.IGNORECASE)
    return text


# ---------------------------------------------------------------- the POS customers
def _erase_customer(row: dict, suppressed: Suppressed) -> dict:
    email = row.get("email") or ""
    key = digest(email) if email else digest(f"customer:{row.get('customer_id')}")
    return {
        **row,
        "first_name": ERASED_NAME,
        "last_name": ERASED_NAME,
        "email": erased_email(key),
        "phone": None,
    }


def _customer_is_suppressed(row: dict, suppressed: Suppressed) -> bool:
    email = row.get("email")
    return row.get("customer_id") in suppressed.customer_ids or (
        bool(email) and digest(email) in suppressed.emails
    )


def suppress_customers(suppressed: Suppressed) -> Callable[[Any], Any]:
    """A map over POS ``customers`` batches (arrow tables or lists of rows): the rows of a
    suppressed customer (by id or e-mail) come out erased; clean batches pass untouched."""

    def step(batch: Any) -> Any:
        if hasattr(batch, "num_rows"):
            import pyarrow as pa

            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            rows = table.to_pylist()
            if not any(_customer_is_suppressed(r, suppressed) for r in rows):
                return batch
            erased = [
                _erase_customer(r, suppressed) if _customer_is_suppressed(r, suppressed) else r
                for r in rows
            ]
            out = pa.Table.from_pylist(erased, schema=table.schema)
            return out if isinstance(batch, pa.Table) else out.to_batches()[0]
        if isinstance(batch, dict):
            return (
                _erase_customer(batch, suppressed)
                if _customer_is_suppressed(batch, suppressed)
                else batch
            )
        return [
            _erase_customer(r, suppressed) if _customer_is_suppressed(r, suppressed) else r
            for r in batch
        ]

    return step


# ---------------------------------------------------------------- the feedback documents
def _erase_review(doc: dict, suppressed: Suppressed) -> dict:
    reviewer = doc.get("reviewer") or {}
    email, name = reviewer.get("email") or "", reviewer.get("name") or ""
    if not email or digest(email) not in suppressed.emails:
        return doc
    quoted = [email, name, *name.split()[:1]]  # their own review may greet them by first name
    doc = {
        **doc,
        "reviewer": {**reviewer, "name": ERASED_NAME, "email": erased_email(digest(email))},
    }
    for key in ("title", "text"):
        doc[key] = scrub_text(doc.get(key), quoted)
    for nested in ("replies", "edit_history"):
        doc[nested] = [
            {k: scrub_text(v, quoted) if k in ("text", "title") else v for k, v in item.items()}
            for item in doc.get(nested) or []
        ]
    return doc


def _erase_mention(doc: dict, suppressed: Suppressed) -> dict:
    author = doc.get("author") or {}
    handle, name = author.get("handle") or "", author.get("display_name") or ""
    by_handle = bool(handle) and digest(handle) in suppressed.handles
    by_name = bool(name) and digest(name) in suppressed.names
    if not (by_handle or by_name):
        return doc
    marker = erased_handle(digest(handle or name))
    quoted = [handle, handle.lstrip("@"), name]
    doc = {
        **doc,
        "author": {**author, "handle": marker, "display_name": ERASED_NAME},
        "text": scrub_text(doc.get("text"), quoted),
    }
    if isinstance(doc.get("url"), str) and handle:
        doc["url"] = doc["url"].replace(handle.lstrip("@"), marker.lstrip("@"))
    return doc


def suppress_documents(kind: str, suppressed: Suppressed) -> Callable[[Any], Any]:
    """A map over feedback ``reviews`` or ``mentions`` documents (one or a page)."""
    erase = _erase_review if kind == "reviews" else _erase_mention

    def step(item: Any) -> Any:
        if isinstance(item, dict):
            return erase(item, suppressed)
        return [erase(doc, suppressed) if isinstance(doc, dict) else doc for doc in item]

    return step


def apply_suppression(source: Any, warehouse: Path) -> Any:
    """Hook the suppression list into a source's resources that carry personal data (POS
    ``customers``, feedback ``reviews`` and ``mentions``), as the first step after the
    extraction; a source without them, or an empty list, is left as it is."""
    suppressed = read_suppressed(warehouse)
    if not suppressed:
        return source
    steps = {
        "customers": suppress_customers(suppressed),
        "reviews": suppress_documents("reviews", suppressed),
        "mentions": suppress_documents("mentions", suppressed),
    }
    for name, resource in source.resources.items():
        if name in steps:
            resource.add_map(steps[name], insert_at=1)
    return source
