"""Parsing one raw RFC 5322 message into what intake and threading need (pure: bytes in, no I/O).

`parse(raw)` never raises because of what a message contains: real mail is broken in every way
(missing or wrong charsets, unbalanced brackets, truncated base64, missing boundaries, 8-bit
headers). It raises `Unparseable(reason)` only when nothing usable can be made of the bytes (empty
input, or binary junk with no header and no text); the caller then quarantines the raw bytes.

Decisions recorded here:

- The standard library's modern policy (`email.policy.default`) parses; every header and part is
  read through a guard so that one broken header or part degrades to its raw text (or is skipped,
  recorded in `defects`) instead of failing the message.
- Text is decoded with the declared charset when the bytes decode cleanly with it (through the
  charset's superset: gb2312 → gb18030, iso-8859-1/us-ascii → windows-1252, shift_jis → cp932,
  iso-2022-jp → its extensions, ks_c_5601 → cp949, since senders routinely use the superset's
  characters); when they do not, or no charset is declared, `charset-normalizer` detects it; UTF-8
  with replacement characters is the last resort. Raw 8-bit header bytes are decoded the same way.
- `text` is the whole plain text: the inline text/plain parts joined; when there is none, the HTML
  converted to text. `html` is the inline HTML sanitised with nh3 for display (`cid:` URLs kept so
  inline images show). `text_new`/`quoted` split the text at the first quoted-history header that
  mail-parser-reply finds ("On … wrote:", "-----Original Message-----", "Von: …" and their
  translations), or at a trailing block of `>`-quoted lines; in a bottom-posted or interleaved
  reply the `>` lines are the history and the rest is new.
- Attachments: every leaf part that is not body text, including `message/rfc822` (kept whole as
  `.eml`, never descended into: a forwarded mail's text is not this mail's text), delivery reports
  and text/calendar invites (also listed in `calendar`). TNEF `winmail.dat` is unpacked into its
  attachments (and its body, when the mail has no other). Inline parts keep their Content-ID.
- Over `size_limit`: only the header block is parsed, nothing is extracted, `oversized=True`.
- Dedup key (`dedupe_key`): the Message-ID, else the sha256 of the raw bytes (never dropped for
  lacking one).
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import html as html_lib
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage, Message
from email.feedparser import FeedParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Literal

import charset_normalizer
import nh3
from mailparser_reply.parser import EmailMessage as ReplyMessage
from tnefparse import TNEF

from custops.contracts.mailsync import MailAddress, MailAttachment

from . import auto_replies

DEFAULT_SIZE_LIMIT = 25 * 1024 * 1024
# Reply/quote separation runs regular expressions over the text: past this size the whole text is new.
REPLY_SPLIT_LIMIT = 100_000
MAX_DEPTH = 30  # nested multiparts deeper than this are not descended into (fuzzed mail nests without end)
MAX_PARTS = 2_000

AutomaticKind = Literal["auto_reply", "bounce", "list", "loop"]


class Unparseable(Exception):
    """Nothing usable can be made of these bytes; `reason` says why. The caller quarantines them."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Address:
    """One mailbox of a header; `email` lower-cased, `name` the decoded display name ("" when none)."""

    email: str
    name: str = ""

    def to_contract(self) -> MailAddress:
        return MailAddress(email=self.email, name=self.name)


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None  # without angle brackets
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_contract(self) -> MailAttachment:
        """As `mail.received` names it: by its content hash, never its bytes."""
        return MailAttachment(sha256=self.sha256, filename=self.filename, content_type=self.content_type,
                              size=self.size, content_id=self.content_id, inline=self.inline)


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    sender: Address | None
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    delivered_to: list[str]
    subject: str
    sent_at: datetime | None
    text: str
    text_new: str
    quoted: str
    html: str | None
    attachments: list[Attachment]
    calendar: list[str]
    automatic: AutomaticKind | None
    bounced_message_id: str | None
    content_hash: str
    oversized: bool
    defects: list[str]
    size: int = 0
    list_id: str | None = None
    sender_header: Address | None = None  # the `Sender:` header (a list or relay sending on behalf)
    # the envelope recipients the server recorded (X-Original-To, Envelope-To, X-Envelope-To), not
    # Delivered-To: that one names the mailbox it was finally delivered to (a catch-all's own)
    original_to: list[str] = field(default_factory=list)

    @property
    def has_html(self) -> bool:
        return self.html is not None


def dedupe_key(parsed: ParsedMail) -> str:
    """The Message-ID, else `sha256:<content hash>` (a mail without a Message-ID is never dropped)."""
    return parsed.message_id or f"sha256:{parsed.content_hash}"


# --- charsets ---------------------------------------------------------------------------------------

