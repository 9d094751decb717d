"""`parse`: headers, bodies, charsets, quoted history, attachments, size limit and the dedup key."""
from __future__ import annotations

import base64
import hashlib
import struct
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from custops.contracts.mailsync import MailAddress, MailAttachment
from mailsync.parsing import Unparseable, dedupe_key, decode_bytes, html_to_text, parse, split_reply


def raw_mail(*headers: str, body: bytes = b"Hello\n") -> bytes:
    return ("\n".join(headers) + "\n\n").encode("utf-8") + body


# --- headers ---------------------------------------------------------------------------------------

def test_ids_lose_their_brackets_and_references_keep_every_id_in_order():
    parsed = parse(raw_mail(
        "From: Ann <ann@example.com>", "Message-ID: <new@example.com>", "In-Reply-To: <b@x> (comment)",
        "References: <a@x>\n <b@x>\n\t<c@x> <a@x>", "Subject: hi"))
    assert parsed.message_id == "new@example.com"
    assert parsed.in_reply_to == ["b@x"]
    assert parsed.references == ["a@x", "b@x", "c@x"]


def test_a_message_id_without_brackets_or_folded_is_still_read():
    assert parse(raw_mail("From: a@b.c", "Message-Id: 2020.1234@example.com")).message_id == "2020.1234@example.com"
    assert parse(raw_mail("From: a@b.c", "Message-ID:\n <folded@example.com>")).message_id == "folded@example.com"
    assert parse(raw_mail("From: a@b.c", "Message-ID: ")).message_id is None


def test_encoded_words_are_decoded_in_subject_and_names():
    parsed = parse(raw_mail(
        "From: =?utf-8?B?TcO8bGxlciwgQmVybmQ=?= <Bernd.Mueller@Example.COM>",
        "To: =?iso-8859-1?Q?J=F6rg?= <joerg@example.com>, plain@example.com",
        "Cc: \"Team | Support\" <team@example.com>",
        "Subject: =?UTF-8?Q?Personal=C3=A4nderung?= =?UTF-8?Q?_und_mehr?= [#T-12]"))
    assert parsed.sender.email == "bernd.mueller@example.com" and parsed.sender.name == "Müller, Bernd"
    assert [(a.email, a.name) for a in parsed.to] == [("joerg@example.com", "Jörg"), ("plain@example.com", "")]
    assert parsed.cc[0].name == "Team | Support"
    assert parsed.subject == "Personaländerung und mehr [#T-12]"


def test_an_encoded_word_is_never_decoded_into_an_address():
    parsed = parse(raw_mail("From: =?utf-8?Q?attacker?Q?agent?=@victim.example"))
    assert parsed.sender.email != "agent@victim.example"
    assert parsed.sender.email.endswith("@victim.example")


def test_date_is_aware_utc_and_a_broken_date_is_none():
    parsed = parse(raw_mail("From: a@b.c", "Date: Wed, 05 Sep 2018 09:24:05 +0700"))
    assert parsed.sent_at == datetime(2018, 9, 5, 2, 24, 5, tzinfo=timezone.utc)
    assert parse(raw_mail("From: a@b.c", "Date: Wed, 05 Sep 2018 29:24:05 +0700")).sent_at is None
    assert parse(raw_mail("From: a@b.c", "Date: 5 Sep 2018 09:24:05 -0000")).sent_at.tzinfo is not None


def test_delivered_to_and_original_to_are_our_addresses():
    parsed = parse(raw_mail("From: a@b.c", "Delivered-To: Support+T1234@Example.com",
                            "X-Original-To: <sales@example.com>", "Delivered-To: support+t1234@example.com"))
    assert parsed.delivered_to == ["support+t1234@example.com", "sales@example.com"]


def test_no_from_falls_back_to_sender_then_reply_to():
    assert parse(raw_mail("Sender: list@example.com", "Subject: x")).sender.email == "list@example.com"
    assert parse(raw_mail("Reply-To: r@example.com")).sender.email == "r@example.com"
    assert parse(raw_mail("Subject: nobody")).sender is None


def test_addresses_convert_to_the_event_contract():
    parsed = parse(raw_mail("From: Ann <ANN@example.com>"))
    assert parsed.sender.to_contract() == MailAddress(email="ann@example.com", name="Ann")


def test_an_mbox_separator_line_is_no_header():
    parsed = parse(b"From ann@example.com Mon Jan  1 00:00:00 2024\n" + raw_mail("From: ann@example.com",
                                                                                "Subject: mbox"))
    assert parsed.subject == "mbox" and parsed.sender.email == "ann@example.com"


# --- bodies and charsets ---------------------------------------------------------------------------

