"""POST/PATCH /mailboxes with the RpcClient double (issue 8): a password or an OAuth2 `auth` reaches
mailsync as given (only the fields given); a malformed auth is a problem before mailsync is asked;
the OpenAPI document marks every secret write-only."""
from __future__ import annotations

import uuid

import pytest

MAILBOX_ID = str(uuid.uuid4())


def _mailbox(*args):
    return {"id": MAILBOX_ID, "name": "Support", "email": "support@acme.test", "imap_host": "imap.gmail.com",
            "imap_port": 993, "imap_tls": True, "imap_starttls": False, "smtp_host": "smtp.gmail.com",
            "smtp_port": 587, "smtp_starttls": True, "tls_verify": True, "tls_ca_pem": None,
            "username": "support@acme.test", "has_password": False, "enabled": True,
            "created_at": "2026-12-01T10:00:00+00:00", "updated_at": "2026-12-01T10:00:00+00:00",
            "auth": {"type": "oauth2", "provider": "google", "client_id": "c", "scope": None,
                     "token_url": "https://oauth2.googleapis.com/token", "has_refresh_token": True},
            "addresses": ["help@acme.test"]}


@pytest.fixture
def mailsync(services):
    services.on("mailsync", "create_mailbox", _mailbox)
    services.on("mailsync", "update_mailbox", _mailbox)
    return services


OAUTH2 = {"type": "oauth2", "provider": "google", "client_id": "c", "client_secret": "s", "refresh_token": "1//r"}


def test_an_oauth2_mailbox_reaches_mailsync_and_its_answer_holds_no_secret(client, bearer, mailsync, ids):
    body = {"name": "Support", "email": "support@acme.test", "username": "support@acme.test", "auth": OAUTH2}
    response = client.post("/api/v1/mailboxes", json=body, headers=bearer("owner"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["auth"]["type"] == "oauth2"
    assert mailsync.calls_to("mailsync", "create_mailbox") == [(ids["tenant"], body)]
    changed = client.patch(f"/api/v1/mailboxes/{MAILBOX_ID}", json={"auth": {"type": "oauth2", "provider": "google",
                                                                            "client_id": "c2"}},
                           headers=bearer("owner"))
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert mailsync.calls_to("mailsync", "update_mailbox")[-1][-1] == {
        "auth": {"type": "oauth2", "provider": "google", "client_id": "c2"}}


@pytest.mark.parametrize("auth", [
    {"type": "kerberos"}, {"provider": "google"}, {**OAUTH2, "provider": "yahoo"}, {**OAUTH2, "extra": 1},
    {**OAUTH2, "refresh_token": ""}, {**OAUTH2, "tenant": "bad tenant"}, "password",
])
def test_a_malformed_auth_is_a_problem_and_mailsync_is_not_asked(client, bearer, mailsync, auth):
    body = {"name": "Support", "email": "support@acme.test", "username": "u", "auth": auth}
    response = client.post("/api/v1/mailboxes", json=body, headers=bearer("owner"))
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert any(e["field"].startswith("auth") for e in response.get_json()["errors"])
    assert mailsync.calls_to("mailsync", "create_mailbox") == []


def test_the_openapi_document_marks_the_secrets_write_only(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    auth = schemas["MailboxAuth"]["properties"]
    for secret in ("password", "client_secret", "refresh_token"):
        assert auth[secret].get("writeOnly") is True, secret
    shown = schemas["MailboxAuthShown"]["properties"]
    assert not {"password", "client_secret", "refresh_token"} & set(shown)


def test_the_addresses_it_receives_for_reach_mailsync_and_a_bad_one_is_a_422(client, bearer, mailsync, ids):
    from custops.errors import InvalidInput

    body = {"name": "Support", "email": "support@acme.test", "username": "u", "password": "pw",
            "addresses": ["help@acme.test", "support+billing@acme.test"]}
    created = client.post("/api/v1/mailboxes", json=body, headers=bearer("owner"))
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["addresses"] == ["help@acme.test"]
    assert mailsync.calls_to("mailsync", "create_mailbox")[-1][-1]["addresses"] == body["addresses"]
    for bad in ("help@acme.test", [""], [f"a{i}@acme.test" for i in range(51)], [1]):
        response = client.patch(f"/api/v1/mailboxes/{MAILBOX_ID}", json={"addresses": bad}, headers=bearer("owner"))
        assert response.status_code in (400, 422), (bad, response.get_data(as_text=True))  # 400: not a list
        assert response.get_json()["errors"][0]["field"].startswith("addresses")
    assert mailsync.calls_to("mailsync", "update_mailbox") == []
    # an address mailsync refuses (not an email address) is its 422, naming the item
    mailsync.on("mailsync", "update_mailbox", InvalidInput("addresses.0 must be an email address", [
        {"field": "addresses.0", "message": "must be an email address like support@example.com"}]))
    response = client.patch(f"/api/v1/mailboxes/{MAILBOX_ID}", json={"addresses": ["nope"]}, headers=bearer("owner"))
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "addresses.0", "message": "must be an email address like support@example.com"}]
