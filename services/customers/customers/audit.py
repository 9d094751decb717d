"""What an audit record says about an event: its target and a digest of the changed fields — pure rules.

The audit log (DESIGN.md §4) is written through the event path: every service adds its domain event
to its outbox in the transaction of the change, so no change commits without the event; the
customers service takes every event of every producer (`customers.audit_service`) and writes one
append-only row per event (`customers.audit_store`). This module turns an envelope into that row.

- Target: the event type's prefix names the kind of thing changed (`ticket.updated` -> `ticket`),
  the payload's `<kind>_id` its id; a few kinds are named otherwise (`TARGETS`).
- Digest: `{field: {"before": ..., "after": ...}}` of the fields the event says changed — its
  `changes` (with `previous`, or `{old, new}` pairs), `previous_<field>` / `old_<field>` +
  `new_<field>` pairs; an event that tells no change (a creation, a revocation) records its payload
  as `after`. Long text is cut to `MAX_TEXT` characters, so a reply's body is not copied whole.
- Never secrets: a field whose name is a secret's (`SECRET_FIELDS`, or containing one of
  `SECRET_FRAGMENTS`) is left out at any depth, and events of the mailbox kinds (`OPAQUE_KINDS`:
  mail server settings and messages) record no digest at all, only that they happened.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from custops.validation import Instant

# fields whose value is a secret, by exact name (lower case) ...
SECRET_FIELDS = frozenset({"token", "token_hash", "password", "secret", "api_key", "credentials",
                           "authorization", "access_token", "refresh_token", "client_secret"})
# ... or by a part of it (`smtp_password`, `imap_secret`, `password_hash`, `private_key_pem`)
SECRET_FRAGMENTS = ("password", "secret", "token_hash", "credential", "private_key", "api_key")
# kinds whose payloads are never copied into the log (mailboxes hold mail server credentials;
# messages are customers' mail)
OPAQUE_KINDS = frozenset({"mailbox", "mail"})
# kinds whose target is named otherwise than by the type's prefix: (target type, id field)
TARGETS = {"time": ("time_entry", "entry_id"), "interaction": ("activity", "activity_id"),
           "followup": ("followup", "followup_id"),
           "category": ("category", "name")}  # a tenant's ticket category is named, it has no id
MAX_TEXT = 200
MAX_ITEMS = 50  # of a list or a nested object kept in a digest


@dataclass(frozen=True)
class Target:
    type: str
    id: str | None


def is_secret(field: str) -> bool:
    name = field.lower()
    return name in SECRET_FIELDS or any(fragment in name for fragment in SECRET_FRAGMENTS)


def target_of(event_type: str, data: dict) -> Target:
    kind = event_type.partition(".")[0]
    target_type, id_field = TARGETS.get(kind, (kind, f"{kind}_id"))
    value = data.get(id_field)
    return Target(target_type, str(value) if value is not None else None)


def bounded(value):
    """A value fit for the log: secrets left out, long text cut, long lists and objects shortened."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, dict):
        return {key: bounded(item) for key, item in list(value.items())[:MAX_ITEMS] if not is_secret(str(key))}
    if isinstance(value, (list, tuple)):
        return [bounded(item) for item in list(value)[:MAX_ITEMS]]
    return value


def _change(before, after) -> dict:
    return {"before": bounded(before), "after": bounded(after)}


def digest(event_type: str, data: dict) -> dict:
    """`{field: {before, after}}` of what the event says changed (see the module's doc)."""
    if event_type.partition(".")[0] in OPAQUE_KINDS:
        return {}
    found: dict[str, dict] = {}
    changes = data.get("changes")
    previous = data.get("previous") if isinstance(data.get("previous"), dict) else {}
    if isinstance(changes, dict):
        for field, value in changes.items():
            if isinstance(value, dict) and set(value) <= {"old", "new"} and value:  # a {old, new} pair
                found[field] = _change(value.get("old"), value.get("new"))
            else:
                found[field] = _change(previous.get(field), value)
    for field, value in data.items():
        for before_prefix in ("previous_", "old_"):
            if field.startswith(before_prefix):
                name = field[len(before_prefix):]
                after_field = name if name in data else f"new_{name}"
                if after_field in data:
                    found[name] = _change(value, data[after_field])
    if not found and not isinstance(changes, dict):  # no change told: what it is now
        found = {field: _change(None, value) for field, value in data.items()}
    return {field: change for field, change in found.items() if not is_secret(field)}


class AuditFilters(BaseModel):
    """What `list_audit` / `export_audit` filter on (all optional, combined with AND). `action`
    ending in a dot (`ticket.`) takes every action of that kind; `from`/`to` bound `occurred_at`
    (from inclusive, to exclusive)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    actor_type: Literal["member", "contact", "system"] | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = Field(default=None, min_length=1, max_length=80)
    target_type: str | None = Field(default=None, min_length=1, max_length=40)
    target_id: str | None = Field(default=None, min_length=1, max_length=80)
    request_id: str | None = Field(default=None, min_length=1, max_length=200)
    from_: Instant | None = Field(default=None, alias="from")
    to: Instant | None = None
