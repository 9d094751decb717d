"""`make run`'s demo mailbox (issue 8): when dovecot is installed, a real IMAP server on loopback (the
test suite's `tests/mail_servers.Dovecot`: its own config and Maildir in a temp dir, never the
machine's mail setup) and an SMTP sink (aiosmtpd in the launcher's process, printing what it gets),
with the demo tenant's mailbox pointed at both through the gateway. A welcome mail from a demo
customer is delivered, so the demo starts with a ticket that came in by mail; replies to it arrive
at the sink.

Off with `CUSTOPS_DEMO_MAILBOX=off`; skipped (said so) without dovecot (`scripts/infra.sh dovecot`)
or aiosmtpd. The servers stop with `make run`; the mailbox stays in the tenant and is pointed at the
new servers on the next run.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


class DemoMail:
    def __init__(self, imap, smtp, mailbox: dict):
        self.imap = imap
        self.smtp = smtp
        self.mailbox = mailbox

    def stop(self) -> None:
        for server in (self.smtp, self.imap):
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - shutting down either way
                pass


def _call(url: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                              "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own gateway
        return json.loads(response.read() or b"{}")


def start(url: str, token: str, log: Callable[[str], None]) -> DemoMail | None:
    if os.environ.get("CUSTOPS_DEMO_MAILBOX", "on").strip().lower() in ("off", "0", "no"):
        return None
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from mail_servers import DOVECOT, Dovecot, message
        from smtp_sink import SmtpSink
    except ImportError as exc:
        log(f"demo mailbox skipped: {exc}")
        return None
    if DOVECOT is None:
        log("demo mailbox skipped: dovecot is not installed (scripts/infra.sh dovecot)")
        return None
    imap = smtp = None
    try:
        imap = Dovecot.start_new()
        smtp = SmtpSink().start()
        smtp.on_data = lambda got: log(f"demo SMTP server got {got.message['Subject']!r} for {', '.join(got.rcpt_tos)}")
        settings = {"name": "Demo support", "imap_host": imap.host, "imap_port": imap.port, "imap_tls": False,
                    "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False,
                    "username": imap.user, "password": imap.password}
        existing = [m for m in _call(url, token, "GET", "/mailboxes?limit=100")["items"] if m["email"] == imap.user]
        if existing:
            mailbox = _call(url, token, "PATCH", f"/mailboxes/{existing[0]['id']}", settings)
        else:
            mailbox = _call(url, token, "POST", "/mailboxes", {**settings, "email": imap.user})
        imap.append(message("welcome", sender="wile@acme.example", subject="The rocket skates caught fire",
                            body="Hello, the rocket skates you sold us caught fire again. Can you help?"))
    except (OSError, urllib.error.URLError, RuntimeError, ValueError, KeyError) as exc:
        log(f"demo mailbox skipped: {exc}")
        for server in (smtp, imap):
            if server is not None:
                server.stop()
        return None
    log(f"demo mailbox {imap.user}: IMAP {imap.host}:{imap.port} (password {imap.password}), "
        f"SMTP 127.0.0.1:{smtp.port}; mail appended there (IMAP APPEND) becomes a ticket")
    return DemoMail(imap, smtp, mailbox)
