"""The cross-service harness: every process of deploy/Procfile as its own OS process.

`Suite` starts each Procfile entry through `bash -c "exec <command>"` (so `${VAR:-default}` expands)
in its own process group, with `.venv/bin` first on PATH, and writes its stdout+stderr to
`var/test-logs/<name>.log`. Each process gets its own free port for health and metrics, so a demo
started with `make run` on the default ports is left alone; for the same reason the suite uses its
own RabbitMQ virtual host when it can make one (otherwise a running demo's services, or in-process
test containers, would take the tests' RPC calls and events) and the `custops_test_*` databases.

Used by tests/conftest.py (the `suite` fixture) and by tests/bench/run_all.py.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import requests

ROOT = Path(__file__).resolve().parent.parent
# CUSTOPS_PROCFILE (as for `make run`): e.g. a layout with standalone relays
PROCFILE = Path(os.environ.get("CUSTOPS_PROCFILE", ROOT / "deploy" / "Procfile"))
VENV_BIN = ROOT / ".venv" / "bin"
LOG_DIR = ROOT / "var" / "test-logs"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# overridable so that two runs on one machine stay apart
E2E_VHOST = os.environ.get("CUSTOPS_E2E_VHOST", "custops_e2e")
# the suite's own databases, apart from the in-process tests' ones
E2E_DB_PREFIX = os.environ.get("CUSTOPS_E2E_DB_PREFIX", "custops_e2e_")
RPC_TIMEOUT = 3  # CUSTOPS_RPC_TIMEOUT of every suite process (the gateway's 503/504 deadline)

T = TypeVar("T")

_SERVICE_COMMAND = re.compile(r"\bcustops\s+(service|relay)\s+([a-z_]+)")


def eventually(check: Callable[[], T], timeout: float, what: str, interval: float = 0.25) -> T:
    """Call `check` until it returns something truthy (returned) or `timeout` s pass (AssertionError).

    `check` may raise AssertionError meanwhile; the last one is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what} (last: {last!r})")
        time.sleep(interval)


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens there, else a port the kernel hands out. A test shard's
    CUSTOPS_TEST_PORT_OFFSET (scripts/run_tests.py) moves the preferred port, so two shards starting
    suites at the same moment never both take a free 18080."""
    if preferred:
        preferred += int(os.environ.get("CUSTOPS_TEST_PORT_OFFSET") or 0)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rabbitmqctl() -> str | None:
    return shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")


def local_vhost_uri(vhost: str) -> str | None:
    """The configured broker's URI with `vhost` (made and opened to its user with rabbitmqctl when
    missing) if that broker runs on this machine; None for a broker we do not administer."""
    from urllib.parse import urlsplit, urlunsplit

    from custops import config

    parts = urlsplit(config.amqp_uri())
    ctl = _rabbitmqctl()
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") or ctl is None:
        return None
    try:
        listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True, timeout=60)
        if vhost not in listed.stdout.split():
            subprocess.run([ctl, "-q", "add_vhost", vhost], capture_output=True, timeout=60, check=True)
        subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, parts.username or "guest", ".*", ".*", ".*"],
                       capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"harness: no {vhost} vhost ({exc})")
        return None
    return urlunsplit(parts._replace(path="/" + vhost))


def delete_local_vhost(vhost: str) -> None:
    ctl = _rabbitmqctl()
    subprocess.run([ctl, "-q", "delete_vhost", vhost], capture_output=True, timeout=60)


@dataclass
class Process:
    name: str
    command: str
    kind: str  # service | relay | gateway | other
    service: str | None  # the custops service a service or relay process runs for
    port: int  # health/metrics port (the gateway's HTTP port for the gateway)
    extra_env: dict
    popen: subprocess.Popen | None = None
    ready_override: str | None = None

    @property
    def ready_url(self) -> str | None:
        if self.ready_override:
            return self.ready_override
        if self.kind in ("service", "gateway"):
            return f"http://127.0.0.1:{self.port}/readyz"
        if self.kind == "relay":
            return f"http://127.0.0.1:{self.port}/metrics"
        return None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Tenant:
    id: str
    member_id: str
    token: str
    api: "Api"


class Api(requests.Session):
    """A requests session on the gateway: paths are relative to its root, the token is sent."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 20.0):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        if url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


