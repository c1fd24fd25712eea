"""IoT loader throughput: broker to raw_iot, against a bare paho subscriber, same run.

For each size (the default world's 12 devices, and 10x), a backlog of ``--days`` days of
the simulated devices' messages (simulator/iot.py, the default 2-minute interval) is
published to a fresh mosquitto (the project's config) with two persistent sessions waiting:
a bare paho subscriber (QoS 1, acknowledging on receipt, doing nothing with the messages)
and the loader (`load_iot`: parse, Arrow, dlt merge into DuckDB, acknowledge after commit).
Each drains the same backlog in turn; the ratio is loader msgs/s over bare msgs/s. Memory:
peak RSS of the loader process (a child, ``ru_maxrss``) and of mosquitto (polled).

    .venv/bin/python bench/iot_throughput.py             # 12 and 120 devices, 7 days
    .venv/bin/python bench/iot_throughput.py --sizes 12 --days 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator import iot  # noqa: E402
from simulator.catalog import STORES  # noqa: E402
from simulator.pos.generate import StoreContext  # noqa: E402

LOADER = """
import json, resource, sys, time
import dlt, duckdb, pandas, pyarrow  # start-up, as the bare subscriber imports paho first
from ingestion import iot
from ingestion.pipelines import load_iot
first, last = [], []
take, ack_all = iot.MqttSession.take, iot.MqttSession.ack_all
def timed_take(self, *args, **kwargs):
    batch = take(self, *args, **kwargs)
    if batch and not first:
        first.append(batch[0].arrived)  # when the first message arrived (time.time())
    return batch
def timed_ack_all(self):
    done = ack_all(self)
    last.append(time.time())  # the batch is committed and acknowledged
    return done
iot.MqttSession.take, iot.MqttSession.ack_all = timed_take, timed_ack_all
started = time.time()
result = load_iot(sys.argv[1], progress=None, host="127.0.0.1", port=int(sys.argv[2]),
                  idle_timeout=2.0)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": result.rows, "seconds": last[-1] - started,
                  "drain_seconds": last[-1] - first[0], "startup_seconds": first[0] - started,
                  "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}))
"""


def messages(devices: int, days: int) -> list[tuple[str, bytes]]:
    stores = devices // 4
    contexts = [StoreContext(i + 1, STORES[i], ZoneInfo(STORES[i].timezone)) for i in range(stores)]
    first = date(2026, 4, 6)
    settings = {"iot": iot.IotSettings(first, iot.DEFAULT_INTERVAL_SECONDS).to_json()}
    out: list[tuple[str, bytes]] = []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(days):
            day = first + timedelta(days=n)
            iot.record_day(Path(folder), 42, settings, day, contexts)
            out += iot.read_outbox(Path(folder), day)
    return out


def bare_drain(port: int, expected: int) -> tuple[float, float]:
    """Seconds (wall, CPU) a bare paho subscriber takes to receive ``expected`` queued
    messages."""
    import paho.mqtt.client as mqtt

    done = threading.Event()
    count = 0

    def on_message(client, userdata, message):  # noqa: ANN001
        nonlocal count
        count += 1
        if count >= expected:
            done.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5
    )
    client.on_message = on_message
    started, cpu = time.perf_counter(), time.process_time()
    client.connect("127.0.0.1", port, clean_start=False)
    client.loop_start()
    client.subscribe(iot.TOPIC_FILTER, qos=1)
    done.wait(timeout=900)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    client.disconnect()
    client.loop_stop()
    assert count >= expected, f"bare subscriber got {count} of {expected}"
    return seconds, cpu


def subscribe_bare(port: int) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5
    )
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    client.subscribe(iot.TOPIC_FILTER, qos=1)
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def run(devices: int, days: int) -> dict:
    from ingestion.iot import MqttSession, mqtt_config

    backlog = messages(devices, days)
    with tempfile.TemporaryDirectory() as folder:
        broker = iot.start_broker(Path(folder) / "broker")
        peak = {"mb": 0.0}
        stop = threading.Event()

        def watch() -> None:
            process = psutil.Process(broker.process.pid)
            while not stop.is_set():
                peak["mb"] = max(peak["mb"], process.memory_info().rss / 2**20)
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            subscribe_bare(broker.port)
            MqttSession(mqtt_config(host="127.0.0.1", port=broker.port)).connect().close()
            started = time.perf_counter()
            publisher = iot.Publisher("127.0.0.1", broker.port)
            for topic, payload in backlog:
                publisher.publish(topic, payload)
            publisher.flush()
            publisher.close()
            publish_s = time.perf_counter() - started
            bare_s, bare_cpu = bare_drain(broker.port, len(backlog))
            out = subprocess.run(
                [sys.executable, "-c", LOADER, str(Path(folder) / "w.duckdb"), str(broker.port)],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
            loader = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            stop.set()
            watcher.join()
            broker.stop()
    loaded = sum(loader["rows"].values())
    return {
        "devices": devices,
        "days": days,
        "messages": len(backlog),
        "loaded_rows": loaded,
        "publish_msgs_per_s": round(len(backlog) / publish_s),
        "bare_msgs_per_s": round(len(backlog) / bare_s),
        # the loader's rate on what it loaded, from its start to its last commit and
        # acknowledgement (a run stops at the idle timeout after that: left out) ...
        "loader_msgs_per_s": round(loaded / loader["seconds"]),
        "ratio": round((loaded / loader["seconds"]) / (len(backlog) / bare_s), 2),
        # ... and the rate it sustains once started: its first message to its last commit
        # (dlt's start-up, before the first message, is the cost of a cold process)
        "startup_s": round(loader["startup_seconds"], 1),
        "sustained_msgs_per_s": round(loaded / loader["drain_seconds"]),
        "sustained_ratio": round((loaded / loader["drain_seconds"]) / (len(backlog) / bare_s), 2),
        # per CPU second of the subscribing process (the loader's includes dlt's start-up):
        # less at the mercy of other work on the machine than wall time
        "bare_msgs_per_cpu_s": round(len(backlog) / bare_cpu),
        "loader_msgs_per_cpu_s": round(loaded / loader["cpu"]),
        "cpu_ratio": round((loaded / loader["cpu"]) / (len(backlog) / bare_cpu), 2),
        "loader_peak_mb": round(loader["peak_mb"]),
        "broker_peak_mb": round(peak["mb"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="12,120", help="device counts (4 per store)")
    parser.add_argument("--days", type=int, default=7, help="days of backlog")
    args = parser.parse_args()
    rows = [run(int(n), args.days) for n in args.sizes.split(",")]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print(
            "| "
            + " | ".join(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k in keys)
            + " |"
        )


if __name__ == "__main__":
    main()
