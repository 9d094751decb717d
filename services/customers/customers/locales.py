"""Which strings are locales a tenant may choose: well-formed BCP 47 language tags (RFC 5646). Pure.

Only the `langtag` form is taken (a language first: `en`, `de-CH`, `zh-Hant-TW`, `es-419`,
`sl-rozaj-biske`, `en-US-x-twain`); grandfathered tags and bare private-use tags are refused, as
nothing could format dates or numbers for them. A tag is stored in its canonical case (language
lower, script title, region upper), so `EN-us` and `en-US` are one setting.
"""
from __future__ import annotations

import re

MAX_LENGTH = 35  # RFC 5646 §4.4.1: the length every implementation must support

_LANGTAG = re.compile(r"""
    (?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})
    (?:-(?P<script>[a-z]{4}))?
    (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
    (?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)
    (?P<extensions>(?:-[a-wy-z0-9](?:-[a-z0-9]{2,8})+)*)
    (?:-x(?:-[a-z0-9]{1,8})+)?
""", re.VERBOSE)


def canonical(tag) -> str | None:
    """The tag in canonical case, or None when it is not a well-formed BCP 47 language tag."""
    if not isinstance(tag, str) or not 2 <= len(tag) <= MAX_LENGTH or not tag.isascii():
        return None
    lowered = tag.lower()
    match = _LANGTAG.fullmatch(lowered)
    if match is None:
        return None
    variants = [v for v in match.group("variants").split("-") if v]
    if len(set(variants)) != len(variants):  # RFC 5646 §2.2.5: a variant appears once
        return None
    singletons = [s for s in re.findall(r"-([a-wy-z0-9])(?=-)", match.group("extensions"))]
    if len(set(singletons)) != len(singletons):  # §2.2.6: an extension singleton appears once
        return None
    language, script, region = match.group("language", "script", "region")
    head = language + (f"-{script.title()}" if script else "") + (f"-{region.upper()}" if region else "")
    rest_from = max(match.end(g) for g in ("language", "script", "region") if match.group(g))
    return head + lowered[rest_from:]  # variants, extensions and private use stay lower case
