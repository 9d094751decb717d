#!/usr/bin/env python3
"""Load benchmark: the whole suite under an open-loop mixed workload at fixed rates (issue 14).

Starts every Procfile process as its own OS process (tests/harness.py `Suite`, as `make bench`
does) on a virtual host and databases of its own (`custops_bench_load`, `custops_bench_load_*`,
reused run after run: every table is emptied and every queue of the vhost purged first — the vhost
is never deleted, as deleting one that holds quorum queues can freeze the broker). Seeds a tenant
with customers and tickets, then offers each rate in turn for `--seconds` seconds:

    50 % POST /tickets, 20 % POST /tickets/{id}/messages (a public reply), 20 % GET /tickets/{id},
    10 % POST /time-entries (on a ticket) — replies, reads and time entries on tickets created so far.

Open loop, free of coordinated omission: request i of a step is due at start + i / rate whatever
the answers; a pool of client threads (a keep-alive connection each) sends it as soon as a thread is
free, and its latency is measured from the time it was due, so a slow answer or a client that fell
behind shows as latency instead of lowering the offered rate. A step stops early when the backlog
explodes (p99 of the last 2 s above 5 s, or sending more than 5 s behind schedule); the higher
rates are then skipped, being only worse.

Per rate and per route it prints the achieved rate, p50/p95/p99, errors by status; the commit ->
timeline lag (the ticket's `created_at` in the tickets database against the `created_at` of its
`ticket.created` activity, which the timeline's database sets with now() in the consumer's
transaction); CPU seconds per process in the step (utime+stime of the process group from /proc,
gunicorn's workers included) and CPU per ticket; then RSS per process at rest and at the end, and
the knee (the lowest rate where p99 passes 1 s). With `--profile` it also runs py-spy on the tickets
service and the gateway during one step and prints their top frames by share.

Bounded: 1–4 min with the defaults (the load steps capped at 5 min together). Loopback only.
    .venv/bin/python tests/bench/load.py [--rates 25,50,100] [--seconds 15]
                                         [--profile var/profiles --profile-rate 50]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from harness import ROOT, Suite, create_customer, local_vhost_uri  # noqa: E402

VHOST = "custops_bench_load"
DB_PREFIX = "custops_bench_load_"
LOG_DIR = ROOT / "var" / "bench-load-logs"
GATEWAY_PORT = 18480  # preferred, not the tests' 18080: another suite may take that one while this one starts
DEFAULT_RATES = (10, 25, 50, 100, 150, 200, 300)
DEFAULT_SECONDS = 15.0
RUN_CAP_SECONDS = 300.0  # the load steps together, drains included
CLIENT_THREADS = 64
CLIENT_TIMEOUT = 10.0
KEEPALIVE_REUSE = 1.0  # gunicorn closes idle keep-alive connections after 2 s: reconnect before
KNEE_P99 = 1.0
BACKLOG_P99 = 5.0
BACKLOG_BEHIND = 5.0
DRAIN_SECONDS = 30.0
SEED_CUSTOMERS = 20
SEED_TICKETS = 40
# one slot per 10 % of the requests, in an order that spreads each kind over the step
MIX = ("create", "read", "create", "reply", "create", "time", "create", "read", "create", "reply")
ROUTES = {"create": "POST /tickets", "reply": "POST /tickets/{id}/messages", "read": "GET /tickets/{id}",
          "time": "POST /time-entries"}
OK = {"create": 201, "reply": 201, "read": 200, "time": 201}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def say(line: str = "") -> None:
    print(line, flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.0f}"


# ------------------------------------------------------------------------------- processes, /proc

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # from field 3 (state) on


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def group_usage(pgid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process group: every live member's utime+stime and that of
    its reaped children, and the sum of their RSS (gunicorn: the master and its workers)."""
    cpu, rss = 0.0, 0
    for pid in group_pids(pgid):
        fields = _stat(pid)
        if fields:
            cpu += sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK
            rss += int(fields[21]) * PAGE
    return cpu, rss


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class PgBackends:
    """The CPU of the PostgreSQL backends serving this suite's databases (the server is shared with
    other work; a backend's CPU is its own). Pooled connections live through a step; one that ends
    within it takes its CPU along."""

    def __init__(self, server_url: str, db_prefix: str):
        import psycopg

        self.conn = psycopg.connect(server_url, autocommit=True)
        self.pattern = db_prefix.replace("_", r"\_") + "%"

    def usage(self) -> tuple[float, int]:
        pids = [r[0] for r in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s", (self.pattern,))]
        cpu = 0.0
        for pid in pids:
            fields = _stat(pid)
            if fields:
                cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
        return cpu, 0

    def close(self) -> None:
        self.conn.close()


def usage(suite: Suite, pg: PgBackends | None = None) -> dict[str, tuple[float, int]]:
    found = {name: group_usage(p.popen.pid) for name, p in suite.procs.items() if p.alive()}
    if pg is not None:
        found["(postgres backends)"] = pg.usage()
    t = os.times()
    found["(load client)"] = (t.user + t.system, int(_stat(os.getpid())[21]) * PAGE)
    return found


# ---------------------------------------------------------------------------------- resetting

def pg_server_url(suite: Suite, database: str = "postgres") -> str:
    from sqlalchemy.engine import make_url

    from custops import config

    server = make_url(suite.env.get("DATABASE_URL") or config.server_url())
    return server.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def reset_state(suite: Suite, vhost: str, db_prefix: str) -> None:
    """Empty the bench databases (kept, schema and all) and purge the bench vhost's queues, so a
    run starts from nothing whatever the previous one left behind."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_server_url(suite), autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                               (db_prefix.replace("_", r"\_") + "%",))}
    for database in sorted(existing):
        with psycopg.connect(pg_server_url(suite, database), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
            if tables:
                # a scratch database: the audit log's append-only triggers (which refuse TRUNCATE) are
                # not to fire for this session
                conn.execute("SET session_replication_role = replica")
                conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)))
    ctl = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")
    listed = subprocess.run([ctl, "-q", "list_queues", "-p", vhost, "name", "messages"], capture_output=True,
                            text=True, timeout=60)
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) > 0:
            subprocess.run([ctl, "-q", "purge_queue", "-p", vhost, parts[0]], capture_output=True, timeout=60)


# ------------------------------------------------------------------------------------ the client

@dataclass
class Job:
    kind: str
    due: float  # time.monotonic() at which it was to be sent


@dataclass
class Result:
    kind: str
    due: float
    started: float
    done: float
    status: int  # 0: no HTTP answer (connection error, client timeout)
    error: str | None = None
    created: str | None = None  # the id of the ticket a create opened

    @property
    def latency(self) -> float:
        return self.done - self.due


@dataclass
class Workload:
    """What the requests act on: the tenant's customers and the tickets created so far."""
    port: int
    token: str
    customers: list[str]
    tickets: list[tuple[str, str]]  # (ticket id, customer id)
    seq: int = 0

    def request(self, kind: str, rng: random.Random) -> tuple[str, str, bytes | None]:
        self.seq += 1  # a race between threads only repeats a label
        n = self.seq
        if kind == "create":
            return "POST", "/api/v1/tickets", json.dumps({
                "customer_id": rng.choice(self.customers), "subject": f"load {n}", "priority": "normal",
                "description": "The printer on the third floor prints blank pages."}).encode()
        ticket, customer = rng.choice(self.tickets)
        if kind == "reply":
            return "POST", f"/api/v1/tickets/{ticket}/messages", json.dumps({
                "kind": "reply", "body": f"Thanks, we are looking into it ({n})."}).encode()
        if kind == "read":
            return "GET", f"/api/v1/tickets/{ticket}", None
        return "POST", "/api/v1/time-entries", json.dumps({
            "customer_id": customer, "ticket_id": ticket, "minutes": 5 + n % 50, "billable": True,
            "note": f"load {n}"}).encode()


class Client:
    """CLIENT_THREADS threads, each with a keep-alive connection. A due job goes to the thread that
    was idle last (its connection is warm), else waits in the backlog for the next free thread."""

    def __init__(self, workload: Workload, threads: int = CLIENT_THREADS):
        self.workload = workload
        self.lock = threading.Lock()
        self.idle: list[SimpleQueue] = []
        self.backlog: deque[Job] = deque()
        self.results: list[Result] = []
        self.in_flight = 0
        self.dropping = False
        self.threads = []
        for n in range(threads):
            inbox: SimpleQueue = SimpleQueue()
            t = threading.Thread(target=self._run, args=(n, inbox), name=f"load-{n}", daemon=True)
            t.start()
            self.threads.append((t, inbox))

    def submit(self, job: Job) -> None:
        with self.lock:
            self.in_flight += 1
            if self.idle:
                self.idle.pop().put(job)
            else:
                self.backlog.append(job)

    def behind(self, now: float) -> float:
        """How far behind schedule sending is: the age of the oldest job still waiting for a thread."""
        with self.lock:
            return now - self.backlog[0].due if self.backlog else 0.0

    def drop_backlog(self) -> int:
        with self.lock:
            dropped = len(self.backlog)
            self.backlog.clear()
            self.in_flight -= dropped
            return dropped

    def wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.in_flight == 0:
                    return
            time.sleep(0.05)

    def close(self) -> None:
        for _, inbox in self.threads:
            inbox.put(None)

    def _run(self, n: int, inbox: SimpleQueue) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", self.workload.port, timeout=CLIENT_TIMEOUT)
        headers = {"Authorization": f"Bearer {self.workload.token}", "Content-Type": "application/json"}
        last_used = 0.0
        with self.lock:
            self.idle.append(inbox)
        job = inbox.get()
        while job is not None:
            started = time.monotonic()
            if started - last_used > KEEPALIVE_REUSE:
                conn.close()  # reconnects on the request: never a connection the server may be closing
            method, path, body = self.workload.request(job.kind, rng)
            status, error, answer = 0, None, b""
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
                conn.close()
            done = last_used = time.monotonic()
            created = None
            if status == 201 and job.kind == "create":
                doc = json.loads(answer)
                created = doc["id"]
                self.workload.tickets.append((created, doc["customer_id"]))
            with self.lock:
                self.results.append(Result(job.kind, job.due, started, done, status, error, created))
                self.in_flight -= 1
                job = self.backlog.popleft() if self.backlog else None
                if job is None:
                    self.idle.append(inbox)
            if job is None:
                job = inbox.get()
        conn.close()


# ------------------------------------------------------------------------------------- a step

@dataclass
class Step:
    rate: float
    seconds: float
    started: float = 0.0
    scheduling_ended: float = 0.0
    ended: float = 0.0
    scheduled: int = 0
    dropped: int = 0
    stopped_early: str | None = None
    results: list[Result] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    not_on_timeline: int = 0
    drain_seconds: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy during the step, whoever used them
    suite_share: float = 0.0  # of which ours: the suite, its postgres backends, this client
    loadavg: str = ""

    def by_kind(self, kind: str | None = None) -> list[Result]:
        return [r for r in self.results if kind is None or r.kind == kind]

    def latencies(self, kind: str | None = None) -> list[float]:
        return [r.latency for r in self.by_kind(kind)]

    def p99(self, kind: str | None = None) -> float:
        return pct(self.latencies(kind), 99)


def run_step(client: Client, step: Step, deadline: float) -> None:
    """Offer `step.rate` for `step.seconds` (or until the backlog explodes / the run cap)."""
    first = len(client.results)
    start = time.monotonic() + 0.1
    step.started = start
    total = int(step.rate * step.seconds)
    next_check = start + 1.0
    for i in range(total):
        due = start + i / step.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
            now = time.monotonic()
        client.submit(Job(MIX[i % len(MIX)], due))
        step.scheduled += 1
        if now >= next_check:
            next_check = now + 0.5
            behind = client.behind(now)
            recent = [r.latency for r in client.results[first:] if r.done > now - 2.0]
            if behind > BACKLOG_BEHIND:
                step.stopped_early = f"sending {behind:.1f} s behind schedule"
            elif len(recent) >= 20 and pct(recent, 99) > BACKLOG_P99:
                step.stopped_early = f"p99 of the last 2 s {pct(recent, 99):.1f} s"
            elif now > deadline:
                step.stopped_early = "run cap reached"
            if step.stopped_early:
                break
    step.scheduling_ended = time.monotonic()
    if step.stopped_early:
        step.dropped = client.drop_backlog()
    else:
        # due within the step: sent late is still sent (their latency counts from the due time)
        client.wait_idle(BACKLOG_BEHIND + CLIENT_TIMEOUT)
        step.dropped = client.drop_backlog()
    client.wait_idle(CLIENT_TIMEOUT + 5)
    step.ended = time.monotonic()  # the last answer: achieved rates and CPU shares are over this span
    step.results = client.results[first:]
    step.created = [r.created for r in step.results if r.created]


def ticket_lags(suite: Suite, tenant_id: str, ticket_ids: list[str]) -> tuple[list[float], int]:
    """Seconds from each ticket's created_at to its ticket.created activity's created_at; and how many
    tickets have no activity (yet)."""
    if not ticket_ids:
        return [], 0
    ids = [uuid.UUID(t) for t in ticket_ids]
    created = dict(suite.query("tickets", "SELECT id, created_at FROM tickets WHERE id = ANY(:ids)", ids=ids))
    recorded = dict(suite.query(
        "timeline", "SELECT subject_id, created_at FROM activities WHERE tenant_id = :t AND type = 'ticket.created' "
                    "AND subject_id = ANY(:ids)", t=uuid.UUID(tenant_id), ids=ids))
    lags = [(recorded[i] - created[i]).total_seconds() for i in ids if i in recorded and i in created]
    return lags, sum(1 for i in ids if i not in recorded)


def wait_drained(suite: Suite, tenant_id: str, timeout: float) -> float:
    """Wait until every ticket of the tenant is on its timeline (at most `timeout` s); seconds waited."""
    started = time.monotonic()
    tid = uuid.UUID(tenant_id)
    while time.monotonic() - started < timeout:
        (tickets,), = suite.query("tickets", "SELECT count(*) FROM tickets WHERE tenant_id = :t", t=tid)
        (activities,), = suite.query("timeline", "SELECT count(*) FROM activities WHERE tenant_id = :t "
                                                 "AND type = 'ticket.created'", t=tid)
        if activities >= tickets:
            break
        time.sleep(0.25)
    return time.monotonic() - started


# ------------------------------------------------------------------------------------- profiling

def py_spy() -> str | None:
    return shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")


def start_profiles(suite: Suite, out_dir: Path, seconds: float) -> list[tuple[str, Path, subprocess.Popen]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for name, extra in (("tickets", []), ("gateway", ["--subprocesses"])):
        target = out_dir / f"{name}.txt"
        command = [py_spy(), "record", "--nonblocking", "--format", "raw", "-r", "100", "-d", str(int(seconds)),
                   "-o", str(target), "-p", str(suite.procs[name].popen.pid), *extra]
        running.append((name, target, subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                       stderr=subprocess.PIPE, text=True)))
    return running


OWN_PACKAGES = ("custops", "gateway", "customers", "tickets", "timeline", "billing", "mailsync", "reports")


def frame_name(frame: str) -> str:
    """`create_ticket (tickets/service.py:88)` -> `create_ticket (tickets/service.py)`: lines merged."""
    if frame.endswith(")") and " (" in frame:
        head, _, where = frame.rpartition(" (")
        return f"{head} ({where.rsplit(':', 1)[0].split('site-packages/')[-1]})"
    return frame


def frame_package(frame: str) -> str:
    """The top-level package (or stdlib module) of a frame: `sqlalchemy`, `tickets`, `threading`."""
    where = frame.rpartition(" (")[2].rstrip(")")
    return where.split("/", 1)[0].removesuffix(".py") if where else "?"


def top_frames(path: Path, count: int = 12) -> list[str]:
    """From py-spy's raw output (collapsed stacks): our own code's frames with the largest
    inclusive share of the samples (a frame counted once per stack), and where the samples were
    spent by the package of the innermost frame."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    leaf_package: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        samples = int(n)
        total += samples
        for f in set(frames):
            if frame_package(f) in OWN_PACKAGES:
                inclusive[f] += samples
        if frames:
            own[frames[-1]] += samples
            leaf_package[frame_package(frames[-1])] += samples
    lines = [f"    {total} samples (active threads only); our frames by inclusive share:",
             "    | incl. % | self % | frame |", "    |---:|---:|---|"]
    for f, n in inclusive.most_common(count):
        lines.append(f"    | {100 * n / total:.1f} | {100 * own[f] / total:.1f} | `{f}` |")
    lines.append("    innermost frame's package: " + ", ".join(
        f"{pkg} {100 * n / total:.0f} %" for pkg, n in leaf_package.most_common(8)))
    lines.append("    top self frames: " + "; ".join(
        f"`{f}` {100 * n / total:.1f} %" for f, n in own.most_common(6)))
    return lines


# ------------------------------------------------------------------------------------- reporting

def print_step(step: Step) -> None:
    elapsed = max(step.ended - step.started, 1e-9)
    answered = len(step.results)
    say(f"rate {step.rate:g}/s: {step.scheduled} scheduled in {step.scheduling_ended - step.started:.1f} s, "
        f"{answered} answered in {elapsed:.1f} s, "
        f"achieved {sum(1 for r in step.results if r.status == OK[r.kind]) / elapsed:.1f} ok/s"
        + (f", {step.dropped} never sent (dropped when the step stopped)" if step.dropped else "")
        + (f"  ** stopped early: {step.stopped_early}" if step.stopped_early else ""))
    late = [r.started - r.due for r in step.results]
    say(f"    send delay after due time p50 {ms(pct(late, 50))} ms, p99 {ms(pct(late, 99))} ms")
    say(f"    {'route':<30} {'n':>5} {'ok/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  errors")
    for kind in (*ROUTES, None):
        results = step.by_kind(kind)
        if not results:
            continue
        lat = [r.latency for r in results]
        errors = Counter(r.error or r.status for r in results if r.status != OK[r.kind])
        ok = sum(1 for r in results if r.status == OK[r.kind])
        say(f"    {ROUTES.get(kind, 'all'):<30} {len(results):>5} {ok / elapsed:>7.1f} {ms(pct(lat, 50)):>8} "
            f"{ms(pct(lat, 95)):>8} {ms(pct(lat, 99)):>8}  {dict(errors) or '-'}")
    say(f"    commit -> timeline lag: p50 {ms(pct(step.lags, 50))} ms, p99 {ms(pct(step.lags, 99))} ms "
        f"over {len(step.lags)} tickets" + (f", {step.not_on_timeline} not on the timeline after the drain"
                                             if step.not_on_timeline else "")
        + f" (drain {step.drain_seconds:.1f} s)")
    created = max(len(step.created), 1)
    busiest = sorted(step.cpu.items(), key=lambda kv: -kv[1])
    say("    CPU s in the step (% of one core): " + ", ".join(
        f"{name} {cpu:.1f} ({100 * cpu / elapsed:.0f} %)" for name, cpu in busiest if cpu >= 0.05))
    service_cpu = sum(cpu for name, cpu in step.cpu.items() if not name.startswith("("))
    say(f"    machine: {100 * step.machine_busy:.0f} % of all cores busy, {100 * step.suite_share:.0f} % of that "
        f"ours (the suite, its postgres backends, this client); load average {step.loadavg}")
    say(f"    CPU per created ticket: tickets {1000 * step.cpu.get('tickets', 0) / created:.1f} ms, "
        f"all suite processes {1000 * service_cpu / created:.1f} ms; per request: suite "
        f"{1000 * service_cpu / max(answered, 1):.1f} ms, postgres "
        f"{1000 * step.cpu.get('(postgres backends)', 0) / max(answered, 1):.1f} ms")


def summary(steps: list[Step]) -> None:
    say("summary (latency from the due time; errors: non-2xx or no answer)")
    say("| offered /s | achieved ok/s | POST /tickets p50 / p95 / p99 ms | all routes p99 ms | errors (never sent) "
        "| commit -> timeline p50 / p99 ms | tickets CPU ms/ticket | suite CPU ms/request | postgres CPU ms/request "
        "| machine busy (ours) |")
    say("|---:|---:|---|---:|---:|---|---:|---:|---:|---:|")
    for s in steps:
        elapsed = max(s.ended - s.started, 1e-9)
        ok = sum(1 for r in s.results if r.status == OK[r.kind])
        creates = s.latencies("create")
        errors = sum(1 for r in s.results if r.status != OK[r.kind])
        service_cpu = sum(cpu for name, cpu in s.cpu.items() if not name.startswith("("))
        say(f"| {s.rate:g}{'*' if s.stopped_early else ''} | {ok / elapsed:.1f} | {ms(pct(creates, 50))} / "
            f"{ms(pct(creates, 95))} / {ms(pct(creates, 99))} | {ms(s.p99())} | {errors} ({s.dropped}) | "
            f"{ms(pct(s.lags, 50))} / {ms(pct(s.lags, 99))} | "
            f"{1000 * s.cpu.get('tickets', 0) / max(len(s.created), 1):.1f} | "
            f"{1000 * service_cpu / max(len(s.results), 1):.1f} | "
            f"{1000 * s.cpu.get('(postgres backends)', 0) / max(len(s.results), 1):.1f} | "
            f"{100 * s.machine_busy:.0f} % ({100 * s.machine_busy * s.suite_share:.0f} %) |")
    if any(s.stopped_early for s in steps):
        say("(* stopped early: " + "; ".join(f"{s.rate:g}/s {s.stopped_early}" for s in steps if s.stopped_early)
            + ")")
    sustained = [s for s in steps if not s.stopped_early and s.results] or steps
    if sustained:
        ours = sum(sum(cpu for name, cpu in s.cpu.items() if name != "(load client)") for s in sustained)
        per_request = ours / max(sum(len(s.results) for s in sustained), 1)
        say(f"CPU per request, suite + its postgres backends: {1000 * per_request:.1f} ms -> a CPU ceiling of "
            f"~{os.cpu_count() / per_request:.0f} requests/s on {os.cpu_count()} idle cores "
            "(RabbitMQ's CPU not counted)")
    knee = next((s.rate for s in steps if s.p99() > KNEE_P99), None)
    knee_create = next((s.rate for s in steps if s.p99("create") > KNEE_P99), None)
    say(f"knee (lowest offered rate where p99 > {KNEE_P99:g} s): all routes "
        f"{f'{knee:g}/s' if knee else 'not reached'}; POST /tickets "
        f"{f'{knee_create:g}/s' if knee_create else 'not reached'}")


# ------------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default=",".join(str(r) for r in DEFAULT_RATES),
                        help="offered request rates, requests/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="seconds per rate")
    parser.add_argument("--profile", type=Path, help="run py-spy on tickets and the gateway, raw output here")
    parser.add_argument("--profile-rate", type=float, help="the rate to profile at (default: the first)")
    parser.add_argument("--vhost", default=VHOST, help="the RabbitMQ virtual host (made when missing, kept)")
    parser.add_argument("--db-prefix", default=DB_PREFIX,
                        help="the databases' prefix (another tree's schema needs its own: a baseline checkout)")
    parser.add_argument("--traces", default="none", help="OTEL_TRACES_EXPORTER of the suite (make run: none)")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if args.profile and py_spy() is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    os.chdir(ROOT)
    amqp_uri = local_vhost_uri(args.vhost)
    if amqp_uri is None:
        raise SystemExit("the load bench needs a broker on this machine and rabbitmqctl, for a vhost of its own")
    suite = Suite(amqp_uri=amqp_uri, log_dir=LOG_DIR, gateway_port=GATEWAY_PORT,
                  extra_env={"CUSTOPS_DB_PREFIX": args.db_prefix, "OTEL_TRACES_EXPORTER": args.traces})
    missing = suite.missing()
    if missing:
        say("skipped: the suite is not complete yet: " + "; ".join(missing))
        return 0
    say(f"load: {len(suite.procs)} processes on vhost {args.vhost}, databases {args.db_prefix}*, logs in "
        f"{LOG_DIR.relative_to(ROOT)}; {os.cpu_count()} CPUs; rates {', '.join(f'{r:g}' for r in rates)} /s, "
        f"{args.seconds:g} s each; mix {', '.join(f'{ROUTES[k]} {100 * MIX.count(k) // len(MIX)} %' for k in ROUTES)}")
    steps: list[Step] = []
    client = pg = None
    try:
        reset_state(suite, args.vhost, args.db_prefix)
        suite.setup_broker_and_databases()
        started = time.monotonic()
        suite.start_all()
        say(f"    started in {time.monotonic() - started:.1f} s")
        tenant = suite.new_tenant("Load Co")
        customers = [create_customer(tenant.api)["id"] for _ in range(SEED_CUSTOMERS)]
        seeded = []
        for i in range(SEED_TICKETS):
            response = tenant.api.post("/api/v1/tickets", json={"customer_id": customers[i % len(customers)],
                                                                "subject": f"seed {i}"})
            assert response.status_code == 201, response.text
            seeded.append((response.json()["id"], customers[i % len(customers)]))
        wait_drained(suite, tenant.id, DRAIN_SECONDS)
        time.sleep(2.0)  # let the seeding's after-effects (relays, reports) settle before "at rest"
        pg = PgBackends(pg_server_url(suite), args.db_prefix)
        at_rest = usage(suite, pg)
        client = Client(Workload(suite.gateway_port, tenant.token, customers, seeded))
        deadline = time.monotonic() + RUN_CAP_SECONDS
        profile_rate = args.profile_rate or rates[0]
        profiles = []
        for rate in rates:
            if time.monotonic() > deadline:
                say(f"rate {rate:g}/s: skipped, run cap reached")
                continue
            if steps and steps[-1].stopped_early:
                say(f"rate {rate:g}/s: skipped, the previous rate stopped early")
                continue
            step = Step(rate, args.seconds)
            if args.profile and rate == profile_rate:
                profiles = start_profiles(suite, args.profile, args.seconds)
            before, machine_before = usage(suite, pg), machine_cpu()
            run_step(client, step, deadline)
            after, machine_after = usage(suite, pg), machine_cpu()
            step.cpu = {name: after[name][0] - before[name][0] for name in after if name in before}
            busy, total = (a - b for a, b in zip(machine_after, machine_before))
            step.machine_busy = busy / max(total, 1e-9)
            step.suite_share = sum(step.cpu.values()) / max(busy, 1e-9)
            step.loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            step.drain_seconds = wait_drained(suite, tenant.id, DRAIN_SECONDS)
            step.lags, step.not_on_timeline = ticket_lags(suite, tenant.id, step.created)
            steps.append(step)
            print_step(step)
            for name, target, proc in profiles:
                _, err = proc.communicate(timeout=args.seconds + 30)
                say(f"py-spy {name} during {rate:g}/s -> {target}")
                if target.exists():
                    say("\n".join(top_frames(target)))
                else:
                    say(f"    no profile: {err.strip()[-300:]}")
            profiles = []
        at_end = usage(suite, pg)
        say()
        summary(steps)
        say()
        say("RSS MB per process group (summed over its processes, shared pages counted in each): "
            "at rest -> at the end")
        groups = {name: len(group_pids(p.popen.pid)) for name, p in suite.procs.items() if p.alive()}
        say("    " + ", ".join(
            f"{name}{f' ({groups[name]} processes)' if groups.get(name, 1) > 1 else ''} "
            f"{at_rest[name][1] / 2**20:.0f} -> {at_end.get(name, (0, 0))[1] / 2**20:.0f}"
            for name in at_rest if at_rest[name][1]))
    finally:
        if client is not None:
            client.close()
        if pg is not None:
            pg.close()
        suite.stop_all()
        suite.dispose_engines()
    return 0


if __name__ == "__main__":
    sys.exit(main())
