"""Who a mail is from, as a user expects it, and who else takes part (pure: no I/O).

`resolve_senders(parsed, own_addresses)` answers the customer's address (the person the ticket is
for), how it was found, and the participants. `own_addresses` are the mailbox's own addresses
(its login and every address it receives for); `team_domains`, the domains whose people are our
team, default to the domains of those addresses. Decisions:

- **From**, by default: the author is who the mail is from.
- **Reply-To** instead, when it names one other person and From is only a relay for them: a
  no-reply/form/notification address ("WordPress <no-reply@shop.example>", "Jane via Support Form
  <forms@relay.example>") or the same organisation (From noreply@acme.example, Reply-To
  jane@acme.example). A Reply-To to a list or a third party while a person wrote From stays From:
  mailing lists and assistants set Reply-To for other reasons.
- **Forwarded**: when one of our team (an address at a team domain, or our own mailbox) forwards a
  customer's mail to the mailbox, the customer is the original sender: from the forwarded
  `message/rfc822` part, else from the first `From:` line (in any of the common languages:
  From/Von/De/Da/Van/Från/Fra/Od, Outlook's `[mailto:...]` too) after a forward banner
  ("---------- Forwarded message ---------", "Begin forwarded message:", ...), or after Outlook's
  "-----Original Message-----" only when the subject says forward (Fwd:/FW:/WG:/TR:/...): Outlook
  writes that banner on replies too, and a colleague's reply quoting the customer is no forward. The colleague is
  recorded as `forwarded_by`, never as the customer. A customer forwarding someone else's mail
  stays the customer: they are asking us.
- **Participants**: everyone else in To/Cc (and the forwarded block's Cc), in order, without
  duplicates: never our own addresses (plus-addresses included), never our team, never a daemon or
  no-reply address, never the customer. Participants are copied on replies; they are never the
  ticket's customer.
- Mail from one of our own addresses that is not a forward is `own` (a loop or a colleague writing
  from the shared mailbox): no customer.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Literal

from .auto_replies import NO_REPLY_LOCAL_PARTS, local_part
from .parsing import Address, ParsedMail, parse_addresses

Via = Literal["from", "reply_to", "forwarded", "own", "none"]

# From addresses that only relay for someone else (forms, notifications, no-reply senders).
RELAY_LOCAL_PARTS = NO_REPLY_LOCAL_PARTS | frozenset({
    "forms", "form", "webform", "contact-form", "wordpress", "notifications", "notification", "notify",
    "mailer", "automailer", "system", "website", "web", "info-form"})
_VIA_NAME = re.compile(r"\bvia\b", re.IGNORECASE)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|fw|wg|tr|enc|rv|vs|vb|doorst|i|pd)\s*(?:\[\d+\])?\s*:",
                              re.IGNORECASE)
_FORWARD_BANNER = re.compile(
    r"^[\s>]*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    r"messaggio inoltrato|doorgestuurd bericht|vidarebefordrat meddelande)\s*-{2,}|begin forwarded message:|"
    r"anfang der weitergeleiteten nachricht:)", re.IGNORECASE | re.MULTILINE)
# Outlook's banner for replies and forwards alike: a forward only with a forward subject.
_ORIGINAL_BANNER = re.compile(
    r"^[\s>]*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|ursprungligt meddelande)\s*-{2,}", re.IGNORECASE | re.MULTILINE)
_FROM_LINE = re.compile(r"^[\s>*]*(?:from|von|de|da|van|från|fra|od|expéditeur)\s*:\s*\**\s*(.+)$",
                        re.IGNORECASE | re.MULTILINE)
_CC_LINE = re.compile(r"^[\s>*]*(?:cc|kopie)\s*:\s*\**\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_MAILTO = re.compile(r"\[mailto:([^\]\s]+)\]", re.IGNORECASE)


@dataclass(frozen=True)
class Senders:
    customer: Address | None  # whose mail this is: the ticket's customer contact (None for our own mail)
    via: Via
    participants: list[Address]
    forwarded_by: Address | None = None


class _Us:
    """Our mailbox addresses and team domains, compared without plus-address tags."""

    def __init__(self, own_addresses: Iterable[str], team_domains: Iterable[str] | None):
        self.addresses = {_base(a) for a in own_addresses if a}
        domains = team_domains if team_domains is not None else [a.rpartition("@")[2] for a in self.addresses]
        self.domains = {d.lower().strip().lstrip("@") for d in domains if d}

    def is_own(self, address: Address | None) -> bool:
        return address is not None and _base(address.email) in self.addresses

    def is_team(self, address: Address | None) -> bool:
        return address is not None and (self.is_own(address) or address.email.rpartition("@")[2] in self.domains)


def _base(email: str) -> str:
    local, _, domain = email.lower().partition("@")
    return local.split("+", 1)[0] + "@" + domain


def _is_machine(address: Address) -> bool:
    return local_part(address.email).split("+", 1)[0] in NO_REPLY_LOCAL_PARTS


def _is_relay(address: Address) -> bool:
    return local_part(address.email).split("+", 1)[0] in RELAY_LOCAL_PARTS or bool(_VIA_NAME.search(address.name))


def _domain(address: Address) -> str:
    return address.email.rpartition("@")[2]


def resolve_senders(parsed: ParsedMail, own_addresses: Iterable[str],
                    team_domains: Iterable[str] | None = None) -> Senders:
    """Who `parsed` is from as a user expects, and its participants (see the module docstring)."""
    us = _Us(own_addresses, team_domains)
    author = parsed.sender
    extra_cc: list[Address] = []
    forwarded_by = None
    customer: Address | None = author
    via: Via = "from" if author else "none"

    if author is not None and us.is_team(author):
        original, original_cc = forwarded_original(parsed)
        if original is not None and not us.is_team(original):
            customer, via, forwarded_by, extra_cc = original, "forwarded", author, original_cc
        elif us.is_own(author):
            customer, via = None, "own"
    if via == "from" and author is not None:
        reply_to = [a for a in parsed.reply_to if not us.is_team(a)]
        if len(reply_to) == 1 and reply_to[0].email != author.email and not _is_machine(reply_to[0]) and \
                (_is_relay(author) or _domain(reply_to[0]) == _domain(author)):
            customer, via = reply_to[0], "reply_to"

    seen = {customer.email} if customer else set()
    if forwarded_by is not None:
        seen.add(forwarded_by.email)
    participants: list[Address] = []
    candidates = [*parsed.to, *parsed.cc, *extra_cc]
    if via == "reply_to" and author is not None and not _is_relay(author):
        candidates.append(author)  # a colleague of the customer's who sent for them
    for address in candidates:
        if address.email in seen or us.is_team(address) or _is_machine(address):
            continue
        seen.add(address.email)
        participants.append(address)
    return Senders(customer=customer, via=via, participants=participants, forwarded_by=forwarded_by)


def forwarded_original(parsed: ParsedMail) -> tuple[Address | None, list[Address]]:
    """The sender (and Cc) of the mail `parsed` forwards, or (None, []) when it forwards none."""
    for attachment in parsed.attachments:
        if attachment.content_type in ("message/rfc822", "message/global") and attachment.data:
            try:
                headers = BytesHeaderParser(policy=policy.compat32).parsebytes(attachment.data)
            except Exception:  # noqa: BLE001 - an unreadable forwarded part: look at the text instead
                break
            senders = parse_addresses(str(headers.get("From", "") or ""))
            if senders:
                return senders[0], parse_addresses(str(headers.get("Cc", "") or ""))
    text = parsed.text or ""
    banner = _FORWARD_BANNER.search(text)
    if banner is None:
        if not _FORWARD_SUBJECT.match(parsed.subject or ""):
            return None, []  # a reply quoting the customer is no forward
        banner = _ORIGINAL_BANNER.search(text)
    block = text[banner.end():] if banner else text
    match = _FROM_LINE.search(block[:5000])
    if match is None:
        return None, []
    line = match.group(1)
    mailto = _MAILTO.search(line)  # Outlook: "From: Jane Doe [mailto:jane@example.com]"
    if mailto:
        name = line[:mailto.start()].strip().strip('"')
        addresses = [Address(email=mailto.group(1).lower(), name=name)]
    else:
        addresses = parse_addresses(line.replace("*", ""))
    if not addresses:
        return None, []
    header_block = block[match.end():match.end() + 1500].split("\n\n", 1)[0]
    cc_match = _CC_LINE.search(header_block)
    cc = parse_addresses(_MAILTO.sub("", cc_match.group(1))) if cc_match else []
    return addresses[0], cc
