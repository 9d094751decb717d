"""A PostgreSQL cluster of a test's own, on its own port, so a fault test can restart the database
without touching the machine's shared server (other engineers, CI and a `make run` demo use it).

    cluster = PgCluster.start_new()        # RuntimeError saying why when it cannot start
    cluster.url                            # postgresql://postgres@127.0.0.1:<port>/postgres
    cluster.restart(down_for=3)            # stopped (-m fast: every session cut), down 3 s, started
    cluster.stop()                         # the server is gone and its directory removed

`initdb` (trust authentication, listening on 127.0.0.1 only, its socket in its own directory) and
`pg_ctl` run as the `postgres` user when the test runs as root. Durability is off (fsync): it is a
test server, and a restart is still a real one (every connection is terminated, new ones refused
until it is back).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

MAX_CONNECTIONS = 300  # six services' pools, six relays, the SLA clock, the tests' own engines


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="custops-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.user = None
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start_new(cls) -> "PgCluster":
        cluster = cls()
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        if self.user is not None:
            command = ("runuser", "-u", self.user.pw_name, "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stdout[-800:]} "
                               f"{result.stderr[-800:]}\n{self.log_tail()}")
        return result

    def start(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("no initdb/pg_ctl on this machine: cannot start a PostgreSQL cluster of our own")
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root without a postgres user: cannot run initdb") from None
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self._options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={MAX_CONNECTIONS}")
        self._pg_ctl("start", "-o", self._options)
        self.started = True

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run(_bin("pg_ctl"), action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (`-m fast`: sessions terminated), stay down `down_for` seconds (connections refused),
        start again; returns once it accepts connections."""
        import time

        if down_for <= 0:
            self._pg_ctl("restart", "-m", "fast")
            return
        self.stop_server()
        time.sleep(down_for)
        self.start_server()

    def stop_server(self) -> None:
        """`pg_ctl stop -m fast`: every session terminated; returns once the server is down."""
        self._pg_ctl("stop", "-m", "fast")

    def start_server(self) -> None:
        """Start it again; returns once it accepts connections."""
        self._pg_ctl("start", "-o", self._options)

    def stop(self) -> None:
        if self.started:
            try:
                self._pg_ctl("stop", "-m", "immediate")
            except (RuntimeError, subprocess.SubprocessError):
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
