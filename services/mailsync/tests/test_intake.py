"""IMAP intake against a real dovecot, RabbitMQ and PostgreSQL: mailsync (in-process) syncing mailboxes.

Asserted from mailsync's database (stored rows, outbox) and from the IMAP server (the keyword set
after the commit), never from the code's own word.
"""
import base64
import socket
import time
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select

from custops import db, outbox
from custops.errors import Conflict, InvalidInput, NotFound
from harness import eventually
from mail_servers import USER, Dovecot, message
from mailsync.imap_sync import IMPORTED_KEYWORD, MailIntake
from mailsync.models import mail_folder_states, mail_messages, mailbox_leases, mailboxes
from mailsync.service import MailsyncService

SECRET_KEY = Fernet.generate_key()


@pytest.fixture(scope="module")
def dovecot():
    _forget_mailboxes(mailboxes.c.username == USER)  # an earlier run's, left by a crash: their servers are gone
    server = Dovecot.start_new(folders=("Support",))
    yield server
    server.stop()


def _forget_mailboxes(where) -> None:
    """Mailboxes of these tests removed (the suite's databases outlive runs; intake syncs every mailbox)."""
    with db.engine_for("mailsync").begin() as conn:
        conn.execute(delete(mailboxes).where(where))


@pytest.fixture
def intake_env(monkeypatch):
    monkeypatch.setenv("CUSTOPS_SECRET_KEY", SECRET_KEY.decode())
    monkeypatch.setenv("CUSTOPS_MAIL_LEASE_SECONDS", "3")
    monkeypatch.setenv("CUSTOPS_MAIL_IDLE_SECONDS", "5")
    monkeypatch.setenv("CUSTOPS_MAIL_POLL_SECONDS", "0.3")
    monkeypatch.setenv("CUSTOPS_MAIL_SCAN_SECONDS", "0.2")


@pytest.fixture
def start_mailsync(container_factory, nameko_config, intake_env):
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
    _forget_mailboxes(mailboxes.c.tenant_id == uuid.UUID(created["tenant_id"]))


def _mailbox(rpc, tenant, server, **overrides):
    payload = {"name": "Support", "email": f"support-{uuid.uuid4().hex[:6]}@mail.test", "imap_host": server.host,
               "imap_port": server.port, "imap_tls": False, "smtp_host": "127.0.0.1", "username": server.user,
               "password": server.password, **overrides}
    return rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], payload)


def _stored(mailbox_id) -> list[dict]:
    with db.engine_for("mailsync").connect() as conn:
        return [dict(r) for r in conn.execute(select(mail_messages).where(
            mail_messages.c.mailbox_id == uuid.UUID(mailbox_id)).order_by(mail_messages.c.uid)).mappings()]


def _told(mailbox_id) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("mailsync").connect() as conn:
        rows = conn.execute(select(table.c.envelope).where(
            table.c.type == "mail.received", table.c.envelope["data"]["mailbox_id"].astext == mailbox_id)
            .order_by(table.c.seq)).scalars()
        return list(rows)


def _fresh_inbox(server):
    """An empty INBOX for the test (the module's server is shared; earlier tests' mail is expunged)."""
    conn = server.client()
    try:
        typ, count = conn.select("INBOX")
        if int(count[0]):
            conn.store("1:*", "+FLAGS", "\\Deleted")
            conn.expunge()
    finally:
        conn.logout()


def _until(check, what, timeout=10):
    return eventually(check, timeout, what, interval=0.05)


def test_mail_appended_while_running_is_stored_once_told_once_then_flagged(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot)
    _until(lambda: rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], mailbox["id"])["connected"],
           "connected")
    raw = message(1, sender=f"ada@{tenant['domain']}", subject="Printer on fire")
    started = time.monotonic()
    uid = dovecot.append(raw)

    [row] = _until(lambda: _stored(mailbox["id"]), "the message stored")
    latency = time.monotonic() - started
    assert latency < 5, latency
    assert (row["status"], row["uid"], row["subject"]) == ("imported", uid, "Printer on fire")
    assert str(row["customer_id"]) == tenant["customer_id"] and row["contact_is_new"] is True
    [told] = _told(mailbox["id"])
    data = told["data"]
    assert (data["mail_id"], data["customer_id"], data["sender"]["email"]) == (
        str(row["id"]), tenant["customer_id"], f"ada@{tenant['domain']}")
    assert data["contact_is_new"] is True and data["contact_id"] == str(row["contact_id"])
    assert "printer is on fire" in data["text"]
    _until(lambda: uid in dovecot.flagged(IMPORTED_KEYWORD), "flagged on the server after the commit")
    raw_doc = rpc.call("mailsync", "get_mail_raw", tenant["tenant_id"], str(row["id"]))
    assert base64.b64decode(raw_doc["content_base64"]) == raw  # the exact bytes
    status = rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], mailbox["id"])
    assert status["mode"] == "idle" and status["last_sync_at"] and status["last_error"] is None


