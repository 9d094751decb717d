"""Fuzzing `parse`: generated and mutated MIME never raises anything but `Unparseable` (and what it
makes goes through `resolve_senders` without an error).

Generated: nested multiparts with random (and wrong) charsets, transfer encodings, boundaries and
headers. Mutated: real corpus messages and generated ones truncated, with bytes flipped, inserted
or deleted, boundaries broken, headers made huge. Every result is checked for its invariants.
Examples are bounded so the module runs in a few seconds.
"""
from __future__ import annotations

import base64
import quopri
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailsync.parsing import ParsedMail, Unparseable, parse
from mailsync.senders import resolve_senders

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "mail" / "zammad"
SEEDS = [p.read_bytes() for p in sorted(CORPUS.glob("*.box"))][:67] if CORPUS.is_dir() else []

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "gb2312", "shift_jis", "iso-2022-jp", "koi8-r",
            "x-unknown", "", "utf-7", "ks_c_5601-1987", "us-ascii", "utf-16"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"]
TYPES = ["text/plain", "text/html", "application/pdf", "image/png", "text/calendar", "message/rfc822",
         "application/ms-tnef", "message/delivery-status", "text/rfc822-headers", "garbage"]
HEADER_NAMES = ["From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                "Auto-Submitted", "Precedence", "List-Id", "Content-Type", "Content-Disposition", "X-Loop"]

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
header_values = st.one_of(
    texts,
    st.sampled_from(["=?utf-8?B?w6TDtsO8?=", "=?iso-8859-1?Q?B=FCrling, =20Andreas?= <a@b.c>", "<>", "<<a@b>",
                     "=?bogus?X?zz?=", "=?utf-8?Q?attacker?Q?agent?=@victim.example", "\"unterminated <x@y",
                     "Wed, 05 Sep 2018 29:24:05 +0700", "Mon, 99 Foo 99999 99:99:99 +9999", "a@b, (c) <d@e>,,",
                     "auto-replied", "bulk", "<list.example.com>", "multipart/mixed; boundary=", "attachment;"
                     " filename*=utf-8''%E4%F6"]))


def _encode(body: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(body)
    if encoding == "quoted-printable":
        return quopri.encodestring(body)
    return body


@st.composite
def mime(draw, depth: int = 0) -> bytes:
    """A MIME entity: headers then a leaf body or a multipart of entities, with plenty of mistakes."""
    headers = [f"{draw(st.sampled_from(HEADER_NAMES))}: {draw(header_values)}"
               for _ in range(draw(st.integers(0, 4)))]
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b1", "==_x", "", "a b", "-" * 70, "b1"]))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report; report-type=delivery-status",
                                        "signed", "digest"]))
        headers.append(f'Content-Type: multipart/{subtype}; boundary="{boundary}"')
        parts = draw(st.lists(mime(depth + 1), max_size=3))
        chunks = [b"preamble"]
        for part in parts:
            chunks.append(b"--" + boundary.encode() + b"\n" + part)
        if draw(st.booleans()):
            chunks.append(b"--" + boundary.encode() + b"--")  # the closing boundary is often missing
        body = b"\n".join(chunks)
    else:
        charset = draw(st.sampled_from(CHARSETS))
        ctype = draw(st.sampled_from(TYPES))
        encoding = draw(st.sampled_from(ENCODINGS))
        headers.append(f"Content-Type: {ctype}; charset={charset}; name=\"{draw(texts)}\"")
        headers.append(f"Content-Transfer-Encoding: {encoding}")
        text = draw(texts)
        try:
            raw = text.encode(charset or "utf-8", errors="replace")
        except LookupError:
            raw = text.encode("utf-8")
        body = _encode(raw if draw(st.booleans()) else draw(st.binary(max_size=60)), encoding)
    head = "\n".join(headers).encode("utf-8", errors="surrogateescape")
    return head + b"\n\n" + body


def check(raw: bytes) -> None:
    try:
        parsed = parse(raw, size_limit=draw_limit(raw))
    except Unparseable as exc:
        assert exc.reason
        return
    assert isinstance(parsed, ParsedMail)
    assert len(parsed.content_hash) == 64
    assert parsed.sent_at is None or parsed.sent_at.utcoffset().total_seconds() == 0
    assert parsed.message_id is None or ("<" not in parsed.message_id and ">" not in parsed.message_id)
    assert all(a.email == a.email.lower() and "@" in a.email for a in parsed.to + parsed.cc + parsed.reply_to)
    assert isinstance(parsed.text, str) and isinstance(parsed.subject, str)
    assert "\n" not in parsed.subject
    assert parsed.html is None or "<script" not in parsed.html.lower()
    assert all(isinstance(a.data, bytes) for a in parsed.attachments)
    senders = resolve_senders(parsed, ["support@ours.example"])  # never raises on what parse made
    assert senders.customer is None or senders.customer not in senders.participants


def draw_limit(raw: bytes) -> int:
    # every tenth size is over the limit, so the headers-only path is fuzzed too
    return 25 * 1024 * 1024 if len(raw) % 10 else max(1, len(raw) // 2)


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mime())
def test_generated_mime_never_crashes_the_parser(raw):
    check(raw)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_parser(raw):
    check(raw)


@st.composite
def mutated(draw) -> bytes:
    base = draw(st.sampled_from(SEEDS)) if SEEDS and draw(st.booleans()) else draw(mime())
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "boundary", "huge", "crlf"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if operation == "truncate":
            del data[at:]
        elif operation == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(st.sampled_from([b"\n", b"\n\n", b"--", b"=?", b"?=", b"<", b"\x00", b"\xff\xfe",
                                                b"\nContent-Type: multipart/mixed; boundary=x\n", b"\x1b$B"]))
        elif operation == "delete":
            del data[at:at + draw(st.integers(1, 50))]
        elif operation == "boundary":
            data = bytearray(bytes(data).replace(b"boundary=", b"boundary=broken", 1))
        elif operation == "huge":
            data[0:0] = b"X-Huge: " + b"a" * draw(st.sampled_from([1000, 70_000])) + b"\n"
        elif operation == "crlf":
            data = bytearray(bytes(data).replace(b"\n", b"\r\n"))
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_mail_never_crashes_the_parser(raw):
    check(raw)


def test_deep_nesting_is_bounded():
    raw = b"From: a@b.c\nSubject: deep\n"
    for level in range(200):
        raw += f'Content-Type: multipart/mixed; boundary="b{level}"\n\n--b{level}\n'.encode()
    raw += b"Content-Type: text/plain\n\nbottom\n"
    parsed = parse(raw)
    assert parsed.subject == "deep"
    assert any("deep" in d for d in parsed.defects)


def test_a_huge_header_is_read():
    raw = b"From: a@b.c\nSubject: " + b"x" * 200_000 + b"\n\nbody\n"
    parsed = parse(raw)
    assert len(parsed.subject) == 200_000 and parsed.text == "body"


def test_a_stray_bracket_inside_a_bare_message_id_is_no_id():
    """Found by the fuzz above (`Message-ID: 0<0`): a bare id keeps no bracket; the content hash dedupes."""
    assert parse(b"Message-ID: 0<0\nIn-Reply-To: a<b@c\n\nx\n").message_id is None
    assert parse(b"Message-ID: 0<0\nIn-Reply-To: a<b@c\n\nx\n").in_reply_to == []
    assert parse(b"Message-ID: abc@example.test\n\nx\n").message_id == "abc@example.test"
