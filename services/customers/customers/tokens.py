"""API tokens: generation, the stored hash and the display prefix (pure, no I/O).

A token is 32 random bytes, so a plain SHA-256 of it is a safe stored form: there is nothing to
brute-force that a slow password hash would protect. Only the hash and a short prefix are stored;
the token itself is shown once, when issued, and never logged.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import NamedTuple

SCHEME = "cst_"  # recognisable in configs and by secret scanners
SECRET_BYTES = 32
PREFIX_CHARS = 8  # of the random part: enough to tell tokens apart in a list, far too few to guess the rest
# base64url of 32 bytes without padding is 43 characters
TOKEN_LENGTH = len(SCHEME) + 43


class IssuedToken(NamedTuple):
    token: str  # the secret: returned to the caller once
    prefix: str  # non-secret, for display
    token_hash: str  # what is stored and looked up


def generate() -> IssuedToken:
    token = SCHEME + secrets.token_urlsafe(SECRET_BYTES)
    return IssuedToken(token=token, prefix=prefix_of(token), token_hash=hash_token(token))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def prefix_of(token: str) -> str:
    return token[: len(SCHEME) + PREFIX_CHARS]


def well_formed(token) -> bool:
    """Cheap check before any lookup: anything else cannot be a token we issued."""
    return (isinstance(token, str) and len(token) == TOKEN_LENGTH and token.startswith(SCHEME)
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in token[len(SCHEME):]))
