"""Recomputing open tickets' SLA timers after a configuration change: a background job in batches.

A calendar, policy, settings or holiday change, a move of the tenant's timezone (the default
calendar) and a customer's tier change used to recompute every open ticket inside the request (9,300
tickets took longer than the 5 s RPC timeout, and the work could still commit after the caller was
told it failed). Now the change's transaction only writes a row of `sla_recompute_jobs` (`enqueue`),
so no change commits without its recompute and no recompute exists without its change; the request
answers at once with the job. A worker in each tickets process (`RecomputeWorker`, run by
`tickets.sla_service.SlaRecomputeProvider`) does the work.

Decisions:
- **One job, one tenant** (or one customer of it, for a tier change: `customer_id`). A job recomputes
  every unmet timer of the open tickets in its scope with the configuration committed when each batch
  runs (read per batch), re-selecting the policy by tier and priority, as a policy change always did.
  Met timers keep what they ran under; warnings and breaches already emitted stay emitted.
- **Supersede, never lose.** A newer job whose scope covers an older one's (tenant-wide covers all; a
  tier job covers the same customer's older tier job) makes the older one `superseded`
  (`superseded_by` names it): it recomputes everything with a configuration at least as new, so no
  work is done twice and none is lost. The change's transaction supersedes what it can without
  waiting (`SKIP LOCKED`); a job that is mid-batch is superseded by the worker at its next claim.
  Jobs of one tenant are created under a per-tenant lock held to commit, so their `seq` order is
  their commit order: "newer" means "committed later", hence "sees the newer configuration".
- **Batches are transactions.** Each batch claims the oldest active job `FOR UPDATE SKIP LOCKED` (so
  any number of tickets processes share the jobs, one batch of a job at a time), locks the next
  `BATCH` tickets after the job's keyset cursor (`after_ticket_id`, ticket id order) and their unmet
  timers, recomputes them in Python (one load of the configuration, the batch's pauses in one query)
  and writes them with one `UPDATE ... FROM unnest(...)` (and one DELETE for timers the policy no
  longer targets), the cursor and the progress in the same commit. A process killed mid-batch rolls
  the batch back; the job row unlocks and the next claim (any process's) carries on from the cursor:
  no timer is left stale and none is recomputed from a half-written batch.
- **Events.** A recompute emits no event, as before: it moves deadlines, and each batch's
  `NOTIFY custops_sla` wakes the deadline clock, which emits the warnings and breaches that fall due
  (exactly once per timer, `tickets.sla_clock`). Until its batch runs, a ticket's timers keep the
  previous computation and say so: `policy_version` / `calendar_version` per timer, and
  `recompute_pending` (`pending_for`) on `get_ticket_sla`. A warning or breach falling due under the
  previous computation before the batch reaches the ticket is emitted (the window is the job's run
  time: ~1 s per 1,000 tickets).
- **Tickets opened during the change.** A ticket being opened reads the configuration and writes its
  timers in its own transaction; one that read the old configuration and commits after the scan went
  past its id would keep the old deadlines (the in-request recompute had the same hole). So when the
  scan is through, the job waits until every transaction older than its start has ended (at most
  `SETTLE_SECONDS`: an idle-in-transaction session cannot hold a job forever), then recomputes once
  more the tickets opened from `RACE_MARGIN_SECONDS` before the change to as long after the job
  started (a few, bounded by the creation rate), and only then is done. Other ticket commands lock
  the ticket before reading the configuration, as the batches do, so they need no such care; a ticket
  command on a ticket of the current batch waits for the batch (a few hundred ms).
- **Failure.** A batch that raises a database error is retried (backoff, the job stays active); any
  other error marks the job `failed` with the error (a defect: retrying would fail the same way) and
  the worker goes on with other jobs. A later change's job recomputes the tenant again.
- **Fairness under eventlet.** The arithmetic is CPU work in a green thread: the worker yields to the
  hub every `YIELD_EVERY` tickets so RPCs in the same process are not starved by a batch.
"""
from __future__ import annotations

import logging
import select
import time
import uuid
from datetime import datetime, timezone

