"""Mail intake under faults, with mailsync as its own OS process and a real dovecot:
kill -9 mid-import → after the restart every message is imported exactly once (asserted from the
database); dovecot restarted mid-IDLE → the sync reconnects and misses nothing.
"""
from __future__ import annotations

import uuid

import pytest

from harness import create_customer, eventually
from mail_servers import Dovecot, message

# short leases, so the restarted process takes over from the killed one within seconds
INTAKE_ENV = {"CUSTOPS_MAIL_LEASE_SECONDS": "4", "CUSTOPS_MAIL_SCAN_SECONDS": "0.2",
              "CUSTOPS_MAIL_IDLE_SECONDS": "5"}


@pytest.fixture
def dovecot():
    server = Dovecot.start_new()
    yield server
    server.stop()


@pytest.fixture
def mailsync(suite):
    """The suite's mailsync, restarted with the intake settings above (kept for later tests: harmless)."""
    proc = suite.procs["mailsync"]
    if any(proc.extra_env.get(k) != v for k, v in INTAKE_ENV.items()):
        proc.extra_env.update(INTAKE_ENV)
        suite.stop("mailsync")
        suite.start("mailsync")
    return suite


def _mailbox(tenant, server) -> dict:
    response = tenant.api.post("/api/v1/mailboxes", json={
        "name": "Support", "email": f"support-{uuid.uuid4().hex[:6]}@mail.test", "imap_host": server.host,
        "imap_port": server.port, "imap_tls": False, "smtp_host": "127.0.0.1", "username": server.user,
        "password": server.password})
    assert response.status_code == 201, response.text
    return response.json()


def _counts(suite, mailbox_id) -> tuple[int, int, int]:
    """(stored rows, distinct dedupe keys, mail.received told) for the mailbox, from mailsync's database."""
    [(rows, keys)] = suite.query("mailsync", "SELECT count(*), count(DISTINCT dedupe_key) FROM mail_messages "
                                             "WHERE mailbox_id = :m", m=mailbox_id)
    [(told,)] = suite.query("mailsync", "SELECT count(*) FROM outbox WHERE type = 'mail.received' "
                                        "AND envelope->'data'->>'mailbox_id' = :m", m=mailbox_id)
    return rows, keys, told


def test_kill_9_mid_import_then_every_message_is_imported_exactly_once(mailsync, tenant, dovecot):
    suite = mailsync
    customer = create_customer(tenant.api)
    domain = customer["domains"][0]
    total = 300
    dovecot.append_many([message(i, sender=f"ada@{domain}") for i in range(total)])
    mailbox = _mailbox(tenant, dovecot)

    stored = eventually(lambda: _counts(suite, mailbox["id"])[0], 30, "the import under way", interval=0.02)
    suite.kill9("mailsync")
    assert stored < total, f"the import finished ({stored}) before the kill: nothing was under way"
    suite.start("mailsync")

    eventually(lambda: _counts(suite, mailbox["id"])[0] >= total, 60, "every message imported")
    assert _counts(suite, mailbox["id"]) == (total, total, total)  # once each: stored, deduplicated, told
    eventually(lambda: len(dovecot.flagged("$CustopsImported")) == total, 15, "every message flagged")
    assert _counts(suite, mailbox["id"]) == (total, total, total)


def test_dovecot_restarted_mid_idle_the_sync_reconnects_and_misses_nothing(mailsync, tenant, dovecot):
    suite = mailsync
    customer = create_customer(tenant.api)
    domain = customer["domains"][0]
    mailbox = _mailbox(tenant, dovecot)

    def status():
        response = tenant.api.get(f"/api/v1/mailboxes/{mailbox['id']}/status")
        assert response.status_code == 200, response.text
        return response.json()

    eventually(lambda: status()["mode"] == "idle" and status()["connected"], 20, "in IDLE")
    dovecot.append(message(0, sender=f"ada@{domain}"))
    eventually(lambda: _counts(suite, mailbox["id"])[0] == 1, 10, "the first stored")

    dovecot.restart(down_for=1.0)  # every connection cut mid-IDLE, the port refused for a second
    dovecot.append_many([message(i, sender=f"ada@{domain}") for i in range(1, 4)])
    eventually(lambda: _counts(suite, mailbox["id"]) == (4, 4, 4), 20, "the three sent after the restart stored")
    eventually(lambda: status()["connected"], 10, "connected again")
    assert status()["last_sync_at"] is not None