# A declared charset → the codecs tried first (supersets the senders actually use).
_SUPERSETS = {
    "gb2312": ("gb18030",), "gbk": ("gb18030",), "gb_2312-80": ("gb18030",), "x-gbk": ("gb18030",),
    "us-ascii": ("utf-8", "cp1252"), "ascii": ("utf-8", "cp1252"),
    "iso-8859-1": ("cp1252",), "latin1": ("cp1252",), "latin-1": ("cp1252",),
    "shift_jis": ("cp932",), "shift-jis": ("cp932",), "sjis": ("cp932",), "x-sjis": ("cp932",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3"),
    "ks_c_5601-1987": ("cp949",), "euc-kr": ("cp949",), "ks_c_5601": ("cp949",),
    "big5": ("big5hkscs",), "windows-874": ("cp874",), "tis-620": ("cp874",),
    "unicode-1-1-utf-7": ("utf-7",), "utf8": ("utf-8",),
}


def _codecs_for(charset: str | None) -> list[str]:
    if not charset:
        return []
    name = charset.strip().strip('"\'').lower()
    codecs = list(_SUPERSETS.get(name, ()))
    codecs.append(name)
    return codecs


def decode_bytes(data: bytes, charset: str | None = None, hints: tuple[str, ...] = ()) -> str:
    """Bytes → text with the declared charset when it fits, else a hinted one (charsets declared
    elsewhere in the message), else a detected one, else UTF-8 with replacements."""
    if not data:
        return ""
    if b"\x1b$" in data or b"\x1b(" in data:  # ISO-2022-JP escapes, declared or not
        decoded = _iso2022jp(data)
        if decoded is not None:
            return decoded
    for codec in _codecs_for(charset):
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for hint in hints:
        for codec in _codecs_for(hint):
            try:
                return data.decode(codec)
            except (LookupError, UnicodeDecodeError, ValueError):
                continue
    if len(data) <= 2_000_000:
        try:
            best = charset_normalizer.from_bytes(data).best()
        except Exception:  # noqa: BLE001 - detection is a heuristic: any failure falls back to UTF-8
            best = None
        if best is not None:
            return str(best)
    return data.decode("utf-8", errors="replace")


def _iso2022jp(data: bytes) -> str | None:
    """ISO-2022-JP, strictly first, then leniently: JIS X 0208 pairs read as EUC bytes of JIS X 0213,
    which also holds the NEC extensions (circled digits, ...) that Japanese mailers send."""
    for codec in ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    out = bytearray()
    mode = "ascii"
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x1B and index + 2 < len(data) + 1:
            seq = data[index + 1:index + 3]
            if seq in (b"$B", b"$@"):
                mode, index = "jis", index + 3
                continue
            if seq in (b"(B", b"(J"):
                mode, index = "ascii", index + 3
                continue
            if seq == b"(I":
                mode, index = "kana", index + 3
                continue
        if mode == "jis" and 0x21 <= byte <= 0x7E and index + 1 < len(data):
            out += bytes((byte | 0x80, data[index + 1] | 0x80))
            index += 2
            continue
        if mode == "kana" and 0x21 <= byte <= 0x5F:
            out += bytes((0x8E, byte | 0x80))
        else:
            out.append(byte)
        index += 1
    try:
        return bytes(out).decode("euc_jis_2004", errors="replace")
    except LookupError:
        return None


# Multi-byte charsets first: single-byte ones decode any bytes, so they would win as hints.
_SINGLE_BYTE = re.compile(r"^(?:us-)?ascii$|^iso-8859-|^windows-125|^cp125|^latin|^koi8")


def charset_hints(msg: Message) -> tuple[str, ...]:
    """The charsets a message declares anywhere (multi-byte ones first): the best guess for its raw 8-bit headers."""
    found: dict[str, None] = {}
    for part in _bounded_walk(msg):
        charset = _charset(part)
        if charset and charset.lower() not in ("utf-8", "utf8"):
            found.setdefault(charset.lower(), None)
    names = list(found)
    return tuple([n for n in names if not _SINGLE_BYTE.search(n)] + [n for n in names if _SINGLE_BYTE.search(n)])


def _bounded_walk(msg: Message, depth: int = 0):
    yield msg
    if depth >= MAX_DEPTH:
        return
    payload = msg.get_payload() if msg.is_multipart() else None
    if isinstance(payload, list):
        for part in payload[:MAX_PARTS]:
            if isinstance(part, Message):
                yield from _bounded_walk(part, depth + 1)


def _unsurrogate(value: str, hints: tuple[str, ...] = ()) -> str:
    """A header value with raw 8-bit bytes (kept as surrogate escapes by the parser) → decoded text."""
    if value.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode_bytes(value.encode("utf-8", errors="surrogateescape"), hints=hints)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")


def decode_words(value: str, hints: tuple[str, ...] = ()) -> str:
    """RFC 2047 encoded words → text, leniently: whitespace between adjacent words dropped, bad padding
    tolerated, a charset that does not fit the bytes replaced by a detected one."""
    value = _unsurrogate(value, hints)
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    last_was_word = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        if not (last_was_word and between.strip() == ""):
            out.append(between)
        charset, encoding, payload = match.groups()
        charset = charset.split("*", 1)[0]  # RFC 2231 language suffix
        try:
            if encoding.lower() == "b":
                data = _b64(payload)
            else:
                data = _qp_word(payload)
            out.append(decode_bytes(data, charset))
        except Exception:  # noqa: BLE001 - an undecodable word stays as written
            out.append(match.group(0))
        pos = match.end()
        last_was_word = True
    out.append(value[pos:])
    return "".join(out)


def _b64(payload: str) -> bytes:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))


