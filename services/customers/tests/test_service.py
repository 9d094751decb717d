"""The customers service against the real RabbitMQ and PostgreSQL."""
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from custops import db, outbox
from custops.errors import Conflict, InvalidInput, NotFound
from customers.models import api_tokens, tenants


@pytest.fixture
def tenant(new_tenant):
    """A fresh tenant of its own: `{tenant_id, member_id, token}`."""
    return new_tenant("Owner@Us.Example", "Olive Owner")


def _outbox(type_: str, tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        rows = conn.execute(select(table).where(table.c.type == type_, table.c.tenant_id == uuid.UUID(tenant_id))
                            .order_by(table.c.seq)).mappings().all()
    return [dict(r) for r in rows]


def _customer(rpc, tenant, **fields):
    payload = {"name": "Acme Corp", "tier": "enterprise", "domains": [f"{uuid.uuid4().hex[:12]}.example"]}
    return rpc.call("customers", "create_customer", tenant["tenant_id"], {**payload, **fields})


# --- tenants, members, tokens ---

def test_a_new_tenants_token_authenticates_as_its_owner(rpc, tenant):
    who = rpc.call("customers", "authenticate", tenant["token"])
    assert who == {"tenant_id": tenant["tenant_id"], "member_id": tenant["member_id"], "role": "owner",
                   "customer_id": None, "contact_id": None, "email": "owner@us.example", "token_id": tenant["token_id"],
                   "read_only": False, "expires_at": None}


def test_unknown_malformed_and_revoked_tokens_do_not_authenticate(rpc, tenant):
    issued = rpc.call("customers", "issue_token", tenant["tenant_id"], tenant["member_id"], "ci")
    assert issued["token"].startswith(issued["prefix"])
    assert rpc.call("customers", "authenticate", issued["token"])["member_id"] == tenant["member_id"]

    revoked = rpc.call("customers", "revoke_token", tenant["tenant_id"], issued["token_id"])
    assert revoked["revoked_at"] is not None
    assert rpc.call("customers", "authenticate", issued["token"]) is None
    assert rpc.call("customers", "authenticate", tenant["token"]) is not None  # the other token still works
    assert rpc.call("customers", "authenticate", tenant["token"][:-2] + "xx") is None
    assert rpc.call("customers", "authenticate", "garbage") is None


def test_tokens_are_stored_hashed_and_listed_without_secrets(rpc, tenant):
    with db.engine_for("customers").connect() as conn:
        stored = conn.execute(select(api_tokens).where(
            api_tokens.c.member_id == uuid.UUID(tenant["member_id"]))).mappings().all()
    assert len(stored) == 1
    assert tenant["token"] not in {str(v) for v in stored[0].values()}
    [listed] = rpc.call("customers", "list_tokens", tenant["tenant_id"], tenant["member_id"])["items"]
    assert tenant["token"].startswith(listed["prefix"])
    assert "token" not in listed and "token_hash" not in listed


def test_another_tenant_cannot_revoke_or_issue_tokens_here(rpc, tenant, customers_service):
    other = rpc.call("customers", "create_tenant", "Other", "boss@other.example")
    with pytest.raises(NotFound):
        rpc.call("customers", "issue_token", other["tenant_id"], tenant["member_id"], "x")
    token_id = rpc.call("customers", "list_tokens", tenant["tenant_id"], tenant["member_id"])["items"][0]["id"]
    with pytest.raises(NotFound):
        rpc.call("customers", "revoke_token", other["tenant_id"], token_id)
    assert rpc.call("customers", "authenticate", tenant["token"]) is not None


def test_portal_member_is_linked_to_a_customer_of_the_tenant(rpc, tenant):
    customer = _customer(rpc, tenant)
    member = rpc.call("customers", "create_member", tenant["tenant_id"], {
        "email": "Wile@Acme.Example", "name": "Wile", "role": "portal", "customer_id": customer["id"]})
    assert (member["role"], member["customer_id"], member["email"]) == ("portal", customer["id"], "wile@acme.example")
    token = rpc.call("customers", "issue_token", tenant["tenant_id"], member["id"], "portal")["token"]
    assert rpc.call("customers", "authenticate", token)["customer_id"] == customer["id"]

    with pytest.raises(Conflict):
        rpc.call("customers", "create_member", tenant["tenant_id"], {
            "email": "wile@acme.example", "name": "Wile again", "role": "member"})
    other = rpc.call("customers", "create_tenant", "Other", "boss@other.example")
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("customers", "create_member", other["tenant_id"], {
            "email": "x@acme.example", "name": "X", "role": "portal", "customer_id": customer["id"]})
    assert [e["field"] for e in exc_info.value.errors] == ["customer_id"]


# --- customers ---

def test_create_customer_writes_the_customer_created_event_in_its_transaction(rpc, tenant):
    owner_id = tenant["member_id"]
    customer = rpc.call("customers", "create_customer", tenant["tenant_id"], {
        "name": "Acme Corp", "tier": "enterprise", "domains": ["Acme.Example", "acme-eu.example"],
        "owner_id": owner_id})
    assert customer["domains"] == ["acme-eu.example", "acme.example"]
    assert rpc.call("customers", "get_customer", tenant["tenant_id"], customer["id"]) == customer

    [row] = _outbox("customer.created", tenant["tenant_id"])
    assert row["envelope"]["producer"] == "customers"
    assert row["envelope"]["data"] == {"customer_id": customer["id"], "name": "Acme Corp", "tier": "enterprise",
                                       "domains": ["acme-eu.example", "acme.example"], "owner_id": owner_id}


def test_duplicate_domain_in_the_tenant_is_a_conflict_and_writes_nothing(rpc, tenant):
    first = _customer(rpc, tenant, domains=["acme.example"])
    with pytest.raises(Conflict) as exc_info:
        _customer(rpc, tenant, name="Acme Again", domains=["new.example", "ACME.example"])
    assert exc_info.value.errors[0]["field"] == "domains"
    listed = rpc.call("customers", "list_customers", tenant["tenant_id"])["items"]
    assert [c["id"] for c in listed] == [first["id"]]
    assert len(_outbox("customer.created", tenant["tenant_id"])) == 1
    # the same domain in another tenant is fine
    other = rpc.call("customers", "create_tenant", "Other", "boss@other.example")
    assert rpc.call("customers", "create_customer", other["tenant_id"], {
        "name": "Acme", "tier": "smb", "domains": ["acme.example"]})["domains"] == ["acme.example"]


def test_unknown_owner_is_invalid_input(rpc, tenant):
    with pytest.raises(InvalidInput) as exc_info:
        _customer(rpc, tenant, owner_id=str(uuid.uuid4()))
    assert [e["field"] for e in exc_info.value.errors] == ["owner_id"]


def test_unknown_field_and_wrong_type_are_invalid_input_with_field_errors(rpc, tenant):
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("customers", "create_customer", tenant["tenant_id"], {
            "name": "Acme", "tier": "gold", "domains": "acme.example", "vip": True})
    assert sorted(e["field"] for e in exc_info.value.errors) == ["domains", "tier", "vip"]
    assert rpc.call("customers", "list_customers", tenant["tenant_id"])["items"] == []


def test_customers_are_tenant_isolated(rpc, tenant):
    customer = _customer(rpc, tenant)
    other = rpc.call("customers", "create_tenant", "Other", "boss@other.example")
    for method, args in [("get_customer", ()), ("update_customer", ({"tier": "smb"},)), ("list_contacts", ()),
                         ("create_contact", ({"name": "X", "email": "x@x.example"},))]:
        with pytest.raises(NotFound):
            rpc.call("customers", method, other["tenant_id"], customer["id"], *args)
    assert rpc.call("customers", "list_customers", other["tenant_id"]) == {"items": [], "next_cursor": None}
    assert rpc.call("customers", "get_customer", tenant["tenant_id"], customer["id"])["tier"] == "enterprise"
    with pytest.raises(NotFound):
        rpc.call("customers", "get_customer", tenant["tenant_id"], "not-an-id")


def test_update_publishes_only_the_changed_fields(rpc, tenant):
    customer = _customer(rpc, tenant, domains=["acme.example"])
    updated = rpc.call("customers", "update_customer", tenant["tenant_id"], customer["id"], {
        "name": "Acme Corp", "tier": "mid_market", "domains": ["acme.example", "acme.test"],
        "owner_id": tenant["member_id"]})
    assert (updated["tier"], updated["domains"], updated["owner_id"]) == (
        "mid_market", ["acme.example", "acme.test"], tenant["member_id"])
    assert updated["updated_at"] > customer["updated_at"]
    unchanged = rpc.call("customers", "update_customer", tenant["tenant_id"], customer["id"], {"tier": "mid_market"})
    assert unchanged == updated
    unassigned = rpc.call("customers", "update_customer", tenant["tenant_id"], customer["id"], {"owner_id": None})
    assert unassigned["owner_id"] is None

    events = [r["envelope"]["data"] for r in _outbox("customer.updated", tenant["tenant_id"])]
    assert events == [
        {"customer_id": customer["id"], "changes": {"tier": "mid_market", "domains": ["acme.example", "acme.test"],
                                                    "owner_id": tenant["member_id"]}},
        {"customer_id": customer["id"], "changes": {"owner_id": None}},
    ]
    assert rpc.call("customers", "get_customer", tenant["tenant_id"], customer["id"]) == unassigned


def test_update_cannot_take_another_customers_domain(rpc, tenant):
    _customer(rpc, tenant, domains=["globex.example"])
    acme = _customer(rpc, tenant, domains=["acme.example"])
    with pytest.raises(Conflict):
        rpc.call("customers", "update_customer", tenant["tenant_id"], acme["id"], {"domains": ["globex.example"]})
    assert rpc.call("customers", "get_customer", tenant["tenant_id"], acme["id"])["domains"] == ["acme.example"]
    assert _outbox("customer.updated", tenant["tenant_id"]) == []


def test_list_filters_and_paginates_newest_first(rpc, tenant):
    member = rpc.call("customers", "create_member", tenant["tenant_id"],
                      {"email": "am@us.example", "name": "Am", "role": "member"})
    made = [_customer(rpc, tenant, name=n, tier=t, owner_id=o) for n, t, o in [
        ("Acme Corp", "enterprise", member["id"]), ("Globex", "smb", None),
        ("Initech", "smb", member["id"]), ("100%_Real", "mid_market", None)]]

    def names(filters=None, limit=50, cursor=None):
        page = rpc.call("customers", "list_customers", tenant["tenant_id"], filters or {}, limit, cursor)
        return [c["name"] for c in page["items"]], page["next_cursor"]

    assert names() == (["100%_Real", "Initech", "Globex", "Acme Corp"], None)
    assert names({"tier": "smb"})[0] == ["Initech", "Globex"]
    assert names({"owner_id": member["id"]})[0] == ["Initech", "Acme Corp"]
    assert names({"q": "CORP"})[0] == ["Acme Corp"]
    assert names({"q": "%_"})[0] == ["100%_Real"]  # wildcards are literal
    assert names({"q": made[2]["domains"][0][:8].upper()})[0] == ["Initech"]  # domains are searched too
    first, cursor = names(limit=3)
    assert first == ["100%_Real", "Initech", "Globex"] and cursor
    assert names(limit=3, cursor=cursor) == (["Acme Corp"], None)
    assert rpc.call("customers", "list_customers", tenant["tenant_id"])["items"][-1]["domains"] == made[0]["domains"]
    with pytest.raises(InvalidInput):
        rpc.call("customers", "list_customers", tenant["tenant_id"], {"colour": "red"})


# --- contacts and sender matching ---

def test_contacts_publish_contact_created_and_list_per_customer(rpc, tenant):
    customer = _customer(rpc, tenant)
    contact = rpc.call("customers", "create_contact", tenant["tenant_id"], customer["id"], {
        "name": "Jane", "email": "Jane@Acme.Example", "phone": "+1 555 0100", "portal_access": True})
    assert (contact["email"], contact["portal_access"], contact["phone"]) == ("jane@acme.example", True, "+1 555 0100")
    assert rpc.call("customers", "list_contacts", tenant["tenant_id"], customer["id"]) == {
        "items": [contact], "next_cursor": None, "total": 1}  # the one page shape of every list
    [row] = _outbox("contact.created", tenant["tenant_id"])
    assert row["envelope"]["data"] == {"contact_id": contact["id"], "customer_id": customer["id"],
                                       "name": "Jane", "email": "jane@acme.example"}
    with pytest.raises(Conflict):
        rpc.call("customers", "create_contact", tenant["tenant_id"], customer["id"],
                 {"name": "Jane 2", "email": "jane@acme.example"})
    with pytest.raises(NotFound):
        rpc.call("customers", "create_contact", tenant["tenant_id"], str(uuid.uuid4()),
                 {"name": "Nobody", "email": "n@acme.example"})


def test_match_sender_prefers_the_contact_then_the_most_specific_domain(rpc, tenant):
    acme = _customer(rpc, tenant, domains=["acme.example"])
    acme_eu = _customer(rpc, tenant, name="Acme EU", domains=["eu.acme.example"])
    partner = _customer(rpc, tenant, name="Partner", domains=["partner.example"])
    # a contact of Partner who writes from an Acme address
    contact = rpc.call("customers", "create_contact", tenant["tenant_id"], partner["id"],
                       {"name": "Jo", "email": "jo@acme.example"})

    def match(sender, tenant_id=tenant["tenant_id"]):
        return rpc.call("customers", "match_sender", tenant_id, sender)

    assert match('"Jo" <JO@acme.example>') == {"customer_id": partner["id"], "contact_id": contact["id"]}
    assert match("someone@acme.example") == {"customer_id": acme["id"], "contact_id": None}
    assert match("someone@mail.acme.example") == {"customer_id": acme["id"], "contact_id": None}
    assert match("someone@eu.acme.example") == {"customer_id": acme_eu["id"], "contact_id": None}
    assert match("someone@unknown.example") is None
    assert match("not an address") is None
    other = rpc.call("customers", "create_tenant", "Other", "boss@other.example")
    assert match("jo@acme.example", other["tenant_id"]) is None


def test_an_archived_contact_leaves_the_lists_and_is_told_once(rpc, tenant):
    customer = _customer(rpc, tenant)
    domain = customer["domains"][0]
    keep, leave = (rpc.call("customers", "create_contact", tenant["tenant_id"], customer["id"],
                            {"name": name, "email": f"{name}@{domain}"}) for name in ("kim", "lee"))
    assert rpc.call("customers", "match_sender", tenant["tenant_id"], f"lee@{domain}")["contact_id"] == leave["id"]
    assert keep["archived_at"] is None
    archived = rpc.call("customers", "archive_contact", tenant["tenant_id"], customer["id"], leave["id"])
    assert archived == {**leave, "archived_at": archived["archived_at"]} and archived["archived_at"]
    # again: the first archiving stands and nothing more is told
    assert rpc.call("customers", "archive_contact", tenant["tenant_id"], customer["id"], leave["id"]) == archived

    listed = rpc.call("customers", "list_contacts", tenant["tenant_id"], customer["id"])
    assert (listed["items"], listed["total"]) == ([keep], 1)  # what tickets asks: lee is no longer offered
    everyone = rpc.call("customers", "list_contacts", tenant["tenant_id"], customer["id"], {"include_archived": True})
    assert everyone["items"] == [keep, archived] and everyone["total"] == 2
    [told] = _outbox("contact.archived", tenant["tenant_id"])
    data = told["envelope"]["data"]
    assert datetime.fromisoformat(data.pop("archived_at")) == datetime.fromisoformat(archived["archived_at"])
    assert data == {"contact_id": leave["id"], "customer_id": customer["id"], "name": "lee", "email": f"lee@{domain}"}
    # their mail still reaches their company by its domain, no longer as the archived contact
    assert rpc.call("customers", "match_sender", tenant["tenant_id"], f"lee@{domain}") == {
        "customer_id": customer["id"], "contact_id": None}
    with pytest.raises(Conflict):  # the address stays taken by the archived contact
        rpc.call("customers", "create_contact", tenant["tenant_id"], customer["id"],
                 {"name": "Lee again", "email": f"lee@{domain}"})


def test_archiving_needs_the_contact_of_that_customer_in_this_tenant(rpc, tenant, new_tenant):
    customer, other_customer = _customer(rpc, tenant), _customer(rpc, tenant, name="Other")
    contact = rpc.call("customers", "create_contact", tenant["tenant_id"], customer["id"],
                       {"name": "Jo", "email": f"jo{uuid.uuid4().hex[:6]}@acme.example"})
    stranger = new_tenant()["tenant_id"]
    for tenant_id, customer_id, contact_id in [
            (tenant["tenant_id"], other_customer["id"], contact["id"]),  # not that customer's
            (stranger, customer["id"], contact["id"]),  # not that tenant's
            (tenant["tenant_id"], customer["id"], str(uuid.uuid4())),
            (tenant["tenant_id"], customer["id"], "not-an-id")]:
        with pytest.raises(NotFound):
            rpc.call("customers", "archive_contact", tenant_id, customer_id, contact_id)
    assert rpc.call("customers", "list_contacts", tenant["tenant_id"], customer["id"])["items"] == [contact]
    assert _outbox("contact.archived", tenant["tenant_id"]) == []
    with pytest.raises(InvalidInput):
        rpc.call("customers", "list_contacts", tenant["tenant_id"], customer["id"], {"archived": True})


# --- tenant settings ---

def test_a_new_tenant_is_told_with_its_timezone(rpc, customers_service):
    berlin = rpc.call("customers", "create_tenant", "Berlin GmbH", "chef@berlin.example", None, "Europe/Berlin")
    plain = rpc.call("customers", "create_tenant", "Plain Ltd", "boss@plain.example")
    assert rpc.call("customers", "get_tenant", berlin["tenant_id"])["timezone"] == "Europe/Berlin"
    assert rpc.call("customers", "get_tenant", plain["tenant_id"])["timezone"] == "UTC"
    [told] = _outbox("tenant.created", berlin["tenant_id"])
    assert told["envelope"]["data"] == {"tenant_id": berlin["tenant_id"], "name": "Berlin GmbH",
                                        "timezone": "Europe/Berlin", "locale": "en", "week_start": "monday"}
    assert [r["envelope"]["data"]["timezone"] for r in _outbox("tenant.created", plain["tenant_id"])] == ["UTC"]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "../../etc/passwd", "", "europe/berlin",
                                  "Europe/Berlin\u0000", 5, "x" * 100])