def test_wrong_declared_charset_is_detected():
    body = "Grüße aus Köln, wir würden gern bestellen. Schöne Grüße".encode("latin-1")
    parsed = parse(raw_mail("From: a@b.c", "Content-Type: text/plain; charset=utf-8", body=body))
    assert "Grüße aus Köln" in parsed.text


def test_missing_charset_with_8bit_utf8_is_read_as_utf8():
    parsed = parse(raw_mail("From: a@b.c", "Content-Type: text/plain", body="Привет, мир".encode("utf-8")))
    assert parsed.text == "Привет, мир"


def test_supersets_decode_what_senders_really_send():
    assert decode_bytes("€ – “quoted”".encode("cp1252"), "iso-8859-1") == "€ – “quoted”"
    assert decode_bytes("镕".encode("gb18030"), "gb2312") == "镕"
    assert decode_bytes(b"\x1b$B-!\x1b(B", "iso-2022-jp") == "①"  # NEC extension strict codecs reject


def test_raw_8bit_headers_are_decoded():
    raw = "From: Jörg <j@example.com>\nSubject: Grüße\n\nx\n".encode("utf-8")
    parsed = parse(raw)
    assert parsed.subject == "Grüße" and parsed.sender.name == "Jörg"


def test_html_only_mail_gives_text_and_sanitised_html():
    html = ('<html><head><title>T</title><style>p{}</style></head><body><p>Hello <b>Ann</b></p>'
            '<script>alert(1)</script><a href="javascript:x()" onclick="y()">link</a>'
            '<img src="cid:logo@x"><br>Line two</body></html>')
    parsed = parse(raw_mail("From: a@b.c", "Content-Type: text/html; charset=utf-8", body=html.encode()))
    assert parsed.text == "Hello Ann\nlink\nLine two"
    assert "<script" not in parsed.html and "onclick" not in parsed.html and "javascript:" not in parsed.html
    assert 'src="cid:logo@x"' in parsed.html and "alert" not in parsed.html


def test_alternative_prefers_plain_text_and_keeps_the_html():
    message = EmailMessage()
    message["From"] = "a@b.c"
    message.set_content("plain version")
    message.add_alternative("<p>html version</p>", subtype="html")
    parsed = parse(message.as_bytes())
    assert parsed.text == "plain version"
    assert "html version" in parsed.html


def test_mixed_text_and_html_parts_make_one_body():
    raw = raw_mail("From: a@b.c", 'Content-Type: multipart/mixed; boundary="b"', body=(
        b"--b\nContent-Type: text/plain\n\nThe text part\n--b\nContent-Type: text/html\n\n<p>The signature</p>\n"
        b"--b--\n"))
    parsed = parse(raw)
    assert parsed.text == "The text part\n\nThe signature"


# --- quoted history --------------------------------------------------------------------------------

@pytest.mark.parametrize("history", [
    "On Mon, 1 Jan 2024 at 10:00, Support <support@example.com> wrote:\n> Your ticket\n> was updated",
    "Am 01.01.2024 um 10:00 schrieb Support <support@example.com>:\n> Ihr Ticket",
    "-----Original Message-----\nFrom: Support <support@example.com>\nSent: Monday\nSubject: ticket\n\nold text",
    "> Your ticket\n> was updated",
])
def test_the_new_part_is_separated_from_the_quoted_history(history):
    new, quoted = split_reply(f"Thanks, that fixed it.\n  Indented line kept.\n\n{history}\n")
    assert new == "Thanks, that fixed it.\n  Indented line kept."
    assert quoted.startswith(history.split("\n")[0].strip())


def test_a_bottom_posted_reply_keeps_the_new_lines():
    new, quoted = split_reply("Am 07.05.2012 schrieb Support:\n> Which day?\n>\n> Regards\nFriday suits us.\n\nMarc")
    assert new == "Friday suits us.\n\nMarc"
    assert quoted == "Am 07.05.2012 schrieb Support:\n> Which day?\n>\n> Regards"


def test_text_without_history_is_all_new():
    parsed = parse(raw_mail("From: a@b.c", body=b"Just a question.\nSecond line.\n"))
    assert parsed.text_new == parsed.text == "Just a question.\nSecond line." and parsed.quoted == ""


# --- attachments -----------------------------------------------------------------------------------

def _tnef(body: bytes, filename: bytes, data: bytes) -> bytes:
    def obj(level: int, name: int, payload: bytes) -> bytes:
        return struct.pack("<BHHI", level, name, 1, len(payload)) + payload + struct.pack("<H", sum(payload) & 0xFFFF)
    return (struct.pack("<IH", 0x223E9F78, 1) + obj(1, 0x9006, struct.pack("<I", 0x10000))
            + obj(1, 0x9007, struct.pack("<II", 1252, 0)) + obj(1, 0x800C, body)
            + obj(2, 0x9002, b"\x00" * 14) + obj(2, 0x8010, filename + b"\x00") + obj(2, 0x800F, data))