from sqlalchemy import func, or_, select as sql_select, text, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from custops import db, pagination
from custops.contracts.tickets import OPEN_STATUSES
from custops.errors import NotFound
from tickets import sla_store
from tickets.models import sla_recompute_jobs, sla_settings, ticket_sla_timers, tickets
from tickets.sla import PauseInterval
from custops.notified_loop import NotifiedLoop

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "custops_sla_recompute"
BATCH = 500  # tickets per transaction
YIELD_EVERY = 25  # tickets computed between yields to the eventlet hub
POLL_SECONDS = 5.0  # the worker looks for jobs at least this often without a NOTIFY
SETTLE_SECONDS = 30  # the longest a finished scan waits for older transactions (see `_SETTLED`)
RACE_MARGIN_SECONDS = 5  # around the job's times: tickets opened then are recomputed once more
SETTLE_POLL = 0.05  # seconds between looks while a job waits for older transactions
ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "done", "failed", "superseded")
REASONS = ("calendar", "holidays", "policy", "settings", "timezone", "tier")

_jobs = sla_recompute_jobs


# --- in the change's transaction ------------------------------------------------------------------

def lock_tenant_jobs(session: Session, tenant_id) -> None:
    """Serialise the creation of one tenant's jobs until this transaction ends (seq order = commit order)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"custops.tickets.sla_recompute:{tenant_id}"})


def enqueue(session: Session, tenant_id, reason: str, customer_id=None) -> dict:
    """A recompute job for the tenant (or one customer's tickets), in the caller's transaction, after
    the change is written; supersedes the older jobs it covers that are not mid-batch. Returns its document."""
    assert reason in REASONS, reason
    lock_tenant_jobs(session, tenant_id)
    # (seeds the starter policies if the tenant has none yet, as the recompute would)
    policy_versions = {str(p.id): p.policy.version for p in sla_store.load_policies(session, tenant_id)}
    row = session.execute(_jobs.insert().values(
        id=uuid.uuid4(), tenant_id=tenant_id, customer_id=customer_id, reason=reason,
        calendar_version=sla_store.load_calendar(session, tenant_id).version,
        settings_version=settings_version(session, tenant_id), policy_versions=policy_versions,
    ).returning(_jobs)).mappings().one()
    older = sql_select(_jobs.c.id).where(
        _jobs.c.tenant_id == tenant_id, _jobs.c.seq < row["seq"], _jobs.c.status.in_(ACTIVE),
        true() if customer_id is None else _jobs.c.customer_id == customer_id).with_for_update(skip_locked=True)
    session.execute(update(_jobs).where(_jobs.c.id.in_(older.scalar_subquery()))
                    .values(status="superseded", superseded_by=row["id"], finished_at=func.now()))
    session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return shape(row)


def settings_version(session: Session, tenant_id) -> int:
    """The stored settings' version; 1 for the defaults (no row)."""
    return session.execute(sql_select(sla_settings.c.version).where(sla_settings.c.tenant_id == tenant_id)
                           ).scalar() or 1


# --- reading ----------------------------------------------------------------------------------------

def shape(row) -> dict:
    return {
        "id": str(row["id"]), "reason": row["reason"], "status": row["status"],
        "customer_id": str(row["customer_id"]) if row["customer_id"] else None,
        "calendar_version": row["calendar_version"], "settings_version": row["settings_version"],
        "policy_versions": dict(row["policy_versions"]),
        "total": row["total"], "done": row["done"],
        "superseded_by": str(row["superseded_by"]) if row["superseded_by"] else None,
        "error": row["error"], "created_at": _iso(row["created_at"]), "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
    }


def _iso(value):
    return value.isoformat() if value is not None else None


def get(session: Session, tenant_id, job_id) -> dict:
    row = session.execute(sql_select(_jobs).where(_jobs.c.tenant_id == tenant_id, _jobs.c.id == job_id)
                          ).mappings().first()
    if row is None:
        raise NotFound(f"SLA recompute job {job_id} not found")
    return shape(row)


def list_page(session: Session, tenant_id, limit: int, cursor: str | None, status: str | None = None) -> dict:
    """The tenant's jobs, newest first, keyset-paged."""
    stmt = sql_select(_jobs).where(_jobs.c.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(_jobs.c.status == status)
    rows = session.execute(pagination.page(stmt, _jobs.c.created_at, _jobs.c.id, cursor, limit)).mappings().all()
    return pagination.result(rows, limit, "created_at", shape)


def pending_for(session: Session, ticket: dict) -> dict | None:
    """The active job that has still to recompute this ticket's timers, if any (the oldest)."""
    row = session.execute(sql_select(_jobs).where(
        _jobs.c.tenant_id == ticket["tenant_id"], _jobs.c.status.in_(ACTIVE),
        or_(_jobs.c.customer_id.is_(None), _jobs.c.customer_id == ticket["customer_id"]),
        or_(_jobs.c.after_ticket_id.is_(None), _jobs.c.after_ticket_id < ticket["id"]))
        .order_by(_jobs.c.seq).limit(1)).mappings().first()
    return shape(row) if row is not None else None


# --- the work ---------------------------------------------------------------------------------------

# the oldest active job no other transaction is working on
_CLAIM = text("""
    SELECT * FROM sla_recompute_jobs WHERE status IN ('queued', 'running')
     ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED""")

# a newer job that recomputes this one's tickets too (a superseded one has a newer one that does)
_NEWER = text("""
    SELECT id FROM sla_recompute_jobs n
     WHERE n.tenant_id = :tenant AND n.seq > :seq AND n.status IN ('queued', 'running', 'done')
       AND (n.customer_id IS NULL OR n.customer_id = :customer)
     ORDER BY n.seq DESC LIMIT 1""")

# tickets with an unmet timer after the cursor, in id order (the (tenant_id, ticket_id) index)
_TENANT_CANDIDATES = text("""
    SELECT DISTINCT ticket_id FROM ticket_sla_timers
     WHERE tenant_id = :tenant AND met_at IS NULL AND ticket_id > :after
     ORDER BY ticket_id LIMIT :limit""")
_CUSTOMER_CANDIDATES = text("""
    SELECT k.id FROM tickets k
     WHERE k.tenant_id = :tenant AND k.customer_id = :customer AND k.id > :after
       AND EXISTS (SELECT 1 FROM ticket_sla_timers s WHERE s.ticket_id = k.id AND s.met_at IS NULL)
     ORDER BY k.id LIMIT :limit""")
_COUNT_TENANT = text("""
    SELECT count(DISTINCT ticket_id) FROM ticket_sla_timers WHERE tenant_id = :tenant AND met_at IS NULL""")
_COUNT_CUSTOMER = text("""
    SELECT count(*) FROM tickets k WHERE k.tenant_id = :tenant AND k.customer_id = :customer
       AND EXISTS (SELECT 1 FROM ticket_sla_timers s WHERE s.ticket_id = k.id AND s.met_at IS NULL)""")

_LOWEST_ID = uuid.UUID(int=0)

# every transaction of this database older than the job's start has ended (or waiting is over)
_SETTLED = text("""
    SELECT clock_timestamp() > :since + make_interval(secs => :limit) OR NOT EXISTS (
           SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
              AND xact_start < :since)""")

# the tickets opened around the change (by creation time, the (tenant_id, created_at, id) index)
_OPENED_MEANWHILE = text("""
    SELECT k.id FROM tickets k
     WHERE k.tenant_id = :tenant AND (CAST(:customer AS uuid) IS NULL OR k.customer_id = :customer)
       AND k.created_at BETWEEN :created - make_interval(secs => :margin) AND :started + make_interval(secs => :margin)
       AND EXISTS (SELECT 1 FROM ticket_sla_timers s WHERE s.ticket_id = k.id AND s.met_at IS NULL)
     ORDER BY k.id""")

_WRITE_TIMERS = text("""
    UPDATE ticket_sla_timers t
       SET target_minutes = v.target_minutes, deadline = v.deadline, warn_at = v.warn_at,
           policy_id = v.policy_id, policy_version = v.policy_version, calendar_version = v.calendar_version,
           updated_at = v.updated_at
      FROM unnest(CAST(:ticket_ids AS uuid[]), CAST(:timers AS varchar[]), CAST(:targets AS int[]),
                  CAST(:deadlines AS timestamptz[]), CAST(:warn_ats AS timestamptz[]), CAST(:policy_ids AS uuid[]),
                  CAST(:policy_versions AS int[]), CAST(:calendar_versions AS int[]),
                  CAST(:updated_ats AS timestamptz[]))
           AS v(ticket_id, timer, target_minutes, deadline, warn_at, policy_id, policy_version, calendar_version,
                updated_at)
     WHERE t.ticket_id = v.ticket_id AND t.timer = v.timer""")
_DELETE_TIMERS = text("""
    DELETE FROM ticket_sla_timers t
     USING unnest(CAST(:ticket_ids AS uuid[]), CAST(:timers AS varchar[])) AS v(ticket_id, timer)
     WHERE t.ticket_id = v.ticket_id AND t.timer = v.timer""")


def claim(session: Session) -> dict | None:
    """Lock the oldest active job no other transaction works on (until the caller's transaction ends)."""
    job = session.execute(_CLAIM).mappings().first()
    return dict(job) if job is not None else None


def advance(session: Session, job: dict, limit: int = BATCH, now: datetime | None = None) -> dict:
    """Do the next batch of a claimed job (or supersede it), in the caller's transaction: the timers,
    the cursor and the progress commit together. Returns the job's document after the batch."""
    newer = session.execute(_NEWER, {"tenant": job["tenant_id"], "seq": job["seq"],
                                     "customer": job["customer_id"]}).scalar()
    if newer is not None:
        return _finish(session, job, status="superseded", superseded_by=newer)
    params = {"tenant": job["tenant_id"], "customer": job["customer_id"]}
    if job["status"] == "queued":
        counted = session.execute(_COUNT_TENANT if job["customer_id"] is None else _COUNT_CUSTOMER, params).scalar()
        # the database's clock (compared with its transactions' start times below): after the change committed
        job.update(status="running", started_at=session.execute(text("SELECT clock_timestamp()")).scalar(),
                   total=counted)
    # one more than the batch: whether this batch is the last one
    candidates = session.execute(_TENANT_CANDIDATES if job["customer_id"] is None else _CUSTOMER_CANDIDATES, {
        **params, "after": job["after_ticket_id"] or _LOWEST_ID, "limit": limit + 1}).scalars().all()
    batch = candidates[:limit]
    if batch:
        recompute_tickets(session, job["tenant_id"], batch, now or datetime.now(timezone.utc))
        job.update(after_ticket_id=batch[-1], done=job["done"] + len(batch))
        job["total"] = max(job["total"] or 0, job["done"])  # tickets opened since the count
    if len(candidates) > limit:
        return _save(session, job)
    if not session.execute(_SETTLED, {"since": job["started_at"], "limit": SETTLE_SECONDS}).scalar():
        return _save(session, job)  # the scan is through; a ticket opened under the old configuration may commit yet
    raced = session.execute(_OPENED_MEANWHILE, {**params, "margin": RACE_MARGIN_SECONDS,
                                                "created": job["created_at"], "started": job["started_at"]}
                            ).scalars().all()
    if raced:
        recompute_tickets(session, job["tenant_id"], raced, now or datetime.now(timezone.utc))
    return _finish(session, job, status="done")


def run_batch(session: Session, limit: int = BATCH) -> dict | None:
    """Claim a job and do its next batch; a defect (not a database error) in the batch marks the job
    failed instead, its partial work rolled back. None when no job was free."""
    job = claim(session)
    if job is None:
        return None
    try:
        with session.begin_nested():
            return advance(session, job, limit)
    except DBAPIError:
        raise  # the caller's transaction is lost; the job stays active and is retried
    except Exception as exc:  # noqa: BLE001 - one job's defect must not stop the others
        log.exception("SLA recompute job %s failed", job["id"])
        return _finish(session, job, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])


def _finish(session: Session, job: dict, **values) -> dict:
    job.update(values, finished_at=datetime.now(timezone.utc))
    return _save(session, job)


def _save(session: Session, job: dict) -> dict:
    fields = ("status", "total", "done", "after_ticket_id", "started_at", "finished_at", "superseded_by", "error")
    row = session.execute(update(_jobs).where(_jobs.c.id == job["id"]).values({k: job[k] for k in fields})
                          .returning(_jobs)).mappings().one()
    return shape(row)


def recompute_tickets(session: Session, tenant_id, ticket_ids: list, now: datetime) -> int:
    """Recompute the unmet timers of the open ones of `ticket_ids` with the tenant's current
    configuration (the policy re-selected), in a few statements; returns how many timers were written.

    The tickets are locked in id order, then their timers, as the ticket commands lock them (ticket
    first): a ticket being changed is waited for and then recomputed as it is after the change."""
    sla = sla_store.load_tenant(session, tenant_id)
    open_tickets = session.execute(
        sql_select(tickets.c.id, tickets.c.customer_tier, tickets.c.priority)
        .where(tickets.c.id.in_(ticket_ids), tickets.c.tenant_id == tenant_id, tickets.c.status.in_(OPEN_STATUSES))
        .order_by(tickets.c.id).with_for_update()).all()
    if not open_tickets:
        return 0
    ids = [t.id for t in open_tickets]
    timers: dict = {}
    for row in session.execute(sql_select(ticket_sla_timers).where(
            ticket_sla_timers.c.ticket_id.in_(ids), ticket_sla_timers.c.met_at.is_(None))
            .order_by(ticket_sla_timers.c.ticket_id, ticket_sla_timers.c.timer).with_for_update()).mappings():
        timers.setdefault(row["ticket_id"], []).append(row)
    pauses: dict = {}
    for row in session.execute(text("""
            SELECT ticket_id, started_at, ended_at, status FROM ticket_sla_pauses
             WHERE ticket_id = ANY(CAST(:ids AS uuid[])) ORDER BY ticket_id, started_at, id"""), {"ids": ids}):
        pauses.setdefault(row.ticket_id, []).append(PauseInterval(row.started_at, row.ended_at, row.status))
    written: dict[str, list] = {k: [] for k in ("ticket_ids", "timers", "targets", "deadlines", "warn_ats",
                                                 "policy_ids", "policy_versions", "calendar_versions",
                                                 "updated_ats")}
    dropped: dict[str, list] = {"ticket_ids": [], "timers": []}
    for n, ticket in enumerate(open_tickets, 1):
        stored = sla.policy_for(ticket.customer_tier, ticket.priority)
        for row in timers.get(ticket.id, ()):
            target = stored.policy.targets.for_timer(row["timer"])
            if target is None:  # the policy now sets no target for this timer
                dropped["ticket_ids"].append(ticket.id)
                dropped["timers"].append(row["timer"])
                continue
            values = sla_store.timer_values(sla, stored, target, row["started_at"], pauses.get(ticket.id, []), now)
            for key, value in (("ticket_ids", ticket.id), ("timers", row["timer"]), ("targets", target),
                               ("deadlines", values["deadline"]), ("warn_ats", values["warn_at"]),
                               ("policy_ids", values["policy_id"]), ("policy_versions", values["policy_version"]),
                               ("calendar_versions", values["calendar_version"]),
                               ("updated_ats", values["updated_at"])):
                written[key].append(value)
        if n % YIELD_EVERY == 0:
            time.sleep(0)  # let the hub run the process's other green threads (RPCs)
    if written["ticket_ids"]:
        session.execute(_WRITE_TIMERS, written)
    if dropped["ticket_ids"]:
        session.execute(_DELETE_TIMERS, dropped)
    if written["ticket_ids"] or dropped["ticket_ids"]:
        # the clock wakes earlier only if this batch made something due before its next wake-up
        due = min((t for t in written["warn_ats"] + written["deadlines"] if t is not None), default=None)
        sla_store.notify(session, due)
    return len(written["ticket_ids"]) + len(dropped["ticket_ids"])


class RecomputeWorker(NotifiedLoop):
    """The loop: `run()` until `stop()`. Works batch after batch while there is work; otherwise waits
    for `NOTIFY custops_sla_recompute` (sent by `enqueue`) or `POLL_SECONDS`."""

    channel = NOTIFY_CHANNEL
    label = "SLA recompute worker"

    def __init__(self, service: str = "tickets", batch: int = BATCH):
        super().__init__(service)
        self.batch = batch

    def work(self) -> int:
        """Run batches until no job is free; returns how many ran."""
        batches, last = 0, None
        while not self.stopping:
            with db.transaction(self.engine, self.service) as session:
                job = run_batch(session, self.batch)
            if job is None:
                break
            batches += 1
            progress = (job["id"], job["status"], job["done"])
            # no progress: a job waiting for older transactions to end (`_SETTLED`)
            time.sleep(SETTLE_POLL if progress == last else 0)
            last = progress
        return batches

    def _wait(self, seconds: float) -> None:
        ready, _, _ = select.select([self.listener.fileno()], [], [], seconds)
        if ready:
            for _ in self.listener.notifies(timeout=0, stop_after=10_000):
                pass

    def round(self) -> None:
        self.work()
        self._wait(POLL_SECONDS)
