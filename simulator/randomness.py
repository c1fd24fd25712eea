"""Seeded randomness and the local clock, shared by every part of the simulated world (the
POS, the inventory systems, the feedback platform).

Every draw comes from a generator (or a number) fixed by the world seed and the parts that
name its purpose, e.g. ``rng_for(seed, store, day, "reviews")``: a day comes out the same
whether the world is simulated in one go or advanced a day at a time, in any process.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator seeded by the world seed and ``parts`` (stable across processes)."""
    return random.Random("|".join(map(str, (seed, *parts))))


def hash01(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by the world seed and ``parts``."""
    key = "|".join(map(str, (seed, *parts))).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (normal approximation for large means)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def local_to_utc(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """Naive UTC datetime of ``seconds`` after local midnight of ``day`` in ``zone``."""
    local = datetime.combine(day, time(), tzinfo=zone) + timedelta(seconds=seconds)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
