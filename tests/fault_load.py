"""A steady load of writes through the gateway, and what must hold after a fault under it.

`SteadyLoad` sends ticket creates, replies and time entries at a fixed pace from a few client
threads (a session each) and records every answer: what was sent, the status, how long it took and
when. It keeps its pace whatever the answers (a fault must not slow the load down, nor a client
hammer a failing gateway).

`check_after_fault` asserts, from the services' own databases, what a fault may not break:
- every answer was a success or a clear 503/504 problem document (503 with Retry-After);
- every write that succeeded is stored, and every stored write of the tenant (including one whose
  caller got a 504: it may have run) has exactly one event in its outbox, on the timeline exactly
  once (one activity per event, one inbox claim per consumer), and every ticket in the reports once;
- every outbox row is sent (none pending, none unroutable), no event waits in a queue and none is
  dead-lettered: no message sits anywhere but where it was consumed.

`tickets_while_killed` posts a fixed number of tickets from a few clients as fast as they go while
one service is killed (-9) part way and restarted later, and says how far the load had got at each.

Used by tests/faults/ and by tests/bench/broker_recovery.py.
"""
from __future__ import annotations

import functools
import itertools
import queue
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from harness import Suite, Tenant, create_customer, eventually

KINDS = ("ticket", "reply", "time")
CONVERGE_DEADLINE = 60.0
OK = {"ticket": 201, "reply": 201, "time": 201}


@dataclass
class Answer:
    kind: str
    status: int  # 0: no HTTP answer at all (connection refused, client timeout)
    started: float  # time.monotonic()
    seconds: float
    id: str | None = None  # of what was created
    retry_after: str | None = None
    problem: dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK[self.kind]