def _qp_word(payload: str) -> bytes:
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", errors="replace"), header=False)


# --- headers ----------------------------------------------------------------------------------------

_raw_headers = auto_replies.raw_header_values


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def header_text(msg: Message, name: str, hints: tuple[str, ...] = ()) -> str:
    """The first value of `name`, unfolded, encoded words decoded ("" when absent)."""
    values = _raw_headers(msg, name)
    return decode_words(_unfold(values[0]), hints).strip() if values else ""


_ID = re.compile(r"<([^<>\s]+)>")


def _ids(value: str) -> list[str]:
    value = _unfold(_unsurrogate(value))
    found = _ID.findall(value)
    if not found:
        token = value.strip().strip("<>").strip()
        found = [token] if _bare_id(token) and "@" in token else []
    return list(dict.fromkeys(found))


def _bare_id(token: str) -> bool:
    """An id written without its angle brackets: one token, and no bracket left inside it (`0<0` is
    no id: a bracket in an id would break every References we write)."""
    return bool(token) and not any(c in token for c in " <>")


def _message_id(msg: Message) -> str | None:
    for value in _raw_headers(msg, "Message-ID"):
        value = _unfold(_unsurrogate(value))
        match = _ID.search(value)
        if match:
            return match.group(1)
        token = value.strip().strip("<>").strip()
        if _bare_id(token):
            return token
    return None


_ADDR_SPEC = re.compile(r'(?:"[^"]*"|[^\s<>()",;:@]+)@[^\s<>()",;:@]+')
# Encoded words (leniently: spaces and commas inside) that make the display name before an <address>.
_NAME_WORDS = re.compile(r'"?(=\?[^?\s]+\?[bBqQ]\?[^?]*\?=(?:\s*=\?[^?\s]+\?[bBqQ]\?[^?]*\?=)*)"?\s*<')


def _addresses(msg: Message, name: str, hints: tuple[str, ...] = ()) -> list[Address]:
    result: list[Address] = []
    for raw in _raw_headers(msg, name):
        result.extend(parse_addresses(raw, hints))
    unique: dict[str, Address] = {}
    for address in result:
        unique.setdefault(address.email, address)
    return list(unique.values())


def _quote_encoded_names(value: str, hints: tuple[str, ...]) -> str:
    """Encoded words right before `<address>` (a display name) decoded and quoted before the value is
    split: senders put literal commas and spaces in them ("=?iso-8859-1?Q?B=FCrling, =20Andreas?=").
    Never done elsewhere: an encoded word is never an address (RFC 2047 §5)."""
    def requote(match: re.Match) -> str:
        decoded = decode_words(match.group(1), hints).strip().strip('"')
        decoded = decoded.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{decoded}" <'
    return _NAME_WORDS.sub(requote, value)


def parse_addresses(raw: str, hints: tuple[str, ...] = ()) -> list[Address]:
    """A header value → its mailboxes, leniently. Decisions: addresses lower-cased, a trailing dot of
    the domain dropped (the same host); a comment is the name only when there is no other
    ("addr (Name)"); a local part with spaces is only an address when quoted; when the value cannot
    be split, every addr-spec in it is taken (with the text before its `<` as the name)."""
    value = _unfold(_unsurrogate(raw, hints))
    if not value:
        return []
    value = _quote_encoded_names(value, hints)
    result: list[Address] = []
    try:
        pairs = getaddresses([value])
    except Exception:  # noqa: BLE001 - a value getaddresses cannot split falls to the regex below
        pairs = []
    for name, email in pairs:
        email = _clean_email(email)
        if not email:
            continue
        result.append(Address(email=email, name=_clean_name(decode_words(name, hints), value)))
    if not result:
        for match in _ADDR_SPEC.finditer(value):
            email = _clean_email(match.group(0))
            if not email:
                continue
            before = value[:match.start()]
            name = before[: before.rfind("<")] if "<" in before else before
            name = "" if "@" in name else name
            result.append(Address(email=email, name=_clean_name(decode_words(name, hints), value)
                                  if not result else ""))
    return result


