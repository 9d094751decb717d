#!/usr/bin/env python3
"""Mail intake figures against a real dovecot (issue 8):

1. latency: a message appended over IMAP (mailsync in IDLE) → stored by mailsync (its database) and →
   the ticket visible at the gateway (`GET /tickets?customer_id=`, tickets' mail.received consumer);
   median and p99;
2. bulk import: a mailbox already holding `--bulk` messages → all stored (messages/s), against plain
   `imaplib` FETCH of the same messages (BODY.PEEK[]) from the same server in the same run;
3. memory: mailsync's RSS at rest and its peak while importing a mailbox holding a 25 MB message.

Starts customers, tickets, mailsync and the gateway (each its own OS process, as the Procfile runs
them) on a vhost and databases of their own (`custops_bench_mail`, `custops_bench_mail_*`; a new
tenant each run, the databases emptied and the queues purged first) and dovecot servers of its own
on loopback. ~1-2 minutes.
    .venv/bin/python tests/bench/mail_bench.py [--samples 30] [--bulk 1000] [--vhost V --db-prefix P]
"""
from __future__ import annotations

import argparse
import imaplib
import os
import statistics
import sys
import threading
import time
import uuid
import warnings
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py, tests/mail_servers.py
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from harness import ROOT, Suite, eventually, local_vhost_uri  # noqa: E402
from mail_servers import Dovecot, message  # noqa: E402
from load import group_usage, reset_state  # noqa: E402

