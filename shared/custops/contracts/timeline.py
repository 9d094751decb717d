from __future__ import annotations

import uuid
from typing import Literal, get_args

from pydantic import AwareDatetime

from custops.events import EventData, contract

# The built-in kinds that can be logged by hand on a timeline (a tenant may add its own: the timeline
# service's `interaction_types`); their structured fields are the timeline's `interaction_types` too.
InteractionKind = Literal["email", "call", "meeting", "note", "chat", "training", "check_in", "feedback",
                          "issue_report", "handoff"]
INTERACTION_KINDS: tuple[str, ...] = get_args(InteractionKind)


@contract("timeline", "interaction.logged")
class InteractionLogged(EventData):
    """An interaction (call, meeting, email, note, chat, training, check-in, feedback, issue report,
    handoff, or a tenant's own kind) was logged on a customer's timeline by hand. `fields` are the
    kind's structured fields as validated; `links` what it is about (`ticket_id`, `task_id`,
    `project_id`, `mail_message_id`, `time_entry_id`)."""

    activity_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    summary: str
    internal: bool
    occurred_at: AwareDatetime
    fields: dict[str, object] = {}
    links: dict[str, str] = {}


@contract("timeline", "interaction.corrected")
class InteractionCorrected(EventData):
    """A hand-logged interaction was edited or retracted: a new version (`revision`, `activity_id`)
    replaced `previous_id`; history is kept, never rewritten. `root_id` is the first version's id;
    `changes` the fields that changed with `{old, new}`."""

    activity_id: uuid.UUID
    root_id: uuid.UUID
    previous_id: uuid.UUID
    customer_id: uuid.UUID
    revision: int
    retracted: bool
    reason: str | None = None
    changes: dict[str, dict] = {}


@contract("timeline", "interaction_type.defined")
class InteractionTypeDefined(EventData):
    """A tenant defined (or redefined) one of its own interaction kinds and its fields."""

    interaction_type_id: str  # the kind
    label: str
    fields: list[dict]
    previous: dict | None = None


@contract("timeline", "activity_view.saved")
class ActivityViewSaved(EventData):
    """A member saved a timeline view (a named filter set): created or changed."""

    activity_view_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    filters: dict
    shared: bool
    is_default: bool
    created: bool
    changes: dict[str, object] = {}


@contract("timeline", "activity_view.deleted")
class ActivityViewDeleted(EventData):
    """A saved timeline view was deleted."""

    activity_view_id: uuid.UUID
    member_id: uuid.UUID
    name: str


# --- follow-ups: promises made to customers (timeline.followups). Every one carries the customer,
# the assignee and the due instants, so a read model (reports: completion, on-time and overdue
# rates, postponements per member and customer) needs no other source. `overdue_at` is `due_at`
# plus the follow-up's grace; on time means completed before `overdue_at`.

FollowupSubjectType = Literal["activity", "ticket"]
FollowupPreset = Literal["tomorrow", "3_days", "1_week", "2_weeks", "next_business_day"]


class _FollowupFacts(EventData):
    followup_id: uuid.UUID
    customer_id: uuid.UUID
    assignee_id: uuid.UUID
    due_at: AwareDatetime
    overdue_at: AwareDatetime
    postponements: int = 0


@contract("timeline", "followup.created")
class FollowupCreated(_FollowupFacts):
    """A follow-up was promised: on a customer, optionally attached to an activity or a ticket
    (`subject_type`/`subject_id`), assigned to a member, due at `due_at`."""

    subject_type: FollowupSubjectType | None = None
    subject_id: uuid.UUID | None = None
    note: str
    created_at: AwareDatetime


@contract("timeline", "followup.updated")
class FollowupUpdated(_FollowupFacts):
    """A follow-up's note changed: `changes` holds the new values, `previous` the old ones."""

    changes: dict[str, object]
    previous: dict[str, object]
    updated_at: AwareDatetime


@contract("timeline", "followup.postponed")
class FollowupPostponed(_FollowupFacts):
    """A follow-up was postponed from `previous_due_at` to `due_at` (by a `preset`, or to a chosen
    instant when `preset` is null); `postponements` counts them, this one included."""

    previous_due_at: AwareDatetime
    preset: FollowupPreset | None = None
    reason: str | None = None
    postponed_at: AwareDatetime


@contract("timeline", "followup.completed")
class FollowupCompleted(_FollowupFacts):
    """A follow-up was done: `on_time` when completed before `overdue_at`."""

    resolution: str
    completed_at: AwareDatetime
    on_time: bool


@contract("timeline", "followup.reassigned")
class FollowupReassigned(_FollowupFacts):
    """A follow-up moved from `previous_assignee_id` to `assignee_id`."""

    previous_assignee_id: uuid.UUID
    reassigned_at: AwareDatetime


@contract("timeline", "followup.cancelled")
class FollowupCancelled(_FollowupFacts):
    """A follow-up was called off (no longer promised; it counts in no rate)."""

    reason: str | None = None
    cancelled_at: AwareDatetime


@contract("timeline", "followup.due")
class FollowupDue(_FollowupFacts):
    """An open follow-up reached its due time (raised once per due time, by the follow-up clock)."""

    raised_at: AwareDatetime


@contract("timeline", "followup.overdue")
class FollowupOverdue(_FollowupFacts):
    """An open follow-up passed `overdue_at` undone (raised once per due time, by the follow-up clock)."""

    raised_at: AwareDatetime