def test_a_restart_neither_reimports_nor_skips(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    first = start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot)
    dovecot.append_many([message(i, sender=f"ada@{tenant['domain']}") for i in range(3)])
    _until(lambda: len(_stored(mailbox["id"])) == 3, "three stored")
    first.stop()
    dovecot.append_many([message(i, sender=f"ada@{tenant['domain']}") for i in range(3, 5)])  # while it is down
    start_mailsync()
    _until(lambda: len(_stored(mailbox["id"])) == 5, "the two sent meanwhile stored")
    dovecot.append(message(5, sender=f"ada@{tenant['domain']}"))
    _until(lambda: len(_stored(mailbox["id"])) == 6, "one more after the restart")
    assert len(_told(mailbox["id"])) == 6
    assert len({r["dedupe_key"] for r in _stored(mailbox["id"])}) == 6


def test_a_uidvalidity_change_reads_the_folder_again_without_duplicates(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot)
    sender = f"ada@{tenant['domain']}"
    # one without a Message-ID: deduplicated by the hash of its bytes
    dovecot.append_many([message(0, sender=sender), message(1, sender=sender, message_id=None)])
    _until(lambda: len(_stored(mailbox["id"])) == 2, "two stored")
    before = _folder_state(mailbox["id"])

    dovecot.reset_uidvalidity()  # renumbered from UID 1 under a new UIDVALIDITY
    dovecot.append(message(2, sender=sender))
    _until(lambda: len(_stored(mailbox["id"])) == 3, "the new one stored")
    after = _until(lambda: (s := _folder_state(mailbox["id"]))[0] != before[0] and s, "the new UIDVALIDITY taken")
    assert after[1] >= 3
    assert len(_told(mailbox["id"])) == 3 and len(_stored(mailbox["id"])) == 3


def _folder_state(mailbox_id):
    with db.engine_for("mailsync").connect() as conn:
        row = conn.execute(select(mail_folder_states.c.uidvalidity, mail_folder_states.c.last_uid).where(
            mail_folder_states.c.mailbox_id == uuid.UUID(mailbox_id))).first()
    return tuple(row) if row else (None, 0)


def test_unknown_senders_wait_unassigned_until_a_member_assigns_them(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot)
    dovecot.append(message(1, sender="stranger@elsewhere.test", subject="Who do I ask?"))
    [row] = _until(lambda: _stored(mailbox["id"]), "stored")
    assert row["status"] == "unassigned" and row["customer_id"] is None
    assert _told(mailbox["id"]) == []  # told once the customer is known
    queue = rpc.call("mailsync", "list_mail", tenant["tenant_id"], {"status": "unassigned"})["items"]
    assert [m["id"] for m in queue] == [str(row["id"])] and queue[0]["subject"] == "Who do I ask?"

    with pytest.raises(NotFound):
        rpc.call("mailsync", "assign_mail", tenant["tenant_id"], str(row["id"]), {"customer_id": str(uuid.uuid4())})
    with pytest.raises(InvalidInput):
        rpc.call("mailsync", "assign_mail", tenant["tenant_id"], str(row["id"]), {"customer_id": "nope"})
    with pytest.raises(NotFound):  # another tenant's
        rpc.call("mailsync", "assign_mail", str(uuid.uuid4()), str(row["id"]), {"customer_id": tenant["customer_id"]})
    assert _told(mailbox["id"]) == []
    assigned = rpc.call("mailsync", "assign_mail", tenant["tenant_id"], str(row["id"]),
                        {"customer_id": tenant["customer_id"]})
    assert assigned["status"] == "imported" and assigned["customer_id"] == tenant["customer_id"]
    [told] = _told(mailbox["id"])
    assert told["data"]["customer_id"] == tenant["customer_id"] and told["data"]["contact_is_new"] is True
    with pytest.raises(Conflict):
        rpc.call("mailsync", "assign_mail", tenant["tenant_id"], str(row["id"]), {"customer_id": tenant["customer_id"]})
    assert rpc.call("mailsync", "list_mail", tenant["tenant_id"], {"status": "unassigned"})["items"] == []


