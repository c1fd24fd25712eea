"""The feedback platform of the simulated world: reviews and social mentions of the stores.

An external platform (think of a review site with a social listening add-on) keeps one JSON
document per review and per mention; :mod:`simulator.feedback_api` serves them over HTTP.
Here the documents are written to a small SQLite file, ``<world>/feedback/feedback.sqlite``
(one row per document: its id, its ``updated_at`` and the document itself), one transaction
per simulated day, by :func:`record_day`:

1. reviews of the last 30 days live on: a store replies (sooner to bad reviews), a reviewer
   edits the review (more often after a reply to a poor one: the rating goes up and an
   "Update: ..." is appended; the old version moves to ``edit_history``);
2. yesterday's mentions get their final likes, shares and comments;
3. new reviews, consistent with the day's POS orders: about 6% of online orders
   (``web``, ``delivery_app``) are reviewed with their ``order_id`` and products, about
   1.2% of counter orders without (and with the product only sometimes); late deliveries,
   refunds, weak products and weak stores make for worse ratings and complaint tags;
4. new social mentions of each trading store.

Every document written on day D is stamped between 06:00 UTC of D and 06:00 UTC of D + 1
(new reviews and mentions before the store's local midnight), later than anything written
before, so a reader asking for ``updated_since`` its last value misses nothing. Every
random draw is seeded by (world seed, store, day, purpose) or (world seed, purpose, id),
and the state a day needs is read back from the file, so a world gives the same documents
whether it is simulated in one go or a day at a time. Reviewer names and e-mails and
mention authors are PII; a reviewer who is a loyalty customer uses their POS e-mail.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path

from simulator import people
from simulator.feedback_phrases import COLD_EMOJI, EMOJI, LANGUAGES, PHRASES
from simulator.pos.generate import (
    WEEKDAY,
    DayChanges,
    PosState,
    ProductState,
    StoreContext,
    refund_day,
)
from simulator.randomness import hash01, poisson, rng_for

FEEDBACK_DIR = "feedback"
FEEDBACK_FILE = "feedback.sqlite"
KINDS = ("reviews", "mentions")

# ---------------------------------------------------------------- knobs of the platform
ONLINE = ("web", "delivery_app")
ONLINE_REVIEW_RATE = 0.06  # share of online orders reviewed (with their order id)
COUNTER_REVIEW_RATE = 0.012  # share of walk-in and phone orders reviewed (no order id)
COUNTER_PRODUCT_RATE = 0.6  # a counter review names the product it is about
LATE_MINUTES, FAST_MINUTES = 52, 32  # delivery time (order to door) that reads late / fast
LIVE_DAYS = 30  # reviews older than this are no longer replied to or edited
REPLY_WITHIN_DAYS = 10  # stores reply within this many days, or never
REPLY_RATE = {1: 0.6, 2: 0.6, 3: 0.4, 4: 0.1, 5: 0.1}  # per day, times the store's care
EDIT_AFTER_REPLY_RATE = 0.1  # per day, in the 3 days after a store answers a poor review
EDIT_RATE = 0.002  # per day, any review: the reviewer changes their mind a little
FOLLOWUP_RATE = 0.3  # per day, the store thanks a reviewer who edited after its reply
MAX_VERSION = 3
MENTIONS_PER_DAY = 2.2  # per trading store, times the weekday factor
PLATFORMS = (("instagram", 0.45), ("x", 0.2), ("tiktok", 0.2), ("facebook", 0.15))
HASHTAGS = ("pizza", "foodie", "pizzalover", "instafood", "dinner", "italianfood")


def feedback_path(world_dir: Path) -> Path:
    """The SQLite file holding the feedback platform's documents of the world in ``world_dir``."""
    return Path(world_dir) / FEEDBACK_DIR / FEEDBACK_FILE


def iso(moment: datetime) -> str:
    """A naive UTC datetime as the platform writes it: ``2026-03-02T18:22:05Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """The naive UTC datetime of an ISO 8601 string (``Z`` or an offset, or naive UTC)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)
    return moment


_SCHEMA = """
create table if not exists {kind} (
    id text primary key,
    seq integer not null unique,
    store_code text not null,
    created_at text not null,
    updated_at text not null,
    document text not null
);
create index if not exists {kind}_by_update on {kind} (updated_at, id);
create index if not exists {kind}_by_creation on {kind} (created_at);
"""


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """A connection to a feedback file; ``read_only`` for readers such as the API."""
    if read_only:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    for kind in KINDS:
        con.executescript(_SCHEMA.format(kind=kind))
    con.execute("create table if not exists meta (key text primary key, value text not null)")
    return con


