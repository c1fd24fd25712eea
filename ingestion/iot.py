"""The kitchen devices' telemetry, read from an MQTT broker, as a dlt source.

dlt has no MQTT source, so this is a small ``@dlt.resource`` over paho-mqtt 2: it reads the
loader's **persistent MQTT 5 session** (``clean_start=False`` and a session expiry, so the
broker keeps the session's subscription and queues every QoS 1 message while the loader
is away), subscribed to ``mypizza/+/+/telemetry``.

At least once, with an exactly-once effect:

- the client is ``manual_ack=True``: paho does not acknowledge a message when its callback
  returns; :func:`load_iot` (ingestion/pipelines.py) acknowledges a batch only after the dlt
  load holding it has committed. A loader that dies before that leaves the messages
  unacknowledged: the broker sends them again on the next connection;
- a message sent again merges on its natural key (device_id, boot, seq), so it never
  doubles; a device's own duplicates and messages out of order merge the same way;
- one load holds at most ``batch_size`` messages; the broker sends at most two batches
  unacknowledged (the session's MQTT 5 Receive Maximum), so the next batch streams in while
  the last is loaded. A run loads batch after batch and stops when no message came for
  ``idle_timeout`` seconds (a batch run drains what is waiting).

Rows land in ``raw_iot.readings``. A payload that breaks a rule (not UTF-8, not JSON, a
required field missing or of the wrong type, a device id that is not the topic's) is
quarantined in ``raw_iot.quarantined_messages`` with the reason, keyed on a hash of topic
and payload (so a redelivered bad message does not double either); the others load.

Config (section ``sources.iot``, .dlt/config.toml and secrets.toml): ``host``, ``port``,
``tls`` (and ``ca_certs``), ``username``, ``password`` (a secret), ``client_id``, ``topic``,
``session_expiry_seconds``, ``batch_size``, ``idle_timeout``, ``connect_timeout``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import dlt
import orjson
import pyarrow as pa

from ingestion.errors import SourceFailed

READINGS_TABLE = "readings"
QUARANTINE_TABLE = "quarantined_messages"
NATURAL_KEY = ("device_id", "boot", "seq")
DEFAULT_CLIENT_ID = "mypizza-iot-loader"
DEFAULT_TOPIC = "mypizza/+/+/telemetry"
IDLE_POLL = 0.05  # seconds between looks at a batch still filling

TS = pa.timestamp("us", tz="UTC")
READING_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        ("store_code", pa.string()),
        ("kind", pa.string()),
        pa.field("boot", pa.int64(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        ("device_ts", TS),
        ("temperature_c", pa.float64()),
        ("door_open", pa.bool_()),
        ("power_w", pa.int64()),
        ("pizzas_baked", pa.int64()),
        ("topic", pa.string()),
        ("received_at", TS),
        ("redelivered", pa.bool_()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("message_hash", pa.string(), nullable=False),
        ("topic", pa.string()),
        ("payload", pa.string()),
        ("reason", pa.string()),
        ("received_at", TS),
    ]
)


class Received(NamedTuple):
    """A message as the loader keeps it until acknowledged: plain values only. Keeping paho's
    MQTTMessage objects instead (each with its properties, lock and condition) made Python's
    garbage collector rescan tens of thousands of them as a batch filled, and halved the
    rate the loader could receive at (bench/iot_throughput.py)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool
    arrived: float  # time.time() on arrival


class IotBrokerError(SourceFailed):
    """The MQTT broker could not be reached or refused the loader (its message says which
    broker and what to set; `mypizza run` reports it as it is and loads the rest)."""