@dataclass
class SteadyLoad:
    """`clients` threads, each sending one request every `interval` seconds, in turn a ticket, a
    reply to one of the tickets created so far, a time entry on one of them."""

    suite: Suite
    tenant: Tenant
    clients: int = 3
    interval: float = 0.35
    customer: dict | None = None
    answers: list[Answer] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.customer = self.customer or create_customer(self.tenant.api)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._seq = itertools.count()

    # -------------------------------------------------------------------------------------- running

    def start(self) -> "SteadyLoad":
        for n in range(self.clients):
            t = threading.Thread(target=self._client, args=(n,), name=f"load-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in self._threads), "a load client did not stop"

    def run_for(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _client(self, n: int) -> None:
        api = self.suite.api(self.tenant.token)
        api.timeout = 15
        rng = random.Random(n)
        kinds = itertools.cycle(KINDS[n % 3:] + KINDS[:n % 3])
        next_at = time.monotonic() + rng.random() * self.interval
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at += self.interval
            kind = next(kinds)
            with self._lock:
                ticket = rng.choice(self.tickets) if self.tickets else None
            if kind != "ticket" and ticket is None:
                kind = "ticket"
            self._record(kind, functools.partial(self._send, api, kind, ticket))

    def _send(self, api, kind: str, ticket: str | None):
        seq = next(self._seq)
        if kind == "ticket":
            return api.post("/api/v1/tickets", json={"customer_id": self.customer["id"], "subject": f"load {seq}",
                                                     "priority": "normal"})
        if kind == "reply":
            return api.post(f"/api/v1/tickets/{ticket}/messages", json={"kind": "reply", "body": f"reply {seq}"})
        return api.post("/api/v1/time-entries", json={"customer_id": self.customer["id"], "ticket_id": ticket,
                                                      "minutes": 5 + seq % 50, "billable": True, "note": f"load {seq}"})

    def _record(self, kind: str, send) -> None:
        import requests

        started = time.monotonic()
        try:
            response = send()
        except requests.RequestException as exc:
            answer = Answer(kind, 0, started, time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")
        else:
            answer = Answer(kind, response.status_code, started, time.monotonic() - started,
                            retry_after=response.headers.get("Retry-After"))
            try:
                body = response.json()
            except ValueError:
                body = None
            if answer.ok and isinstance(body, dict):
                answer.id = str((body.get("message") or body)["id"]) if kind == "reply" else str(body["id"])
            elif isinstance(body, dict):
                answer.problem = body
            else:
                answer.error = response.text[:300]
        with self._lock:
            self.answers.append(answer)
            if answer.ok and kind == "ticket":
                self.tickets.append(answer.id)

    # -------------------------------------------------------------------------------------- looking

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.started < end]

    def statuses(self, answers: list[Answer] | None = None) -> Counter:
        return Counter(a.status for a in (self.answers if answers is None else answers))

    def succeeded(self, kind: str) -> set[str]:
        return {a.id for a in self.answers if a.kind == kind and a.ok}

    def first_success_after(self, instant: float) -> dict[str, float | None]:
        """Seconds from `instant` to the first request of each kind sent after it that succeeded
        and after which that kind did not fail again (None: never)."""
        found: dict[str, float | None] = {}
        for kind in KINDS:
            later = sorted((a for a in self.answers if a.kind == kind and a.started >= instant),
                           key=lambda a: a.started)
            recovered = None
            for a in later:
                if a.ok and recovered is None:
                    recovered = a.started - instant
                elif not a.ok:
                    recovered = None
            found[kind] = recovered
        return found

    def summary(self) -> str:
        by_kind = {k: dict(self.statuses([a for a in self.answers if a.kind == k])) for k in KINDS}
        return f"{len(self.answers)} requests; statuses by kind: {by_kind}"


def _engine(suite: Suite, service: str):
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = suite.env.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    return create_engine(make_url(server).set(drivername="postgresql+psycopg",
                                              database=suite.env["CUSTOPS_DB_PREFIX"] + service))


def execute(suite: Suite, service: str, sql: str, **params) -> int:
    """Run one writing statement on a service's database of `suite` (a test's poke); rows affected."""
    from sqlalchemy import text

    engine = _engine(suite, service)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).rowcount
    finally:
        engine.dispose()


def commit_tickets_directly(suite: Suite, tenant: Tenant, customer: dict, n: int, label: str) -> list[str]:
    """Open `n` tickets with the tickets service's own store code, in its database, without any RPC —
    as its mail import or clock would commit them, e.g. while the broker is down: their ticket.created
    events wait in the outbox for the relay. Returns their ids."""
    from datetime import datetime, timezone

    from custops import db
    from tickets import ticket_store

    engine = _engine(suite, "tickets")
    ids = []
    try:
        for i in range(n):
            with db.transaction(engine, "tickets") as session:
                row = ticket_store.open_ticket(session, uuid.UUID(tenant.id), {
                    "customer_id": uuid.UUID(customer["id"]), "customer_tier": customer.get("tier", "smb"),
                    "subject": f"{label} {i}", "priority": "normal", "source": "email"},
                    datetime.now(timezone.utc))
                ids.append(str(row["id"]))
    finally:
        engine.dispose()
    return ids


# ----------------------------------------------------------------------------------- what must hold


def check_answers(load: SteadyLoad) -> None:
    """Every answer a success, or a 503 (with Retry-After) / 504 problem document."""
    bad = [a for a in load.answers if not a.ok and a.status not in (503, 504)]
    assert not bad, f"answers other than success/503/504: {[(a.kind, a.status, a.problem or a.error) for a in bad[:5]]}"
    for a in load.answers:
        if a.status in (503, 504):
            assert a.problem and a.problem.get("status") == a.status, (a.kind, a.status, a.problem, a.error)
        if a.status == 503:
            assert a.retry_after, f"a 503 without Retry-After: {a.problem}"


def check_stored_once(suite: Suite, tenant: Tenant, load: SteadyLoad) -> dict[str, int]:
    """The databases agree with each other and with the answers (see the module docstring);
    returns how many writes of each kind are stored."""
    tid = uuid.UUID(tenant.id)
    tickets = {str(r[0]) for r in suite.query("tickets", "SELECT id FROM tickets WHERE tenant_id = :t", t=tid)}
    replies = {str(r[0]) for r in suite.query(
        "tickets", "SELECT id FROM ticket_messages WHERE tenant_id = :t AND kind = 'reply'", t=tid)}
    entries = {str(r[0]) for r in suite.query("billing", "SELECT id FROM time_entries WHERE tenant_id = :t", t=tid)}
    for kind, stored in (("ticket", tickets), ("reply", replies), ("time", entries)):
        missing = load.succeeded(kind) - stored
        assert not missing, f"{len(missing)} {kind} writes answered with success are not stored: {sorted(missing)[:3]}"

    def events(service: str, event_type: str, key: str) -> dict[str, list[str]]:
        rows = suite.query(service, "SELECT id, envelope->'data'->>:key FROM outbox WHERE tenant_id = :t "
                                    "AND type = :type", t=tid, type=event_type, key=key)
        found: dict[str, list[str]] = {}
        for event_id, subject in rows:
            found.setdefault(subject, []).append(str(event_id))
        return found

    expected: dict[str, str] = {}  # event id -> its event type
    for service, event_type, key, stored in (("tickets", "ticket.created", "ticket_id", tickets),
                                            ("tickets", "ticket.replied", "message_id", replies),
                                            ("billing", "time.logged", "entry_id", entries)):
        found = events(service, event_type, key)
        assert set(found) == stored, f"{event_type}: outbox subjects differ from the stored rows " \
                                     f"({len(set(found) ^ stored)} differ)"
        doubled = {s: ids for s, ids in found.items() if len(ids) != 1}
        assert not doubled, f"{event_type}: more than one event for one write: {list(doubled.items())[:3]}"
        expected.update({ids[0]: event_type for ids in found.values()})

    def timeline_caught_up():
        rows = suite.query("timeline", "SELECT source_event_id, type FROM activities WHERE tenant_id = :t "
                                       "AND type = ANY(:types)", t=tid, types=sorted(set(expected.values())))
        got = Counter(str(r[0]) for r in rows)
        missing = set(expected) - set(got)
        assert not missing, f"{len(missing)} of {len(expected)} events not yet on the timeline"
        return got

    got = eventually(timeline_caught_up, CONVERGE_DEADLINE, "every event of the load on the timeline", interval=1.0)
    assert set(got) == set(expected), f"{len(set(got) - set(expected))} timeline entries without a stored write"
    assert set(got.values()) == {1}, f"doubled on the timeline: {[e for e, n in got.items() if n > 1][:3]}"
    claims = suite.query("timeline", "SELECT event_id, count(*) FROM inbox WHERE event_id = ANY(:ids) "
                                     "GROUP BY event_id, consumer", ids=[uuid.UUID(e) for e in expected])
    assert {n for _, n in claims} <= {1}, "an event claimed twice by one consumer"

    def reports_caught_up():
        rows = suite.query("reports", "SELECT ticket_id FROM ticket_facts WHERE tenant_id = :t "
                                      "AND created_at IS NOT NULL", t=tid)
        facts = Counter(str(r[0]) for r in rows)
        assert set(facts) == tickets, f"reports hold {len(facts)} of {len(tickets)} tickets"
        return facts

    facts = eventually(reports_caught_up, CONVERGE_DEADLINE, "every ticket in the reports", interval=1.0)
    assert set(facts.values()) == {1} or not facts
    return {"ticket": len(tickets), "reply": len(replies), "time": len(entries)}


def check_nothing_left_over(suite: Suite, queue_depths) -> None:
    """Every outbox row sent (none pending or unroutable), every event queue drained, no dead letters.
    `queue_depths()` gives {queue: (ready, unacked)} of the suite's broker."""
    from custops import config

    def outboxes_sent():
        left = {}
        for service in config.SERVICES:
            rows = suite.query(service, "SELECT status, count(*) FROM outbox WHERE status <> 'sent' GROUP BY status")
            if rows:
                left[service] = dict(rows)
        assert not any("unroutable" in v for v in left.values()), f"unroutable outbox rows: {left}"
        assert not left, f"outbox rows not sent: {left}"
        return True

    eventually(outboxes_sent, CONVERGE_DEADLINE, "every outbox row sent", interval=1.0)

    def queues_drained():
        depths = queue_depths()
        dead = {q: d for q, d in depths.items() if q.startswith("dlq.") and sum(d)}
        assert not dead, f"dead-lettered: {dead}"
        waiting = {q: d for q, d in depths.items() if q.startswith("evt-") and sum(d)}
        assert not waiting, f"events still queued: {waiting}"
        return True

    eventually(queues_drained, CONVERGE_DEADLINE, "every event queue drained, no dead letters", interval=1.0)


def pids(suite: Suite) -> dict[str, int]:
    return {name: proc.popen.pid for name, proc in suite.procs.items() if proc.popen is not None}


def check_no_restart(suite: Suite, before: dict[str, int], except_for: str | None = None) -> None:
    """No process restarted (or died) but `except_for`."""
    dead = [n for n, p in suite.procs.items() if n in before and not p.alive()]
    assert not dead, f"processes died: {dead}\n" + "\n".join(suite.tail(n) for n in dead)
    now = pids(suite)
    changed = sorted(n for n in before if now.get(n) != before[n] and n != except_for)
    assert not changed, f"processes restarted: {changed}"
    for name in suite.procs:
        current_run = suite.log(name).split("==== harness: starting")[-1]
        assert "thread exited with error" not in current_run, f"{name}: a worker thread died\n{suite.tail(name)}"


@dataclass
class KilledMidLoad:
    created: list  # the 201 answers
    failures: list  # every other answer
    created_at_kill: int
    created_at_restart: int


def tickets_while_killed(suite: Suite, tenant: Tenant, customer: dict, service: str, tickets: int,
                         kill_after: int, restart_after: int, clients: int = 4,
                         deadline_seconds: float = 120.0) -> KilledMidLoad:
    """Post `tickets` tickets from `clients` threads; kill `service` once `kill_after` are created and
    start it again once `restart_after` are (or at the deadline, whichever comes first)."""
    todo: queue.Queue[int] = queue.Queue()
    for n in range(tickets):
        todo.put(n)
    created, failures = [], []

    def client():
        api = suite.api(tenant.token)  # a session per thread: requests sessions are not thread-safe
        while True:
            try:
                n = todo.get_nowait()
            except queue.Empty:
                return
            response = api.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": f"load {n}"})
            (created if response.status_code == 201 else failures).append(response)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + deadline_seconds
    while len(created) < kill_after and time.monotonic() < deadline:
        time.sleep(0.005)
    suite.kill9(service)
    created_at_kill = len(created)
    while len(created) < restart_after and time.monotonic() < deadline:
        time.sleep(0.005)
    created_at_restart = len(created)
    suite.start(service)
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    return KilledMidLoad(created, failures, created_at_kill, created_at_restart)


def _probe(url: str, timeout: float) -> int:
    import requests

    try:
        return requests.get(url, timeout=timeout).status_code
    except requests.RequestException:
        return 0


def process_statuses(suite: Suite, path: str, timeout: float = 5.0) -> dict[str, int]:
    """Every process's answer to `path` (/readyz, /healthz), asked at once (one look at one instant,
    not spread over seconds); 0 where none came."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(suite.procs)) as pool:
        answers = {name: pool.submit(_probe, f"http://127.0.0.1:{proc.port}{path}", timeout)
                   for name, proc in suite.procs.items()}
        return {name: f.result() for name, f in answers.items()}