def counts(world_dir: Path) -> dict[str, int]:
    """Documents per kind in the world's feedback file (0 when there is none)."""
    path = feedback_path(world_dir)
    if not path.exists():
        return dict.fromkeys(KINDS, 0)
    con = connect(path, read_only=True)
    try:
        return {k: con.execute(f"select count(*) from {k}").fetchone()[0] for k in KINDS}
    finally:
        con.close()


# ---------------------------------------------------------------- hidden qualities
def store_quality(seed: int, code: str) -> float:
    """The star rating a store's food earns on an ordinary day, 3.1 to 4.4."""
    return 3.1 + 1.3 * hash01(seed, "store-quality", code)


def store_care(seed: int, code: str) -> float:
    """How keen a store is to answer its reviews, 0.2 to 0.9."""
    return 0.2 + 0.7 * hash01(seed, "store-care", code)


def product_quality(seed: int, sku: str) -> float:
    """How good a product is, -1 (guests complain) to 1 (guests rave); the same for every
    size of a menu item."""
    stem = sku.rsplit("-", 1)[0] if sku.count("-") > 1 else sku
    return round(2 * hash01(seed, "product-quality", stem) - 1, 2)


def _clamp(value: float) -> int:
    return max(1, min(5, round(value)))


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _language(rng, country: str) -> str:
    u = rng.random()
    if u < 0.75:
        return people.LANGUAGE[country]
    if u < 0.9:
        return "en"
    return rng.choice(LANGUAGES)


def _say(rng, language: str, key: str, **names: str) -> str:
    return rng.choice(PHRASES[language][key]).format(**names)


def _bucket(rating: int) -> str:
    return "pos" if rating >= 4 else "neu" if rating == 3 else "neg"


# ---------------------------------------------------------------- new reviews
def _delivered_at(seed: int, order: dict) -> datetime:
    """When an order reached its guest; a late delivery is completed the next morning in
    the POS, at the time :mod:`simulator.pos.generate` will give it."""
    if order["completed_at"] is not None:
        return order["completed_at"]
    rng = rng_for(seed, "deliver", order["order_id"])
    return order["ordered_at"] + timedelta(seconds=rng.randrange(1800, 4200))


