"""Which names are IANA time zones a tenant may choose. Pure.

`zoneinfo.ZoneInfo` loads any file under the zone directories, so it accepts names that are not
zones of the IANA database as such (`localtime`, the machine's own zone). A tenant's zone must
mean the same thing on every machine, so only names the database lists are accepted.
"""
from __future__ import annotations

import functools
import zoneinfo

# present in the zone directory of many systems, but the machine's own setting, not a zone
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def is_zone(name) -> bool:
    return isinstance(name, str) and name in known_zones()