def test_a_tenant_in_no_real_timezone_is_refused_and_not_created(rpc, customers_service, zone):
    name = f"Nowhere {uuid.uuid4()}"
    with pytest.raises(InvalidInput) as refused:
        rpc.call("customers", "create_tenant", name, "who@nowhere.example", None, zone)
    assert [e["field"] for e in refused.value.errors] == ["timezone"]
    with db.engine_for("customers").connect() as conn:
        assert conn.execute(select(tenants.c.id).where(tenants.c.name == name)).first() is None


def test_tenant_settings_change_and_tell_the_whole_settings(rpc, tenant):
    tenant_id = tenant["tenant_id"]
    before = rpc.call("customers", "get_tenant", tenant_id)
    assert set(before) == {"id", "name", "timezone", "locale", "week_start", "created_at"}
    assert (before["timezone"], before["locale"], before["week_start"]) == ("UTC", "en", "monday")

    after = rpc.call("customers", "update_tenant_settings", tenant_id, {"timezone": "Europe/Berlin"})
    assert after == {**before, "timezone": "Europe/Berlin"} == rpc.call("customers", "get_tenant", tenant_id)
    renamed = rpc.call("customers", "update_tenant_settings", tenant_id,
                       {"name": "  Renamed  ", "timezone": "Europe/Berlin"})
    assert (renamed["name"], renamed["timezone"]) == ("Renamed", "Europe/Berlin")
    # the same again changes nothing and tells nothing
    assert rpc.call("customers", "update_tenant_settings", tenant_id, {"name": "Renamed"}) == renamed
    told = [r["envelope"]["data"] for r in _outbox("tenant.updated", tenant_id)]
    assert told == [
        {"tenant_id": tenant_id, "name": before["name"], "timezone": "Europe/Berlin",
         "changes": {"timezone": "Europe/Berlin"}, "locale": "en", "week_start": "monday"},
        {"tenant_id": tenant_id, "name": "Renamed", "timezone": "Europe/Berlin", "changes": {"name": "Renamed"},
         "locale": "en", "week_start": "monday"},
    ]
    # locale (canonical case) and week start are settings too, told whole
    localised = rpc.call("customers", "update_tenant_settings", tenant_id, {"locale": "de-ch", "week_start": "sunday"})
    assert (localised["locale"], localised["week_start"]) == ("de-CH", "sunday")
    assert _outbox("tenant.updated", tenant_id)[-1]["envelope"]["data"] == {
        "tenant_id": tenant_id, "name": "Renamed", "timezone": "Europe/Berlin", "locale": "de-CH",
        "week_start": "sunday", "changes": {"locale": "de-CH", "week_start": "sunday"}}