def _draft_review(
    seed: int,
    day: date,
    ctx: StoreContext,
    order: dict,
    lines: list[dict],
    products: dict[int, ProductState],
    state: PosState,
) -> dict | None:
    """A review of one order, without id; None when the guest would post it after midnight."""
    rng = rng_for(seed, "review", order["order_id"])
    online = order["channel"] in ONLINE
    delivered = _delivered_at(seed, order)
    created = delivered + timedelta(minutes=15 + rng.expovariate(1 / 150))
    if created >= ctx.day_base(day + timedelta(days=1)):
        return None  # too late: the guest never got round to it

    bought = sorted({line["product_id"] for line in lines if not line["is_voided"]})
    qualities = {p: product_quality(seed, products[p].sku) for p in bought}
    food = [p for p in bought if products[p].item.category != "drink"]
    # the dish a guest writes about: the best or the worst they had
    featured = max(food, key=lambda p: (abs(qualities[p]), -p)) if food else None
    dishes = food or bought
    mean_quality = sum(qualities[p] for p in dishes) / len(dishes) if dishes else 0.0
    base = store_quality(seed, ctx.store.code)

    minutes = (delivered - order["ordered_at"]).total_seconds() / 60
    late, fast = online and minutes > LATE_MINUTES, online and minutes < FAST_MINUTES
    refunded = refund_day(seed, order["order_id"], day) is not None
    taste = _clamp(base + 0.9 * mean_quality + rng.gauss(0, 0.7))
    delivery = service = None
    if online:
        delivery = rng.choice((1, 2)) if late else _clamp(4.3 + 0.5 * fast + rng.gauss(0, 0.6))
        weight = 0.5 if late else 0.35  # a late delivery is what the guest remembers
        rating = _clamp((1 - weight) * taste + weight * delivery + rng.gauss(0, 0.35))
    else:
        service = _clamp(base + rng.gauss(0, 0.9))
        rating = _clamp(0.6 * taste + 0.4 * service + rng.gauss(0, 0.35))
    if refunded:
        rating = min(rating, rng.choice((1, 1, 2)))

    tags = []
    if late:
        tags.append("late_delivery")
        if rng.random() < 0.6:
            tags.append("cold_food")
    if fast and delivery >= 4:
        tags.append("fast_delivery")
    if taste >= 5:
        tags.append("great_taste")
    elif taste <= 2:
        tags.append("bland_taste")
    if service is not None and service >= 5:
        tags.append("friendly_staff")
    elif service is not None and service <= 2:
        tags.append(rng.choice(("rude_staff", "long_wait")))
    if refunded:
        tags.append(rng.choice(("wrong_order", "missing_item")))
    if rating >= 4 and rng.random() < 0.25:
        tags.append("good_value")
    elif rating <= 2 and rng.random() < 0.3:
        tags.append("too_expensive")

    customer = state.customers.get(order["customer_id"]) if order["customer_id"] else None
    if customer is not None:
        first, last, email = customer.first_name, customer.last_name, customer.email
    else:
        first, last = people.name(rng, ctx.store.country)
        email = people.email(rng, first, last, ctx.store.country)
    language = _language(rng, ctx.store.country)

    sentences = [_say(rng, language, f"open_{_bucket(rating)}")]
    if featured is not None:
        name = products[featured].item.name
        q = qualities[featured]
        if q > 0.15 and taste >= 4:
            sentences.append(_say(rng, language, "product_good", product=name))
        elif q < -0.15 and taste <= 3:
            sentences.append(_say(rng, language, "product_bad", product=name))
    sentences += [_say(rng, language, tag) for tag in tags if tag in PHRASES[language]]
    emoji = rng.choice(EMOJI[rating]) + (COLD_EMOJI if "cold_food" in tags else "")
    text = " ".join(sentences) + (f" {emoji}" if emoji else "")

    if online:
        product_ids = bought
    else:
        product_ids = [featured] if featured and rng.random() < COUNTER_PRODUCT_RATE else []
    return {
        "id": None,
        "store_code": ctx.store.code,
        "channel": order["channel"] if online else "in_store",
        "order_id": order["order_id"] if online else None,
        "rating": rating,
        "aspects": {"taste": taste, "delivery": delivery, "service": service},
        "language": language,
        "title": _say(rng, language, f"title_{_bucket(rating)}"),
        "text": text,
        "tags": tags,
        "product_ids": product_ids,
        "reviewer": {"name": f"{first} {last}", "email": email, "verified_buyer": online},
        "replies": [],
        "edit_history": [],
        "version": 1,
        "created_at": iso(created),
        "edited_at": None,
        "updated_at": iso(created),
    }


def _new_reviews(
    seed: int, day: date, stores: list[StoreContext], changes: DayChanges, state: PosState
) -> list[tuple[datetime, int, int, dict]]:
    lines: dict[int, list[dict]] = defaultdict(list)
    for line in changes.inserts.get("order_items", []):
        lines[line["order_id"]].append(line)
    products = {p.product_id: p for p in state.products}
    by_store: dict[int, list[dict]] = defaultdict(list)
    for order in changes.inserts.get("orders", []):
        by_store[order["store_id"]].append(order)

    drafts = []
    for index, ctx in enumerate(stores):
        rng = rng_for(seed, ctx.store.code, day, "reviews")
        for order in sorted(by_store[ctx.store_id], key=lambda o: o["order_id"]):
            u = rng.random()
            rate = ONLINE_REVIEW_RATE if order["channel"] in ONLINE else COUNTER_REVIEW_RATE
            if order["status"] == "voided" or u >= rate:
                continue
            doc = _draft_review(seed, day, ctx, order, lines[order["order_id"]], products, state)
            if doc is not None:
                drafts.append((parse_iso(doc["created_at"]), index, order["order_id"], doc))
    drafts.sort(key=lambda d: d[:3])
    return drafts


# ---------------------------------------------------------------- reviews live on
def _reply(doc: dict, number: int, text: str, at: datetime) -> dict:
    return {
        "id": f"{doc['id']}-r{number}",
        "author_role": "store_manager",
        "text": text,
        "replied_at": iso(at),
    }


