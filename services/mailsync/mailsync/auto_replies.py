"""Automatic mail: auto-replies, bounces, list traffic and loops (pure: no I/O).

Such mail is stored and attached to its ticket as what it is, never answered automatically, never
reopens a ticket and never counts as the customer's response for an SLA (the tickets side reads
`ParsedMail.automatic`). Decisions recorded here:

- **bounce** (checked first, a bounce is also "auto-submitted"): a `multipart/report;
  report-type=delivery-status` (RFC 3464) anywhere in the tree (Gmail nests it inside
  multipart/related); a mailer-daemon sender (it sends nothing else); a postmaster sender or a
  null `Return-Path: <>` together with a delivery-failure subject ("Undelivered Mail", "Delivery
  Status Notification", "failure notice", "Mail delivery failed", "Unzustellbar", ...). Any other
  mail from a postmaster is machine mail: auto_reply. The bounced mail's Message-ID is taken from
  the returned `message/rfc822` or `text/rfc822-headers` part, else from a `Message-ID:` line
  quoted in the report's text (qmail, Exim and Exchange quote the headers inline); nothing more
  is guessed.
- **loop**: an `X-Loop` header (set by help desks and list software on mail they generated). A
  mail from one of our own mailbox addresses is a loop as well, but that needs the mailbox's
  addresses: `is_own_mail`.
- **auto_reply**: `Auto-Submitted` with any value but `no` (RFC 3834: auto-replied,
  auto-generated, auto-notified), `X-Autoreply`/`X-Autorespond`, `X-Auto-Response-Suppress`
  (Exchange sets it on its own automatic mail), `Precedence: junk` or `auto_reply`.
- **list**: `List-Id` (RFC 2919), `Precedence: list` or `bulk` (newsletters, mass mail) — except
  when the list is one of ours: a support address that is itself a list (a Google Group, a
  Mailman list) puts `List-Id` (and `Precedence: list`) on every customer's mail to it, which is
  no reason to treat that mail as list traffic. The list's address is List-Post's `mailto:`
  (RFC 2369), or the List-Id read as an address (`<support.acme.example>` → support@acme.example,
  as Google Groups and Mailman name their lists); "ours" is one of the mailbox's addresses
  (`own_addresses`, plus-addresses included).
- Anything else is None: a person wrote it.

The loop guard (`LoopGuard`) caps automatic mails (acknowledgements, notifications) to one
sender per hour; it is the last line of defence when two auto-responders that ignore all of the
above talk to each other.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from typing import Literal

AutomaticKind = Literal["auto_reply", "bounce", "list", "loop"]

# Local parts that only machines send from.
DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
# Local parts we never send an automatic mail to (nobody reads them, or a machine answers).
NO_REPLY_LOCAL_PARTS = DAEMON_LOCAL_PARTS | frozenset(
    {"noreply", "no-reply", "donotreply", "do-not-reply", "bounce", "bounces", "nobody"})

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification|delivery (?:has )?failed|"
    r"failure notice|mail delivery (?:failed|failure|system)|returned mail|delivery failure|"
    r"unzustellbar|nicht zustellbar|non remis|non recapitabile|onbestelbaar",
    re.IGNORECASE)
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*Message-ID:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)


def raw_header_values(msg: Message, name: str) -> list[str]:
    """Every raw value of header `name`, as text. The header block is indexed once per message
    (parsing reads twenty-odd headers: a scan of the block for each was a tenth of parsing a small
    message); a header block the library chokes on has no values."""
    index = msg.__dict__.get("_mailsync_headers")
    if index is None:
        index = {}
        try:
            for key, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
                index.setdefault(key.lower(), []).append(str(value))
        except Exception:  # noqa: BLE001 - unreadable header block: no values
            index = {}
        msg.__dict__["_mailsync_headers"] = index
    return list(index.get(name.lower(), ()))


def header_values(msg: Message, name: str) -> list[str]:
    """Every value of header `name`, as text; a header the library cannot parse counts as its raw text."""
    return [value.strip() for value in raw_header_values(msg, name)]


def _first(msg: Message, name: str) -> str:
    values = header_values(msg, name)
    return values[0] if values else ""


def local_part(email: str) -> str:
    return email.rsplit("@", 1)[0].lower() if email else ""


def _walk(msg: Message, depth: int = 0):
    """Every part of the tree, including the message itself, bounded in depth (fuzzed mail nests without end)."""
    yield msg
    if depth > 40:
        return
    payload = msg.get_payload() if msg.is_multipart() else None
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _walk(part, depth + 1)


def _library_type(part: Message) -> tuple[str, dict[str, str]]:
    return part.get_content_type(), {"report-type": str(part.get_param("report-type", "") or "")}


TypeOf = Callable[[Message], tuple[str, dict[str, str]]]


def is_delivery_report(msg: Message, type_of: TypeOf = _library_type) -> bool:
    """A multipart/report with report-type=delivery-status anywhere in the tree (RFC 3464).
    `type_of(part)` gives a part's content type and parameters (the parser passes its cached ones)."""
    for part in _walk(msg):
        ctype, params = type_of(part)
        if ctype == "message/delivery-status" or \
                (ctype == "multipart/report" and params.get("report-type", "").lower() == "delivery-status"):
            return True
    return False


