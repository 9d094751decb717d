"""Mailbox logins and TLS against real servers (issue 8): OAuth2 (SASL XOAUTH2 with the refresh-token flow,
against dovecot's `passdb oauth2` and a local token endpoint standing in for Google/Microsoft), STARTTLS
and implicit TLS with a self-signed certificate, and what a failure says.

Asserted from mailsync's database, the token endpoint's own counts and the IMAP/SMTP servers, never
from the code's own word.
"""
import logging
import smtplib
import time
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, select

from custops import db
from custops.errors import InvalidInput
from harness import eventually
from mail_servers import USER, Dovecot, message
from mailsync import oauth2
from mailsync.models import mail_messages, mailboxes
from mailsync.secrets_box import SecretBox
from mailsync.service import MailsyncService
from oauth_server import OAuthServer

SECRET_KEY = Fernet.generate_key()


# --- the token flow alone ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokens():
    server = OAuthServer.start_new()
    yield server
    server.stop()


def _client(tokens, refresh_token, **overrides):
    return oauth2.Client(**{"token_url": tokens.token_url, "client_id": tokens.client_id,
                            "client_secret": tokens.client_secret, "refresh_token": refresh_token, **overrides})


def test_a_refresh_token_buys_an_access_token_and_a_refused_one_says_why(tokens):
    refresh_token = tokens.grant(USER)
    got = oauth2.refresh(_client(tokens, refresh_token))
    assert got.access_token.startswith("ya29.") and got.refresh_token is None
    assert tokens.token_requests[-1]["grant_type"] == "refresh_token"

    tokens.revoke(refresh_token)
    with pytest.raises(oauth2.OAuth2Error) as revoked:
        oauth2.refresh(_client(tokens, refresh_token))
    assert (revoked.value.kind, revoked.value.error) == ("oauth2", "invalid_grant")
    assert str(revoked.value).startswith("invalid_grant: Token has been expired or revoked.")
    with pytest.raises(oauth2.OAuth2Error) as wrong_client:
        oauth2.refresh(_client(tokens, tokens.grant(USER), client_secret="wrong"))
    assert wrong_client.value.error == "invalid_client"
    for failure in (revoked.value, wrong_client.value):
        assert refresh_token not in str(failure) and tokens.client_secret not in str(failure)


def test_an_access_token_is_cached_until_shortly_before_expiry_and_refreshed_once_when_refused():
    clock = [1000.0]
    issued = []

    def refresher(client):
        issued.append(f"token-{len(issued)}")
        return oauth2.Refreshed(issued[-1], clock[0] + 600)

    cache = oauth2.TokenCache(now=lambda: clock[0], margin=120, refresher=refresher)
    client = oauth2.Client("https://tokens.test/token", "id", None, "refresh-1")
    accepted: list[str] = []

    def server_takes(valid):
        def attempt(token):
            accepted.append(token)
            return token in valid
        return attempt

    oauth2.login_with_token("mb", client, server_takes({"token-0"}), cache)
    oauth2.login_with_token("mb", client, server_takes({"token-0"}), cache)
    assert issued == ["token-0"]  # cached
    clock[0] += 600 - 119  # within the margin before expiry: refreshed before use
    oauth2.login_with_token("mb", client, server_takes({"token-1"}), cache)
    assert issued == ["token-0", "token-1"] and accepted[-1] == "token-1"
    # the server revoked the cached token early: one refresh, one retry
    oauth2.login_with_token("mb", client, server_takes({"token-2"}), cache)
    assert issued[-1] == "token-2" and accepted[-2:] == ["token-1", "token-2"]
    # a fresh token refused too: the server's word, no loop of refreshes
    with pytest.raises(oauth2.OAuth2Error) as refused:
        oauth2.login_with_token("mb", client, server_takes(set()), cache)
    assert refused.value.kind == "auth" and len(issued) == 4
    # another refresh token (the mailbox re-authorised) never gets the old one's access token
    assert cache.cached("mb", oauth2.Client("https://tokens.test/token", "id", None, "refresh-2")) is None


def test_token_urls_are_https_except_on_loopback_and_presets_fill_them():
    assert oauth2.token_url_for("google") == "https://oauth2.googleapis.com/token"
    assert oauth2.token_url_for("microsoft", tenant="contoso.onmicrosoft.com") == \
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert oauth2.token_url_for("google", "https://tokens.example/t") == "https://tokens.example/t"
    assert oauth2.check_token_url("http://127.0.0.1:8080/token")
    for bad in ("http://tokens.example/token", "ftp://x/token", "token", "https://u:p@tokens.example/t"):
        with pytest.raises(ValueError):
            oauth2.check_token_url(bad)


