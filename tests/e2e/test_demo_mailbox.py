"""`make run`'s demo mailbox (scripts/demo_mail.py, issue 8) through every process of the suite: a real
dovecot on loopback and an SMTP sink, the mailbox made through the gateway, and its welcome mail synced
by mailsync into a ticket of the demo customer (whose domain is acme.example)."""
from __future__ import annotations

import sys

import pytest

from harness import ROOT, eventually
from mail_servers import DOVECOT

sys.path.insert(0, str(ROOT / "scripts"))
import demo_mail  # noqa: E402

pytestmark = pytest.mark.skipif(DOVECOT is None, reason="dovecot is not installed (scripts/infra.sh dovecot)")


def test_the_demo_mailbox_brings_its_welcome_mail_in_as_a_ticket(suite, tenant):
    api = tenant.api
    customer = api.post("/api/v1/customers", json={"name": "Acme Corp", "tier": "smb", "domains": ["acme.example"]})
    assert customer.status_code == 201, customer.text
    said: list[str] = []
    demo = demo_mail.start(api.base_url + "/api/v1", tenant.token, said.append)
    assert demo is not None, said
    try:
        def mailed_ticket():
            page = api.get("/api/v1/tickets", params={"customer_id": customer.json()["id"]}).json()["items"]
            return page[0] if page else None

        ticket = eventually(mailed_ticket, 30, "the welcome mail became a ticket")
        assert ticket["source"] == "email" and ticket["subject"] == "The rocket skates caught fire"
        assert any("demo mailbox" in line and str(demo.imap.port) in line for line in said)
    finally:
        demo.stop()
    again = demo_mail.start(api.base_url + "/api/v1", tenant.token, said.append)  # the next `make run`
    assert again is not None, said
    try:
        assert again.mailbox["id"] == demo.mailbox["id"]  # the same mailbox, pointed at the new servers
        assert again.mailbox["imap_port"] == again.imap.port != demo.imap.port
    finally:
        again.stop()