@pytest.mark.parametrize("payload", [{"timezone": "Nowhere/Land"}, {"timezone": None}, {"name": None},
                                     {"name": ""}, {"name": "x" * 201}, {"locale": "de_DE"}, {"locale": "x-klingon"},
                                     {"locale": None}, {"locale": "en-" + "a" * 40}, {"week_start": "friday"},
                                     {"week_start": None}, {"colour": "blue"}])
def test_bad_tenant_settings_are_refused_and_change_nothing(rpc, tenant, payload):
    before = rpc.call("customers", "get_tenant", tenant["tenant_id"])
    with pytest.raises(InvalidInput):
        rpc.call("customers", "update_tenant_settings", tenant["tenant_id"], payload)
    assert rpc.call("customers", "get_tenant", tenant["tenant_id"]) == before
    assert _outbox("tenant.updated", tenant["tenant_id"]) == []


def test_an_unknown_tenant_has_no_settings(rpc, customers_service, tenant_id):
    for call in [("get_tenant", str(tenant_id)), ("get_tenant", "nope"),
                 ("update_tenant_settings", str(tenant_id), {"timezone": "UTC"})]:
        with pytest.raises(NotFound):
            rpc.call("customers", *call)


# --- demo seed ---

def test_seed_demo_tenant_is_idempotent_and_never_hands_out_a_new_owner_token(rpc, customers_service):
    name = f"Demo {uuid.uuid4()}"
    first = rpc.call("customers", "seed_demo_tenant", name, "demo@us.example")
    assert rpc.call("customers", "authenticate", first["token"])["role"] == "owner"
    # asked again without the first token: refused, and no token was made
    for known in (None, "cst_" + "x" * 43, rpc.call("customers", "create_tenant", "Else", "e@else.example")["token"]):
        with pytest.raises(Conflict):
            rpc.call("customers", "seed_demo_tenant", name, "demo@us.example", known)
    assert len(rpc.call("customers", "list_tokens", first["tenant_id"], first["member_id"])["items"]) == 1
    # with it (what var/demo.env keeps): the same tenant and token again
    again = rpc.call("customers", "seed_demo_tenant", name, "demo@us.example", first["token"])
    assert again == first
    assert len(_outbox("tenant.created", first["tenant_id"])) == 1

    listed = rpc.call("customers", "list_customers", first["tenant_id"])["items"]
    assert sorted((c["name"], c["tier"], tuple(c["domains"])) for c in listed) == [
        ("Acme Corp", "enterprise", ("acme.example",)), ("Globex", "smb", ("globex.example",))]
    for customer in listed:
        assert len(rpc.call("customers", "list_contacts", first["tenant_id"], customer["id"])["items"]) == 1
    assert len(_outbox("customer.created", first["tenant_id"])) == 2
    assert len(_outbox("contact.created", first["tenant_id"])) == 2


def test_unknown_tenant_cannot_get_customers_or_members(rpc, customers_service, tenant_id):
    with pytest.raises(NotFound):
        rpc.call("customers", "create_customer", str(tenant_id), {"name": "A", "tier": "smb"})
    with pytest.raises(NotFound):
        rpc.call("customers", "create_member", str(tenant_id), {"email": "a@b.example", "name": "A", "role": "admin"})