# --- against dovecot -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dovecot(tokens):
    _forget(mailboxes.c.username == USER)
    server = Dovecot.start_new(oauth2=tokens, tls=True)
    yield server
    server.stop()


def _forget(where) -> None:
    with db.engine_for("mailsync").begin() as conn:
        conn.execute(delete(mailboxes).where(where))


@pytest.fixture
def start_mailsync(container_factory, nameko_config, monkeypatch):
    monkeypatch.setenv("CUSTOPS_SECRET_KEY", SECRET_KEY.decode())
    monkeypatch.setenv("CUSTOPS_MAIL_LEASE_SECONDS", "3")
    monkeypatch.setenv("CUSTOPS_MAIL_IDLE_SECONDS", "5")
    monkeypatch.setenv("CUSTOPS_MAIL_SCAN_SECONDS", "0.2")

    def start():
        container = container_factory(MailsyncService, nameko_config)
        container.start()
        return container
    return start


@pytest.fixture
def tenant(new_tenant, rpc):
    created = new_tenant(f"owner-{uuid.uuid4().hex[:8]}@ops.test")
    domain = f"c{uuid.uuid4().hex[:10]}.test"
    customer = rpc.call("customers", "create_customer", created["tenant_id"],
                        {"name": "Customer Co", "tier": "smb", "domains": [domain]})
    yield {**created, "domain": domain, "customer_id": customer["id"]}
    _forget(mailboxes.c.tenant_id == uuid.UUID(created["tenant_id"]))


def _oauth2_auth(tokens, refresh_token, **overrides):
    return {"type": "oauth2", "provider": "custom", "client_id": tokens.client_id,
            "client_secret": tokens.client_secret, "refresh_token": refresh_token, "token_url": tokens.token_url,
            **overrides}


def _mailbox(rpc, tenant, server, **overrides):
    payload = {"name": "Support", "email": f"support-{uuid.uuid4().hex[:6]}@mail.test", "imap_host": server.host,
               "imap_port": server.port, "imap_tls": False, "smtp_host": "127.0.0.1", "username": server.user,
               **overrides}
    if "auth" not in payload:
        payload["password"] = server.password
    return rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], payload)


def _stored(mailbox_id) -> list[dict]:
    with db.engine_for("mailsync").connect() as conn:
        return [dict(r) for r in conn.execute(select(mail_messages).where(
            mail_messages.c.mailbox_id == uuid.UUID(mailbox_id)).order_by(mail_messages.c.uid)).mappings()]


def _status(rpc, tenant, mailbox):
    return rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], mailbox["id"])


def _fresh_inbox(server):
    conn = server.client()
    try:
        typ, count = conn.select("INBOX")
        if int(count[0]):
            conn.store("1:*", "+FLAGS", "\\Deleted")
            conn.expunge()
    finally:
        conn.logout()


def _until(check, what, timeout=20):
    return eventually(check, timeout, what, interval=0.05)


def test_an_oauth2_mailbox_syncs_over_xoauth2_and_a_refused_cached_token_is_refreshed(
        start_mailsync, rpc, tenant, dovecot, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    _fresh_inbox(dovecot)
    refresh_token = tokens.grant(USER)
    before = tokens.refreshes
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot, auth=_oauth2_auth(tokens, refresh_token))
    assert mailbox["auth"] == {"type": "oauth2", "provider": "custom", "client_id": tokens.client_id,
                               "token_url": tokens.token_url, "scope": None, "has_refresh_token": True}
    assert mailbox["has_password"] is False
    _until(lambda: _status(rpc, tenant, mailbox)["connected"], "connected over XOAUTH2")
    dovecot.append(message(1, sender=f"ada@{tenant['domain']}"))
    _until(lambda: len(_stored(mailbox["id"])) == 1, "the first message stored")
    assert tokens.refreshes == before + 1
    assert "method=XOAUTH2" in dovecot.log_tail(20000)

    # the server stops taking the cached token (expired early) and cuts the connection: the sync
    # reconnects, is refused, refreshes once and goes on
    tokens.expire_access_tokens()
    dovecot.restart(down_for=0.2)
    dovecot.append(message(2, sender=f"ada@{tenant['domain']}"))
    _until(lambda: len(_stored(mailbox["id"])) == 2, "the second message stored after the refresh", timeout=40)
    assert tokens.refreshes == before + 2
    assert _status(rpc, tenant, mailbox)["last_error"] is None
    assert rpc.call("mailsync", "test_mailbox_connection", tenant["tenant_id"], mailbox["id"])["ok"] is True

    fetched = rpc.call("mailsync", "get_mailbox", tenant["tenant_id"], mailbox["id"])
    listed = rpc.call("mailsync", "list_mailboxes", tenant["tenant_id"])["items"]
    for secret in (refresh_token, tokens.client_secret):
        assert secret not in repr([mailbox, fetched, listed, _status(rpc, tenant, mailbox)])
        assert secret not in caplog.text
    with db.engine_for("mailsync").connect() as conn:
        stored = conn.execute(select(mailboxes.c.oauth2_encrypted, mailboxes.c.password_encrypted)
                              .where(mailboxes.c.id == uuid.UUID(mailbox["id"]))).one()
    assert refresh_token.encode() not in stored.oauth2_encrypted and stored.password_encrypted is None
    assert refresh_token in SecretBox([SECRET_KEY]).decrypt(stored.oauth2_encrypted)


