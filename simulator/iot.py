"""The stores' kitchen devices: sensors that publish telemetry over MQTT, day by day.

Every store has four devices: the walk-in fridge (``<store>-walkin``) and the prep-table
fridge (``<store>-prep``), kept at 3 °C; the freezer (``<store>-freezer``) at -19 °C; the
pizza oven (``<store>-oven``). Each publishes a reading every ``interval_seconds`` of
simulated time (default :data:`DEFAULT_INTERVAL_SECONDS`) to the topic
``mypizza/<store>/<device>/telemetry``, a JSON payload::

    {"device_id": "mil01-walkin", "kind": "fridge", "boot": 2, "seq": 1234,
     "ts": "2026-04-10T12:34:56.789Z", "temperature_c": 3.21, "door_open": false}

(ovens add ``power_w`` and ``pizzas_baked``, the pizzas that went in since the last
reading, from the POS's orders). ``boot`` counts the device's starts, ``seq`` its readings
since the last start: (device_id, boot, seq) names a reading for good.

What happens in a kitchen (the incidents, logged as ground truth):

- a fridge door left open: the temperature climbs towards the kitchen's 20 °C within
  minutes and falls back when it is shut (``door_left_open``; a short one, ``door_ajar``,
  stays under the 15 minutes a cold-chain excursion needs);
- a compressor failure: a fridge or the freezer warms for hours until the repair
  (``compressor_failure``);
- the oven heats up before opening, holds its heat through service, idles in the quiet
  afternoon hours and is switched off at closing (``oven_preheat``, ``oven_idle``).

What goes wrong with the devices (the faults, logged too): dropouts (readings never sent,
a gap in ``seq``), a stuck sensor (the same value again and again), spikes (a DS18B20's
85.0 or -127.0 °C), clock drift (up to :data:`MAX_DRIFT_SECONDS` a day, corrected at
03:00 UTC), a reboot (``boot`` goes up, ``seq`` starts again at 0), duplicates and
out-of-order delivery, and now and then a malformed payload instead of a reading. Faults
are kept away from the incidents, so the ground truth says exactly which cold-chain
excursions the readings show.

The devices do not publish by themselves: :func:`record_day` writes what they would
publish into the world's outbox (``<world>/iot/outbox/<day>.mqtt``, one ``topic<TAB>payload``
line per message, in publishing order) and the day's ground truth into
``<world>/iot/truth/<day>.json``. :func:`publish_outbox` sends the days not yet published
to an MQTT broker (QoS 1, every PUBACK awaited before a day counts as published, so a crash
publishes that day again: at least once). :func:`serve_broker` runs a broker, Debian's
mosquitto, on 127.0.0.1 with the repository's ``simulator/mosquitto.conf``.

A world records its devices' settings in ``world.json`` (``iot``): the reading interval and
the first day with devices. A new world gets devices for its last :data:`DEFAULT_DAYS`
days (``MYPIZZA_IOT_DAYS``), so the default world stays quick to load; every day it is
advanced by is recorded. ``MYPIZZA_IOT_INTERVAL_SECONDS`` sets a new world's interval.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import hashlib
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from simulator.catalog import holiday_factor
from simulator.pos.generate import CLOSE_HOUR, OPEN_HOUR, StoreContext
from simulator.randomness import hash01, rng_for

IOT_DIR = "iot"
DEFAULT_INTERVAL_SECONDS = 120
DEFAULT_DAYS = 5
CHILLED_LIMIT_C = 5.0  # a fridge above this ...
FROZEN_LIMIT_C = -15.0  # ... or a freezer above this
EXCURSION_MINUTES = 15  # ... for this long is a cold-chain excursion
MAX_DRIFT_SECONDS = 12.0
KITCHEN_C = 20.0
TOPIC_FILTER = "mypizza/+/+/telemetry"

# incident and fault rates, per device and day (cold devices unless said otherwise)
COMPRESSOR_RATE = 0.035
DOOR_LEFT_OPEN_RATE = 0.08  # fridges
DOOR_AJAR_RATE = 0.2  # fridges
DROPOUT_RATE = 0.35  # every device
STUCK_RATE = 0.06
SPIKES_PER_DAY = 0.6
REBOOT_RATE = 0.05  # every device
MALFORMED_RATE = 0.0008  # per message, every device
DUPLICATE_RATE = 0.003  # per message, every device
SWAP_RATE = 0.003  # per message: sent after the next one


@dataclass(frozen=True)
class Device:
    """One kitchen device of a store."""

    store_code: str
    role: str  # walkin | prep | freezer | oven
    kind: str  # fridge | freezer | oven
    setpoint_c: float

    @property
    def device_id(self) -> str:
        return f"{self.store_code}-{self.role}"

    @property
    def topic(self) -> str:
        return f"mypizza/{self.store_code}/{self.device_id}/telemetry"

    @property
    def limit_c(self) -> float | None:
        """The cold-chain limit of a fridge or freezer; None for an oven."""
        return {"fridge": CHILLED_LIMIT_C, "freezer": FROZEN_LIMIT_C}.get(self.kind)


ROLES = (("walkin", "fridge", 3.0), ("prep", "fridge", 3.0), ("freezer", "freezer", -19.0))
ROLES += (("oven", "oven", 400.0),)


def devices_for(store_codes: list[str]) -> list[Device]:
    """The devices of a world's stores, store by store."""
    return [Device(code, role, kind, sp) for code in store_codes for role, kind, sp in ROLES]


