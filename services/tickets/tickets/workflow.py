"""What a message or a status change does to a ticket (pure; the transition table is `statuses`).

Decisions (documented here because operators will ask):
- An agent's public reply on a `new` ticket moves it to `open`: someone is on it now. Replies leave
  every other status alone (an agent may answer while waiting on the customer); a `closed` ticket
  takes no replies (the customer's next message starts a new ticket).
- A customer message on a `resolved` ticket reopens it (`open`, reason `customer_reply`); on a
  `waiting_on_customer` ticket it moves it back to `open` (the customer answered: the ball is ours
  again, which also restarts a paused SLA clock); on a `closed` ticket it starts a new ticket that
  follows the closed one.
- Internal notes never change the status.
- Who wrote a message and who entered it are kept apart. An inbound message is the customer's: its
  author is a contact of the ticket's customer (or nobody known, for mail from an unknown address),
  never the agent who typed in a phoned-in message — that agent is who entered it. A reply or note
  is an agent's: its author is a member (by default the one who entered it), never a contact.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from custops.contracts.tickets import MESSAGE_KINDS
from tickets import statuses

BUILT_IN_CATEGORIES = ("bug", "feature_request", "billing", "general")
MAX_TAGS = 20
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class RuleBroken(ValueError):
    """The request breaks a workflow rule (the message says which; `field`, when set, names the input)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MessageEffect:
    """What a message does to its ticket: a status to move to (None: stays), or a new follow-up ticket."""

    new_status: str | None = None
    reopen_reason: str | None = None  # set when the move leaves `resolved` because the customer wrote
    starts_follow_up: bool = False


def message_effect(status: str, kind: str) -> MessageEffect:
    if kind not in MESSAGE_KINDS:
        raise RuleBroken(f"unknown message kind {kind!r}")
    if kind == "note":
        return MessageEffect()
    if kind == "reply":
        if status == "closed":
            raise RuleBroken("a closed ticket takes no replies")
        return MessageEffect(new_status="open" if status == "new" else None)
    # inbound: the customer wrote
    if status == "closed":
        return MessageEffect(starts_follow_up=True)
    if status == "resolved":
        return MessageEffect(new_status="open", reopen_reason="customer_reply")
    if status == "waiting_on_customer":
        return MessageEffect(new_status="open")
    return MessageEffect()


def message_authors(kind: str, author_member_id, author_contact_id, entered_by_member_id):
    """`(author_member_id, author_contact_id)` of a message (see the module's decisions)."""
    if kind == "inbound":
        if author_member_id is not None:
            raise RuleBroken("a customer message is written by a contact (author_contact_id); the agent "
                             "who entered it is entered_by_member_id", "author_member_id")
        return None, author_contact_id
    if author_contact_id is not None:
        raise RuleBroken(f"a {'reply' if kind == 'reply' else 'note'} is written by a member, not a contact",
                         "author_contact_id")
    return author_member_id or entered_by_member_id, None


def status_events(old: str, new: str) -> tuple[str, ...]:
    """The event types a move emits besides `ticket.status_changed`."""
    if not statuses.can_move(old, new):
        raise RuleBroken(f"a {old} ticket cannot become {new}")
    extra = []
    if new == "resolved":
        extra.append("ticket.resolved")
    elif new == "closed":
        extra.append("ticket.closed")
    if old == "resolved" and new == "open":
        extra.append("ticket.reopened")
    return tuple(extra)


def normalise_tags(tags: list[str]) -> list[str]:
    """Lower-case, trimmed, de-duplicated (first occurrence wins), at most MAX_TAGS."""
    seen: list[str] = []
    for tag in tags:
        tag = tag.strip().lower()
        if not tag:
            raise RuleBroken("a tag must not be blank")
        if len(tag) > 50:
            raise RuleBroken("a tag has at most 50 characters")
        if tag not in seen:
            seen.append(tag)
    if len(seen) > MAX_TAGS:
        raise RuleBroken(f"at most {MAX_TAGS} tags")
    return seen


def normalise_category(name: str) -> str:
    """A category name as stored: lower-case letters, digits, `_` and `-`."""
    name = name.strip().lower()
    if not _NAME.match(name) or len(name) > 50:
        raise RuleBroken("a category is 1-50 lower-case letters, digits, '_' or '-'")
    return name