@dataclass
class MqttConfig:
    """Where the broker is and how the loader's session behaves (dlt config sources.iot)."""

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_certs: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str = DEFAULT_CLIENT_ID
    topic: str = DEFAULT_TOPIC
    session_expiry_seconds: int = 7 * 86400
    batch_size: int = 25_000
    idle_timeout: float = 2.0
    connect_timeout: float = 10.0
    max_messages: int = 0  # stop after this many (0: drain until idle)

    def where(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def mqtt_config(**overrides: Any) -> MqttConfig:
    """The iot source's settings from dlt config (``sources.iot.*``: environment variables
    such as SOURCES__IOT__HOST, .dlt/config.toml, the password from .dlt/secrets.toml);
    keyword arguments win."""
    from dataclasses import fields

    values: dict[str, Any] = {}
    for spec in fields(MqttConfig):
        key = f"sources.iot.{spec.name}"
        value = overrides.get(spec.name)
        if value is None:
            value = dlt.secrets.get(key) if spec.name == "password" else None
            value = dlt.config.get(key) if value is None else value
        if value is None:
            continue
        default = getattr(MqttConfig, spec.name)
        if isinstance(default, bool):
            value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        elif isinstance(default, int | float) and not isinstance(value, bool):
            value = type(default)(value)
        values[spec.name] = str(value) if spec.name == "password" else value
    return MqttConfig(**values)


@dataclass
class MqttSession:
    """The loader's persistent MQTT 5 session: messages arrive in a buffer, are handed out
    in batches and acknowledged only when :meth:`ack` is called for them."""

    config: MqttConfig
    received: deque = field(default_factory=deque)
    connected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    refused: str | None = None
    session_present: bool = False
    unacked: list = field(default_factory=list)  # messages handed out, not yet acknowledged
    wanted: int = 1  # how many waiting messages complete what the taker waits for
    acked: int = 0
    taken: int = 0

    def __post_init__(self) -> None:
        import paho.mqtt.client as mqtt

        self.cond = threading.Condition()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=False,
        )
        if self.config.username:
            self.client.username_pw_set(self.config.username, self.config.password)
        if self.config.tls:
            self.client.tls_set(ca_certs=self.config.ca_certs)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    # paho callbacks (its network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.session_present = bool(flags.session_present)
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self.refused = f"subscription to {self.config.topic} refused: {reason_codes}"
        self.subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        # a deque's append is atomic; the taker is woken only once its batch is complete
        # (not a thread switch per message), and otherwise looks every IDLE_POLL seconds
        self.received.append(
            Received(
                message.topic, message.payload, message.mid, message.qos, bool(message.dup),
                time.time(),
            )
        )  # fmt: skip
        if len(self.received) >= self.wanted:
            with self.cond:
                self.cond.notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.lost.set()
        with self.cond:
            self.cond.notify_all()

    def connect(self) -> MqttSession:
        """Connect with clean_start=False (resume the session), subscribe with QoS 1."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_seconds
        # two batches out at once: the next streams in while the last is being loaded
        props.ReceiveMaximum = max(1, min(2 * self.config.batch_size, 65535))
        try:
            self.client.connect(
                self.config.host, self.config.port, keepalive=30, clean_start=False,
                properties=props,
            )  # fmt: skip
        except OSError as error:
            raise IotBrokerError(self._unreachable(error)) from error
        self.client.loop_start()
        if not self.connected.wait(self.config.connect_timeout) or self.refused:
            self.close()
            raise IotBrokerError(self._unreachable(self.refused or "no CONNACK"))
        self.client.subscribe(self.config.topic, qos=1)
        # a resumed session is subscribed already, and its queued messages come before the
        # SUBACK: wait for the SUBACK of a new session only
        if not self.session_present and (
            not self.subscribed.wait(self.config.connect_timeout) or self.refused
        ):
            self.close()
            raise IotBrokerError(self._unreachable(self.refused or "no SUBACK"))
        return self

    def _unreachable(self, why: object) -> str:
        return (
            f"source iot: cannot use the MQTT broker at {self.config.where()} as client "
            f"'{self.config.client_id}' ({why}). Nothing was acknowledged: the messages wait "
            "in the broker's persistent session and load on the next run. Check "
            "SOURCES__IOT__HOST / SOURCES__IOT__PORT (or [sources.iot] in .dlt/config.toml) "
            "and the credentials in .dlt/secrets.toml."
        )

    def wait_for_messages(self) -> bool:
        """Whether a message is waiting, or arrives within the idle timeout (False once
        ``max_messages`` were handed out)."""
        if self.config.max_messages and self.taken >= self.config.max_messages:
            return False
        self.wanted = 1
        with self.cond:
            if not self.received and not self.lost.is_set():
                self.cond.wait(timeout=self.config.idle_timeout)
            return bool(self.received)

    def take(self, limit: int, idle_timeout: float) -> list[Received]:
        """Up to ``limit`` messages: returns when it has them, when none came for
        ``idle_timeout`` seconds, or when the connection is lost."""
        batch: list[Received] = []
        if self.config.max_messages:
            limit = min(limit, self.config.max_messages - self.taken)
        quiet_since = time.time()
        while len(batch) < limit:
            while self.received and len(batch) < limit:
                batch.append(self.received.popleft())
            if len(batch) >= limit or self.lost.is_set():
                break
            if batch:
                quiet_since = max(quiet_since, batch[-1].arrived)
            idle = time.time() - quiet_since
            if idle >= idle_timeout:
                break
            with self.cond:
                self.wanted = limit - len(batch)
                if len(self.received) < self.wanted and not self.lost.is_set():
                    self.cond.wait(timeout=min(IDLE_POLL, idle_timeout - idle))
        self.wanted = 1
        self.unacked.extend(batch)
        self.taken += len(batch)
        return batch

    def ack_all(self) -> int:
        """Acknowledge every message handed out so far (call after its load committed).
        On a lost connection nothing can be acknowledged: the broker sends them again."""
        done = 0
        if not self.lost.is_set():
            for message in self.unacked:
                if self.client.ack(message.mid, message.qos) == 0:
                    done += 1
        self.acked += done
        self.unacked = []
        return done

    def close(self) -> None:
        """Disconnect (the session and its unacknowledged messages stay on the broker)."""
        try:
            if self.client.is_connected():
                self.client.disconnect()
        finally:
            self.client.loop_stop()


# ------------------------------------------------------------------ parsing
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse(topic: str, payload: bytes) -> tuple[dict | None, str | None]:
    """A message as a row of ``readings``, or the reason it breaks a rule."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, (
            f"not UTF-8 (byte 0x{payload[error.start]:02x} at position {error.start}); "
            "rule: the payload is a UTF-8 JSON object"
        )
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return None, f"malformed JSON ({error}); rule: the payload is a UTF-8 JSON object"
    if not isinstance(body, dict):
        return None, "not a JSON object; rule: the payload is a UTF-8 JSON object"
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "mypizza" or parts[3] != "telemetry":
        return None, f"topic {topic!r} is not mypizza/<store>/<device>/telemetry"
    for name in ("device_id", "ts", "kind"):
        if not isinstance(body.get(name), str):
            return None, f"field {name!r} is {body.get(name)!r}, not a string; rule: required"
    if body["device_id"] != parts[2]:
        return None, f"device_id {body['device_id']!r} is not the topic's device {parts[2]!r}"
    for name in ("boot", "seq"):
        if not _is_int(body.get(name)) or body[name] < 0:
            return None, (
                f"field {name!r} is {body.get(name)!r}; rule: required, a whole number >= 0"
            )
    temperature = body.get("temperature_c")
    if not isinstance(temperature, int | float) or isinstance(temperature, bool):
        return None, f"field 'temperature_c' is {temperature!r}, not a number; rule: required"
    try:
        ts = datetime.fromisoformat(body["ts"])
    except ValueError:
        return None, f"field 'ts' is {body['ts']!r}, not an ISO 8601 time"
    if ts.tzinfo is None:
        return None, f"field 'ts' is {body['ts']!r}: no time zone (rule: UTC, ending in Z)"
    door, power, pizzas = body.get("door_open"), body.get("power_w"), body.get("pizzas_baked")
    if door is not None and not isinstance(door, bool):
        return None, f"field 'door_open' is {door!r}, not true/false"
    for name, value in (("power_w", power), ("pizzas_baked", pizzas)):
        if value is not None and (not _is_int(value) or value < 0):
            return None, f"field {name!r} is {value!r}; rule: a whole number >= 0"
    return {
        "device_id": body["device_id"],
        "store_code": parts[1],
        "kind": body["kind"],
        "boot": body["boot"],
        "seq": body["seq"],
        "device_ts": ts.astimezone(UTC),
        "temperature_c": float(temperature),
        "door_open": door,
        "power_w": power,
        "pizzas_baked": pizzas,
    }, None


