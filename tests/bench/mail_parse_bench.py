#!/usr/bin/env python3
"""Mail parsing (issue 8): `mailsync.parsing.parse` against the standard library doing the bare
minimum on the same messages, in the same run.

Seeds its own messages (a plain mail, an HTML alternative with an Outlook quote, one with a 200 kB
PDF and an inline image, a DSN bounce, a GB2312 mail without charset) plus the Zammad corpus when
`../shared/corpus/mail/` is there. "stdlib" is `BytesParser(policy=default)` + `get_body()` +
`get_content()` + `iter_attachments()` (what parsing must at least do); ours adds charset repair,
quote separation, HTML sanitising, address/ID/automatic-mail extraction. Then one 25 MB message
parsed under and over the size limit, with its peak memory (tracemalloc). Best of 3 rounds (the
machine's other load only slows a round down). Bounded: ~10-30 s. No network.
    .venv/bin/python tests/bench/mail_parse_bench.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "mailsync"))
sys.path.insert(0, str(ROOT / "shared"))

from mailsync.parsing import parse  # noqa: E402

CORPUS = ROOT / ".." / "shared" / "corpus" / "mail" / "zammad"


def seeded() -> list[bytes]:
    plain = EmailMessage()
    plain["From"], plain["To"], plain["Subject"] = "Ann <ann@cust.example>", "support@ours.example", "Printer"
    plain["Message-ID"] = "<p1@cust.example>"
    plain.set_content("The printer is on fire again.\n\nAnn\n")

    reply = EmailMessage()
    reply["From"], reply["Subject"] = "=?utf-8?Q?J=C3=B6rg?= <joerg@cust.example>", "RE: [#T-12] Printer"
    reply["References"] = " ".join(f"<r{i}@ours.example>" for i in range(12))
    reply.set_content("Thanks!\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\n" + "old\n" * 50)
    reply.add_alternative("<p>Thanks!</p><div>-----Original Message-----<br>" + "old<br>" * 50 + "</div>",
                          subtype="html")

    files = EmailMessage()
    files["From"], files["Subject"] = "ann@cust.example", "Invoice"
    files.set_content("See attached.")
    files.add_related(b"\x89PNG" + b"\0" * 5000, maintype="image", subtype="png", cid="<logo@x>")
    files.add_attachment(b"%PDF-1.4" + bytes(range(256)) * 800, maintype="application", subtype="pdf",
                         filename="invoice.pdf")

    bounce = (b"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
              b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n--r\n'
              b"Content-Type: text/plain\n\nNot delivered.\n--r\nContent-Type: message/delivery-status\n\n"
              b"Final-Recipient: rfc822; gone@x.example\nAction: failed\n--r\nContent-Type: message/rfc822\n\n"
              b"Message-ID: <reply-1@ours.example>\nSubject: x\n\nbody\n--r--\n")
    gb = ("From: a@b.cn\nSubject: hi\nContent-Type: text/plain\n\n".encode()
          + "您好，这封信如果影响到您的生活和工作，我们向您诚恳的道歉。".encode("gb18030") * 20)
    return [m.as_bytes() for m in (plain, reply, files)] + [bounce, gb]


def corpus() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.rglob("*.box"))] if CORPUS.is_dir() else []


def stdlib(raw: bytes) -> None:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        try:
            msg.get(header)
        except Exception:  # noqa: BLE001 - the baseline reads what it can
            pass
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            body.get_content()
        for part in msg.iter_attachments():
            part.get_content()
    except Exception:  # noqa: BLE001 - the baseline fails on broken mail where ours does not
        pass


def rate(fn, messages: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for raw in messages:
            fn(raw)
        best = min(best, time.perf_counter() - started)
    return len(messages) / best


def big_message(size: int) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "ann@cust.example", "big", "<big@x>"
    message.set_content("a large attachment")
    message.add_attachment(b"\x00" * size, maintype="application", subtype="octet-stream", filename="big.bin")
    return message.as_bytes()


def measure(raw: bytes, fn=parse, **kwargs) -> tuple[float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    fn(raw, **kwargs)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("machine shared with other engineers' work while measured: figures are lower bounds")
    for name, messages in (("seeded", seeded() * 20), ("corpus", corpus())):
        if not messages:
            print(f"{name}: not available")
            continue
        ours, theirs = rate(parse, messages, args.rounds), rate(stdlib, messages, args.rounds)
        print(f"{name} ({len(messages)} messages): parse {ours:.0f} msg/s, stdlib {theirs:.0f} msg/s, "
              f"ratio ours/stdlib {ours / theirs:.2f}")
    raw = big_message(18 * 1024 * 1024)  # 18 MB binary → ~25 MB as base64
    under, under_peak = measure(raw, size_limit=len(raw) + 1)
    over, over_peak = measure(raw, size_limit=len(raw) - 1)
    plain, plain_peak = measure(raw, stdlib)
    print(f"{len(raw) / 1024 / 1024:.1f} MB message: under the limit {under:.2f} s, peak {under_peak:.0f} MB "
          f"(stdlib {plain:.2f} s, peak {plain_peak:.0f} MB; ratio {under / plain:.2f} in time, "
          f"{under_peak / plain_peak:.2f} in memory); over the limit (headers only) {over:.3f} s, "
          f"peak {over_peak:.0f} MB")


if __name__ == "__main__":
    main()
