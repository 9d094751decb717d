"""What the tickets service does with form submissions (issue 11; a mixin `TicketsService` inherits).

- A ticket by a form's rule: the customers service stores the submission and tells `form.submitted`
  with `ticket_subject` (its form's ticket rule held); this consumer opens the ticket — source
  `form`, the customer and the contact who answered, the answers' summary as its description — and
  tells `ticket.created` with `form_submission_id`, which the customers service records on the
  submission. No dual write: the submission commits first, the ticket follows from its event.
  Exactly one ticket per submission: the inbox drops a redelivered event, and the unique index
  `(tenant_id, form_submission_id)` refuses a second ticket for the same submission told again
  under another event id (looked up first, so that case is a no-op, not a failure).
- The satisfaction survey's scores: a submission naming `survey_ticket_id` (the survey sent when
  that ticket was resolved, `customers.work_plan.surveys`) puts its CSAT and NPS scores on the
  ticket. A later answer of the same ticket's survey replaces them (the link takes one submission,
  so only a new survey would).
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from custops.entrypoints import PoisonMessage, consumes
from custops.shapes import utc_now
from tickets import customer_copies, customer_directory, helpdesk_store, ticket_store, workflow
from tickets.models import tickets

DESCRIPTION_LIMIT = 20_000


def description_of(form_name: str, summary: dict[str, str]) -> str:
    """The new ticket's description: which form, then one line per answered field."""
    lines = [f"From a submission of the form {form_name}.", ""]
    lines += [f"{key}: {text}" for key, text in summary.items()]
    return "\n".join(lines).strip()[:DESCRIPTION_LIMIT]


def apply_scores(session: Session, tenant_id, ticket_id, scores: list[dict], answered_at) -> bool:
    """The survey's CSAT/NPS scores on the ticket (the first of each type); False: no such ticket."""
    values = {"survey_answered_at": answered_at}
    for kind in ("csat", "nps"):
        score = next((s.get("score") for s in scores if s.get("type") == kind), None)
        if isinstance(score, (int, float)):
            values[f"{kind}_score"] = int(score)
    found = session.execute(update(tickets).where(tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)
                            .values(**values).returning(tickets.c.id)).first()
    return found is not None


class FormTickets:
    """Consumer of `form.submitted`. Needs `self.db` and `self.rpc_client`."""

    @consumes("customers", "form.submitted")
    def on_form_submitted(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"form.submitted {envelope.id} has no tenant")
        tenant_id = envelope.tenant_id
        if data.survey_ticket_id is not None and data.scores:
            apply_scores(session, tenant_id, data.survey_ticket_id, data.scores, data.submitted_at)
        if data.ticket_subject:
            self._open_form_ticket(session, tenant_id, data)

    def _open_form_ticket(self, session: Session, tenant_id, data) -> None:
        already = session.execute(select(tickets.c.id).where(
            tickets.c.tenant_id == tenant_id, tickets.c.form_submission_id == data.submission_id)).first()
        if already is not None:
            return
        tier = session.execute(select(customer_copies.copied_tier(tenant_id, data.customer_id))).scalar()
        if tier is None:  # not copied yet: ask (as `create_ticket` does); the answer is copied
            tier = customer_directory.customer(self.rpc_client, tenant_id, data.customer_id)["tier"]
        category = data.ticket_category or "general"
        if category not in workflow.BUILT_IN_CATEGORIES and category not in helpdesk_store.categories(
                session, tenant_id):
            category = "general"  # the rule's category was removed since: the ticket is still opened
        ticket_store.open_ticket(session, tenant_id, {
            "customer_id": data.customer_id, "customer_tier": tier, "subject": data.ticket_subject[:300],
            "description": description_of(data.form_name, data.summary),
            "priority": data.ticket_priority or "normal", "source": "form", "contact_id": data.contact_id,
            "category": category, "form_submission_id": data.submission_id,
            "last_customer_message_at": data.submitted_at}, utc_now())