def _tables(batch: list[Received]) -> tuple[pa.Table, pa.Table]:
    """A batch as two Arrow tables, readings and quarantined messages, each with one row per
    key (the last copy received): a message the broker or the device sent twice within one
    batch is one row, as dlt's merge makes it in DuckDB, and as the lake, which only appends,
    needs it too."""
    readings: dict[tuple, dict[str, Any]] = {}
    quarantined: dict[str, dict[str, Any]] = {}
    for message in batch:
        topic, payload = message.topic, message.payload
        received = datetime.fromtimestamp(message.arrived, UTC)
        row, reason = parse(topic, payload)
        if row is None:
            digest = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
            quarantined[digest] = {
                "message_hash": digest,
                "topic": topic,
                "payload": payload.decode("utf-8", errors="backslashreplace"),
                "reason": reason,
                "received_at": received,
            }
            continue
        row = {**row, "topic": topic, "received_at": received, "redelivered": message.dup}
        readings[tuple(row[name] for name in NATURAL_KEY)] = row
    return (
        pa.Table.from_pylist(list(readings.values()), schema=READING_SCHEMA),
        pa.Table.from_pylist(list(quarantined.values()), schema=QUARANTINE_SCHEMA),
    )


def mqtt_readings(session: MqttSession, limit: int | None = None) -> Any:
    """The ``readings`` resource: one batch of messages from the session (at most
    ``limit``, default the session's batch size), parsed; bad payloads go to
    ``quarantined_messages`` with the reason."""

    @dlt.resource(
        name=READINGS_TABLE,
        write_disposition="merge",
        primary_key=list(NATURAL_KEY),
        schema_contract={"columns": "evolve", "data_type": "freeze"},
    )
    def readings() -> Iterator[Any]:
        batch = session.take(limit or session.config.batch_size, session.config.idle_timeout)
        if not batch:
            return
        good, bad = _tables(batch)
        if good.num_rows:
            yield good
        if bad.num_rows:
            yield dlt.mark.with_hints(
                bad,
                dlt.mark.make_hints(
                    table_name=QUARANTINE_TABLE,
                    write_disposition="merge",
                    primary_key="message_hash",
                ),
                create_table_variant=True,
            )

    return readings


def iot_source(session: MqttSession, limit: int | None = None) -> Any:
    @dlt.source(name="iot", section="iot")
    def iot() -> Any:
        return mqtt_readings(session, limit)

    return iot()