VHOST = "custops_bench_mail"
DB_PREFIX = "custops_bench_mail_"
LOG_DIR = ROOT / "var" / "bench-mail-logs"
INTAKE_ENV = {"CUSTOPS_MAIL_SCAN_SECONDS": "0.2", "CUSTOPS_MAIL_LEASE_SECONDS": "5", "OTEL_TRACES_EXPORTER": "none"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def stored(suite: Suite, mailbox_id: str) -> int:
    return suite.query("mailsync", "SELECT count(*) FROM mail_messages WHERE mailbox_id = :m", m=mailbox_id)[0][0]


def create_mailbox(rpc, tenant_id: str, server: Dovecot) -> str:
    return rpc.call("mailsync", "create_mailbox", tenant_id, {
        "name": "Support", "email": f"support-{uuid.uuid4().hex[:6]}@mail.test", "imap_host": server.host,
        "imap_port": server.port, "imap_tls": False, "smtp_host": "127.0.0.1", "username": server.user,
        "password": server.password})["id"]


def big_message(sender: str, size: int = 25_000_000) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@mail.test", "The 25 MB log file"
    msg["Message-ID"] = f"<big-{uuid.uuid4().hex}@bench.test>"
    msg.set_content("Attached, the whole log.")
    msg.add_attachment(os.urandom(size * 3 // 4 - 2000), maintype="application", subtype="octet-stream",
                       filename="server.log")
    return msg.as_bytes()


def plain_imaplib_fetch(server: Dovecot) -> tuple[int, float]:
    conn = imaplib.IMAP4(server.host, server.port)
    conn.login(server.user, server.password)
    conn.select("INBOX", readonly=True)
    started = time.monotonic()
    typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    elapsed = time.monotonic() - started
    conn.logout()
    return sum(1 for part in data if isinstance(part, tuple)), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--vhost", default=VHOST, help="the RabbitMQ virtual host (made when missing, kept)")
    parser.add_argument("--db-prefix", default=DB_PREFIX, help="the bench databases' name prefix")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    amqp_uri = local_vhost_uri(args.vhost)
    if amqp_uri is None:
        raise SystemExit("the bench needs a broker on this machine and rabbitmqctl")
    suite = Suite(only=["customers", "tickets", "mailsync", "gateway"], amqp_uri=amqp_uri, log_dir=LOG_DIR / args.vhost,
                  extra_env={"CUSTOPS_DB_PREFIX": args.db_prefix, **INTAKE_ENV})
    servers: list[Dovecot] = []
    try:
        suite.setup_broker_and_databases()
        reset_state(suite, args.vhost, args.db_prefix)  # what an earlier run left (its outbox, its queues) is not ours
        suite.start_all()
        rpc = suite.rpc()
        tenant = rpc.call("customers", "create_tenant", "Mail Bench Co", "owner@mailbench.example", "Owner")
        tenant_id, api = tenant["tenant_id"], suite.api(tenant["token"])
        domain = f"c{uuid.uuid4().hex[:8]}.bench.test"
        customer = rpc.call("customers", "create_customer", tenant_id,
                            {"name": "Acme", "tier": "smb", "domains": [domain]})["id"]
        sender = f"ada@{domain}"

        # 1. latency, one message at a time, mailsync in IDLE
        live = Dovecot.start_new()
        servers.append(live)
        mailbox = create_mailbox(rpc, tenant_id, live)
        eventually(lambda: rpc.call("mailsync", "get_mailbox_status", tenant_id, mailbox)["mode"] == "idle", 30,
                   "mailsync in IDLE")
        to_stored, to_ticket = [], []
        for i in range(args.samples):
            subject = f"latency probe {i} {uuid.uuid4().hex[:6]}"
            started = time.monotonic()
            live.append(message(i, sender=sender, subject=subject))
            eventually(lambda n=i + 1: stored(suite, mailbox) == n, 30, "stored", interval=0.005)
            to_stored.append(time.monotonic() - started)

            def visible(subject=subject):
                page = api.get("/api/v1/tickets", params={"customer_id": customer, "limit": 5}).json()
                return any(t["subject"] == subject for t in page.get("items", []))
            eventually(visible, 30, "the ticket at the gateway", interval=0.01)
            to_ticket.append(time.monotonic() - started)
        print(f"mail_bench: {args.samples} messages appended one at a time (mailsync in IDLE)")
        for name, values in (("appended -> stored + mail.received in the outbox", to_stored),
                             ("appended -> ticket visible at the gateway", to_ticket)):
            print(f"    {name:50s} median {statistics.median(values) * 1000:7.1f} ms   "
                  f"p99 {percentile(values, 99) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms")

        # 2. bulk import vs plain imaplib FETCH of the same messages
        bulk = Dovecot.start_new()
        servers.append(bulk)
        bulk.append_many([message(i, sender=sender, subject=f"bulk {i}") for i in range(args.bulk)])
        fetched, raw_seconds = plain_imaplib_fetch(bulk)
        cpu_before = {name: group_usage(suite.procs[name].popen.pid)[0] for name in ("mailsync", "tickets")}
        started = time.monotonic()
        bulk_box = create_mailbox(rpc, tenant_id, bulk)
        eventually(lambda: stored(suite, bulk_box) >= args.bulk, 170, "bulk import done", interval=0.02)
        ours = time.monotonic() - started
        mailsync_cpu = group_usage(suite.procs["mailsync"].popen.pid)[0] - cpu_before["mailsync"]
        print(f"mail_bench: bulk import of {args.bulk} messages from dovecot")
        print(f"    plain imaplib FETCH BODY.PEEK[] (no parsing, no storing)  {fetched / raw_seconds:8.0f} msgs/s")
        print(f"    mailsync (fetch, parse, match, store, outbox, flag)       {args.bulk / ours:8.0f} msgs/s "
              f"({ours:.1f} s from adding the mailbox; ratio {(args.bulk / ours) / (fetched / raw_seconds):.3f})")
        print(f"    mailsync CPU while importing: {1000 * mailsync_cpu / args.bulk:.1f} ms per message (its relay and "
              f"consumers included) -> {args.bulk / mailsync_cpu:.0f} msgs/s per free core")

        # 3. memory while importing a mailbox holding a 25 MB message
        pid = suite.procs["mailsync"].popen.pid
        at_rest = rss_bytes(pid)
        huge = Dovecot.start_new()
        servers.append(huge)
        raw = big_message(sender)
        huge.append_many([message("before", sender=sender), raw, message("after", sender=sender)])
        peak = [at_rest]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_bytes(pid))
                time.sleep(0.02)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        huge_box = create_mailbox(rpc, tenant_id, huge)
        eventually(lambda: stored(suite, huge_box) >= 3, 120, "the 25 MB mailbox imported", interval=0.05)
        took = time.monotonic() - started
        done.set()
        sampler.join()
        print(f"mail_bench: a mailbox holding a {len(raw) / 1e6:.1f} MB message (and two small ones)")
        print(f"    mailsync RSS at rest {at_rest / 2**20:6.1f} MiB, peak while importing {peak[0] / 2**20:6.1f} MiB "
              f"(+{(peak[0] - at_rest) / 2**20:.1f} MiB, {(peak[0] - at_rest) / len(raw):.1f}x the message); "
              f"imported in {took:.1f} s")
        print(f"    (machine shared with 7 other engineers' test runs: load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores)")
    finally:
        for server in servers:
            server.stop()
        suite.stop_all()
        suite.dispose_engines()
    return 0


if __name__ == "__main__":
    sys.exit(main())