def _clean_email(email: str) -> str:
    email = (email or "").strip().strip("<>").strip().rstrip(".").lower()
    if "@" not in email:
        return ""
    local, _, domain = email.rpartition("@")
    if not local or not domain or " " in domain:
        return ""
    if " " in local and not (local.startswith('"') and local.endswith('"')):
        if '"' in local:
            return ""
        return ""
    if not local.startswith('"') and " " not in local and '"' in local:
        return ""
    return email


def _clean_name(name: str, raw: str = "") -> str:
    name = re.sub(r"\s+", " ", name or "").strip()
    if "(" in name and '"' not in raw:  # "Name (comment)": the comment is no part of the name
        stripped = re.sub(r"\s*\([^()]*\)", "", name).strip()
        name = stripped or name.strip("()")
    return name.strip('"').strip("'").strip()


def _sent_at(msg: Message) -> datetime | None:
    value = header_text(msg, "Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None


_ORIGINAL_RECIPIENT_HEADERS = ("X-Original-To", "Envelope-To", "X-Envelope-To")


def _delivered_to(msg: Message, names: tuple[str, ...] = ("Delivered-To", *_ORIGINAL_RECIPIENT_HEADERS)) -> list[str]:
    found: dict[str, None] = {}
    for name in names:
        for raw in _raw_headers(msg, name):
            for address in parse_addresses(raw):
                found.setdefault(address.email, None)
    return list(found)


# --- HTML ------------------------------------------------------------------------------------------

_BLOCK_TAGS = {"p", "div", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "pre", "section", "article", "header", "footer", "hr", "dl", "dt", "dd", "address"}
_SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript", "xml", "o:p"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS and tag != "o:p":
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n* ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS and tag != "o:p":
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(markup: str) -> str:
    """HTML → readable plain text (blocks and <br> become line breaks, scripts and styles dropped)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:  # noqa: BLE001 - HTMLParser on hostile markup: fall back to stripping tags
        return html_lib.unescape(re.sub(r"<[^>]*>", " ", markup)).strip()
    text = "".join(extractor.parts).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def sanitise_html(markup: str) -> str:
    """HTML made safe for display: nh3's allow-list (no scripts, handlers, forms); cid: URLs kept for inline images."""
    return nh3.clean(markup, url_schemes={"http", "https", "mailto", "tel", "cid"},
                     clean_content_tags={"script", "style", "title", "noscript", "template"},
                     link_rel="noopener noreferrer")


# --- reply/quote separation ------------------------------------------------------------------------

_REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "pl", "cs"]


