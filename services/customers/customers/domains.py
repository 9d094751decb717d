"""Email domains and addresses: normalisation, validation and sender matching rules (pure, no I/O).

Domains and addresses are stored lower-cased (and internationalised names in their ASCII
"xn--" form), so equality in the database is the equality that matters for mail.
"""
from __future__ import annotations

import re
from email.utils import parseaddr

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_LOCAL_PART = re.compile(r"^[^\s@\"(),:;<>\[\\\]]{1,64}$")
MAX_DOMAIN_LENGTH = 253


def normalise_domain(value: str) -> str:
    """`Acme.Example.` -> `acme.example`; raises ValueError when it is not a domain name."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    domain = value.strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{value!r} is not a valid domain name") from None
    labels = domain.split(".")
    if (len(domain) > MAX_DOMAIN_LENGTH or len(labels) < 2
            or not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1])):
        raise ValueError(f"{value!r} is not a valid domain name")
    return domain


def normalise_email(value: str) -> str:
    """`Jane@Acme.Example` -> `jane@acme.example`; raises ValueError when it is not an address."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    local, sep, domain = value.strip().rpartition("@")
    if not sep or not _LOCAL_PART.match(local):
        raise ValueError(f"{value!r} is not a valid email address")
    try:
        domain = normalise_domain(domain)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid email address") from None
    return f"{local.lower()}@{domain}"


def sender_email(sender: str) -> str | None:
    """The normalised address in a From value (`"Jane" <jane@acme.example>` or bare), or None."""
    if not isinstance(sender, str):
        return None
    _, address = parseaddr(sender)
    try:
        return normalise_email(address)
    except ValueError:
        return None


def candidate_domains(email: str) -> list[str]:
    """Domains that may claim a normalised address, most specific first.

    Mail from `jane@eu.mail.acme.example` belongs to the customer owning `acme.example` when no
    customer owns a more specific domain; a bare top-level domain never matches.
    """
    labels = email.rpartition("@")[2].split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def most_specific(owned: dict[str, object], candidates: list[str]):
    """The owner of the first candidate domain that has one (candidates as `candidate_domains`)."""
    for domain in candidates:
        if domain in owned:
            return owned[domain]
    return None
