"""A Spark cluster on this machine, from the installed pyspark: ``mypizza spark up|down|status``.

``up`` starts a standalone master, one or more workers and a Spark Connect server, all on
127.0.0.1, with Spark's own launcher (``sbin/spark-daemon.sh``, shipped in the pyspark
wheel); ``down`` stops them. Their pid files, logs and the workers' scratch space are in
``<MYPIZZA_SPARK_DIR>/run`` (default ``warehouse/spark``, git-ignored), the metastore
(Derby) and the tables Spark writes beside it, in ``metastore_db`` and ``tables``.

dbt reaches the cluster over Spark Connect: the ``spark`` target (profiles.yml) is dbt-spark's
``session`` method with ``SPARK_REMOTE=sc://127.0.0.1:<connect port>`` in the environment,
which ``up`` prints. The raw data is the lake dlt wrote (ingestion/destinations.py), which
the build registers as the sources (macros/lake/). docs/scaling-out.md has the rest: a real
cluster, the Thrift form, the sizes measured here.

Settings (environment, all optional): MYPIZZA_SPARK_DIR, MYPIZZA_SPARK_WORKERS (1),
MYPIZZA_SPARK_WORKER_CORES (2), MYPIZZA_SPARK_WORKER_MEMORY (1g),
MYPIZZA_SPARK_EXECUTOR_MEMORY (768m), MYPIZZA_SPARK_DRIVER_MEMORY (1g),
MYPIZZA_SPARK_CORES_MAX (every worker core), MYPIZZA_SPARK_MASTER_PORT (7077),
MYPIZZA_SPARK_UI_PORT (18080, the master's web UI), MYPIZZA_SPARK_CONNECT_PORT (15002).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
CONNECT = "org.apache.spark.sql.connect.service.SparkConnectServer"
IDENT = "mypizza"
DEFAULT_DIR = "warehouse/spark"


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: must be a whole number") from None


@dataclass(frozen=True)
class Cluster:
    """Where a local standalone cluster lives and how big it is."""

    home: Path
    workers: int = 1
    worker_cores: int = 2
    worker_memory: str = "1g"
    executor_memory: str = "768m"
    driver_memory: str = "1g"
    cores_max: int = 2
    master_port: int = 7077
    ui_port: int = 18080
    connect_port: int = 15002

    @classmethod
    def from_env(cls, repo: Path | None = None) -> Cluster:
        from mypizza.settings import REPO_ROOT

        home = Path(os.environ.get("MYPIZZA_SPARK_DIR", DEFAULT_DIR)).expanduser()
        if not home.is_absolute():
            home = (repo or REPO_ROOT) / home
        workers = _int("MYPIZZA_SPARK_WORKERS", 1)
        cores = _int("MYPIZZA_SPARK_WORKER_CORES", 2)
        if workers < 1 or cores < 1:
            raise ValueError("MYPIZZA_SPARK_WORKERS and MYPIZZA_SPARK_WORKER_CORES must be >= 1")
        return cls(
            home=home.resolve(),
            workers=workers,
            worker_cores=cores,
            worker_memory=os.environ.get("MYPIZZA_SPARK_WORKER_MEMORY", "1g"),
            executor_memory=os.environ.get("MYPIZZA_SPARK_EXECUTOR_MEMORY", "768m"),
            driver_memory=os.environ.get("MYPIZZA_SPARK_DRIVER_MEMORY", "1g"),
            # Without a cap the first application (the Connect server) takes every core of
            # the cluster and the next one waits forever.
            cores_max=_int("MYPIZZA_SPARK_CORES_MAX", workers * cores),
            master_port=_int("MYPIZZA_SPARK_MASTER_PORT", 7077),
            ui_port=_int("MYPIZZA_SPARK_UI_PORT", 18080),
            connect_port=_int("MYPIZZA_SPARK_CONNECT_PORT", 15002),
        )

    # ------------------------------------------------------------ places
    @property
    def run_dir(self) -> Path:
        """pid files, logs and the workers' scratch space"""
        return self.home / "run"

    @property
    def tables_dir(self) -> Path:
        """Spark's warehouse: the managed tables dbt builds, ``<schema>.db/<table>/``"""
        return self.home / "tables"

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def remote(self) -> str:
        """SPARK_REMOTE for dbt (and any Spark Connect client)"""
        return f"sc://127.0.0.1:{self.connect_port}"

    def connect_conf(self) -> dict[str, str]:
        """The Connect server's settings: it is the one long-running application, the
        driver of every query dbt sends."""
        derby = self.home / "metastore_db"
        return {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.connect_port),
            "spark.cores.max": str(self.cores_max),
            "spark.executor.memory": self.executor_memory,
            "spark.driver.memory": self.driver_memory,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            # a Hive metastore (Derby, one process: this server) so tables outlive a restart
            "spark.sql.catalogImplementation": "hive",
            "spark.sql.warehouse.dir": str(self.tables_dir),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={derby};create=true"
            ),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.home}",
            # timestamps are instants shown in UTC (staging's as_utc_timestamp relies on it)
            "spark.sql.session.timeZone": "UTC",
            # a laptop-sized world: a few shuffle partitions, not Spark's 200
            "spark.sql.shuffle.partitions": "4",
            "spark.log.level": "ERROR",
        }

    # ------------------------------------------------------------ processes
    def _daemon_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOG_DIR=str(self.run_dir / "logs"),
            SPARK_PID_DIR=str(self.run_dir / "pids"),
            SPARK_IDENT_STRING=IDENT,
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOCAL_DIRS=str(self.run_dir / "scratch"),
            SPARK_WORKER_DIR=str(self.run_dir / "work"),
            # no REST submission server (port 6066): jobs come through Spark Connect
            SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        )
        env.pop("SPARK_REMOTE", None)  # the server itself is no Connect client
        env.pop("SPARK_NO_DAEMONIZE", None)
        return env

    def _daemon(self, *args: str) -> None:
        script = spark_home() / "sbin" / "spark-daemon.sh"
        done = subprocess.run(
            ["bash", str(script), *args],
            env=self._daemon_env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"spark-daemon.sh {' '.join(args[:3])} failed ({done.returncode}): "
                f"{(done.stdout + done.stderr).strip()[-2000:]}"
            )

    def processes(self) -> dict[str, int]:
        """The running processes of this cluster, by role (``master``, ``worker-1``, ...,
        ``connect``), from their pid files; a stale pid file counts as not running."""
        found = {}
        for role, cls, instance in self._roles():
            pid_file = self.run_dir / "pids" / f"spark-{IDENT}-{cls}-{instance}.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().strip() or 0)
                if pid and _alive(pid):
                    found[role] = pid
        return found

    def _roles(self) -> list[tuple[str, str, int]]:
        workers = [(f"worker-{i}", WORKER, i) for i in range(1, self.workers + 1)]
        return [("master", MASTER, 1), *workers, ("connect", CONNECT, 1)]

    def executors(self) -> dict[str, int]:
        """The executor processes the workers started for the Connect application."""
        workers = {pid for role, pid in self.processes().items() if role.startswith("worker")}
        found = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid in workers and b"CoarseGrainedExecutorBackend" in cmdline:
                found[f"executor-{len(found) + 1}"] = int(proc.name)
        return found

    def peak_memory(self) -> dict[str, int]:
        """Peak resident memory (bytes, the kernel's VmHWM) of every process of the
        cluster so far: master, workers, Connect driver, executors."""
        peaks = {}
        for role, pid in {**self.processes(), **self.executors()}.items():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[role] = int(line.split()[1]) * 1024
        return peaks

    # ------------------------------------------------------------ up / down
    def up(self, timeout: float | None = None, say=print) -> None:
        """Start the master, the workers and the Connect server; return once the Connect
        server listens with every worker registered. Already running: an error."""
        running = self.processes()
        if running:
            raise RuntimeError(
                f"a Spark cluster of {self.home} is running already "
                f"({', '.join(sorted(running))}): `mypizza spark down` first"
            )
        _require_java()
        for folder in ("logs", "pids", "scratch", "work"):
            (self.run_dir / folder).mkdir(parents=True, exist_ok=True)
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        # each part starts in ~10 s on an idle machine; a loaded one takes minutes
        timeout = timeout or float(os.environ.get("MYPIZZA_SPARK_START_TIMEOUT", "600"))
        deadline = time.monotonic() + timeout
        try:
            say(f"starting the master on {self.master_url}")
            self._daemon(
                "start", MASTER, "1", "--host", "127.0.0.1",
                "--port", str(self.master_port), "--webui-port", str(self.ui_port),
            )  # fmt: skip
            self._wait(lambda: _listening(self.master_port), deadline, "the master")
            for i in range(1, self.workers + 1):
                say(f"starting worker {i} ({self.worker_cores} cores, {self.worker_memory})")
                self._daemon(
                    "start", WORKER, str(i), "--host", "127.0.0.1",
                    "--cores", str(self.worker_cores), "--memory", self.worker_memory,
                    "--webui-port", "0",  # any free port: several workers share the host
                    "--work-dir", str(self.run_dir / "work"), self.master_url,
                )  # fmt: skip
            self._wait(lambda: self._alive_workers() >= self.workers, deadline, "the workers")
            say(f"starting the Spark Connect server on {self.remote}")
            conf = [arg for k, v in self.connect_conf().items() for arg in ("--conf", f"{k}={v}")]
            self._daemon(
                "submit", CONNECT, "1", "--name", "Spark Connect server",
                "--master", self.master_url, *conf,
            )  # fmt: skip
            self._wait(lambda: _listening(self.connect_port), deadline, "the Connect server")
        except BaseException:
            self.down(say=lambda _: None)
            raise
        (self.run_dir / "cluster.json").write_text(
            json.dumps({**asdict(self), "home": str(self.home), "remote": self.remote}, indent=2)
        )

    def down(self, say=print) -> list[str]:
        """Stop whatever of the cluster runs (Connect server, workers, master); returns
        the roles stopped."""
        stopped = []
        running = self.processes()
        for role, cls, instance in reversed(self._roles()):
            if role in running:
                say(f"stopping {role} (pid {running[role]})")
                self._daemon("stop", cls, str(instance))
                stopped.append(role)
        (self.run_dir / "cluster.json").unlink(missing_ok=True)
        return stopped

    def _alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2) as r:
                return int(json.load(r).get("aliveworkers", 0))
        except (OSError, ValueError):
            return 0

    def _wait(self, ready, deadline: float, what: str) -> None:
        while not ready():
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {p.name}\n{p.read_text()[-1500:]}"
                    for p in sorted((self.run_dir / "logs").glob("*.out"))
                )
                raise RuntimeError(f"{what} did not start in time; logs:\n{logs}")
            time.sleep(0.5)


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark wheel."""
    try:
        import pyspark
    except ImportError:
        raise RuntimeError("pyspark is not installed: run `make setup-spark`") from None
    return Path(pyspark.__file__).parent


def _require_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and not shutil.which("java"):
        raise RuntimeError(
            "Spark needs Java 17 and there is no `java` on PATH (nor JAVA_HOME): install it, "
            "e.g. `apt-get install -y --no-install-recommends openjdk-17-jre-headless`"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- command line
def add_command(commands: argparse._SubParsersAction) -> None:
    """Register ``mypizza spark up|down|status`` on the mypizza parser's subcommands."""
    spark = commands.add_parser(
        "spark",
        help="start or stop a local Spark cluster (master, workers, Spark Connect)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    spark.add_argument("action", choices=["up", "down", "status"])
    spark.set_defaults(func=cmd_spark)


def cmd_spark(args: argparse.Namespace, settings: object = None) -> int:
    cluster = Cluster.from_env()
    say = print
    if args.action == "up":
        cluster.up(say=lambda m: say(f"[mypizza] {m}"))
        say(f"[mypizza] up; build with: SPARK_REMOTE={cluster.remote} dbt build --target spark")
        say(f"[mypizza] pid files and logs in {cluster.run_dir}")
    elif args.action == "down":
        stopped = cluster.down(say=lambda m: say(f"[mypizza] {m}"))
        say("[mypizza] " + ("stopped" if stopped else f"no Spark cluster of {cluster.home} runs"))
    else:
        running = cluster.processes()
        if not running:
            say(f"no Spark cluster of {cluster.home} runs")
            return 1
        for role, pid in {**running, **cluster.executors()}.items():
            say(f"{role}: pid {pid}")
        say(f"master {cluster.master_url} (web UI http://127.0.0.1:{cluster.ui_port}), "
            f"Spark Connect {cluster.remote}")  # fmt: skip
    return 0
