"""Input shapes: normalisation and field errors (pure)."""
import uuid

import pytest

from custops.errors import InvalidInput
from custops.validation import parse
from customers.commands import ROLES, CreateContact, CreateCustomer, CreateMember, UpdateCustomer


def _fields(exc_info) -> list[str]:
    return [e["field"] for e in exc_info.value.errors]


def test_six_roles():
    assert set(ROLES) == {"owner", "admin", "member", "contractor", "portal", "read_only"}


def test_customer_domains_are_normalised_deduplicated_and_sorted():
    cmd = parse(CreateCustomer, {"name": " Acme ", "tier": "enterprise",
                                 "domains": ["Globex.example", "acme.example.", "ACME.example"]})
    assert cmd.name == "Acme"
    assert cmd.domains == ["acme.example", "globex.example"]


def test_customer_errors_name_each_field_and_domain_position():
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateCustomer, {"name": "", "tier": "huge", "domains": ["ok.example", "not a domain"],
                               "colour": "red"})
    assert sorted(_fields(exc_info)) == ["colour", "domains.1", "name", "tier"]


def test_customer_wrong_types_are_field_errors():
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateCustomer, {"name": "Acme", "tier": "smb", "domains": "acme.example", "owner_id": 7})
    assert sorted(_fields(exc_info)) == ["domains", "owner_id"]


def test_update_changes_only_what_was_given_and_null_owner_means_unassign():
    assert parse(UpdateCustomer, {"tier": "smb"}).changes() == {"tier": "smb"}
    assert parse(UpdateCustomer, {"owner_id": None}).changes() == {"owner_id": None}
    assert parse(UpdateCustomer, {}).changes() == {}
    with pytest.raises(InvalidInput) as exc_info:
        parse(UpdateCustomer, {"name": None, "tier": None, "domains": None})
    assert sorted(_fields(exc_info)) == ["domains", "name", "tier"]


def test_portal_members_need_a_customer_and_only_they_have_one():
    customer_id = uuid.uuid4()
    member = parse(CreateMember, {"email": "P@Acme.example", "name": "P", "role": "portal",
                                  "customer_id": str(customer_id)})
    assert (member.email, member.customer_id) == ("p@acme.example", customer_id)
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateMember, {"email": "p@acme.example", "name": "P", "role": "portal"})
    assert _fields(exc_info) == ["customer_id"]
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateMember, {"email": "a@us.example", "name": "A", "role": "admin", "customer_id": str(customer_id)})
    assert _fields(exc_info) == ["customer_id"]
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateMember, {"email": "a@us.example", "name": "A", "role": "superuser"})
    assert _fields(exc_info) == ["role"]


def test_contact_email_is_normalised_and_blank_phone_is_none():
    contact = parse(CreateContact, {"name": "Jane", "email": "Jane@Acme.Example", "phone": "  "})
    assert (contact.email, contact.phone, contact.portal_access) == ("jane@acme.example", None, False)
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateContact, {"name": "Jane", "email": "jane", "portal_access": "maybe"})
    assert sorted(_fields(exc_info)) == ["email", "portal_access"]