def classify(msg: Message, sender_email: str | None, subject: str,
             type_of: TypeOf = _library_type, own_addresses: Iterable[str] = ()) -> AutomaticKind | None:
    """What kind of automatic mail `msg` is (see the module docstring for the order), or None.
    `own_addresses`: the mailbox's addresses, so that mail through a list of ours is not list traffic."""
    sender_local = local_part(sender_email or "")
    bounce_subject = bool(_BOUNCE_SUBJECT.search(subject or ""))
    null_return_path = any(v.strip() in ("<>", "") for v in header_values(msg, "Return-Path"))
    if is_delivery_report(msg, type_of) or (sender_local in DAEMON_LOCAL_PARTS and sender_local != "postmaster") \
            or ((null_return_path or sender_local == "postmaster") and bounce_subject):
        return "bounce"
    if sender_local == "postmaster":
        return "auto_reply"  # a postmaster writing about something else: machine mail, not a bounce
    if header_values(msg, "X-Loop"):
        return "loop"
    auto_submitted = _first(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply"
    if header_values(msg, "X-Autoreply") or header_values(msg, "X-Autorespond") or \
            header_values(msg, "X-Auto-Response-Suppress"):
        return "auto_reply"
    precedence = _first(msg, "Precedence").lower()
    if precedence in ("junk", "auto_reply"):
        return "auto_reply"
    if header_values(msg, "List-Id") or precedence in ("list", "bulk"):
        if own_addresses and any(is_own_mail(a, own_addresses) for a in list_addresses(msg)):
            return None  # our own support address is the list: a customer wrote to us through it
        return "list"
    return None


_MAILTO = re.compile(r"<\s*mailto:([^>?\s]+)", re.IGNORECASE)
_LIST_ID = re.compile(r"<([^<>\s]+)>")


def list_addresses(msg: Message) -> list[str]:
    """The addresses of the list `msg` came through: List-Post's `mailto:` (RFC 2369), then the
    List-Id (RFC 2919) read as an address, its first label the local part (`<support.acme.example>`
    → support@acme.example)."""
    found: dict[str, None] = {}
    for value in header_values(msg, "List-Post"):
        for match in _MAILTO.finditer(value):
            found.setdefault(match.group(1).lower(), None)
    for value in header_values(msg, "List-Id"):
        match = _LIST_ID.search(value)
        label, _, domain = (match.group(1) if match else value.strip()).lower().partition(".")
        if label and "." in domain:
            found.setdefault(f"{label}@{domain}", None)
    return list(found)


def _ids_in(text: str) -> str | None:
    match = _MESSAGE_ID_LINE.search(text or "")
    return match.group(1) if match else None


def bounced_message_id(msg: Message, text: str = "") -> str | None:
    """The Message-ID of the mail that bounced: from the returned message, its headers, or the report text."""
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found = _strip_id(_first(inner, "Message-ID"))
                if found:
                    return found
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes | str) and raw:
                found = _id_from_headers_text(raw)
                if found:
                    return found
        elif ctype == "text/rfc822-headers":
            raw = part.get_payload(decode=True) or b""
            found = _id_from_headers_text(raw)
            if found:
                return found
    for part in _walk(msg):
        if part.get_content_maintype() == "text" and not part.is_multipart():
            try:
                body = part.get_payload(decode=True) or b""
            except Exception:  # noqa: BLE001 - a broken part is skipped, not fatal
                continue
            found = _ids_in(body.decode("latin-1"))
            if found:
                return found
    return _ids_in(text)