def test_a_shared_catch_all_routes_mail_to_the_mailbox_it_was_for(start_mailsync, rpc, tenant, dovecot):
    """The catch-all account is synced by one mailbox; mail for another mailbox's alias is told as
    that mailbox's; our own mail come back (from an alias) is a loop with no customer."""
    _fresh_inbox(dovecot)
    start_mailsync()
    tag = uuid.uuid4().hex[:6]
    billing = rpc.call("mailsync", "create_mailbox", tenant["tenant_id"], {
        "name": "Billing", "email": f"billing-{tag}@mail.test", "imap_host": "127.0.0.1", "imap_port": 1,
        "imap_tls": False, "smtp_host": "127.0.0.1", "username": f"billing-{tag}", "password": "x",
        "addresses": [f"invoices-{tag}@mail.test"]})
    rpc.call("mailsync", "pause_mailbox", tenant["tenant_id"], billing["id"])  # its own account: not this test's
    catch_all = _mailbox(rpc, tenant, dovecot, addresses=[f"hello-{tag}@mail.test"])
    customer = f"ada@{tenant['domain']}"
    for n, (to, sender) in enumerate([(f"invoices-{tag}@mail.test", customer), (f"hello-{tag}@mail.test", customer),
                                      (customer, f"hello-{tag}@mail.test")]):
        dovecot.append(message(n, sender=sender, subject=f"routed {n}").replace(
            f"To: {USER}".encode(), f"To: {to}".encode()))
    rows = _until(lambda: (lambda r: r if len(r) == 3 else None)(_stored(catch_all["id"])), "the three stored")
    assert [r["received"]["mailbox_id"] for r in rows] == [billing["id"], catch_all["id"], catch_all["id"]]
    assert [r["received"]["automatic"] for r in rows] == [None, None, "loop"]
    assert rows[2]["status"] == "unassigned" and rows[2]["customer_id"] is None  # our own mail: no customer
    assert [t["data"]["subject"] for t in _told(billing["id"])] == ["routed 0"]
    assert [t["data"]["subject"] for t in _told(catch_all["id"])] == ["routed 1"]


def test_unparseable_mail_is_quarantined_with_its_bytes_and_the_sync_goes_on(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot)
    junk = bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17]) * 40 + b"\r\n"  # binary: no header, no text
    dovecot.append_many([junk, message(2, sender=f"ada@{tenant['domain']}")])
    rows = _until(lambda: len(s := _stored(mailbox["id"])) == 2 and s, "both stored")
    assert [r["status"] for r in rows] == ["quarantined", "imported"]
    assert rows[0]["quarantine_reason"]
    listed = rpc.call("mailsync", "list_mail", tenant["tenant_id"], {"status": "quarantined"})["items"]
    assert [m["id"] for m in listed] == [str(rows[0]["id"])]
    raw = rpc.call("mailsync", "get_mail_raw", tenant["tenant_id"], str(rows[0]["id"]))
    assert base64.b64decode(raw["content_base64"]) == junk
    assert len(_told(mailbox["id"])) == 1


def test_polling_when_the_server_has_no_idle(start_mailsync, rpc, tenant):
    server = Dovecot.start_new(idle=False)
    try:
        start_mailsync()
        mailbox = _mailbox(rpc, tenant, server)
        _until(lambda: rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], mailbox["id"])["mode"] == "poll",
               "polling")
        server.append(message(1, sender=f"ada@{tenant['domain']}"))
        _until(lambda: len(_stored(mailbox["id"])) == 1, "stored by polling")
    finally:
        server.stop()


def test_pause_stops_the_sync_and_resume_continues_where_it_stopped(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot)
    _until(lambda: rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], mailbox["id"])["connected"],
           "connected")
    paused = rpc.call("mailsync", "pause_mailbox", tenant["tenant_id"], mailbox["id"])
    assert paused["paused"] is True and paused["connected"] is False
    _until(lambda: not _lease_holders(mailbox["id"]), "the lease let go")
    dovecot.append(message(1, sender=f"ada@{tenant['domain']}"))
    assert _stored(mailbox["id"]) == []  # the lease is gone: nobody syncs it
    rpc.call("mailsync", "resume_mailbox", tenant["tenant_id"], mailbox["id"])
    _until(lambda: len(_stored(mailbox["id"])) == 1, "stored after resuming")


def _lease_holders(mailbox_id) -> list[str]:
    with db.engine_for("mailsync").connect() as conn:
        return list(conn.execute(select(mailbox_leases.c.holder).where(
            mailbox_leases.c.mailbox_id == uuid.UUID(mailbox_id), mailbox_leases.c.expires_at > func.now())).scalars())


