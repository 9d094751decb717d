"""The event contracts: envelope shape, typed payloads, and the generated catalog."""
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from custops.catalog import render
from custops.contracts.tickets import TicketCreated
from custops.events import Envelope, UnknownContract, all_contracts, envelope_for

CATALOG = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def ticket_created(**over):
    fields = dict(ticket_id=uuid.uuid4(), number=1, customer_id=uuid.uuid4(), subject="Printer on fire",
                  priority="urgent", status="new", source="email", created_at=datetime.now(timezone.utc))
    fields.update(over)
    return TicketCreated(**fields)


def test_envelope_round_trips_through_json_with_its_typed_payload():
    env = envelope_for(ticket_created(), uuid.uuid4(), traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    again = Envelope.model_validate_json(env.model_dump_json())
    assert again == env
    assert again.producer == "tickets" and again.exchange == "tickets.events"
    assert again.occurred_at.tzinfo is not None
    assert again.payload().subject == "Printer on fire"


def test_consumers_ignore_fields_added_within_a_version():
    env = envelope_for(ticket_created(), uuid.uuid4())
    data = {**env.data, "sla_policy": "gold"}
    assert Envelope.model_validate({**env.model_dump(mode="json"), "data": data}).payload().number == 1


def test_payload_that_breaks_its_contract_is_rejected():
    env = envelope_for(ticket_created(), uuid.uuid4()).model_dump(mode="json")
    env["data"]["priority"] = "whenever"
    with pytest.raises(ValidationError):
        Envelope.model_validate(env).payload()


def test_naive_timestamps_are_not_accepted():
    env = envelope_for(ticket_created(), uuid.uuid4()).model_dump(mode="json")
    env["occurred_at"] = "2026-11-23T10:00:00"
    with pytest.raises(ValidationError):
        Envelope.model_validate(env)


def test_unknown_type_or_version_has_no_contract():
    env = envelope_for(ticket_created(), uuid.uuid4()).model_dump(mode="json")
    with pytest.raises(UnknownContract):
        Envelope.model_validate({**env, "version": 99}).payload()


def test_every_contract_has_a_description_and_the_catalog_is_current():
    assert all(c.DESCRIPTION for c in all_contracts())
    assert CATALOG.exists(), "run `custops catalog` to generate docs/events.md"
    assert CATALOG.read_text() == render(), "docs/events.md is stale: run `custops catalog`"


SETUP_EVENTS = ("team.created", "team.updated", "team.archived", "canned_response.created",
                "canned_response.deleted", "category.added", "category.removed", "sla_policy.saved",
                "sla_policy.deleted", "business_calendar.changed", "sla_settings.changed")


def test_the_tickets_setup_contracts_tell_what_changed_and_what_it_was():
    """Every help-desk and SLA setup change has a tickets contract (the audit log records it); those
    telling `changes` tell `previous` too (the audit digest's before), and the vocabularies hold."""
    from custops.contracts import tickets
    from custops.events import contract_for

    contracts = {t: contract_for(t, 1) for t in SETUP_EVENTS}
    assert {c.PRODUCER for c in contracts.values()} == {"tickets"}
    for c in contracts.values():
        if "changes" in c.model_fields:
            assert "previous" in c.model_fields, c.TYPE
    saved = tickets.SlaPolicySaved(sla_policy_id=uuid.uuid4(), tier="smb", priority=None, version=2, created=False,
                                   changes={"first_response_minutes": 15}, previous={"first_response_minutes": 30},
                                   saved_at=datetime.now(timezone.utc))
    env = envelope_for(saved, uuid.uuid4())
    again = Envelope.model_validate_json(env.model_dump_json())
    assert again.payload() == saved and again.exchange == "tickets.events"
    for field, bad in (("tier", "platinum"), ("priority", "whenever")):
        with pytest.raises(ValidationError):
            Envelope.model_validate({**env.model_dump(mode="json"),
                                     "data": {**env.model_dump(mode="json")["data"], field: bad}}).payload()
    with pytest.raises(ValidationError):
        tickets.BusinessCalendarChanged(version=2, source="fax", changes={}, previous={},
                                        changed_at=datetime.now(timezone.utc))