def _id_from_headers_text(raw) -> str | None:
    try:
        if isinstance(raw, bytes):
            headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw.lstrip())
        else:
            headers = HeaderParser(policy=policy.compat32).parsestr(raw.lstrip())
    except Exception:  # noqa: BLE001 - unparseable returned headers: fall back to the text search
        return _ids_in(raw.decode("latin-1") if isinstance(raw, bytes) else raw)
    return _strip_id(str(headers.get("Message-ID", "") or "")) or \
        _ids_in(raw.decode("latin-1") if isinstance(raw, bytes) else raw)


def _strip_id(value: str) -> str | None:
    value = (value or "").strip()
    match = re.search(r"<([^<>\s]+)>", value)
    if match:
        return match.group(1)
    value = re.sub(r"\s+", "", value)
    return value or None


def is_own_mail(sender_email: str | None, own_addresses: Iterable[str]) -> bool:
    """A mail from one of our own mailbox addresses (plus-addresses included) came back round: a loop."""
    if not sender_email:
        return False
    local, _, domain = sender_email.lower().partition("@")
    base = local.split("+", 1)[0] + "@" + domain
    own = {a.lower() for a in own_addresses}
    return sender_email.lower() in own or base in own


# --- loop guard ------------------------------------------------------------------------------------

AUTOMATIC_MAILS_PER_SENDER_PER_HOUR = 5


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class LoopGuard:
    """Whether we may send an automatic mail (acknowledgement, notification) to `recipient` now.

    Decisions: never in answer to automatic mail (`incoming_automatic` set): two responders would
    answer each other for ever; never to a daemon or no-reply address; never to one of our own
    addresses; and at most `cap_per_hour` automatic mails to one recipient in any hour (the caller
    counts what it sent to that address in the last 60 minutes, `sent_last_hour`). Public replies
    a person writes are not automatic and are never capped.
    """

    cap_per_hour: int = AUTOMATIC_MAILS_PER_SENDER_PER_HOUR

    def decide(self, recipient: str, sent_last_hour: int, *, incoming_automatic: str | None = None,
               own_addresses: Iterable[str] = ()) -> GuardDecision:
        if incoming_automatic:
            return GuardDecision(False, f"the incoming mail is automatic ({incoming_automatic})")
        if not recipient or "@" not in recipient:
            return GuardDecision(False, "no recipient address")
        if local_part(recipient).split("+", 1)[0] in NO_REPLY_LOCAL_PARTS:
            return GuardDecision(False, "the recipient is a daemon or no-reply address")
        if is_own_mail(recipient, own_addresses):
            return GuardDecision(False, "the recipient is one of our own mailboxes")
        if sent_last_hour >= self.cap_per_hour:
            return GuardDecision(False, f"cap of {self.cap_per_hour} automatic mails per hour reached")
        return GuardDecision(True, "allowed")

    def allows(self, recipient: str, sent_last_hour: int, **kwargs) -> bool:
        return self.decide(recipient, sent_last_hour, **kwargs).allowed


def automatic_mail_allowed(recipient: str, sent_last_hour: int, *,
                           cap_per_hour: int = AUTOMATIC_MAILS_PER_SENDER_PER_HOUR,
                           incoming_automatic: str | None = None, own_addresses: Iterable[str] = ()) -> bool:
    """`LoopGuard(cap_per_hour).allows(...)` as one function."""
    return LoopGuard(cap_per_hour).allows(recipient, sent_last_hour, incoming_automatic=incoming_automatic,
                                          own_addresses=own_addresses)
