"""Satisfaction surveys: when a ticket is resolved, the tenant's survey form (CSAT/NPS) goes to the
ticket's requester by a one-submission, expiring link (issue 11).

How it flows, with no dual write:
- The tenant's setting (`survey_settings`: on/off, which form, a delay after resolution, 0 by
  default, and how long a link lives) is changed by `put_settings`, told as `survey_settings.changed`.
- `ticket.resolved` (from the tickets service, naming the requester contact) queues one survey
  request per ticket, due at resolution + delay, in the consumer's inbox transaction: a redelivered
  event or a ticket resolved again after a reopen changes nothing (unique per ticket).
- A due request gets its link (`forms_store.insert_link`, with the ticket's id on it) and
  `survey.requested` with the link's URL, in one transaction: at once when the delay is 0, else
  the survey clock (`SurveyClock`, every instance runs one; rows taken with SKIP LOCKED) does it
  when due. A ticket with no requester, or surveys turned off by then, ends the request with that
  outcome and sends nothing.
- The answer is an ordinary submission (`forms_store._submit`) naming `survey_ticket_id`: its scores
  become the customer's latest, the tickets service puts them on the ticket, and the reports
  service's health reads them from `form.submitted` as from any form.

Sending the mail: `survey.requested` carries the URL (with the link token, told only there) and the
contact's address; the mailsync service sends the mail (`mailsync.survey_mail`, docs/forms.md).
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops import db, outbox
from custops.contracts.customers import SurveyRequested, SurveySettingsChanged
from custops.errors import InvalidInput, NotFound
from custops.notified_loop import DeadlineLoop
from customers.access_store import require_tenant
from customers.models import contacts, survey_requests, survey_settings
from customers.work_plan import forms as rules
from customers.work_plan import forms_store, store
from customers.work_plan.commands import _Input

NOTIFY_CHANNEL = "custops_surveys_due"
BATCH = 100
# where a link opens (the gateway's public address; locally the gateway's port); the token follows
LINK_URL = os.environ.get("CUSTOPS_FORM_LINK_URL") or (
    f"http://127.0.0.1:{os.environ.get('CUSTOPS_GATEWAY_PORT', '8080')}/api/v1/forms/by-link/")

DEFAULTS = {"enabled": False, "form_id": None, "delay_minutes": 0, "expires_in_days": 14}


class SurveySettings(_Input):
    enabled: bool = None
    form_id: uuid.UUID | None = None
    delay_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 30)] = None
    expires_in_days: Annotated[int, Field(ge=1, le=365)] = None


def settings_shape(row: dict) -> dict:
    return {"enabled": row["enabled"], "form_id": store._str(row["form_id"]),
            "delay_minutes": row["delay_minutes"], "expires_in_days": row["expires_in_days"]}


def _settings(session: Session, tenant_id, for_update=False) -> dict:
    stmt = select(survey_settings).where(survey_settings.c.tenant_id == tenant_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    return dict(row) if row is not None else dict(DEFAULTS)


def get_settings(session: Session, tenant_id) -> dict:
    require_tenant(session, tenant_id)
    return settings_shape(_settings(session, tenant_id))


def put_settings(session: Session, tenant_id, cmd: SurveySettings) -> dict:
    """Change the given keys; turning surveys on needs a form with a CSAT or NPS field."""
    require_tenant(session, tenant_id)
    current = _settings(session, tenant_id, for_update=True)
    given = {k: getattr(cmd, k) for k in cmd.model_fields_set}
    if "form_id" in given and given["form_id"] is not None:
        try:
            form = forms_store.load_form(session, tenant_id, given["form_id"])
        except NotFound:
            raise InvalidInput("no such form",
                               [{"field": "form_id", "message": "no such form in this tenant"}]) from None
        if not any(f.type in ("csat", "nps") for f in rules.FormDefinition.model_validate(form["definition"]).fields()):
            raise InvalidInput("the form asks no CSAT or NPS question",
                               [{"field": "form_id", "message": "a survey form needs a csat or nps field"}])
    merged = {**current, **given}
    if merged["enabled"] and merged["form_id"] is None:
        raise InvalidInput("a survey needs a form", [{"field": "form_id", "message": "required to turn surveys on"}])
    values = {k: merged[k] for k in DEFAULTS}
    session.execute(insert(survey_settings).values(tenant_id=tenant_id, **values, updated_at=store.now())
                    .on_conflict_do_update(index_elements=[survey_settings.c.tenant_id],
                                           set_={**values, "updated_at": store.now()}))
    outbox.add(session, tenant_id, SurveySettingsChanged(**values))
    return settings_shape(values)


def on_ticket_resolved(session: Session, tenant_id, data) -> None:
    """Queue the ticket's survey (once per ticket) when the tenant sends surveys; make it now when due."""
    settings = _settings(session, tenant_id)
    if not settings["enabled"] or settings["form_id"] is None:
        return
    due_at = data.resolved_at + timedelta(minutes=settings["delay_minutes"])
    queued = session.execute(insert(survey_requests).values(
        id=uuid.uuid4(), tenant_id=tenant_id, ticket_id=data.ticket_id, ticket_number=data.number,
        customer_id=data.customer_id, contact_id=data.contact_id, form_id=settings["form_id"], due_at=due_at,
        created_at=store.now()).on_conflict_do_nothing().returning(survey_requests)).mappings().first()
    if queued is None:
        return  # this ticket's survey was queued already
    if due_at <= store.now():
        _send(session, dict(queued))
    else:
        session.execute(select(func.pg_notify(NOTIFY_CHANNEL, due_at.isoformat())))  # wake the clock


