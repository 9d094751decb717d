"""What upgrading a running plan to another template version would change — pure rules (no I/O).

Editing a template makes a new version and never touches a plan applied from an earlier one. An
upgrade is asked for explicitly, and its diff is shown first (the same function answers both the
preview and the upgrade, so what is shown is what is done). Decisions:

- Steps are matched by key. A step only in the new version is `added` (a new task); a step only in
  the old one is `removed` (its task is deleted unless done: a done task is history and stays);
  a step in both whose planned fields differ is `changed` (title, description, day, duration,
  dependencies, milestone, weight, estimate, portal visibility) and its not-done task takes them.
- Done tasks never change. Dates are re-planned from the customer's start date afterwards
  (`schedule.replan`), and the moves are reported with the diff.
"""
from __future__ import annotations

from dataclasses import dataclass, field

PLANNED_FIELDS = ("title", "description", "day", "duration", "depends_on", "milestone", "first_value", "weight",
                  "estimate", "estimate_unit", "portal_visible", "owner_role")


@dataclass(frozen=True)
class StepDiff:
    added: list[dict] = field(default_factory=list)  # steps
    removed: list[str] = field(default_factory=list)  # step keys
    changed: list[dict] = field(default_factory=list)  # {key, changes: {field: {before, after}}}
    kept_done: list[str] = field(default_factory=list)  # keys of removed or changed steps whose task is done

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old_steps: list[dict], new_steps: list[dict], done_keys: set[str] = frozenset()) -> StepDiff:
    old = {s["key"]: s for s in old_steps}
    new = {s["key"]: s for s in new_steps}
    result = StepDiff()
    for s in new_steps:
        if s["key"] not in old:
            result.added.append(s)
    for s in old_steps:
        key = s["key"]
        if key not in new:
            (result.kept_done if key in done_keys else result.removed).append(key)
            continue
        changes = {f: {"before": s.get(f), "after": new[key].get(f)} for f in PLANNED_FIELDS
                   if s.get(f) != new[key].get(f)}
        if changes:
            if key in done_keys:
                result.kept_done.append(key)
            else:
                result.changed.append({"key": key, "changes": changes})
    return result