def split_reply(text: str) -> tuple[str, str]:
    """(the new part, the quoted history). mail-parser-reply finds the first history header; a trailing
    block of `>`-quoted lines is history too. Lines of the new part keep their original form."""
    if not text.strip():
        return "", ""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    if len(text) <= REPLY_SPLIT_LIMIT:
        cut = _header_cut(text, lines)
    # A trailing block of quoted lines ("> ...", blank lines between) is history.
    end = cut
    while end > 0 and (lines[end - 1].strip() == "" or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    if end < cut and any(line.lstrip().startswith(">") for line in lines[end:cut]):
        # keep a lone "On ... wrote:" line with its quote
        if end > 0 and lines[end - 1].rstrip().endswith(":") and len(lines[end - 1]) < 300:
            end -= 1
        cut = end
    if cut == len(lines) and any(line.lstrip().startswith(">") for line in lines):
        return _split_interleaved(lines)
    new = "\n".join(lines[:cut]).strip()
    quoted = "\n".join(lines[cut:]).strip()
    return new, quoted


def _split_interleaved(lines: list[str]) -> tuple[str, str]:
    """Bottom-posted or interleaved replies: the `>` lines (and the "... wrote:" line opening each
    block) are history, the rest is new, in order."""
    quoted_flags = [line.lstrip().startswith(">") for line in lines]
    for index in range(len(lines) - 1):
        if not quoted_flags[index] and quoted_flags[index + 1] and lines[index].rstrip().endswith(":") \
                and len(lines[index]) < 300:
            quoted_flags[index] = True
    new = "\n".join(line for line, quoted in zip(lines, quoted_flags) if not quoted).strip()
    quoted = "\n".join(line for line, quoted in zip(lines, quoted_flags) if quoted).strip()
    return new, quoted


@functools.cache
def _reply_regexes() -> dict:
    """mail-parser-reply's three patterns, built once (it builds them for every message otherwise)."""
    template = ReplyMessage(text="", languages=list(_REPLY_LANGUAGES))
    return {"_header_regex": template.HEADER_REGEX, "_signature_regex": template.SIGNATURE_REGEX,
            "_disclaimers_regex": template.DISCLAIMERS_REGEX}


def _header_cut(text: str, lines: list[str]) -> int:
    try:
        message = ReplyMessage(text=text, languages=list(_REPLY_LANGUAGES), **_reply_regexes()).read()
    except Exception:  # noqa: BLE001 - the helper's regexes on odd text: no split rather than no mail
        return len(lines)
    replies = [r for r in message.replies if r.content]
    if len(replies) < 2 or not replies[1].headers:
        return len(lines)
    header = replies[1].headers
    first_line = header.strip().split("\n", 1)[0].strip()
    if not first_line:
        return len(lines)
    for index, line in enumerate(lines):
        if index > 0 and first_line[:60] in line.strip():
            return index
    return len(lines)


# --- parts ------------------------------------------------------------------------------------------

_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
_KEPT_WHOLE = {"message/rfc822", "message/delivery-status", "text/rfc822-headers", "message/global",
               "message/disposition-notification", "message/global-delivery-status"}


@dataclass
class _Body:
    """One run of body text: its plain form, its HTML form, or both (the two alternatives of one text)."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Collected:
    attachments: list[Attachment] = field(default_factory=list)
    calendar: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parts: int = 0


def _payload_bytes(part: Message, collected: _Collected) -> bytes:
    encodings = _raw_headers(part, "Content-Transfer-Encoding")
    if encodings and encodings[0].strip().lower() == "base64":
        raw = part.get_payload()
        if isinstance(raw, str):
            try:
                return binascii.a2b_base64(raw.encode("ascii", errors="ignore"))
            except (binascii.Error, ValueError):
                collected.defects.append("broken base64: decoded what could be")
                try:
                    return _b64(raw)
                except (binascii.Error, ValueError):
                    pass
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001 - a transfer encoding the library cannot undo: the raw payload
        collected.defects.append(f"undecodable payload: {type(exc).__name__}")
        data = None
    if data is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            data = raw.encode("utf-8", errors="surrogateescape")
        else:
            data = b""
    return data


def _type_and_params(part: Message) -> tuple[str, dict[str, str]]:
    """The part's content type and Content-Type parameters, parsed once per part (the library
    re-parses the header on every call, the largest cost of parsing a message)."""
    cached = part.__dict__.get("_mailsync_type")
    if cached is not None:
        return cached
    # The classic string parser over the raw header: the same result without the modern policy's
    # header objects (it builds a class per header access).
    shadow = Message(policy=policy.compat32)
    shadow.set_default_type(part.get_default_type())
    shadow._headers = [("Content-Type", _unfold(v)) for v in _raw_headers(part, "Content-Type")[:1]]
    try:
        ctype = shadow.get_content_type()
    except Exception:  # noqa: BLE001 - an unparseable type counts as the RFC default
        ctype = "text/plain"
    params: dict[str, str] = {}
    try:
        for key, value in (shadow.get_params() or [])[1:]:
            params.setdefault(str(key).lower(), str(collapse_rfc2231_value(value)))
    except Exception:  # noqa: BLE001 - unparseable parameters: none
        params = {}
    part.__dict__["_mailsync_type"] = cached = (ctype, params)
    return cached


def _filename(part: Message) -> str | None:
    try:
        name = part.get_param("filename", header="content-disposition")
        name = collapse_rfc2231_value(name) if name else None
    except Exception:  # noqa: BLE001 - a broken parameter list means no file name
        name = None
    if not name:
        name = _type_and_params(part)[1].get("name")
    if not name:
        return None
    name = decode_words(_unfold(str(name))).strip()
    return name or None


def _content_id(part: Message) -> str | None:
    values = _raw_headers(part, "Content-ID")
    if not values:
        return None
    value = _unfold(values[0]).strip()
    return value.strip("<>").strip() or None


def _disposition(part: Message) -> str | None:
    if not _raw_headers(part, "Content-Disposition"):
        return None
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001 - an unparseable disposition counts as none
        return None


def _content_type(part: Message) -> str:
    return _type_and_params(part)[0]


def _charset(part: Message) -> str | None:
    return _type_and_params(part)[1].get("charset") or None


def _collect(part: Message, collected: _Collected, depth: int = 0) -> list[_Body]:
    """The body runs of `part`'s subtree, in order; its other leaves become attachments.

    multipart/alternative gives one run: its first plain alternative and its last HTML one (RFC
    2046: the last is the richest). Other multiparts (mixed, related, report, signed, ...) give
    their children's runs in order, so a text part followed by an HTML signature part is one body.
    """
    collected.parts += 1
    if collected.parts > MAX_PARTS:
        if collected.parts == MAX_PARTS + 1:
            collected.defects.append("too many parts: the rest not extracted")
        return []
    ctype = _content_type(part)
    for defect in getattr(part, "defects", []) or []:
        collected.defects.append(type(defect).__name__)
    if ctype in _KEPT_WHOLE or (ctype.startswith("message/") and ctype != "message/partial"):
        _keep_whole(part, ctype, collected)
        return []
    if part.is_multipart():
        payload = part.get_payload()
        if depth >= MAX_DEPTH:
            collected.defects.append("nested too deep: inner parts not extracted")
            return []
        children = [_collect(child, collected, depth + 1) for child in payload if isinstance(child, Message)] \
            if isinstance(payload, list) else []
        if ctype == "multipart/alternative":
            plain = next((_join_plain(runs) for runs in children
                          if runs and all(r.plain is not None and r.html is None for r in runs)), None)
            html = next((_join_html(runs) for runs in reversed(children)
                         if any(r.html is not None for r in runs)), None)
            if plain is None and html is None:
                return next((runs for runs in children if runs), [])
            return [_Body(plain=plain, html=html)]
        return [run for runs in children for run in runs]
    disposition = _disposition(part)
    filename = _filename(part)
    data = _payload_bytes(part, collected)
    if ctype in _TNEF_TYPES or (filename or "").lower() == "winmail.dat":
        runs = _unpack_tnef(data, collected)
        if runs is not None:
            return runs
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = decode_bytes(data, _charset(part))
        return [_Body(plain=text)] if ctype == "text/plain" else [_Body(html=text)]
    if ctype == "text/calendar":
        collected.calendar.append(decode_bytes(data, _charset(part)))
        filename = filename or "invite.ics"
    content_id = _content_id(part)
    inline = disposition == "inline" or (disposition is None and content_id is not None)
    collected.attachments.append(Attachment(filename=filename, content_type=ctype, data=data,
                                            content_id=content_id, inline=inline))
    return []


def _join_plain(runs: list[_Body]) -> str:
    return "\n\n".join((r.plain if r.plain is not None else html_to_text(r.html or "")).strip("\r\n")
                        for r in runs)


def _join_html(runs: list[_Body]) -> str:
    return "\n".join(r.html if r.html is not None else f"<pre>{html_lib.escape(r.plain or '')}</pre>"
                     for r in runs)


def _keep_whole(part: Message, ctype: str, collected: _Collected) -> None:
    """An embedded message or report part, kept as one attachment with its bytes."""
    data = b""
    inner_subject = ""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        inner_subject = header_text(inner, "Subject")
        try:
            data = inner.as_bytes(policy=policy.compat32.clone(linesep="\n"))
        except Exception:  # noqa: BLE001 - re-serialising a broken inner message: keep what the parser saw
            try:
                data = str(inner).encode("utf-8", errors="surrogateescape")
            except Exception:  # noqa: BLE001 - nothing serialisable: an empty attachment still records it
                data = b""
    elif isinstance(payload, list):
        chunks = []
        for block in payload:
            if isinstance(block, Message):
                try:
                    chunks.append(block.as_bytes(policy=policy.compat32.clone(linesep="\n")))
                except Exception:  # noqa: BLE001 - a broken status block is left out
                    continue
        data = b"\n".join(chunks)
    else:
        data = _payload_bytes(part, collected)
    filename = _filename(part)
    if not filename:
        # Content-Description names reports and returned mail ("Delivery report", "Undelivered Message")
        # returned/forwarded mail is named by its subject, reports by their Content-Description
        description = header_text(part, "Content-Description")
        if ctype in ("message/rfc822", "message/global"):
            filename = f"{inner_subject or (description if data.strip() else '') or 'Mail'}.eml"
        else:
            filename = f"{description}.txt" if description else \
                {"message/delivery-status": "delivery-status.txt", "text/rfc822-headers": "headers.txt"}.get(
                    ctype, "message.txt")
    collected.attachments.append(Attachment(filename=filename, content_type=ctype, data=data,
                                            content_id=_content_id(part), inline=False))


def _unpack_tnef(data: bytes, collected: _Collected) -> list[_Body] | None:
    """winmail.dat → its attachments and body runs; None when it is no TNEF, so it is kept as it is."""
    try:
        tnef = TNEF(data)
    except Exception:  # noqa: BLE001 - not TNEF after all (or broken): the part stays an attachment
        return None
    for item in getattr(tnef, "attachments", []) or []:
        try:
            name = item.long_filename() or item.name
            if isinstance(name, bytes):
                name = decode_bytes(name)
            content = item.data if isinstance(item.data, bytes) else bytes(item.data or b"")
        except Exception:  # noqa: BLE001 - one broken TNEF attachment is skipped
            collected.defects.append("broken TNEF attachment")
            continue
        collected.attachments.append(Attachment(filename=(name or None), content_type=_guess_type(name),
                                                data=content, content_id=None, inline=False))
    body = getattr(tnef, "body", None)
    html_body = getattr(tnef, "htmlbody", None)
    plain = (body if isinstance(body, str) else decode_bytes(body)) if body else None
    html = (html_body if isinstance(html_body, str) else decode_bytes(html_body)) if html_body else None
    return [_Body(plain=plain, html=html)] if plain or html else []


def _guess_type(name: str | None) -> str:
    guessed = mimetypes.guess_type(name or "")[0]
    return guessed or "application/octet-stream"


# --- the message ------------------------------------------------------------------------------------

_MBOX_FROM = re.compile(rb"\AFrom [^\r\n]*\r?\n")


def _split_head(raw: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            return raw[: index + len(sep)]
    return raw[:1_000_000]


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def _repair_head(source: bytes) -> bytes | None:
    """A header block a person pasted or a gateway mangled: a banner line before it ("---- Original
    email message ----") and folded lines that lost their indentation. Returns the repaired message,
    or None when it does not look like that. Only used when the message as it is has neither From
    nor Subject, so that well-formed mail is never reinterpreted."""
    head = _split_head(source)
    body = source[len(head):]
    lines = head.splitlines(keepends=True)
    if lines and not _HEADER_LINE.match(lines[0]):
        lines = lines[1:]  # the banner
    header_lines = [i for i, line in enumerate(lines) if _HEADER_LINE.match(line)]
    if len(header_lines) < 2 or header_lines[0] != 0:
        return None
    last = header_lines[-1]
    repaired = []
    for index, line in enumerate(lines):
        if index < last and line.strip() and not _HEADER_LINE.match(line) and line[:1] not in (b" ", b"\t"):
            line = b" " + line  # a continuation that lost its indentation
        repaired.append(line)
    return b"".join(repaired) + body


def _looks_like_text(data: bytes) -> bool:
    sample = data[:65536]
    if not sample.strip():
        return False
    if sample.count(b"\x00") > len(sample) // 100:
        return False
    controls = sum(1 for byte in sample if byte < 9 or 13 < byte < 27 or 27 < byte < 32)
    return controls <= len(sample) // 20


def parse(raw: bytes, *, size_limit: int = DEFAULT_SIZE_LIMIT,
          own_addresses: frozenset[str] = frozenset()) -> ParsedMail:
    """`raw` → `ParsedMail`; raises `Unparseable` only when nothing usable can be made of it.
    `own_addresses`: the mailbox's addresses (a list of ours is no list traffic: `auto_replies.classify`)."""
    raw = bytes(raw)
    content_hash = hashlib.sha256(raw).hexdigest()
    if not raw or raw.isspace():
        raise Unparseable("empty message")
    source = _MBOX_FROM.sub(b"", raw, count=1) if raw.startswith(b"From ") else raw  # an mbox line is no header
    oversized = len(raw) > size_limit
    msg, headers_only = _message(source, oversized)
    try:
        return _build(msg, raw, content_hash, oversized, headers_only, own_addresses)
    except Unparseable:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug meeting odd content must not lose the mail: headers only
        try:
            head = _PARSER.parsebytes(_split_head(source), headersonly=True)
            parsed = _build(head, raw, content_hash, oversized, True, own_addresses)
        except Exception:  # noqa: BLE001 - nothing usable
            raise Unparseable(f"the message could not be read: {type(exc).__name__}: {exc}") from None
        return _with_defect(parsed, f"body not extracted: {type(exc).__name__}")


class _ParsingPolicy(policy.EmailPolicy):
    """`policy.default`, except that a header value is made into its header object once, not on every
    read: the library re-parses a header each time it is read (the parser itself reads each part's
    Content-Type several times), which was most of the time spent parsing a small message. Header
    objects are immutable, so one can answer for every read of the same (name, value)."""

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name") or len(value) > _CACHED_HEADER_LENGTH:
            return super().header_fetch_parse(name, value)
        return _header_object(self, name, value)


_CACHED_HEADER_LENGTH = 1000  # a long header (a huge To: list) is parsed when read, never kept


@functools.lru_cache(maxsize=4096)
def _header_object(parsing_policy: _ParsingPolicy, name: str, value: str):
    return policy.EmailPolicy.header_fetch_parse(parsing_policy, name, value)


class _Parser:
    """`BytesParser(policy).parsebytes`, fed in chunks: the library decodes the whole message into
    one str and reads it through a StringIO, whose buffer takes four bytes a character — a 25 MB
    message cost 190 MB at its peak. Fed 64 KiB at a time (ASCII with surrogateescape, as the
    library decodes: byte for byte, so a chunk boundary splits nothing), only the parsed parts stay."""

    CHUNK = 64 * 1024

    def __init__(self, parsing_policy: policy.EmailPolicy):
        self.policy = parsing_policy

    def parsebytes(self, data: bytes, headersonly: bool = False) -> EmailMessage:
        feeder = FeedParser(policy=self.policy)
        if headersonly:
            feeder._set_headersonly()
        view = memoryview(data)
        for start in range(0, len(view), self.CHUNK):
            feeder.feed(str(view[start:start + self.CHUNK], "ascii", "surrogateescape"))
        return feeder.close()


_PARSER = _Parser(_ParsingPolicy())


def _message(source: bytes, oversized: bool) -> tuple[EmailMessage, bool]:
    """The parsed message and whether only its headers are to be used (oversized, or the parser failed)."""
    try:
        msg = _PARSER.parsebytes(_split_head(source) if oversized else source)
    except Exception as exc:  # noqa: BLE001 - the parser itself failed: the header block alone may still do
        try:
            return _PARSER.parsebytes(_split_head(source), headersonly=True), True
        except Exception:  # noqa: BLE001 - not even headers: nothing usable
            raise Unparseable(f"the parser failed: {type(exc).__name__}: {exc}") from None
    if not _raw_headers(msg, "From") and not _raw_headers(msg, "Subject"):
        repaired = _repair_head(source)
        if repaired is not None:
            try:
                candidate = _PARSER.parsebytes(_split_head(repaired) if oversized else repaired)
            except Exception:  # noqa: BLE001 - the repair did not help: keep the message as it was
                candidate = None
            if candidate is not None and (_raw_headers(candidate, "From") or _raw_headers(candidate, "Subject")):
                msg = candidate
    return msg, oversized


def _with_defect(parsed: ParsedMail, defect: str) -> ParsedMail:
    return dataclasses.replace(parsed, defects=[*parsed.defects, defect])


def _build(msg: EmailMessage, raw: bytes, content_hash: str, oversized: bool, headers_only: bool,
           own_addresses: frozenset[str] = frozenset()) -> ParsedMail:
    has_headers = bool(_safe_keys(msg))
    collected = _Collected()
    for defect in getattr(msg, "defects", []) or []:
        collected.defects.append(type(defect).__name__)
    runs = [] if headers_only else _collect(msg, collected)
    if not has_headers:
        if not _looks_like_text(raw):
            raise Unparseable("no header and no text")
        if not runs and not headers_only:
            runs = [_Body(plain=decode_bytes(raw))]
            collected.attachments.clear()

    text = _join_plain(runs).replace("\r\n", "\n") if runs else ""
    html_runs = any(r.html is not None for r in runs)
    html = sanitise_html(_join_html(runs)) if html_runs else None
    text_new, quoted = split_reply(text)

    hints = charset_hints(msg)
    sender = _first_address(msg, ("From", "Sender", "Reply-To", "Return-Path"), hints)
    subject = header_text(msg, "Subject", hints)
    if "\n" in subject or "\r" in subject:
        subject = re.sub(r"\s*[\r\n]+\s*", " ", subject).strip()
    automatic = auto_replies.classify(msg, sender.email if sender else None, subject, _type_and_params, own_addresses)
    bounced = None
    if automatic == "bounce" and not headers_only:
        bounced = auto_replies.bounced_message_id(msg, text)
    senders_header = _addresses(msg, "Sender", hints)
    return ParsedMail(
        message_id=_message_id(msg),
        in_reply_to=_all_ids(msg, "In-Reply-To"),
        references=_all_ids(msg, "References"),
        sender=sender,
        reply_to=_addresses(msg, "Reply-To", hints),
        to=_addresses(msg, "To", hints),
        cc=_addresses(msg, "Cc", hints),
        delivered_to=_delivered_to(msg),
        subject=subject,
        sent_at=_sent_at(msg),
        text=text,
        text_new=text_new,
        quoted=quoted,
        html=html,
        attachments=collected.attachments,
        calendar=collected.calendar,
        automatic=automatic,
        bounced_message_id=bounced,
        content_hash=content_hash,
        oversized=oversized,
        defects=list(dict.fromkeys(collected.defects)),
        size=len(raw),
        list_id=header_text(msg, "List-Id") or None,
        sender_header=senders_header[0] if senders_header else None,
        original_to=_delivered_to(msg, _ORIGINAL_RECIPIENT_HEADERS),
    )


def _safe_keys(msg: Message) -> list[str]:
    try:
        return [k for k, _ in msg.raw_items()]
    except Exception:  # noqa: BLE001 - unreadable header block: no headers
        return []


def _all_ids(msg: Message, name: str) -> list[str]:
    found: dict[str, None] = {}
    for value in _raw_headers(msg, name):
        for item in _ids(value):
            found.setdefault(item, None)
    return list(found)


def _first_address(msg: Message, names: tuple[str, ...], hints: tuple[str, ...] = ()) -> Address | None:
    for name in names:
        addresses = _addresses(msg, name, hints)
        if addresses:
            return addresses[0]
    return None
