"""Point each pipeline at the simulated world's systems, unless dlt config names real ones.

For every source a context manager: while it is open, the source's dlt config (environment
variables such as ``SOURCES__POS__CREDENTIALS``) points at the world's copy of that system,
and whatever the system needs to run (an HTTP server, say) is running. A value already set
in the environment or in ``.dlt/`` wins: that is how production points at real systems.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import dlt

from ingestion.errors import SourceFailed


def preload() -> None:
    """Import the simulator modules the world sources serve their systems from, once, in
    the calling thread: `ingest all` enters the sources' contexts in parallel threads, and
    two threads importing the simulator's modules for the first time at once see one of
    them half-initialised (ImportError ... partially initialized module)."""
    import simulator  # noqa: F401
    import simulator.iot  # noqa: F401


def _configured(key: str) -> bool:
    """Whether dlt config (env, .dlt/config.toml, .dlt/secrets.toml) already sets ``key``."""
    return dlt.config.get(key) is not None or dlt.secrets.get(key) is not None


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _require_world(world: Path, what: str, env_var: str) -> None:
    if not (world / "world.json").exists():
        raise SourceFailed(
            f"No {what} configured and no simulated world in {world}. "
            f"Run `mypizza simulate` or set {env_var}."
        )


@contextmanager
def pos(world: Path) -> Iterator[None]:
    if _configured("sources.pos.credentials"):
        yield
        return
    _require_world(world, "POS database", "SOURCES__POS__CREDENTIALS to a SQLAlchemy URL")
    from simulator import pos_url_for

    with _env({"SOURCES__POS__CREDENTIALS": pos_url_for(world)}):
        yield


@contextmanager
def inventory(world: Path) -> Iterator[None]:
    """The world's inventory bucket (a folder of the world), unless a bucket is configured."""
    if _configured("sources.inventory.bucket_url"):
        yield
        return
    _require_world(world, "inventory bucket", "SOURCES__INVENTORY__BUCKET_URL to a bucket URL")
    from simulator import bucket_url_for

    with _env({"SOURCES__INVENTORY__BUCKET_URL": bucket_url_for(world)}):
        yield


# The simulated feedback API refuses a few requests (429, 500), as real ones do under load;
# the pipeline's retries absorb them.
FEEDBACK_FAULT_RATE = 0.02


@contextmanager
def feedback(world: Path) -> Iterator[None]:
    """Serve the world's feedback API on a free 127.0.0.1 port, with a fresh bearer token,
    for as long as the load runs."""
    if _configured("sources.feedback.base_url"):
        yield
        return
    _require_world(world, "feedback API", "SOURCES__FEEDBACK__BASE_URL to the API's URL")
    import secrets

    from simulator import FeedbackApiServer

    token = secrets.token_urlsafe(24)
    with (
        FeedbackApiServer(world, token=token, fault_rate=FEEDBACK_FAULT_RATE) as server,
        _env({"SOURCES__FEEDBACK__BASE_URL": server.url, "SOURCES__FEEDBACK__TOKEN": token}),
    ):
        yield


@contextmanager
def franchise(world: Path) -> Iterator[None]:
    """The world's franchise bucket (the franchise stores' CSV exports, a folder of the
    world), unless a bucket is configured."""
    if _configured("sources.franchise.bucket_url"):
        yield
        return
    _require_world(world, "franchise bucket", "SOURCES__FRANCHISE__BUCKET_URL to a bucket URL")
    from simulator import franchise_bucket_url_for

    with _env({"SOURCES__FRANCHISE__BUCKET_URL": franchise_bucket_url_for(world)}):
        yield


@contextmanager
def iot(world: Path) -> Iterator[None]:
    """An MQTT broker for the world's kitchen devices (mosquitto on a free 127.0.0.1 port),
    with the devices' messages it has not had yet published to it, for as long as the load
    runs; unless dlt config names a broker (``sources.iot.host``). The broker keeps its
    sessions and what it was sent beside the warehouse (``.<name>.mqtt/``, like dlt's
    state), so a new warehouse starts from zero and gets every reading."""
    if _configured("sources.iot.host"):
        yield
        return
    _require_world(world, "MQTT broker", "SOURCES__IOT__HOST to the broker's host")
    from ingestion.iot import MqttSession, mqtt_config
    from simulator.iot import publish_outbox_apart, serve_broker

    warehouse = Path(os.environ.get("MYPIZZA_WAREHOUSE", "warehouse/mypizza.duckdb")).resolve()
    state = warehouse.parent / f".{warehouse.stem}.mqtt"
    with serve_broker(state) as broker:
        env = {"SOURCES__IOT__HOST": broker.host, "SOURCES__IOT__PORT": str(broker.port)}
        with _env(env):
            # the loader's persistent session must exist before the devices publish: a
            # broker keeps messages only for sessions subscribed when they arrive
            MqttSession(mqtt_config()).connect().close()
            publish_outbox_apart(world, broker.host, broker.port, state)
            yield


# The one list of sources: name -> context manager factory. A source named here is loaded
# by ingestion.pipelines.load from its dlt source ingestion.<name>.<name>, into raw_<name>;
# the dbt source reading it has the same name (a failed load holds back source:<name>+).
WORLD_SOURCES: dict[str, Callable[[Path], AbstractContextManager[None]]] = {
    "pos": pos,
    "inventory": inventory,
    "feedback": feedback,
    "franchise": franchise,
    "iot": iot,
}