@dataclass(frozen=True)
class IotSettings:
    """A world's device settings (``world.json``, key ``iot``)."""

    first_day: date
    interval_seconds: int

    def to_json(self) -> dict:
        return {"first_day": self.first_day.isoformat(), "interval_seconds": self.interval_seconds}

    @classmethod
    def from_json(cls, body: dict) -> IotSettings:
        return cls(date.fromisoformat(body["first_day"]), int(body["interval_seconds"]))


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"{name}={value!r} is not a whole number") from error


def configure(extra: dict, start: date, first_new_day: date, days: int, created: bool) -> None:
    """Record the devices' settings in a world's ``extra`` (world.json) once: a new world
    has devices for its last ``MYPIZZA_IOT_DAYS`` days; an older world without devices
    gets them from the next day it simulates."""
    if "iot" in extra:
        return
    interval = _env_int("MYPIZZA_IOT_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS)
    if interval <= 0 or 86400 % interval:
        raise ValueError(
            f"MYPIZZA_IOT_INTERVAL_SECONDS={interval}: the reading interval must divide a day "
            "(86400 s) evenly, e.g. 5, 30, 60, 120, 300"
        )
    keep = _env_int("MYPIZZA_IOT_DAYS", DEFAULT_DAYS)
    if created:
        first = max(start, first_new_day + timedelta(days=max(days - keep, 0)))
    else:
        first = first_new_day
    extra["iot"] = IotSettings(first, interval).to_json()


def settings_of(extra: dict) -> IotSettings | None:
    return IotSettings.from_json(extra["iot"]) if "iot" in extra else None


def iot_dir(world_dir: Path) -> Path:
    return Path(world_dir) / IOT_DIR


def outbox_path(world_dir: Path, day: date) -> Path:
    return iot_dir(world_dir) / "outbox" / f"{day.isoformat()}.mqtt"


def truth_path(world_dir: Path, day: date) -> Path:
    return iot_dir(world_dir) / "truth" / f"{day.isoformat()}.json"


# ------------------------------------------------------------------ a device's day
@dataclass
class Window:
    start: int  # seconds after 00:00 UTC of the day
    end: int

    def overlaps(self, other: Window, margin: int = 0) -> bool:
        return self.start < other.end + margin and other.start < self.end + margin


@dataclass
class Incident:
    type: str
    start: int
    end: int  # when the cause ended (door shut, compressor repaired)


def _incident(seed: int, device: Device, day: date) -> Incident | None:
    """At most one incident per cold device and day, from its own random stream."""
    if device.kind == "oven":
        return None
    rng = rng_for(seed, "iot-incident", device.device_id, day)
    u = rng.random()
    if u < COMPRESSOR_RATE:
        start = rng.randrange(2 * 3600, 16 * 3600)
        return Incident("compressor_failure", start, start + rng.randrange(3600, 4 * 3600))
    u -= COMPRESSOR_RATE
    if device.kind == "fridge" and u < DOOR_LEFT_OPEN_RATE:
        start = rng.randrange(7 * 3600, 17 * 3600)
        return Incident("door_left_open", start, start + rng.randrange(15 * 60, 40 * 60))
    u -= DOOR_LEFT_OPEN_RATE
    if device.kind == "fridge" and u < DOOR_AJAR_RATE:
        start = rng.randrange(7 * 3600, 20 * 3600)
        return Incident("door_ajar", start, start + rng.randrange(4 * 60, 6 * 60))
    return None


def _protected(incident: Incident | None) -> Window | None:
    """The window faults keep away from: the incident and its recovery, with a margin."""
    if incident is None:
        return None
    return Window(incident.start - 1800, incident.end + 2 * 3600)


def _reboot(seed: int, device: Device, day: date) -> Window | None:
    """A reboot: the device is down from ``start`` to ``end``, then counts a new boot."""
    rng = rng_for(seed, "iot-reboot", device.device_id, day)
    if rng.random() >= REBOOT_RATE:
        return None
    start = rng.randrange(600, 86400 - 3600)
    window = Window(start, start + rng.randrange(60, 180))
    guard = _protected(_incident(seed, device, day))
    return None if guard and window.overlaps(guard) else window


def _boot_state(seed: int, device: Device, settings: IotSettings, day: date) -> tuple[int, int]:
    """The device's boot number and the global index of its boot's first reading, as the
    day starts (boots counted from 1 on the first day with devices)."""
    per_day = 86400 // settings.interval_seconds
    boot, first_index = 1, 0
    d = settings.first_day
    while d < day:
        window = _reboot(seed, device, d)
        if window is not None:
            boot += 1
            offset = (d - settings.first_day).days * per_day
            first_index = offset + -(-window.end // settings.interval_seconds)
        d += timedelta(days=1)
    return boot, first_index


def _drift(seed: int, device: Device, t: int) -> float:
    """The device clock's error at ``t`` seconds of the day: a steady rate, set right at
    03:00 UTC every day by NTP."""
    rate = (hash01(seed, "iot-drift", device.device_id) * 2 - 1) * MAX_DRIFT_SECONDS
    return rate * (((t - 3 * 3600) % 86400) / 86400)


def _cold_curve(device: Device, incident: Incident | None, t: float) -> float:
    """The true temperature of a fridge or freezer at ``t`` seconds (no noise)."""
    base = device.setpoint_c
    if incident is None or t < incident.start:
        return base
    if incident.type == "compressor_failure":
        tau_up, tau_down = (90 if device.kind == "fridge" else 120) * 60.0, 12 * 60.0
    else:
        tau_up, tau_down = 25 * 60.0, 10 * 60.0
    rise = lambda s: base + (KITCHEN_C - base) * (1 - math.exp(-s / tau_up))  # noqa: E731
    if t <= incident.end:
        return rise(t - incident.start)
    peak = rise(incident.end - incident.start)
    return base + (peak - base) * math.exp(-(t - incident.end) / tau_down)


@dataclass
class Reading:
    t: int  # true seconds after 00:00 UTC
    temperature: float
    door_open: bool | None = None
    power_w: int | None = None
    pizzas: int | None = None


def _cold_readings(seed: int, device: Device, day: date, interval: int) -> list[Reading]:
    incident = _incident(seed, device, day)
    rng = rng_for(seed, "iot-noise", device.device_id, day)
    phase = hash01(seed, "iot-phase", device.device_id) * 2 * math.pi
    readings = []
    for t in range(0, 86400, interval):
        cycle = 0.3 * math.sin(2 * math.pi * t / 2400 + phase)  # the compressor's cycle
        value = _cold_curve(device, incident, t) + cycle + rng.gauss(0, 0.05)
        door = bool(
            incident is not None
            and incident.type.startswith("door")
            and incident.start <= t <= incident.end
        )
        service = not door and device.role == "prep" and 10 * 3600 <= t <= 21 * 3600
        if service and rng.random() < 0.12:  # opened during service: a breath of warm air
            door, value = True, value + 0.6
        readings.append(Reading(t, round(value, 2), door_open=door))
    return readings


def _local_seconds(zone: ZoneInfo, day: date, hour: float) -> int:
    local = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(hours=hour)
    utc = local.astimezone(UTC)
    return int((utc.replace(tzinfo=None) - datetime(day.year, day.month, day.day)).total_seconds())


def _oven_readings(
    seed: int,
    device: Device,
    day: date,
    interval: int,
    zone: ZoneInfo,
    country: str,
    pizza_times: list[int],
    events: list[dict],
) -> list[Reading]:
    """The oven: preheated before opening, held hot through service, idling in the quiet
    afternoon, off after closing; pizzas baked from the POS's orders."""
    rng = rng_for(seed, "iot-oven", device.device_id, day)
    ambient = 24.0
    is_open = holiday_factor(day, country) > 0
    prev_open = holiday_factor(day - timedelta(days=1), country) > 0
    on = _local_seconds(zone, day, OPEN_HOUR - 0.5 - rng.random() * 0.25) if is_open else None
    off = _local_seconds(zone, day, CLOSE_HOUR + 0.25) if is_open else None
    idle = (_local_seconds(zone, day, 15.0), _local_seconds(zone, day, 17.5)) if is_open else None
    if is_open:
        events.append({"type": "oven_preheat", "device_id": device.device_id, "at": on})
        events.append(
            {"type": "oven_idle", "device_id": device.device_id, "start": idle[0], "end": idle[1]}
        )
    # warm from last night's service
    temp = ambient
    if prev_open:
        prev_off = _local_seconds(zone, day - timedelta(days=1), CLOSE_HOUR + 0.25) - 86400
        temp = ambient + (device.setpoint_c - ambient) * math.exp(prev_off / (40 * 60.0))
    baked = sorted(pizza_times)
    i = 0
    readings = []
    for t in range(0, 86400, interval):
        n = 0
        while i < len(baked) and baked[i] <= t:
            n, i = n + 1, i + 1
        if on is not None and on <= t < off:
            quiet = idle[0] <= t < idle[1] and n == 0
            target = 300.0 if quiet else device.setpoint_c
            heating = temp < target - 15
            power = 9000 if heating else (1500 if quiet else 3500 + 600 * n)
            power = int(power + rng.gauss(0, 120))
        else:
            target, power = ambient, 0
        tau = (10 if target > temp else 40) * 60.0
        temp = target + (temp - target) * math.exp(-interval / tau)
        value = round(temp + rng.gauss(0, 1.5 if power else 0.1), 2)
        readings.append(Reading(t, value, power_w=max(power, 0), pizzas=n))
    return readings


def _excursions(device: Device, readings: list[Reading], interval: int) -> list[dict]:
    """Runs of readings above the device's limit lasting EXCURSION_MINUTES or more: start
    (the first reading above), end (the first reading back at or under the limit), peak."""
    limit = device.limit_c
    found, run = [], []
    for r in [*readings, None]:
        if r is not None and r.temperature > limit:
            run.append(r)
            continue
        if run:
            end = r.t if r is not None else run[-1].t + interval
            if end - run[0].t >= EXCURSION_MINUTES * 60:
                found.append(
                    {
                        "start": run[0].t,
                        "end": end,
                        "peak_c": max(x.temperature for x in run),
                        "minutes": (end - run[0].t) / 60,
                    }
                )
            run = []
    return found


@dataclass
class DayOutput:
    messages: list[tuple[int, str, bytes]] = field(default_factory=list)  # (order, topic, body)
    truth: dict = field(default_factory=dict)


def _stamp(day: date, seconds: float) -> str:
    moment = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def device_day(
    seed: int,
    device: Device,
    day: date,
    settings: IotSettings,
    zone: ZoneInfo,
    country: str,
    pizza_times: list[int],
) -> tuple[list[tuple[int, bytes]], dict]:
    """One device's messages of a day (publish time, payload) and its ground truth."""
    interval = settings.interval_seconds
    events: list[dict] = []
    if device.kind == "oven":
        readings = _oven_readings(seed, device, day, interval, zone, country, pizza_times, events)
    else:
        readings = _cold_readings(seed, device, day, interval)
    incident = _incident(seed, device, day)
    guard = _protected(incident)
    truth: dict = {"device_id": device.device_id, "store_code": device.store_code}
    truth["kind"] = device.kind
    if incident is not None:
        truth["incident"] = {
            "type": incident.type,
            "start": incident.start,
            "end": incident.end,
            "excursions": _excursions(device, readings, interval),
        }
    truth["events"] = events

    rng = rng_for(seed, "iot-faults", device.device_id, day)
    faults: list[dict] = []

    def free(window: Window) -> bool:
        return guard is None or not window.overlaps(guard)

    dropped: set[int] = set()
    if rng.random() < DROPOUT_RATE:
        start = rng.randrange(0, 86400 - 3600)
        w = Window(start, start + rng.randrange(5 * 60, 45 * 60))
        if free(w):
            faults.append({"type": "dropout", "start": w.start, "end": w.end})
            dropped |= {r.t for r in readings if w.start <= r.t < w.end}
    stuck: Window | None = None
    if device.kind != "oven" and rng.random() < STUCK_RATE:
        start = rng.randrange(0, 86400 - 2 * 3600)
        w = Window(start, start + rng.randrange(30 * 60, 90 * 60))
        if free(w):
            stuck = w
            faults.append({"type": "stuck", "start": w.start, "end": w.end})
    spikes: dict[int, float] = {}
    if device.kind != "oven":
        for _ in range(_poisson_small(rng, SPIKES_PER_DAY)):
            t = rng.randrange(0, 86400 // interval) * interval
            if free(Window(t - 2 * interval, t + 2 * interval)) and t not in dropped:
                spikes[t] = rng.choice((85.0, -127.0))
                faults.append({"type": "spike", "start": t, "value": spikes[t]})
    reboot = _reboot(seed, device, day)
    if reboot is not None:
        faults.append({"type": "reboot", "start": reboot.start, "end": reboot.end})

    boot, first_index = _boot_state(seed, device, settings, day)
    day_index = (day - settings.first_day).days * (86400 // interval)
    messages: list[tuple[int, bytes]] = []
    held = None
    rebooted = False
    for r in readings:
        if reboot is not None and reboot.start <= r.t < reboot.end:
            continue  # the device is down: no reading, no sequence number
        if reboot is not None and r.t >= reboot.end and not rebooted:
            boot, first_index, rebooted = boot + 1, day_index + r.t // interval, True
        seq = day_index + r.t // interval - first_index
        temperature = r.temperature
        if stuck is not None and stuck.start <= r.t < stuck.end:
            held = temperature if held is None else held
            temperature = held
        if r.t in spikes:
            temperature = spikes[r.t]
        if r.t in dropped:
            continue
        device_time = r.t + _drift(seed, device, r.t)
        body = {
            "device_id": device.device_id,
            "kind": device.kind,
            "boot": boot,
            "seq": seq,
            "ts": _stamp(day, device_time),
            "temperature_c": temperature,
        }
        if r.door_open is not None:
            body["door_open"] = r.door_open
        if r.power_w is not None:
            body["power_w"] = r.power_w
            body["pizzas_baked"] = r.pizzas
        payload = json.dumps(body, separators=(",", ":")).encode()
        in_guard = guard is not None and guard.start <= r.t <= guard.end
        if not in_guard and rng.random() < MALFORMED_RATE:
            payload = _malform(rng, body, payload)
            faults.append({"type": "malformed", "start": r.t, "payload": payload.decode("latin-1")})
        messages.append((r.t, payload))
        if rng.random() < DUPLICATE_RATE:
            messages.append((r.t + 1, payload))
            faults.append({"type": "duplicate", "start": r.t})
    truth["faults"] = faults
    truth["boot_at_end"] = boot
    return messages, truth


def _poisson_small(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _malform(rng: random.Random, body: dict, payload: bytes) -> bytes:
    """A payload a device garbled: cut off, a broken value, or bytes that are not UTF-8."""
    how = rng.randrange(3)
    if how == 0:
        return payload[: len(payload) // 2]
    if how == 1:
        return json.dumps({**body, "temperature_c": "ERR"}, separators=(",", ":")).encode()
    return b"\xff\xfe" + payload[2:]


def pizza_times_by_store(changes: object, state: object, contexts: list[StoreContext], day: date):
    """Seconds after 00:00 UTC of ``day`` at which each store's pizzas went into the oven
    (a few minutes after the order), from the day's POS inserts."""
    skus = {p.product_id: p.sku for p in getattr(state, "products", [])}
    code_of = {c.store_id: c.store.code for c in contexts}
    orders = {}
    for row in getattr(changes, "inserts", {}).get("orders", []):
        if row.get("status") == "voided":
            continue
        orders[row["order_id"]] = row
    midnight = datetime(day.year, day.month, day.day)
    times: dict[str, list[int]] = {c.store.code: [] for c in contexts}
    for item in getattr(changes, "inserts", {}).get("order_items", []):
        order = orders.get(item["order_id"])
        if (
            order is None
            or item.get("is_voided")
            or not skus.get(item["product_id"], "").startswith("PZ-")
        ):
            continue
        at = int((order["ordered_at"] - midnight).total_seconds()) + 240
        code = code_of.get(order["store_id"])
        if code is not None and 0 <= at < 86400:
            times[code].extend([at] * int(item["quantity"]))
    return times


def record_day(
    world_dir: Path,
    seed: int,
    extra: dict,
    day: date,
    contexts: list[StoreContext],
    changes: object = None,
    state: object = None,
) -> int:
    """Write the day's device messages to the outbox and its ground truth; returns the
    number of messages (0 before the first day with devices)."""
    settings = settings_of(extra)
    if settings is None or day < settings.first_day:
        return 0
    pizzas = pizza_times_by_store(changes, state, contexts, day)
    all_messages: list[tuple[int, int, str, bytes]] = []
    devices_truth = []
    for n, ctx in enumerate(contexts):
        for k, device in enumerate(devices_for([ctx.store.code])):
            messages, truth = device_day(
                seed,
                device,
                day,
                settings,
                ctx.zone,
                ctx.store.country,
                pizzas.get(ctx.store.code, []),
            )
            order = n * 8 + k
            all_messages += [(t, order, device.topic, p) for t, p in messages]
            devices_truth.append(truth)
    all_messages.sort(key=lambda m: (m[0], m[1]))
    rng = rng_for(seed, "iot-order", day)
    i = 0
    while i < len(all_messages) - 1:  # now and then one is overtaken by the next
        if rng.random() < SWAP_RATE:
            all_messages[i], all_messages[i + 1] = all_messages[i + 1], all_messages[i]
            i += 1
        i += 1
    out = outbox_path(world_dir, day)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as f:
        for _, _, topic, payload in all_messages:
            f.write(topic.encode() + b"\t" + payload + b"\n")
    os.replace(tmp, out)
    truth = {
        "day": day.isoformat(),
        "interval_seconds": settings.interval_seconds,
        "messages": len(all_messages),
        "devices": devices_truth,
    }
    tpath = truth_path(world_dir, day)
    tpath.parent.mkdir(parents=True, exist_ok=True)
    tpath.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return len(all_messages)


# ------------------------------------------------------------------ reading the truth back
def ground_truth(world_dir: Path) -> list[dict]:
    """Every incident of the world's devices, one dict per incident, times as UTC
    datetimes: device_id, store_code, kind, type, started_at, ended_at and its
    ``excursions`` (start, end, peak_c, minutes)."""
    found = []
    for path in sorted((iot_dir(world_dir) / "truth").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        day = date.fromisoformat(body["day"])
        midnight = datetime(day.year, day.month, day.day)
        for dev in body["devices"]:
            incident = dev.get("incident")
            if not incident:
                continue
            found.append(
                {
                    "device_id": dev["device_id"],
                    "store_code": dev["store_code"],
                    "kind": dev["kind"],
                    "type": incident["type"],
                    "started_at": midnight + timedelta(seconds=incident["start"]),
                    "ended_at": midnight + timedelta(seconds=incident["end"]),
                    "excursions": [
                        {
                            **x,
                            "start": midnight + timedelta(seconds=x["start"]),
                            "end": midnight + timedelta(seconds=x["end"]),
                        }
                        for x in incident["excursions"]
                    ],
                }
            )
    return found


def truth_days(world_dir: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((iot_dir(world_dir) / "truth").glob("*.json"))
    ]


def outbox_days(world_dir: Path) -> list[date]:
    return sorted(
        date.fromisoformat(p.stem) for p in (iot_dir(world_dir) / "outbox").glob("*.mqtt")
    )


def read_outbox(world_dir: Path, day: date) -> list[tuple[str, bytes]]:
    """The day's messages, in publishing order: (topic, payload)."""
    messages = []
    with outbox_path(world_dir, day).open("rb") as f:
        for line in f:
            topic, _, payload = line.rstrip(b"\n").partition(b"\t")
            messages.append((topic.decode(), payload))
    return messages


# ------------------------------------------------------------------ the world's broker
BROKER_CONF = Path(__file__).with_name("mosquitto.conf")


class BrokerError(RuntimeError):
    """The world's MQTT broker could not be started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to send SIGTERM to this child (the broker, a publisher) when the process that
    started it dies, so a killed `mypizza` leaves neither behind (and mosquitto saves its
    sessions on SIGTERM)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Broker:
    """A running mosquitto: its address, folder and process."""

    host: str
    port: int
    folder: Path
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop it the way an operator does (SIGTERM): it saves its sessions first."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found:
        raise BrokerError(
            "mosquitto (the MQTT broker of the simulated kitchens) is not installed: run "
            "`make setup-mqtt` (Debian's mosquitto package), or point the iot source at a "
            "broker with SOURCES__IOT__HOST and SOURCES__IOT__PORT."
        )
    return found


def start_broker(folder: Path, port: int | None = None) -> Broker:
    """Start mosquitto on 127.0.0.1 with the repository's config (simulator/mosquitto.conf)
    and its persistence in ``folder``; returns once it accepts connections."""
    binary = mosquitto_binary()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = folder / "mosquitto.conf"
    text = BROKER_CONF.read_text(encoding="utf-8")
    text = text.replace("@PORT@", str(port)).replace("@FOLDER@", str(folder) + "/")
    text = text.replace("@USER@", getpass.getuser())
    conf.write_text(text, encoding="utf-8")
    log = (folder / "mosquitto.log").open("ab")
    process = subprocess.Popen(
        [binary, "-c", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (folder / "mosquitto.log").read_text(errors="replace")[-2000:]
            raise BrokerError(f"mosquitto stopped at start (exit {process.returncode}):\n{tail}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Broker("127.0.0.1", port, folder, process)
        time.sleep(0.05)
    process.kill()
    raise BrokerError(f"mosquitto did not accept connections on 127.0.0.1:{port} within 15 s")


@contextlib.contextmanager
def serve_broker(folder: Path) -> Iterator[Broker]:
    """A broker for as long as the block runs; its sessions persist in ``folder`` across
    restarts."""
    broker = start_broker(folder)
    try:
        yield broker
    finally:
        broker.stop()


# ------------------------------------------------------------------ publishing
PUBLISHED_FILE = "published.json"


def published_days(state_dir: Path) -> dict[str, str]:
    """Outbox days this broker has had: day -> md5 of the day's outbox file."""
    path = Path(state_dir) / PUBLISHED_FILE
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8"))["days"])


def _mark_published(state_dir: Path, days: dict[str, str]) -> None:
    path = Path(state_dir) / PUBLISHED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"days": dict(sorted(days.items()))}, indent=1) + "\n", "utf-8")
    os.replace(tmp, path)


def _digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


class Publisher:
    """A paho client publishing QoS 1 with backpressure: at most ``window`` messages
    unacknowledged, every PUBACK awaited by :meth:`flush`."""

    def __init__(self, host: str, port: int, client_id: str = "", window: int = 2000) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        # the window below is the only limit: with a limit of its own, paho walks every
        # message in flight on each acknowledgement (2,700 msg/s at 2,000; 8,400 without)
        self.client.max_inflight_messages_set(0)
        self.window = window
        self.pending = 0
        self.waiting = False
        self.cond = threading.Condition()
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not connected.wait(timeout=30):
            self.close()
            raise BrokerError(f"the broker at {host}:{port} did not answer (30 s)")

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self.cond:
            self.pending -= 1
            # wake the publishing thread only once half the window is free (or all of it,
            # for flush): a wake-up per acknowledgement costs a thread switch per message
            if self.waiting and self.pending <= self.window // 2:
                self.cond.notify_all()

    def publish(self, topic: str, payload: bytes) -> None:
        with self.cond:
            while self.pending >= self.window:
                self.waiting = True
                woken = self.cond.wait(timeout=30)
                self.waiting = False
                if not woken:
                    raise BrokerError("the broker stopped acknowledging messages (30 s)")
            self.pending += 1
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != 0:
            raise BrokerError(f"publishing to {topic} failed (paho rc {info.rc})")

    def flush(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.pending > 0:
                left = deadline - time.monotonic()
                if left <= 0 or not self.client.is_connected():
                    raise BrokerError(f"{self.pending} messages were not acknowledged")
                self.waiting = True
                self.cond.wait(timeout=min(left, 1))
                self.waiting = False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _unpublished(world_dir: Path, state_dir: Path) -> dict[date, str]:
    """Outbox days this broker has not had, or had with other content (a world simulated
    afresh): day -> md5 of its outbox file."""
    done = published_days(state_dir)
    digests = {d: _digest(outbox_path(world_dir, d)) for d in outbox_days(world_dir)}
    return {d: digest for d, digest in digests.items() if done.get(d.isoformat()) != digest}


def publish_outbox(world_dir: Path, host: str, port: int, state_dir: Path) -> int:
    """Publish every outbox day not yet published to this broker (QoS 1); a day counts as
    published (``<state_dir>/published.json``, beside the broker's own state) once the
    broker acknowledged all its messages. Returns the messages published."""
    return _publish_days(world_dir, host, port, state_dir, _unpublished(world_dir, state_dir))


def _publish_days(
    world_dir: Path, host: str, port: int, state_dir: Path, digests: dict[date, str]
) -> int:
    """Publish these outbox days (day -> md5 of its file, from :func:`_unpublished`)."""
    if not digests:
        return 0
    done = published_days(state_dir)
    sent = 0
    publisher = Publisher(host, port)
    try:
        for day in sorted(digests):
            for topic, payload in read_outbox(world_dir, day):
                publisher.publish(topic, payload)
                sent += 1
            publisher.flush()
            done[day.isoformat()] = digests[day]
            _mark_published(state_dir, done)
    finally:
        publisher.close()
    return sent


def publish_outbox_apart(world_dir: Path, host: str, port: int, state_dir: Path) -> int:
    """:func:`publish_outbox` from a process of its own, when there is anything to publish.

    A night loads its sources from threads of one process, which share one interpreter lock:
    publishing a medium world's day (57,000 messages) from one of them took ~19 s beside the
    other loads, against ~7 s alone, and the IoT load waits for it. The child dies with this
    process (a killed `mypizza` leaves no publisher behind); its errors are raised here."""
    digests = _unpublished(world_dir, state_dir)
    if not digests:
        return 0
    context = multiprocessing.get_context("spawn")  # no copy of the loaders' threads and locks
    with ProcessPoolExecutor(1, mp_context=context, initializer=_die_with_parent) as child:
        return child.submit(_publish_days, world_dir, host, port, state_dir, digests).result()
