"""A RabbitMQ node of a test's own, on its own ports, so a fault test can stop and restart the broker
without touching the machine's main node (which other engineers, CI and a `make run` demo use).

    node = BrokerNode.start_new()          # RuntimeError saying why when it cannot start
    node.amqp_uri                          # amqp://guest:guest@127.0.0.1:<port>//
    node.stop_app(); node.start_app()      # the broker goes away and comes back (queues survive)
    node.queue_depths()                    # {queue: (ready, unacked)} of a vhost
    node.stop()                            # the node is gone and its directory removed

Everything listens on 127.0.0.1: AMQP on a free port, Erlang distribution on another, no plugins
(the main node's management port stays its own). Its mnesia and logs live in a temporary directory.
When run as root the node runs as the `rabbitmq` user, whose Erlang cookie `rabbitmqctl` uses.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
START_TIMEOUT = 90.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ctl_path() -> str | None:
    return shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")


class BrokerNode:
    def __init__(self, name: str | None = None):
        self.name = name or f"custops_fault_{uuid.uuid4().hex[:6]}@localhost"
        self.port = _free_port()
        self.dist_port = _free_port()
        while self.dist_port == self.port:
            self.dist_port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="custops-rabbit-"))
        self.user = None
        self.started = False

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    # ------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def start_new(cls, timeout: float = START_TIMEOUT) -> "BrokerNode":
        node = cls()
        try:
            node.start(timeout)
        except BaseException:
            node.stop()
            raise
        return node

    def start(self, timeout: float = START_TIMEOUT) -> None:
        server = SERVER if os.path.exists(SERVER) else shutil.which("rabbitmq-server")
        if server is None or _ctl_path() is None:
            raise RuntimeError("no rabbitmq-server/rabbitmqctl on this machine: cannot start a second broker node")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users.guest = true\n")
        (self.dir / "rabbitmq-env.conf").write_text("")  # not the machine's (it names the main node)
        (self.dir / "enabled_plugins").write_text("[].\n")
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        command = [server, "-detached"]
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("rabbitmq")
            except KeyError:
                raise RuntimeError("running as root without a rabbitmq user: cannot start a broker node") from None
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            env["HOME"] = self.user.pw_dir  # its Erlang cookie, the one rabbitmqctl uses
            command = ["runuser", "-u", "rabbitmq", "--", "env", *[f"{k}={v}" for k, v in env.items()], *command]
        else:
            env["HOME"] = os.environ.get("HOME", str(self.dir))
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmq-server -detached failed ({result.returncode}): "
                               f"{result.stdout[-500:]} {result.stderr[-500:]}")
        self.started = True
        self.await_running(timeout)

    def await_running(self, timeout: float = START_TIMEOUT) -> None:
        """Until the node's applications run (rabbitmqctl `wait` on its pid file), or RuntimeError."""
        deadline = time.monotonic() + timeout
        while not (self.dir / "pid").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker node {self.name} wrote no pid file\n{self.log_tail()}")
            time.sleep(0.1)
        remaining = max(5, int(deadline - time.monotonic()))
        result = self.ctl("wait", str(self.dir / "pid"), "--timeout", str(remaining), check=False,
                          timeout=remaining + 15)
        if result.returncode != 0:
            raise RuntimeError(f"broker node {self.name} did not start: {result.stdout[-500:]} "
                               f"{result.stderr[-500:]}\n{self.log_tail()}")

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "60", timeout=75)

    def stop(self) -> None:
        """Stop the node (SIGKILL to its own pid if it does not stop) and remove its directory."""
        if self.started:
            result = self.ctl("stop", check=False, timeout=60)
            if result.returncode != 0:
                self._kill()
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def _kill(self) -> None:
        try:
            pid = int((self.dir / "pid").read_text().strip())
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    # ---------------------------------------------------------------------------------- looking in

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run([_ctl_path(), "-q", "-n", self.name, *args], capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.name}: {result.returncode} "
                               f"{result.stdout[-500:]} {result.stderr[-500:]}")
        return result

    def queue_depths(self, vhost: str = "/") -> dict[str, tuple[int, int]]:
        """{queue name: (messages ready, messages unacknowledged)} of a vhost."""
        out = self.ctl("list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged",
                       "--no-table-headers").stdout
        depths = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                depths[parts[0]] = (int(parts[1]), int(parts[2]))
        return depths

    def log_tail(self, lines: int = 30) -> str:
        logs = sorted((self.dir / "log").glob("*.log")) if (self.dir / "log").exists() else []
        text = []
        for path in logs:
            text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text[-lines:])