def _send(session: Session, request: dict) -> None:
    """Make a due request's link and tell `survey.requested` (or end it: no requester, surveys off)."""
    settings = _settings(session, request["tenant_id"])
    outcome, link_id = "sent", None
    contact = request["contact_id"] is not None and session.execute(select(contacts.c.email).where(
        contacts.c.tenant_id == request["tenant_id"], contacts.c.id == request["contact_id"],
        contacts.c.customer_id == request["customer_id"], contacts.c.archived_at.is_(None))).first()
    contact_ok = bool(contact)
    form_id = settings["form_id"] or request["form_id"]
    if not settings["enabled"] or form_id is None:
        outcome = "disabled"
    elif not contact_ok:
        outcome = "no_contact"
    else:
        link, token = forms_store.insert_link(
            session, request["tenant_id"], form_id, request["customer_id"], request["contact_id"], multiple=False,
            expires_in_days=settings["expires_in_days"], prefill={}, ticket_id=request["ticket_id"])
        link_id = link["id"]
        outbox.add(session, request["tenant_id"], SurveyRequested(
            link_id=link_id, form_id=form_id, ticket_id=request["ticket_id"], ticket_number=request["ticket_number"],
            customer_id=request["customer_id"], contact_id=request["contact_id"], url=LINK_URL + token,
            expires_at=link["expires_at"], contact_email=contact.email))
    session.execute(update(survey_requests).where(survey_requests.c.id == request["id"])
                    .values(outcome=outcome, link_id=link_id))


def send_due(session: Session, now: datetime) -> int:
    """Send up to BATCH due surveys (rows another instance holds are skipped); how many were taken."""
    rows = session.execute(select(survey_requests).where(
        survey_requests.c.outcome.is_(None), survey_requests.c.due_at <= now)
        .order_by(survey_requests.c.due_at).limit(BATCH).with_for_update(skip_locked=True)).mappings().all()
    for row in rows:
        _send(session, dict(row))
    return len(rows)


class SurveyClock(DeadlineLoop):
    """Sends delayed surveys when due (woken by the NOTIFY of a queued one; a look every 30 s at most)."""

    channel = NOTIFY_CHANNEL
    label = "survey clock"

    def tick(self) -> float:
        while True:
            with db.transaction(self.engine, self.service) as session:
                taken = send_due(session, store.now())
            if taken < BATCH:
                break
        with self.engine.connect() as conn:
            next_due = conn.execute(select(survey_requests.c.due_at).where(survey_requests.c.outcome.is_(None))
                                    .order_by(survey_requests.c.due_at).limit(1)).scalar()
        return self.sleep_for(None if next_due is None else (next_due - store.now()).total_seconds())