class Suite:
    def __init__(self, procfile: Path = PROCFILE, only: list[str] | None = None, gateway_port: int = 18080,
                 amqp_uri: str | None = None, extra_env: dict | None = None, log_dir: Path | None = None):
        """`amqp_uri`, `extra_env` (e.g. DATABASE_URL, CUSTOPS_DB_PREFIX) and `log_dir` set up a
        suite apart from the shared one: on a broker or database server of a test's own."""
        from custops.procfile import parse_procfile

        entries = parse_procfile(procfile)
        if only is not None:
            entries = [(n, c) for n, c in entries if n in only]
        from custops import config

        # Not even the in-process service tests' vhost: their containers would compete with these
        # processes for the same event queues (and answer their RPC calls).
        self.log_dir = log_dir or LOG_DIR
        self.amqp_uri = amqp_uri or local_vhost_uri(E2E_VHOST) or config.amqp_uri()
        self.gateway_port = free_port(gateway_port)
        self.url = f"http://127.0.0.1:{self.gateway_port}"
        env = dict(os.environ)
        env.pop("CUSTOPS_RELAY_CRASH_AFTER_PUBLISH", None)
        env.update({
            "PATH": os.pathsep.join([str(VENV_BIN), env.get("PATH", os.defpath)]),
            "VIRTUAL_ENV": str(VENV_BIN.parent),
            "PYTHONUNBUFFERED": "1",
            # nor the in-process tests' databases: this suite's relays would publish their outbox rows
            "CUSTOPS_DB_PREFIX": E2E_DB_PREFIX,
            "CUSTOPS_GATEWAY_PORT": str(self.gateway_port),
            "OTEL_TRACES_EXPORTER": "console",
            "CUSTOPS_RPC_TIMEOUT": str(RPC_TIMEOUT),
            "AMQP_URI": self.amqp_uri,
        })
        env.update(extra_env or {})
        self.env = env
        self.procs: dict[str, Process] = {}
        for name, command in entries:
            self.add(name, command)
        self.procfile_names = [name for name, _ in entries]
        self._rpc = None

    # ------------------------------------------------------------------ which processes, which ports

    def add(self, name: str, command: str, extra_env: dict | None = None, ready_url: str | None = None) -> Process:
        """Register a process (not started): a Procfile entry, or an extra one a test or bench runs."""
        from custops import config

        match = _SERVICE_COMMAND.search(command)
        if match:
            kind, service = match.group(1), match.group(2)
            default = config.DEFAULT_HTTP_PORTS.get(service, 8100)
            port = free_port(10000 + default + (config.DEFAULT_RELAY_PORT_OFFSET if kind == "relay" else 0))
        elif name == "gateway":
            kind, service, port = "gateway", None, self.gateway_port
        else:
            kind, service, port = "other", None, 0
        proc = Process(name, command, kind, service, port, dict(extra_env or {}), ready_override=ready_url)
        if name not in self.procs:  # a fresh log per suite; a restart appends to it
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path(name).write_text("")
        self.procs[name] = proc
        return proc

    def missing(self) -> list[str]:
        """Procfile entries whose code is not there yet (a service package not installed, no gateway)."""
        absent = []
        for proc in self.procs.values():
            if proc.service and importlib.util.find_spec(proc.service) is None:
                absent.append(f"{proc.name} (package {proc.service!r} not installed)")
            elif proc.kind == "gateway" and not any(
                    (ROOT / "gateway" / p).exists() for p in ("gateway/app.py", "app.py")):
                absent.append(f"{proc.name} (no gateway/app.py)")
        return absent

    def port(self, name: str) -> int:
        return self.procs[name].port

    # ---------------------------------------------------------------------------------- lifecycle

    def setup_broker_and_databases(self) -> None:
        """`custops setup` against the suite's broker and databases (idempotent)."""
        result = subprocess.run([str(VENV_BIN / "custops"), "setup"], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"custops setup failed:\n{result.stdout}\n{result.stderr}")

    def start_all(self) -> None:
        for name in self.procs:
            self.start(name, wait=False)
        for name in self.procs:
            self.wait_ready(name)

    def start(self, name: str, wait: bool = True) -> None:
        proc = self.procs[name]
        if proc.alive():
            raise RuntimeError(f"{name} is already running")
        env = dict(self.env, **proc.extra_env)
        if proc.kind == "service":
            env["CUSTOPS_HTTP_PORT"] = str(proc.port)
        elif proc.kind == "relay":
            env["CUSTOPS_RELAY_PORT"] = str(proc.port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(name), "ab") as log:
            log.write(f"==== harness: starting {name}: {proc.command}\n".encode())
            log.flush()
            proc.popen = subprocess.Popen(
                ["bash", "-c", "exec " + proc.command], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, process_group=0)
        if wait:
            self.wait_ready(name)

    def revive(self) -> list[str]:
        """Start again every Procfile process that is not running (after a test that failed midway
        through a fault); returns their names."""
        dead = [n for n in self.procfile_names if not self.procs[n].alive()]
        for name in dead:
            self.start(name, wait=False)
        for name in dead:
            self.wait_ready(name)
        return dead

    def wait_ready(self, name: str, timeout: float = READY_TIMEOUT) -> None:
        proc = self.procs[name]
        url = proc.ready_url
        if url is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            if not proc.alive():
                raise RuntimeError(f"{name} exited with code {proc.popen.returncode} while starting\n"
                                   + self.tail(name))
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {url} did not answer 200 within {timeout:.0f}s\n" + self.tail(name))
            time.sleep(0.25)

    def _signal(self, name: str, sig: int) -> None:
        proc = self.procs[name]
        if proc.popen is None:
            return
        try:
            os.killpg(proc.popen.pid, sig)  # the whole group: gunicorn's workers too
        except ProcessLookupError:
            pass

    def kill9(self, name: str) -> None:
        self._signal(name, signal.SIGKILL)
        self.procs[name].popen.wait(timeout=STOP_TIMEOUT)

    def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit code."""
        proc = self.procs[name]
        if proc.popen is None:
            return 0
        self._signal(name, signal.SIGTERM)
        try:
            return proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(name, signal.SIGKILL)
            return proc.popen.wait(timeout=STOP_TIMEOUT)

    def stop_all(self) -> None:
        running = [p for p in self.procs.values() if p.popen is not None]
        for proc in running:
            self._signal(proc.name, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and any(p.alive() for p in running):
            time.sleep(0.1)
        for proc in running:
            # leftovers in the group (e.g. gunicorn workers whose master already exited) too
            self._signal(proc.name, signal.SIGKILL)
            proc.popen.wait()
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None

    # ----------------------------------------------------------------------------------- looking in

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, name: str, lines: int = 40) -> str:
        text = self.log(name).splitlines()[-lines:]
        return f"---- last {len(text)} lines of {self.log_path(name)}\n" + "\n".join(text)

    def metrics(self, name: str) -> str:
        """The Prometheus text of a service or relay process."""
        response = requests.get(f"http://127.0.0.1:{self.port(name)}/metrics", timeout=5)
        assert response.status_code == 200, f"{name} /metrics: {response.status_code} {response.text[:300]}"
        return response.text

    def metric_value(self, name: str, metric: str, **labels) -> float:
        """Sum of the samples of `metric` whose labels include `labels` (0 when none)."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.metrics(name)):
            for sample in family.samples:
                if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def query(self, service: str, sql: str, **params) -> list:
        """Rows of a read-only SQL statement on a service's database of this suite (its own
        DATABASE_URL and CUSTOPS_DB_PREFIX; `query()` below is the shared suite's)."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        engines = self.__dict__.setdefault("_engines", {})
        if service not in engines:
            server = self.env.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
            url = make_url(server).set(drivername="postgresql+psycopg",
                                       database=self.env["CUSTOPS_DB_PREFIX"] + service)
            engines[service] = create_engine(url, pool_size=2, pool_pre_ping=True)
        with engines[service].connect() as conn:
            return conn.execute(text(sql), params).all()

    def dispose_engines(self) -> None:
        for engine in self.__dict__.pop("_engines", {}).values():
            engine.dispose()

    # ------------------------------------------------------------------------------- talking to it

    def rpc(self):
        from custops.rpc import RpcClient

        if self._rpc is None:
            self._rpc = RpcClient(amqp_uri=self.amqp_uri, timeout=15, size=2)
        return self._rpc

    def api(self, token: str | None = None) -> Api:
        return Api(self.url, token)

    def new_tenant(self, name: str | None = None) -> Tenant:
        """A fresh, isolated tenant (through customers.create_tenant) with its owner's API session."""
        suffix = uuid.uuid4().hex[:10]
        result = self.rpc().call("customers", "create_tenant", name or f"Test Co {suffix}",
                                 f"owner-{suffix}@test.example")
        return Tenant(str(result["tenant_id"]), str(result["member_id"]), result["token"], self.api(result["token"]))


