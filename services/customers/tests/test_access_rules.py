"""Pure access rules: BCP 47 locales, who may manage whom, the last owner, token input (no I/O)."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from custops.errors import Conflict, Forbidden, InvalidInput
from custops.validation import parse
from customers import locales, membership
from customers.commands import IssueToken, MemberFilters, UpdateMember, UpdateTenantSettings


@pytest.mark.parametrize("tag, canonical", [
    ("en", "en"), ("EN-us", "en-US"), ("de-ch", "de-CH"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"),
    ("sl-rozaj-biske", "sl-rozaj-biske"), ("de-CH-1996", "de-CH-1996"), ("en-US-x-TWAIN", "en-US-x-twain"),
    ("en-latn-u-latn-ab", "en-Latn-u-latn-ab"), ("zh-yue-HK", "zh-yue-HK"), ("pt-BR", "pt-BR"),
])
def test_well_formed_language_tags_are_kept_in_canonical_case(tag, canonical):
    assert locales.canonical(tag) == canonical


@pytest.mark.parametrize("tag", [
    "", "e", "en_US", "en-", "en--US", "x-klingon", "i-klingon", "english-is-long", "sl-rozaj-rozaj",
    "en-a-bbb-a-ccc", "en-US\n", "ën", "en-" + "a" * 40, None, 5, "de-CH-x", "123",
])
def test_malformed_language_tags_are_refused(tag):
    assert locales.canonical(tag) is None


def test_tenant_settings_take_a_locale_and_a_week_start():
    cmd = parse(UpdateTenantSettings, {"locale": "pt-br", "week_start": "sunday"})
    assert cmd.changes() == {"locale": "pt-BR", "week_start": "sunday"}
    with pytest.raises(InvalidInput) as refused:
        parse(UpdateTenantSettings, {"locale": "pt_BR", "week_start": "friday"})
    assert sorted(e["field"] for e in refused.value.errors) == ["locale", "week_start"]


@pytest.mark.parametrize("actor, target, new_role", [
    (None, "owner", "member"), ("owner", "owner", "admin"), ("owner", "member", "owner"),
    ("admin", "member", "admin"), ("admin", "admin", "contractor"), ("admin", "read_only", None),
])
def test_owners_manage_anyone_and_admins_everyone_but_owners(actor, target, new_role):
    membership.check_may_manage(actor, target, new_role)


@pytest.mark.parametrize("actor, target, new_role", [
    ("admin", "owner", None), ("admin", "owner", "admin"), ("admin", "member", "owner"),
    ("member", "contractor", None), ("read_only", "member", "admin"), ("portal", "member", None),
])
def test_nobody_else_manages_and_admins_never_touch_ownership(actor, target, new_role):
    with pytest.raises(Forbidden):
        membership.check_may_manage(actor, target, new_role)


def test_the_last_active_owner_stays():
    alone, other = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(Conflict):
        membership.check_an_owner_remains({alone}, alone, "admin", active=True)
    with pytest.raises(Conflict):
        membership.check_an_owner_remains({alone}, alone, "owner", active=False)
    membership.check_an_owner_remains({alone, other}, alone, "admin", active=True)
    membership.check_an_owner_remains({alone}, other, "member", active=False)  # someone else: fine
    membership.check_an_owner_remains(set(), other, "owner", active=True)  # becoming the owner


def test_token_input():
    later = datetime.now(timezone.utc) + timedelta(days=30)
    cmd = parse(IssueToken, {"label": "ci", "expires_at": later.isoformat(), "read_only": True})
    assert (cmd.expires_at, cmd.read_only) == (later, True)
    with pytest.raises(InvalidInput) as refused:
        parse(IssueToken, {"label": "", "expires_at": "2020-01-01T00:00:00+00:00"})
    assert sorted(e["field"] for e in refused.value.errors) == ["expires_at", "label"]
    with pytest.raises(InvalidInput):
        parse(IssueToken, {"label": "naive", "expires_at": "2999-01-01T00:00:00"})  # no zone: ambiguous


def test_member_changes_and_filters():
    assert parse(UpdateMember, {"timezone": None}).changes() == {"timezone": None}
    with pytest.raises(InvalidInput):
        parse(UpdateMember, {"role": "king"})
    with pytest.raises(InvalidInput):
        parse(UpdateMember, {"timezone": "Mars/Base"})
    assert parse(MemberFilters, {"active": False, "role": "admin"}).active is False
