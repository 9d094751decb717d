"""Importing a tool's CSV export in the background, as a job whose progress the API shows (issue 11).

- `start_job` checks the file can be read and the project exists (a 4xx otherwise: nothing queued),
  then stores the job `queued` with the file and its row count, and NOTIFYs the worker.
- The worker (`ImportWorker`, every instance of the service runs one) claims the oldest waiting job
  with SKIP LOCKED, parses the file once, and imports it in chunks of `CHUNK` rows, each chunk's
  tasks and the job's progress (`rows_done`, `created`, `skipped`, the heartbeat) in ONE
  transaction: the job's progress never says more than the project holds, and a resumed job goes
  on from `rows_done`.
- A restart never leaves a job `running` for ever: a running job whose heartbeat is older than
  `STALE_AFTER` (its worker died) is claimed again and resumed, at most `MAX_ATTEMPTS` times, then
  `failed`. Rows carry their stable key (`import_store`), so a resumed or re-run import never
  doubles a task.
- The end is `done` or `failed` (with `failure`: a file or project that cannot be imported any
  more), told as `import_job.finished`.

`rows_total` counts the rows the file holds tasks in; `errors` lists every row it cannot take
(`{line, key, message}`), which the import skips; `skipped` counts rows already imported.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from custops import caller, db, outbox
from custops.contracts.customers import ImportJobFinished
from custops.errors import InvalidInput, NotFound
from custops.notified_loop import DeadlineLoop
from customers.models import import_jobs
from customers.work_plan import import_store, store
from customers.work_plan.commands import _Input

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "custops_import_jobs"
CHUNK = 1000
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 3
WARNINGS_KEPT = 200


class StartImport(_Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    csv: Annotated[str, Field(min_length=1, max_length=20 * 1024 * 1024)]
    tool: Literal["monday", "clickup", "asana", "notion"] | None = None
    mapping: Annotated[dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]],
                       Field(max_length=20)] | None = None


def job_shape(row) -> dict:
    return {"id": str(row["id"]), "project_id": str(row["project_id"]), "status": row["status"], "tool": row["tool"],
            "mapping": row["mapping"], "rows_total": row["rows_total"], "rows_done": row["rows_done"],
            "created": row["created"], "skipped": row["skipped"], "errors": row["errors"],
            "warnings": row["warnings"], "failure": row["failure"], "attempts": row["attempts"],
            "created_at": row["created_at"].isoformat(), "started_at": store._iso(row["started_at"]),
            "finished_at": store._iso(row["finished_at"])}


def start_job(session: Session, tenant_id, project_id, cmd: StartImport) -> dict:
    parsed = import_store.read_export(cmd.csv.encode("utf-8"), cmd.tool, cmd.mapping)
    store.load_project(session, tenant_id, project_id)
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "project_id": project_id, "status": "queued", "csv": cmd.csv,
           "tool": parsed.tool, "mapping": cmd.mapping, "rows_total": len(parsed.rows), "rows_done": 0,
           "created": 0, "skipped": 0, "errors": [{"line": e.line, "key": e.key, "message": e.message}
                                                 for e in parsed.errors],
           "warnings": [], "failure": None, "attempts": 0, "heartbeat_at": None,
           "created_by": store.actor_member_id(), "created_at": store.now(), "started_at": None, "finished_at": None}
    session.execute(insert(import_jobs).values(**row))
    session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))  # wake a worker (sent at commit)
    return job_shape(row)


def get_job(session: Session, tenant_id, job_id) -> dict:
    row = session.execute(select(import_jobs).where(import_jobs.c.tenant_id == tenant_id,
                                                    import_jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"import job {job_id} not found")
    return job_shape(row)


def _waiting(now: datetime):
    return or_(import_jobs.c.status == "queued",
               (import_jobs.c.status == "running") & (import_jobs.c.heartbeat_at < now - STALE_AFTER))


def claim(session: Session, now: datetime) -> dict | None:
    """The oldest waiting job (queued, or running with a dead worker), now `running` under this worker
    (attempt counted); one past its attempts is `failed` instead and the next is looked at."""
    while True:
        row = session.execute(select(import_jobs).where(_waiting(now)).order_by(import_jobs.c.created_at)
                              .limit(1).with_for_update(skip_locked=True)).mappings().first()
        if row is None:
            return None
        if row["attempts"] >= MAX_ATTEMPTS:
            _finish(session, dict(row), "failed", f"interrupted {row['attempts']} times; not resumed again", now)
            continue
        values = {"status": "running", "attempts": row["attempts"] + 1, "heartbeat_at": now,
                  "started_at": row["started_at"] or now}
        session.execute(update(import_jobs).where(import_jobs.c.id == row["id"]).values(**values))
        return {**row, **values}


def _finish(session: Session, job: dict, status: str, failure: str | None, now: datetime) -> None:
    session.execute(update(import_jobs).where(import_jobs.c.id == job["id"]).values(
        status=status, failure=failure, finished_at=now, heartbeat_at=now))
    outbox.add(session, job["tenant_id"], ImportJobFinished(
        job_id=job["id"], project_id=job["project_id"], status=status, rows_total=job["rows_total"] or 0,
        created=job["created"], skipped=job["skipped"]))


def run_chunk(session: Session, job_id, attempt: int, parsed, now: datetime) -> bool:
    """Import the job's next chunk and record its progress; True when there is more to do. A job no
    longer ours (claimed again after our heartbeat went stale) is left alone (False)."""
    job = session.execute(select(import_jobs).where(import_jobs.c.id == job_id).with_for_update()).mappings().first()
    if job is None or job["status"] != "running" or job["attempts"] != attempt:
        return False
    job = dict(job)
    try:
        report = import_store.import_parsed(session, job["tenant_id"], job["project_id"], parsed, dry_run=False,
                                            offset=job["rows_done"], limit=CHUNK)
    except (InvalidInput, NotFound) as exc:  # e.g. the project was deleted meanwhile
        _finish(session, job, "failed", str(exc), now)
        return False
    job["created"] += report["created"]
    job["skipped"] += report["already_imported"]
    done = report["next_offset"] is None
    values = {"rows_done": job["rows_total"] if done else report["next_offset"], "created": job["created"],
              "skipped": job["skipped"], "heartbeat_at": now,
              "warnings": (job["warnings"] + report["warnings"])[:WARNINGS_KEPT]}
    session.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(**values))
    if done:
        _finish(session, {**job, **values}, "done", None, now)
    return not done


def run_job(engine, service: str, job: dict) -> None:
    """Run a claimed job to its end (or until it is no longer ours)."""
    try:
        parsed = import_store.read_export(job["csv"].encode("utf-8"), job["tool"], job["mapping"])
    except InvalidInput as exc:
        with db.transaction(engine, service) as session:
            _finish(session, job, "failed", str(exc), store.now())
        return
    more = True
    # the tasks' events name who started the import (the audit's actor)
    with caller.using(caller.member(job["created_by"]) if job["created_by"] else None):
        while more:
            with db.transaction(engine, service) as session:
                more = run_chunk(session, job["id"], job["attempts"], parsed, store.now())


class ImportWorker(DeadlineLoop):
    """Runs waiting import jobs one at a time; woken by the NOTIFY of a new job, and looks every
    `max_sleep` seconds for a job whose worker died."""

    channel = NOTIFY_CHANNEL
    label = "import worker"
    max_sleep = 15.0

    def tick(self) -> float:
        with db.transaction(self.engine, self.service) as session:
            job = claim(session, store.now())
        if job is None:
            return self.max_sleep
        log.info("import job %s: %s rows from row %s (attempt %s)", job["id"], job["rows_total"], job["rows_done"],
                 job["attempts"])
        run_job(self.engine, self.service, job)
        return 0.0  # look for the next one at once