# ------------------------------------------------------------------------------ steps tests share

def problem(response: requests.Response, status: int) -> dict:
    """Assert `response` is a problem document (RFC 9457) with `status`; returns it."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert response.headers.get("Content-Type", "").startswith("application/problem+json"), response.headers
    doc = response.json()
    assert doc.get("status") == status, doc
    return doc


def create_customer(api: Api, name: str | None = None) -> dict:
    suffix = uuid.uuid4().hex[:8]
    response = api.post("/api/v1/customers", json={
        "name": name or f"Acme {suffix}", "tier": "smb", "domains": [f"acme-{suffix}.example"]})
    assert response.status_code == 201, response.text
    return response.json()


def create_ticket(api: Api, customer_id: str, subject: str = "Printer on fire", **headers) -> dict:
    response = api.post("/api/v1/tickets", json={"customer_id": customer_id, "subject": subject,
                                                  "priority": "urgent"}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def timeline_types(api: Api, customer_id: str) -> list[str]:
    """The event types on a customer's timeline (first page, newest first)."""
    response = api.get(f"/api/v1/customers/{customer_id}/timeline", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [item["type"] for item in response.json()["items"]]


def reported_created(api: Api, customer_id: str) -> int:
    """Tickets created for a customer according to the reports service's ticket-volume report."""
    response = api.get("/api/v1/reports/ticket-volume", params={"customer_id": customer_id})
    assert response.status_code == 200, response.text
    return response.json()["totals"]["created"]


# ----------------------------------------------------------------- looking into services' databases

_engines: dict = {}


def query(service: str, sql: str, **params) -> list:
    """Rows of a read-only SQL statement on a service's own database (the suite's copy)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from custops import config

    if service not in _engines:
        url = make_url(config.database_url(service)).set(database=E2E_DB_PREFIX + service)
        _engines[service] = create_engine(url, pool_size=2)
    with _engines[service].connect() as conn:
        return conn.execute(text(sql), params).all()


def outbox_row(service: str, event_type: str, data_key: str, value: str):
    """The outbox row of the `event_type` event whose `data[data_key]` is `value` (or None)."""
    rows = query(service, "SELECT id, status, attempts, published_at FROM outbox WHERE type = :type "
                          "AND envelope->'data'->>:key = :value", type=event_type, key=data_key, value=value)
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def inbox_claims(service: str, event_ids) -> dict[str, int]:
    """{consumer: rows} of a service's inbox for these event ids."""
    rows = query(service, "SELECT consumer, count(*) FROM inbox WHERE event_id = ANY(:ids) GROUP BY consumer",
                 ids=[uuid.UUID(str(i)) for i in event_ids])
    return {consumer: n for consumer, n in rows}


def timeline_activities(tenant_id: str, event_type: str, ticket_id: str | None = None) -> list[str]:
    """The ticket id of each of a tenant's `event_type` activities in the timeline's database (one
    entry per activity, so a doubled event shows as a repeated id)."""
    sql = ("SELECT subject_id::text FROM activities WHERE tenant_id = :tenant AND type = :type "
           "AND subject_type = 'ticket'" + (" AND subject_id = :ticket" if ticket_id else ""))
    return [r[0] for r in query("timeline", sql, tenant=uuid.UUID(str(tenant_id)), type=event_type,
                                ticket=uuid.UUID(ticket_id) if ticket_id else None)]
