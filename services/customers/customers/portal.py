"""Portal invitations: the link token and its lifetime (pure, no I/O).

An invite is a one-time link token, told once to whoever invites and stored as its SHA-256 (32
random bytes: nothing to brute-force), so it can be looked up but not read back. It expires —
`DEFAULT_INVITE_DAYS` unless the inviter asks for fewer or more, within `MIN/MAX_INVITE_DAYS` — and the
one exchange that turns it into a portal API token consumes it.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from customers import tokens

SCHEME = "csi_"  # an invite, told apart from an API token (`cst_`) at a glance and by secret scanners
SECRET_BYTES = 32
INVITE_LENGTH = len(SCHEME) + 43
DEFAULT_INVITE_DAYS = 7
MIN_INVITE_DAYS = 1
MAX_INVITE_DAYS = 30


class IssuedInvite(NamedTuple):
    invite: str  # the secret: returned to the inviter once
    invite_hash: str  # what is stored and looked up


def generate() -> IssuedInvite:
    invite = SCHEME + secrets.token_urlsafe(SECRET_BYTES)
    return IssuedInvite(invite=invite, invite_hash=tokens.hash_token(invite))


def well_formed(invite) -> bool:
    """Cheap check before any lookup: anything else cannot be an invite we issued."""
    return (isinstance(invite, str) and len(invite) == INVITE_LENGTH and invite.startswith(SCHEME)
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in invite[len(SCHEME):]))


def expiry(issued_at: datetime, days: int | None) -> datetime:
    return issued_at + timedelta(days=DEFAULT_INVITE_DAYS if days is None else days)


def refusal(accepted_at: datetime | None, expires_at: datetime, at: datetime) -> str | None:
    """Why a found invite cannot be exchanged now (a 410), or None when it can."""
    if accepted_at is not None:
        return "this invite was already used; ask for a new one"
    if expires_at <= at:
        return "this invite has expired; ask for a new one"
    return None