def test_a_revoked_refresh_token_is_a_clear_error_and_other_mailboxes_go_on(
        start_mailsync, rpc, tenant, dovecot, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    _fresh_inbox(dovecot)
    revoked = tokens.grant(USER)
    tokens.revoke(revoked)
    start_mailsync()
    broken = _mailbox(rpc, tenant, dovecot, auth=_oauth2_auth(tokens, revoked))
    working = _mailbox(rpc, tenant, dovecot)
    _until(lambda: (_status(rpc, tenant, broken)["last_error"] or "").startswith("oauth2: invalid_grant"),
           "the revoked grant shown as the mailbox's last error")
    dovecot.append(message(3, sender=f"ada@{tenant['domain']}"))
    _until(lambda: len(_stored(working["id"])) == 1, "the other mailbox stores its mail")
    status = _status(rpc, tenant, broken)
    assert status["connected"] is False and "Token has been expired or revoked" in status["last_error"]
    assert _stored(broken["id"]) == []
    tested = rpc.call("mailsync", "test_mailbox_connection", tenant["tenant_id"], broken["id"])
    assert tested["ok"] is False and tested["kind"] == "oauth2" and tested["reason"].startswith("invalid_grant")
    assert revoked not in caplog.text and revoked not in repr(status)

    # authorised again (a new refresh token, nothing else): it connects and catches up
    renewed = tokens.grant(USER)
    rpc.call("mailsync", "update_mailbox", tenant["tenant_id"], broken["id"],
             {"auth": {"type": "oauth2", "provider": "custom", "client_id": tokens.client_id,
                       "refresh_token": renewed, "token_url": tokens.token_url}})
    _until(lambda: len(_stored(broken["id"])) == 1, "the re-authorised mailbox catches up")
    assert renewed not in caplog.text


def test_auth_settings_are_validated_and_write_only(start_mailsync, rpc, tenant, tokens):
    start_mailsync()
    base = {"name": "Support", "email": f"v-{uuid.uuid4().hex[:6]}@mail.test", "username": USER}
    bad = [
        ({"imap_host": "imap.test", "smtp_host": "smtp.test"}, "password"),  # neither password nor auth
        ({"imap_host": "imap.test", "smtp_host": "smtp.test", "password": "x",
          "auth": {"type": "password", "password": "y"}}, "auth"),
        ({"imap_host": "imap.test", "smtp_host": "smtp.test",
          "auth": {"type": "oauth2", "provider": "custom", "client_id": "c", "refresh_token": "r"}}, "auth.token_url"),
        ({"auth": {"type": "oauth2", "provider": "google", "client_id": "c"}}, "auth.refresh_token"),
        ({"auth": {"type": "oauth2", "provider": "google", "client_id": "c", "refresh_token": "r",
                   "token_url": "http://tokens.example/token"}}, "auth.token_url"),
        ({"auth": {"type": "oauth2", "provider": "google", "client_id": "c", "refresh_token": "r",
                   "tenant": "contoso"}}, "auth.tenant"),
        ({"auth": {"type": "magic"}}, "auth.type"),
        ({"imap_host": "imap.test", "smtp_host": "smtp.test", "password": "x", "imap_starttls": True},
         "imap_starttls"),  # with imap_tls (its default)
        ({"imap_host": "imap.test", "smtp_host": "smtp.test", "password": "x", "tls_ca_pem": "not a cert"},
         "tls_ca_pem"),
    ]
    for extra, field in bad:
        with pytest.raises(InvalidInput) as refused:
            rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], {**base, **extra})
        assert field in {e["field"] for e in refused.value.errors}, (extra, refused.value)
    assert rpc.call("mailsync", "list_mailboxes", tenant["tenant_id"])["items"] == []

    # a provider preset fills the servers; the Microsoft directory goes into its token URL
    google = rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], {
        **base, "auth": {"type": "oauth2", "provider": "google", "client_id": "c", "client_secret": "s3cr3t",
                         "refresh_token": "1//r3fr3sh"}})
    assert (google["imap_host"], google["imap_port"], google["imap_tls"], google["smtp_host"], google["smtp_port"]) \
        == ("imap.gmail.com", 993, True, "smtp.gmail.com", 587)
    assert google["auth"]["token_url"] == "https://oauth2.googleapis.com/token"
    microsoft = rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], {
        **base, "email": f"m-{uuid.uuid4().hex[:6]}@mail.test",
        "auth": {"type": "oauth2", "provider": "microsoft", "client_id": "c", "refresh_token": "0.AX-r3fr3sh",
                 "tenant": "contoso.onmicrosoft.com"}})
    assert microsoft["imap_host"] == "outlook.office365.com" and microsoft["smtp_host"] == "smtp.office365.com"
    assert microsoft["auth"]["token_url"] == \
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert "offline_access" in microsoft["auth"]["scope"]
    for shape in (google, microsoft, *rpc.call("mailsync", "list_mailboxes", tenant["tenant_id"])["items"]):
        assert not {"s3cr3t", "1//r3fr3sh", "0.AX-r3fr3sh"} & set(repr(shape).split("'"))
        assert "r3fr3sh" not in repr(shape) and "s3cr3t" not in repr(shape)

    # back to a password: the OAuth2 secrets are forgotten
    switched = rpc.call("mailsync", "update_mailbox", tenant["tenant_id"], google["id"], {"password": "pw"})
    assert switched["auth"] == {"type": "password"} and switched["has_password"] is True
    with db.engine_for("mailsync").connect() as conn:
        row = conn.execute(select(mailboxes).where(mailboxes.c.id == uuid.UUID(google["id"]))).mappings().one()
    assert row["oauth2_encrypted"] is None and row["oauth2_client_id"] is None


