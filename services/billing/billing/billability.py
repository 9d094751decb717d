"""Is a piece of time billable or internal? A pure rule, decided when the time is written.

The precedence (issue 10), highest first:

1. **entry** — the entry (or the timer it is stopped from) says `billable` itself;
2. **category** — its time category's default (each category of the tenant is billable or internal);
3. **project** — the project's billing default;
4. **customer** — the customer's billing default.

The first level that says decides, and the entry records which one (`billable_source`), so a
report or an invoice can always tell why time is billable.

Decisions recorded here:

- **Never a silent default.** When no level says — no `billable` on the entry, no category or one
  whose default is unknown, no project or a project without a default, no customer default — the
  write is refused (422 on `billable`), and the message names each level that is missing, so the
  caller either states it or sets a default (`PUT /billing-defaults/customers/{id}`, a category).
  Storing a guess would bill (or not bill) time nobody decided about.
- **An override needs a reason.** The entry overrides when it says something other than what the
  highest lower level would decide; then `billable_reason` is required (422 on `billable_reason`).
  An entry that agrees with the lower level, or says when no lower level would, is no override: it
  needs no reason (one given is kept).
- The category, project and customer levels are each "unknown" (None) when not set; an archived
  category still decides for entries that already carry it.
"""
from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("entry", "category", "project", "customer")
MAX_REASON = 2000


@dataclass(frozen=True)
class Levels:
    """What each level says (None: it says nothing). `category`, `project_id` name what was asked,
    for the message when nothing decides."""

    entry: bool | None = None
    category: bool | None = None
    project: bool | None = None
    customer: bool | None = None
    category_name: str | None = None
    has_project: bool = False


@dataclass(frozen=True)
class Decision:
    billable: bool
    source: str  # one of LEVELS
    overrides: bool  # the entry said otherwise than the lower levels would
    reason: str | None


class Undecided(ValueError):
    """No level decides; `field` and `message` say which levels are missing."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def lower_decision(levels: Levels) -> tuple[bool, str] | None:
    """What the levels below the entry decide: (billable, source), or None when none says."""
    for source in LEVELS[1:]:
        value = getattr(levels, source)
        if value is not None:
            return value, source
    return None


def missing(levels: Levels) -> list[str]:
    """Each level that says nothing, in words."""
    said = []
    if levels.entry is None:
        said.append("the entry gives no 'billable'")
    if levels.category is None:
        said.append(f"category {levels.category_name!r} is not a category of this tenant"
                    if levels.category_name else "it has no category")
    if levels.project is None:
        said.append("its project has no billing default" if levels.has_project else "it has no project")
    if levels.customer is None:
        said.append("its customer has no billing default")
    return said


def decide(levels: Levels, reason: str | None = None) -> Decision:
    """The decision of the highest level that says (see the module's doc), or `Undecided`."""
    reason = reason.strip() if reason else None
    below = lower_decision(levels)
    if levels.entry is not None:
        overrides = below is not None and below[0] != levels.entry
        if overrides and not reason:
            raise Undecided("billable_reason", f"the entry overrides its {below[1]}'s default "
                            f"({'billable' if below[0] else 'internal'}): say why in 'billable_reason'")
        return Decision(levels.entry, "entry", overrides, reason)
    if below is None:
        raise Undecided("billable", "nothing decides whether this time is billable: "
                        + "; ".join(missing(levels))
                        + " — give 'billable' (and why), a category, or set a project or customer billing default")
    return Decision(below[0], below[1], False, reason)