def _review_life(seed: int, day: date, ctx: StoreContext, doc: dict) -> bool:
    """Replies and edits of an existing review on ``day``; True when the document changed."""
    doc_id, rating, replies = doc["id"], doc["rating"], doc["replies"]
    age = (day - date.fromisoformat(doc["created_at"][:10])).days
    last_reply = replies[-1]["replied_at"] if replies else None  # ISO strings sort as times
    edited = doc["edited_at"]

    # what happens today is decided by one uniform number per kind of event
    reply = None
    if not replies:
        rate = REPLY_RATE[rating] * store_care(seed, doc["store_code"])
        if age <= REPLY_WITHIN_DAYS and hash01(seed, "reply", doc_id, day) < rate:
            reply = "reply_sorry" if rating <= 3 else "reply_thanks"
    elif edited and edited > last_reply and hash01(seed, "follow-up", doc_id, day) < FOLLOWUP_RATE:
        reply = "reply_followup"
    edit = None
    if doc["version"] < MAX_VERSION and age <= LIVE_DAYS:
        answered = last_reply is not None and (edited is None or edited < last_reply)
        recent = answered and (day - date.fromisoformat(last_reply[:10])).days <= 3
        u = hash01(seed, "edit", doc_id, day)
        if recent and rating <= 3 and u < EDIT_AFTER_REPLY_RATE:
            edit = "update_better"
        elif u < EDIT_RATE:
            edit = "edit_note"
    if reply is None and edit is None:
        return False

    rng = rng_for(seed, "review-life", doc_id, day)
    base = ctx.day_base(day)
    first, second = sorted(
        base + timedelta(seconds=rng.randrange(9 * 3600, 22 * 3600)) for _ in "ab"
    )
    language = doc["language"]
    if reply is not None:
        replies.append(_reply(doc, len(replies) + 1, _say(rng, language, reply), first))
    if edit is not None:
        doc["edit_history"].append(
            {
                "version": doc["version"],
                "rating": rating,
                "title": doc["title"],
                "text": doc["text"],
                "written_at": edited or doc["created_at"],
                "replaced_at": iso(second),
            }
        )
        if edit == "update_better":
            doc["rating"] = min(5, rating + rng.choice((1, 2)))
        else:
            doc["rating"] = _clamp(rating + rng.choice((-1, 1)))
        doc["version"] += 1
        doc["text"] = f"{doc['text']} {_say(rng, language, edit)}"
        doc["edited_at"] = iso(second)
    doc["updated_at"] = max([r["replied_at"] for r in replies] + [doc["edited_at"] or ""])
    return True


# ---------------------------------------------------------------- mentions
def _handle(rng, first: str, last: str) -> str:
    style = rng.randrange(3)
    f, l_ = _ascii(first), _ascii(last)
    if style == 0:
        return f"@{f}.{l_}"
    if style == 1:
        return f"@{f}_{l_[:1]}{rng.randrange(10, 100)}"
    return f"@{f}{l_}"


def _new_mentions(
    seed: int, day: date, stores: list[StoreContext], trading: set[int]
) -> list[tuple[datetime, int, int, dict]]:
    names, weights = zip(*PLATFORMS, strict=True)
    drafts = []
    for index, ctx in enumerate(stores):
        if ctx.store_id not in trading:
            continue
        rng = rng_for(seed, ctx.store.code, day, "mentions")
        base, midnight = ctx.day_base(day), ctx.day_base(day + timedelta(days=1))
        mood_base = store_quality(seed, ctx.store.code) - 3.9
        for seq in range(poisson(rng, MENTIONS_PER_DAY * WEEKDAY[day.weekday()])):
            platform = rng.choices(names, weights)[0]
            first, last = people.name(rng, ctx.store.country)
            posted = min(
                base + timedelta(seconds=rng.randrange(11 * 3600, 24 * 3600)),
                midnight - timedelta(seconds=1 + seq),
            )
            mood = mood_base + rng.gauss(0, 1)
            kind = "pos" if mood > 0.3 else "neg" if mood < -0.7 else "neu"
            language = _language(rng, ctx.store.country)
            tags = ["mypizza", _ascii(ctx.store.city), *rng.sample(HASHTAGS, rng.randrange(1, 3))]
            text = _say(rng, language, f"mention_{kind}", city=ctx.store.city)
            followers = int(rng.lognormvariate(6, 1.3))
            handle = _handle(rng, first, last)
            doc = {
                "id": None,
                "platform": platform,
                "store_code": ctx.store.code,
                "url": None,
                "language": language,
                "text": text + " " + " ".join(f"#{t}" for t in tags),
                "hashtags": tags,
                "author": {
                    "handle": handle,
                    "display_name": f"{first} {last}",
                    "followers": followers,
                },
                "engagement": {
                    "likes": int(followers * rng.uniform(0.005, 0.04)),
                    "shares": rng.randrange(0, 4),
                    "comments": rng.randrange(0, 6),
                },
                "posted_at": iso(posted),
                "updated_at": iso(posted),
            }
            drafts.append((posted, index, seq, doc))
    drafts.sort(key=lambda d: d[:3])
    return drafts