# --- TLS ---------------------------------------------------------------------------------------------

def test_starttls_and_implicit_tls_with_the_servers_own_ca(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot, imap_starttls=True, tls_ca_pem=dovecot.ca_pem)
    assert (mailbox["imap_tls"], mailbox["imap_starttls"]) == (False, True)
    _until(lambda: _status(rpc, tenant, mailbox)["connected"], "connected over STARTTLS")
    dovecot.append(message(4, sender=f"ada@{tenant['domain']}"))
    _until(lambda: len(_stored(mailbox["id"])) == 1, "stored over STARTTLS")
    assert any("method=PLAIN" in line and ", TLS," in line for line in dovecot.log_tail(20000).splitlines())

    def test(mailbox_id):
        return rpc.call("mailsync", "test_mailbox_connection", tenant["tenant_id"], mailbox_id)

    implicit = _mailbox(rpc, tenant, dovecot, imap_port=dovecot.tls_port, imap_tls=True, tls_ca_pem=dovecot.ca_pem)
    assert test(implicit["id"])["ok"] is True
    untrusted = _mailbox(rpc, tenant, dovecot, imap_starttls=True)  # the system's CAs do not know it
    refused = test(untrusted["id"])
    assert refused["ok"] is False and refused["kind"] == "tls" and "certificate" in refused["reason"]
    unverified = rpc.call("mailsync", "update_mailbox", tenant["tenant_id"], untrusted["id"], {"tls_verify": False})
    assert unverified["tls_verify"] is False and test(untrusted["id"])["ok"] is True


