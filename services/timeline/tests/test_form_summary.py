"""`form.submitted` on the timeline: one staff-only line naming the form and its scores, by the contact."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from custops.contracts.customers import FormSubmitted
from timeline.summaries import describe


def test_a_form_submission_names_the_form_and_its_scores():
    contact_id = uuid.uuid4()
    at = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    entry = describe(FormSubmitted(
        submission_id=uuid.uuid4(), form_id=uuid.uuid4(), form_name="Quarterly\ncheck-in", form_version=2,
        customer_id=uuid.uuid4(), contact_id=contact_id, summary={"why": "Slow support"},
        scores=[{"field": "nps", "type": "nps", "score": 4, "max": 10, "category": "detractor"}], submitted_at=at))
    assert entry.summary == "Form submitted: Quarterly check-in (NPS 4)"
    assert entry.internal and entry.subject_type == "form_submission"
    assert entry.actor.id == contact_id and entry.occurred_at == at
    anonymous = describe(FormSubmitted(submission_id=uuid.uuid4(), form_id=uuid.uuid4(), form_name="Survey",
                                       form_version=1, customer_id=uuid.uuid4(), submitted_at=at))
    assert anonymous.summary == "Form submitted: Survey" and anonymous.actor is None