def test_watched_folders_are_synced_and_validated(start_mailsync, rpc, tenant, dovecot):
    start_mailsync()
    mailbox = _mailbox(rpc, tenant, dovecot, enabled=False)
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("mailsync", "watch_folders", tenant["tenant_id"], mailbox["id"], {"folders": []})
    assert {e["field"] for e in exc_info.value.errors} == {"folders"}
    status = rpc.call("mailsync", "watch_folders", tenant["tenant_id"], mailbox["id"],
                      {"folders": ["INBOX", "Support"]})
    assert status["folders"] == ["INBOX", "Support"]
    marker = f"support-folder-{uuid.uuid4().hex[:6]}"
    dovecot.append(message(1, sender=f"ada@{tenant['domain']}", subject=marker), folder="Support")
    rpc.call("mailsync", "update_mailbox", tenant["tenant_id"], mailbox["id"], {"enabled": True})
    _until(lambda: any(r["subject"] == marker and r["folder"] == "Support" for r in _stored(mailbox["id"])),
           "the Support folder's message stored")


def test_connection_test_says_why_it_fails(start_mailsync, rpc, tenant, dovecot):
    start_mailsync()

    def tested(**overrides):
        mailbox = _mailbox(rpc, tenant, dovecot, enabled=False, **overrides)
        return rpc.call("mailsync", "test_mailbox_connection", tenant["tenant_id"], mailbox["id"])

    ok = tested()
    assert ok["ok"] is True and ok["idle"] is True and "INBOX" in ok["folders"]
    assert tested(imap_host="no-such-host.invalid")["kind"] == "dns"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    assert tested(imap_port=closed_port)["kind"] == "connect"
    assert tested(imap_tls=True)["kind"] == "tls"  # a plain-text server spoken to in TLS
    refused = tested(password="wrong")
    assert refused["kind"] == "auth" and "wrong" not in repr(refused)
    mailbox = _mailbox(rpc, tenant, dovecot, enabled=False)
    rpc.call("mailsync", "watch_folders", tenant["tenant_id"], mailbox["id"], {"folders": ["Nope"]})
    assert rpc.call("mailsync", "test_mailbox_connection", tenant["tenant_id"], mailbox["id"])["kind"] == "folder"


def test_a_broken_or_silent_mailbox_does_not_delay_another(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    silent = socket.socket()  # accepts connections, never greets: a hung server
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        start_mailsync()
        broken = _mailbox(rpc, tenant, dovecot, password="wrong")
        hung = _mailbox(rpc, tenant, dovecot, imap_port=silent.getsockname()[1])
        good = _mailbox(rpc, tenant, dovecot)
        _until(lambda: rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], good["id"])["connected"],
               "the good mailbox connected")
        dovecot.append(message(1, sender=f"ada@{tenant['domain']}"))
        # the hung server holds its connection for the IMAP timeout (30 s): a sync that waited on it
        # would store nothing before then; half of it leaves a loaded machine room (no timed assertion)
        _until(lambda: _stored(good["id"]), "the good mailbox's message stored while the hung one waits",
               timeout=15)
        status = _until(lambda: rpc.call("mailsync", "get_mailbox_status", tenant["tenant_id"], broken["id"])
                        ["last_error"], "the broken mailbox's error reported")
        assert status.startswith("auth:")
        assert _stored(hung["id"]) == [] and _stored(broken["id"]) == []
    finally:
        silent.close()


def test_two_instances_share_the_mailboxes_without_syncing_one_twice(start_mailsync, rpc, tenant, dovecot):
    _fresh_inbox(dovecot)
    instances = [start_mailsync(), start_mailsync()]
    boxes = [_mailbox(rpc, tenant, dovecot) for _ in range(4)]
    dovecot.append_many([message(i, sender=f"ada@{tenant['domain']}") for i in range(5)])
    for box in boxes:
        _until(lambda box=box: len(_stored(box["id"])) == 5, "every mailbox took the five")
    syncing = [set(_manager(c).syncs) & {uuid.UUID(b["id"]) for b in boxes} for c in instances]
    assert not syncing[0] & syncing[1]  # never the same one twice
    assert syncing[0] | syncing[1] == {uuid.UUID(b["id"]) for b in boxes}
    for box in boxes:
        assert len(_lease_holders(box["id"])) == 1 and len(_told(box["id"])) == 5

    # one instance goes away: the other takes its mailboxes over once their leases expire
    survivor = instances[1] if syncing[0] else instances[0]
    (instances[0] if survivor is instances[1] else instances[1]).stop()
    _until(lambda: {uuid.UUID(b["id"]) for b in boxes} <= set(_manager(survivor).syncs), "all taken over")
    dovecot.append(message(9, sender=f"ada@{tenant['domain']}"))
    for box in boxes:
        _until(lambda box=box: len(_stored(box["id"])) == 6, "the survivor imports for every mailbox")


def _manager(container):
    [intake] = [d for d in container.extensions if isinstance(d, MailIntake)]
    return intake.manager