def test_a_server_without_starttls_is_a_tls_failure(start_mailsync, rpc, tenant):
    plain = Dovecot.start_new()  # ssl = no: no STARTTLS offered
    try:
        start_mailsync()
        mailbox = _mailbox(rpc, tenant, plain, imap_starttls=True)
        tested = rpc.call("mailsync", "test_mailbox_connection", tenant["tenant_id"], mailbox["id"])
        assert tested["ok"] is False and tested["kind"] == "tls" and "STARTTLS" in tested["reason"]
        _until(lambda: "STARTTLS" in (_status(rpc, tenant, mailbox)["last_error"] or ""), "shown in the status")
        assert _status(rpc, tenant, mailbox)["last_error"].startswith("tls:")
    finally:
        rpc.call("mailsync", "pause_mailbox", tenant["tenant_id"], mailbox["id"])
        plain.stop()


# --- SMTP XOAUTH2 --------------------------------------------------------------------------------------

def test_smtp_logs_in_with_xoauth2_refreshing_a_refused_token(tokens):
    from email.message import EmailMessage

    from mailsync import mail_auth
    from mailsync.outbound import deliver
    from smtp_sink import SmtpSink

    sink = SmtpSink(xoauth2=lambda user, token: user == USER
                    and tokens.access_tokens.get(token, ("", 0.0))[1] > time.time()).start()
    try:
        client = _client(tokens, tokens.grant(USER))
        credentials = mail_auth.Credentials(uuid.uuid4(), USER, oauth=client)
        mailbox = {"id": credentials.mailbox_id, "smtp_host": "127.0.0.1", "smtp_port": sink.port,
                   "smtp_starttls": False, "username": USER}
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = USER, "ada@customer.test", "Hi", "<x-1@mail.test>"
        msg.set_content("Hello")
        before = tokens.refreshes
        deliver(mailbox, credentials, USER, ["ada@customer.test"], msg)
        tokens.expire_access_tokens()  # the cached token is refused next time: one refresh, sent
        deliver(mailbox, credentials, USER, ["ada@customer.test"], msg)
        assert tokens.refreshes == before + 2 and len(sink.received) == 2
        assert sink.logins == [USER, USER]
        tokens.revoke(client.refresh_token)
        tokens.expire_access_tokens()
        with pytest.raises(oauth2.OAuth2Error) as refused:
            deliver(mailbox, credentials, USER, ["ada@customer.test"], msg)
        assert refused.value.error == "invalid_grant" and len(sink.received) == 2
        with pytest.raises(smtplib.SMTPAuthenticationError):
            deliver(mailbox, "wrong-password", USER, ["ada@customer.test"], msg)
    finally:
        sink.stop()


def test_a_reply_leaves_by_smtp_xoauth2_from_an_oauth2_mailbox(start_mailsync, rpc, tenant, tokens):
    from datetime import datetime, timezone

    from custops.contracts.tickets import TicketReplied
    from custops.events import envelope_for
    from custops.testing import publish_and_wait
    from mailsync.outbound_models import outbound_mails
    from smtp_sink import SmtpSink

    def _row(message_id) -> dict:
        with db.engine_for("mailsync").connect() as conn:
            return dict(conn.execute(select(outbound_mails).where(outbound_mails.c.id == message_id)).mappings().one())

    sink = SmtpSink(xoauth2=lambda user, token: user == USER
                    and tokens.access_tokens.get(token, ("", 0.0))[1] > time.time()).start()
    try:
        container = start_mailsync()
        refresh_token = tokens.grant(USER)
        mailbox = rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], {
            "name": "Support", "email": f"support-{uuid.uuid4().hex[:6]}@help.example", "imap_host": "127.0.0.1",
            "imap_port": 1, "smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_starttls": False,
            "username": USER, "enabled": False, "auth": _oauth2_auth(tokens, refresh_token)})
        message_id = uuid.uuid4()
        reply = TicketReplied(
            ticket_id=uuid.uuid4(), number=42, customer_id=uuid.uuid4(), message_id=message_id, author_member_id=None,
            subject="Printer on fire", body="We sent a technician.", replied_at=datetime.now(timezone.utc),
            internet_message_id=f"{message_id}@help.example", to=["alice@acme.example"],
            mailbox_id=mailbox["id"], from_address=mailbox["email"], mail_subject="Re: [#T-42] Printer on fire")
        publish_and_wait(container, "on_ticket_replied", envelope_for(reply, uuid.UUID(tenant["tenant_id"])))
        [got] = sink.wait_for(1)
        assert got.message["Message-ID"] == f"<{reply.internet_message_id}>" and sink.logins == [USER]
        _until(lambda: _row(reply.message_id)["status"] == "sent", "the reply marked sent")
        assert refresh_token not in repr(_row(reply.message_id))
    finally:
        sink.stop()