def test_attachments_inline_images_calendar_and_winmail_dat():
    message = EmailMessage()
    message["From"] = "a@b.c"
    message["Subject"] = "files"
    message.set_content("See attached.")
    message.add_related(b"\x89PNG fake", maintype="image", subtype="png", cid="<logo@example.com>",
                        disposition="inline")
    message.add_attachment("Erklärung".encode(), maintype="text", subtype="plain", filename="Erklärung.txt")
    message.add_attachment(b"BEGIN:VCALENDAR\nMETHOD:REQUEST\nEND:VCALENDAR\n", maintype="text",
                           subtype="calendar")
    message.add_attachment(_tnef(b"Body from Outlook", b"report.txt", b"hello tnef"), maintype="application",
                           subtype="ms-tnef", filename="winmail.dat")
    parsed = parse(message.as_bytes())
    by_name = {a.filename: a for a in parsed.attachments}
    assert by_name["Erklärung.txt"].data == "Erklärung".encode()
    image = next(a for a in parsed.attachments if a.content_type == "image/png")
    assert image.content_id == "logo@example.com" and image.inline and image.data == b"\x89PNG fake"
    assert parsed.calendar and "METHOD:REQUEST" in parsed.calendar[0]
    assert by_name["report.txt"].data == b"hello tnef" and by_name["report.txt"].size == 10
    assert "winmail.dat" not in by_name
    assert by_name["report.txt"].sha256 == hashlib.sha256(b"hello tnef").hexdigest()
    assert image.to_contract() == MailAttachment(sha256=image.sha256, filename=None, content_type="image/png",
                                                 size=9, content_id="logo@example.com", inline=True)
    assert parsed.text.startswith("See attached.")


def test_a_forwarded_message_is_kept_whole_not_mixed_into_the_body():
    inner = raw_mail("From: customer@example.org", "Subject: original", "Message-ID: <orig@example.org>",
                     body=b"The customer's words\n")
    raw = raw_mail("From: colleague@example.com", 'Content-Type: multipart/mixed; boundary="b"', body=(
        b"--b\nContent-Type: text/plain\n\nFYI\n--b\nContent-Type: message/rfc822\n\n" + inner + b"\n--b--\n"))
    parsed = parse(raw)
    assert parsed.text == "FYI"
    eml = parsed.attachments[0]
    assert eml.filename == "original.eml" and b"The customer's words" in eml.data


def test_a_broken_base64_attachment_keeps_what_decodes():
    good = base64.b64encode(b"%PDF-1.4 some content").decode()
    raw = raw_mail("From: a@b.c", 'Content-Type: multipart/mixed; boundary="b"', body=(
        f"--b\nContent-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\n"
        f"{good[:-3]}!!\n--b\n").encode())  # truncated, and no closing boundary
    parsed = parse(raw)
    assert parsed.attachments[0].filename == "a.pdf" and parsed.attachments[0].data.startswith(b"%PDF-1.4")


# --- limits, dedup, unparseable --------------------------------------------------------------------

def test_over_the_size_limit_headers_are_parsed_and_nothing_extracted():
    raw = raw_mail("From: a@b.c", "Subject: big", "Message-ID: <big@x>",
                   'Content-Type: multipart/mixed; boundary="b"',
                   body=b"--b\nContent-Type: application/octet-stream\n\n" + b"x" * 5000 + b"\n--b--\n")
    parsed = parse(raw, size_limit=1000)
    assert parsed.oversized and parsed.attachments == [] and parsed.text == ""
    assert parsed.subject == "big" and parsed.message_id == "big@x" and parsed.size == len(raw)
    assert not parse(raw).oversized


def test_dedupe_key_is_the_message_id_else_the_content_hash():
    with_id = parse(raw_mail("From: a@b.c", "Message-ID: <m1@x>"))
    assert dedupe_key(with_id) == "m1@x"
    raw = raw_mail("From: a@b.c", "Subject: no id")
    without = parse(raw)
    assert without.content_hash == hashlib.sha256(raw).hexdigest()
    assert dedupe_key(without) == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("raw", [b"", b"  \r\n\n\t", bytes(range(256)) * 4, b"\x00" * 100])
def test_nothing_usable_is_unparseable(raw):
    with pytest.raises(Unparseable) as caught:
        parse(raw)
    assert caught.value.reason


def test_text_without_headers_is_still_a_mail():
    parsed = parse(b"just some text someone saved\nwith two lines\n")
    assert parsed.text == "just some text someone saved\nwith two lines" and parsed.sender is None


def test_html_to_text_keeps_lines_and_list_items():
    assert html_to_text("<ul><li>one</li><li>two</li></ul><p>a&nbsp;b</p>") == "* one\n* two\n\na b"
