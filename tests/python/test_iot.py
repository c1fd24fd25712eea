"""The kitchen devices over a real MQTT broker (Debian's mosquitto), into raw_iot and the iot
marts: the excursions found equal the simulator's ground truth; at-least-once delivery with
an exactly-once effect when the loader stops, is killed with SIGKILL, or the broker goes
down; malformed payloads and duplicates with their documented outcome (docs/iot.md).

Every test with a broker starts its own mosquitto on a free 127.0.0.1 port, with the
project's config (simulator/mosquitto.conf), and stops it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from support import MYPIZZA, REPO, Env

from ingestion.iot import IotBrokerError, MqttSession, mqtt_config
from ingestion.pipelines import load_iot
from simulator import iot
from simulator.iot import Publisher, start_broker


@pytest.fixture
def broker(tmp_path: Path):
    b = start_broker(tmp_path / "broker")
    yield b
    b.kill()


def config(b: iot.Broker, **extra: object) -> dict:
    return {"host": b.host, "port": b.port, "idle_timeout": 0.5, **extra}


def make_session(b: iot.Broker, **extra: object) -> None:
    """The loader's persistent session, subscribed, before anything is published."""
    MqttSession(mqtt_config(**config(b, **extra))).connect().close()


def payload(device: str, seq: int, boot: int = 1, temperature: object = 3.5) -> bytes:
    minute = seq % (24 * 60)
    body = {
        "device_id": device,
        "kind": "fridge",
        "boot": boot,
        "seq": seq,
        "ts": f"2026-04-10T{minute // 60:02d}:{minute % 60:02d}:00.000Z",
        "temperature_c": temperature,
        "door_open": False,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def topic(device: str) -> str:
    return f"mypizza/{device.split('-')[0]}/{device}/telemetry"


def publish(b: iot.Broker, messages: list[tuple[str, bytes]], rate: float | None = None) -> None:
    publisher = Publisher(b.host, b.port)
    try:
        for i, (t, p) in enumerate(messages):
            publisher.publish(t, p)
            if rate and i % 100 == 99:
                time.sleep(100 / rate)
        publisher.flush()
    finally:
        publisher.close()


def readings(warehouse: Path) -> tuple[int, int]:
    """(rows, distinct natural keys) of raw_iot.readings."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select count(*), count(distinct (device_id, boot, seq)) from raw_iot.readings"
        ).fetchone()


def synthetic(n: int, devices: int = 4) -> list[tuple[str, bytes]]:
    names = [f"tst0{d}-walkin" for d in range(devices)]
    return [
        (topic(names[i % devices]), payload(names[i % devices], i // devices)) for i in range(n)
    ]


# ------------------------------------------------------------------ the world, end to end
def test_excursions_in_the_marts_are_the_simulators_ground_truth(built_world: Env) -> None:
    interval = json.loads((built_world.world / "world.json").read_text())["iot"]["interval_seconds"]
    truth = [
        (incident["device_id"], x["start"])
        for incident in iot.ground_truth(built_world.world)
        for x in incident["excursions"]
    ]
    found = built_world.query(
        "select device_id, started_at, peak_temperature_c from marts.fct_cold_chain_excursions "
        "order by device_id, started_at",
        published=True,
    )
    assert len(truth) >= 2, f"the test world should hold a few excursions: {truth}"
    assert len(found) == len(truth), f"marts {found} != ground truth {truth}"
    for device, start in truth:
        close = [
            f for f in found if f[0] == device and abs((f[1] - start).total_seconds()) <= interval
        ]
        assert len(close) == 1, f"{device} at {start}: found {found}"
    # the short door openings (door_ajar) are incidents too, but not excursions
    ajar = [i for i in iot.ground_truth(built_world.world) if i["type"] == "door_ajar"]
    assert ajar and all(not i["excursions"] for i in ajar)


def test_every_published_reading_is_in_raw_iot_once_and_bad_ones_are_quarantined(
    built_world: Env,
) -> None:
    # straight from the devices' outbox: what a correct loader must hold
    keys, bad, sent = set(), 0, 0
    for day in iot.outbox_days(built_world.world):
        for _, body in iot.read_outbox(built_world.world, day):
            sent += 1
            try:
                doc = json.loads(body.decode("utf-8"))
                if not isinstance(doc["temperature_c"], int | float):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                bad += 1
                continue
            keys.add((doc["device_id"], doc["boot"], doc["seq"]))
    duplicates = sent - bad - len(keys)
    assert duplicates > 10 and bad > 5  # the devices did send both
    rows = built_world.query(
        "select count(*), count(distinct (device_id, boot, seq)) from raw_iot.readings"
    )[0]
    assert rows == (len(keys), len(keys))
    quarantined = built_world.query(
        "select count(*), count(distinct message_hash), count(reason) "
        "from raw_iot.quarantined_messages"
    )[0]
    assert quarantined == (bad, bad, bad)
    health = built_world.query(
        "select sum(readings_received), sum(quarantined_messages), count(*) "
        "from marts.rpt_device_health",
        published=True,
    )[0]
    assert health == (len(keys), bad, 4 * 2)


def test_spikes_and_stuck_sensors_are_flagged_as_the_simulator_injected_them(
    built_world: Env,
) -> None:
    spikes, stuck_windows = 0, 0
    for day in iot.truth_days(built_world.world):
        for dev in day["devices"]:
            spikes += sum(f["type"] == "spike" for f in dev["faults"])
            stuck_windows += sum(f["type"] == "stuck" for f in dev["faults"])
    flagged = built_world.query(
        "select sum(case when is_spike then 1 else 0 end), "
        "sum(case when is_stuck then 1 else 0 end), "
        "sum(case when temperature_c in (85.0, -127.0) then 1 else 0 end) "
        "from intermediate.int_sensor_readings_cleaned where device_kind != 'oven'"
    )[0]
    # every DS18B20 glitch value is flagged, and nothing else
    assert flagged[0] == flagged[2] > 0
    assert spikes >= flagged[0]  # a spike on a garbled or dropped reading never arrived
    assert (flagged[1] > 0) == (stuck_windows > 0)


def test_oven_utilisation_counts_the_orders_of_the_sales_marts(built_world: Env) -> None:
    by_mart = built_world.query(
        "select sum(orders), sum(pizzas_baked), sum(oven_on_minutes) "
        "from marts.rpt_oven_utilisation",
        published=True,
    )[0]
    first = date.fromisoformat(
        json.loads((built_world.world / "world.json").read_text())["iot"]["first_day"]
    )
    # orders straight from the POS database, in the days the ovens reported
    import sqlite3

    with sqlite3.connect(built_world.world / "pos.sqlite") as con:
        (orders,) = con.execute(
            "select count(*) from orders where status != 'voided' and ordered_at >= ?",
            (first.isoformat(),),
        ).fetchone()
    assert by_mart[0] == orders
    assert by_mart[1] > 0 and by_mart[2] > 0


# ------------------------------------------------------------------ at least once, exactly once
def test_loader_stopped_while_devices_publish_then_restarted_gets_every_message_once(
    broker: iot.Broker, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh" / "w.duckdb"
    make_session(broker)
    messages = synthetic(3_000)
    publishing = threading.Thread(target=publish, args=(broker, messages, 1000.0))
    publishing.start()
    time.sleep(0.5)
    # a loader that stops after 1,000 messages, while the devices go on publishing
    first = load_iot(warehouse, progress=None, **config(broker, max_messages=1000))
    publishing.join()
    assert first.rows["readings"] == 1000
    second = load_iot(warehouse, progress=None, **config(broker))
    assert second.rows.get("readings", 0) > 0
    assert readings(warehouse) == (len(messages), len(messages))
    # nothing is left in the session: a third run finds nothing
    third = load_iot(warehouse, progress=None, **config(broker))
    assert third.rows == {}


@pytest.mark.parametrize("point", ["iot:load", "iot:normalize"])
def test_loader_killed_mid_load_then_rerun_loses_and_doubles_nothing(
    broker: iot.Broker, tmp_path: Path, point: str
) -> None:
    env = Env(tmp_path)
    env.vars.update(
        {
            "SOURCES__IOT__HOST": broker.host,
            "SOURCES__IOT__PORT": str(broker.port),
            "SOURCES__IOT__BATCH_SIZE": "1000",
            "SOURCES__IOT__IDLE_TIMEOUT": "0.5",
        }
    )
    make_session(broker)
    messages = synthetic(3_000) + [(topic("tst00-walkin"), b'{"device_id": "tst00-walk')]
    publish(broker, messages)
    killed = subprocess.run(
        [MYPIZZA, "ingest", "iot"],
        cwd=REPO,
        env={**env.vars, "MYPIZZA_KILL_AT": point},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    env.mypizza("ingest", "iot")
    assert readings(env.warehouse) == (3_000, 3_000)
    assert env.query("select count(*) from raw_iot.quarantined_messages") == [(1,)]


def test_a_malformed_payload_and_a_duplicate_have_their_documented_outcome(
    broker: iot.Broker, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh" / "w.duckdb"
    make_session(broker)
    good = payload("tst01-prep", 7)
    device_topic = topic("tst01-prep")
    bad = {
        b"\xff\xfe" + good[2:]: "not UTF-8 (byte 0xff at position 0)",
        good[:40]: "malformed JSON",
        payload("tst01-prep", 8, temperature="ERR"): "field 'temperature_c' is 'ERR', not a number",
        payload("tst01-oven", 9): "device_id 'tst01-oven' is not the topic's device 'tst01-prep'",
        payload("tst01-prep", 10, boot=-1): "field 'boot' is -1",
    }
    messages = [(device_topic, good), (device_topic, good)]
    messages += [(device_topic, p) for p in bad]
    messages += [(device_topic, payload("tst01-prep", 11))]
    publish(broker, messages)
    load_iot(warehouse, progress=None, **config(broker))
    # the same again, as a broker redelivering or a device resending does
    publish(broker, messages)
    load_iot(warehouse, progress=None, **config(broker))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select seq, temperature_c from raw_iot.readings order by seq"
        ).fetchall()
        held = con.execute("select payload, reason from raw_iot.quarantined_messages").fetchall()
    assert rows == [(7, 3.5), (11, 3.5)]  # the duplicate merged: one row
    assert len(held) == len(bad)
    for body, reason in bad.items():
        text = body.decode("utf-8", errors="backslashreplace")
        assert [r for p, r in held if p == text and reason in r], (reason, held)


def test_broker_down_for_a_while_loses_nothing_once_back(
    broker: iot.Broker, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh" / "w.duckdb"
    make_session(broker)
    messages = synthetic(2_000)
    publish(broker, messages)
    broker.stop()  # the operator's restart: SIGTERM, sessions saved
    with pytest.raises(IotBrokerError, match=rf"127\.0\.0\.1:{broker.port}.*Nothing was ackn"):
        load_iot(warehouse, progress=None, **config(broker, connect_timeout=2))
    back = start_broker(broker.folder, port=broker.port)
    try:
        # down again in the middle of a load: what was loaded stays, the rest comes later
        loading = threading.Thread(
            target=lambda: load_iot(
                warehouse, progress=None, **config(back, batch_size=500, idle_timeout=0.3)
            ),
            daemon=True,
        )
        loading.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not warehouse.exists():
            time.sleep(0.05)
        back.stop()
        loading.join(timeout=60)
        again = start_broker(broker.folder, port=broker.port)
        try:
            load_iot(warehouse, progress=None, **config(again))
        finally:
            again.stop()
    finally:
        back.kill()
    assert readings(warehouse) == (len(messages), len(messages))


@pytest.mark.e2e  # every source of a small world is loaded
def test_the_run_finishes_the_other_sources_when_the_broker_is_down(tmp_path: Path) -> None:
    """The broker unreachable: `mypizza run` loads, builds and publishes everything else,
    exits 3 (partial) and names the broker; nothing of the iot area is published."""
    env = Env(tmp_path)
    env.mypizza("simulate", "--stores", "1", "--days", "1", "--start", "2026-04-06")
    closed = iot.free_port()
    env.vars.update(
        {
            "SOURCES__IOT__HOST": "127.0.0.1",
            "SOURCES__IOT__PORT": str(closed),
            "SOURCES__IOT__CONNECT_TIMEOUT": "2",
        }
    )
    result = subprocess.run(
        [MYPIZZA, "run"], cwd=REPO, env=env.vars, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"cannot use the MQTT broker at mqtt://127.0.0.1:{closed}" in result.stderr
    loaded = {
        schema
        for (schema,) in env.query(
            "select distinct schema_name from information_schema.schemata "
            "where schema_name like 'raw_%'"
        )
    }
    assert {"raw_pos", "raw_inventory", "raw_feedback", "raw_franchise"} <= loaded
    assert "raw_iot" not in loaded
    published = env.query(
        "select count(*) from marts.fct_orders where source_system = 'mypizza_pos'",
        published=True,
    )[0][0]
    with sqlite3.connect(env.world / "pos.sqlite") as con:
        assert published == con.execute("select count(*) from orders").fetchone()[0] > 0
    kitchen = env.query(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'fct_cold_chain_excursions'",
        published=True,
    )[0][0]
    assert kitchen == 0


# ------------------------------------------------------------------ the simulator
def test_the_devices_are_deterministic_and_a_new_world_keeps_only_its_last_days(
    tmp_path: Path,
) -> None:
    from zoneinfo import ZoneInfo

    from simulator.catalog import STORES
    from simulator.pos.generate import StoreContext

    extra: dict = {}
    os.environ.pop("MYPIZZA_IOT_DAYS", None)
    iot.configure(extra, date(2026, 1, 1), date(2026, 1, 1), 90, created=True)
    assert extra["iot"]["first_day"] == str(
        date(2026, 1, 1) + timedelta(days=90 - iot.DEFAULT_DAYS)
    )
    contexts = [StoreContext(1, STORES[0], ZoneInfo(STORES[0].timezone))]
    day = date.fromisoformat(extra["iot"]["first_day"]) + timedelta(days=2)
    for folder in ("a", "b"):
        iot.record_day(tmp_path / folder, 42, extra, day, contexts)
    a, b = (iot.outbox_path(tmp_path / f, day).read_bytes() for f in ("a", "b"))
    assert a == b and len(a.splitlines()) >= 4 * 86400 // iot.DEFAULT_INTERVAL_SECONDS * 0.9
    assert iot.record_day(tmp_path / "c", 42, extra, day - timedelta(days=5), contexts) == 0


def test_the_world_publishes_each_outbox_day_once_to_a_broker(
    broker: iot.Broker, tmp_path: Path
) -> None:
    from zoneinfo import ZoneInfo

    from simulator.catalog import STORES
    from simulator.pos.generate import StoreContext

    world, state = tmp_path / "world", tmp_path / "state"
    extra = {"iot": iot.IotSettings(date(2026, 4, 6), 600).to_json()}
    contexts = [StoreContext(1, STORES[0], ZoneInfo(STORES[0].timezone))]
    for n in range(2):
        iot.record_day(world, 42, extra, date(2026, 4, 6) + timedelta(days=n), contexts)
    sent = sum(len(iot.read_outbox(world, d)) for d in iot.outbox_days(world))
    assert iot.publish_outbox(world, broker.host, broker.port, state) == sent
    assert iot.publish_outbox(world, broker.host, broker.port, state) == 0
    # the world simulated afresh with other devices' readings: that day goes out again
    iot.record_day(world, 7, extra, date(2026, 4, 7), contexts)
    again = len(iot.read_outbox(world, date(2026, 4, 7)))
    assert iot.publish_outbox(world, broker.host, broker.port, state) == again


def test_the_outbox_is_published_from_a_process_of_its_own(
    broker: iot.Broker, tmp_path: Path
) -> None:
    """What a night does: the devices publish from a child process (off the loaders'
    interpreter lock); every message reaches a subscriber, the day is marked as published,
    and a failure in the child is raised in the parent with nothing marked."""
    from zoneinfo import ZoneInfo

    import paho.mqtt.client as mqtt

    from simulator.catalog import STORES
    from simulator.pos.generate import StoreContext

    world, state = tmp_path / "world", tmp_path / "state"
    extra = {"iot": iot.IotSettings(date(2026, 4, 6), 600).to_json()}
    contexts = [StoreContext(1, STORES[0], ZoneInfo(STORES[0].timezone))]
    iot.record_day(world, 42, extra, date(2026, 4, 6), contexts)
    sent = len(iot.read_outbox(world, date(2026, 4, 6)))

    with pytest.raises(ConnectionRefusedError):  # nobody listens on that port
        iot.publish_outbox_apart(world, "127.0.0.1", iot.free_port(), state)
    assert iot.published_days(state) == {}

    received: list[tuple[str, bytes]] = []
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.on_message = lambda c, u, m: received.append((m.topic, m.payload))
    subscriber.connect(broker.host, broker.port)
    subscriber.loop_start()
    try:
        subscriber.subscribe("#", qos=1)
        assert subscribed.wait(10)
        assert iot.publish_outbox_apart(world, broker.host, broker.port, state) == sent
        deadline = time.monotonic() + 30
        while len(received) < sent and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    assert sorted(received) == sorted(iot.read_outbox(world, date(2026, 4, 6)))
    assert list(iot.published_days(state)) == ["2026-04-06"]
    assert iot.publish_outbox_apart(world, broker.host, broker.port, state) == 0