def _engagement(seed: int, day: date, ctx: StoreContext, doc: dict) -> None:
    """A mention's likes, shares and comments a day after it was posted."""
    rng = rng_for(seed, "engagement", doc["id"])
    stats = doc["engagement"]
    stats["likes"] += int(stats["likes"] * rng.uniform(0.5, 3.0)) + rng.randrange(0, 5)
    stats["shares"] += rng.randrange(0, 6)
    stats["comments"] += rng.randrange(0, 8)
    at = ctx.day_base(day) + timedelta(seconds=rng.randrange(9 * 3600, 22 * 3600))
    doc["updated_at"] = iso(at)


# ---------------------------------------------------------------- one day
def _read(con: sqlite3.Connection, kind: str, since: datetime, until: datetime) -> list[dict]:
    query = f"select document from {kind} where created_at >= ? and created_at < ? order by seq"
    return [json.loads(doc) for (doc,) in con.execute(query, (iso(since), iso(until)))]


def _write(con: sqlite3.Connection, kind: str, new: list[dict], changed: list[dict]) -> None:
    """Insert new documents (their ``seq`` is the number in their id) and replace changed ones."""
    created = "created_at" if kind == "reviews" else "posted_at"
    con.executemany(
        f"insert into {kind} (id, seq, store_code, created_at, updated_at, document) "
        "values (?, ?, ?, ?, ?, ?)",
        [
            (d["id"], int(d["id"][4:]), d["store_code"], d[created], d["updated_at"], _dump(d))
            for d in new
        ],
    )
    con.executemany(
        f"update {kind} set updated_at = ?, document = ? where id = ?",
        [(d["updated_at"], _dump(d), d["id"]) for d in changed],
    )


def _dump(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def record_day(
    world_dir: Path,
    seed: int,
    day: date,
    stores: list[StoreContext],
    changes: DayChanges,
    state: PosState,
) -> dict[str, tuple[int, int]]:
    """Write business day ``day`` of the feedback platform; ``changes`` are the day's POS
    rows (order ids assigned) and ``state`` the POS state after them. Returns
    ``{kind: (inserted, updated)}``. A day already recorded (by a run interrupted before
    it committed the POS) is left alone."""
    con = connect(feedback_path(world_dir))
    try:
        done = con.execute("select value from meta where key = 'last_day'").fetchone()
        if done and date.fromisoformat(done[0]) >= day:
            return {}
        start = datetime.combine(day, time(6))
        by_code = {ctx.store.code: ctx for ctx in stores}
        result = {}

        living = _read(con, "reviews", start - timedelta(days=LIVE_DAYS + 1), start)
        changed = [d for d in living if _review_life(seed, day, by_code[d["store_code"]], d)]
        (top,) = con.execute("select coalesce(max(seq), 0) from reviews").fetchone()
        new = [doc for *_, doc in _new_reviews(seed, day, stores, changes, state)]
        for seq, doc in enumerate(new, start=top + 1):
            doc["id"] = f"rev_{seq:07d}"
        _write(con, "reviews", new, changed)
        result["reviews"] = (len(new), len(changed))

        yesterday = _read(con, "mentions", start - timedelta(days=1), start)
        for doc in yesterday:
            _engagement(seed, day, by_code[doc["store_code"]], doc)
        trading = {o["store_id"] for o in changes.inserts.get("orders", [])}
        (top,) = con.execute("select coalesce(max(seq), 0) from mentions").fetchone()
        new = [doc for *_, doc in _new_mentions(seed, day, stores, trading)]
        for seq, doc in enumerate(new, start=top + 1):
            doc["id"] = f"men_{seq:07d}"
            doc["url"] = f"https://{doc['platform']}.example/{doc['author']['handle'][1:]}/{seq}"
        _write(con, "mentions", new, yesterday)
        result["mentions"] = (len(new), len(yesterday))

        con.execute(
            "insert into meta (key, value) values ('last_day', ?) "
            "on conflict (key) do update set value = excluded.value",
            (day.isoformat(),),
        )
        con.commit()
        return result
    finally:
        con.close()
