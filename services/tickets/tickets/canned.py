"""Canned responses: placeholders checked when a response is saved, filled in when it is used (pure).

An unknown placeholder is refused at save time (a typo such as `{{customer.nmae}}` would otherwise
reach a customer); `render` leaves anything it does not know visible rather than silently dropping it.
"""
from __future__ import annotations

import re

PLACEHOLDERS = ("customer.name", "ticket.number", "agent.name")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def unknown_placeholders(body: str) -> list[str]:
    """The placeholders in `body` that `render` cannot fill, in order of appearance."""
    unknown: list[str] = []
    for name in _PLACEHOLDER.findall(body):
        if name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown


def render(body: str, values: dict[str, object]) -> str:
    """Fill `{{ name }}` placeholders from `values` (keys from PLACEHOLDERS); a missing value renders
    as an empty string, an unknown placeholder stays as written."""
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = values.get(name)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(fill, body)
