"""Task statuses, board columns, progress and lateness — pure rules (no I/O).

- Every task has a status category: todo, in_progress, blocked, done. A tenant may add columns of
  its own (`Column`: key, name, category, order); the four categories are always columns too, so a
  tenant with no settings gets the plain board. A task's `status` is a column key; its category is
  what reports, progress and "late" use. A column that still holds tasks cannot be removed (the store
  checks), and a category column keeps its category.
- Progress of a project = done weight ÷ total weight (weights ≥ 0; a project whose total weight is 0
  has progress 0 with tasks, null without). A task is done when its category is done.
- Late = due date before today (in the tenant's timezone) and not done; a milestone is late the same way.
- Positions: a task's `position` orders it within its column (0 first). Moving puts the task at the
  asked index of the target column (clamped to its end) and renumbers both columns 0..n-1, so
  positions stay dense and a move is one call.
- Project statuses are per tenant (`DEFAULT_PROJECT_STATUSES` until a tenant sets its list): a
  project's status must be one of its tenant's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Sequence, get_args

Category = Literal["todo", "in_progress", "blocked", "done"]
CATEGORIES: tuple[str, ...] = get_args(Category)
DEFAULT_PROJECT_STATUSES = ("planned", "active", "on_hold", "completed", "cancelled")


@dataclass(frozen=True)
class Column:
    key: str
    name: str
    category: str
    order: int


DEFAULT_COLUMNS = (Column("todo", "To do", "todo", 0), Column("in_progress", "In progress", "in_progress", 1),
                   Column("blocked", "Blocked", "blocked", 2), Column("done", "Done", "done", 3))


def columns_of(stored: Sequence[dict] | None) -> list[Column]:
    """The tenant's columns in board order: the stored list, or the defaults."""
    if not stored:
        return list(DEFAULT_COLUMNS)
    found = [Column(c["key"], c["name"], c["category"], int(c["order"])) for c in stored]
    return sorted(found, key=lambda c: (c.order, c.key))


def check_columns(columns: Sequence[Column]) -> list[dict]:
    """Field errors of a column list (empty when it is acceptable)."""
    errors = []
    keys = [c.key for c in columns]
    for i, c in enumerate(columns):
        if keys.count(c.key) > 1:
            errors.append({"field": f"columns.{i}.key", "message": f"{c.key} is given twice"})
        if c.category not in CATEGORIES:
            errors.append({"field": f"columns.{i}.category", "message": "must be one of " + ", ".join(CATEGORIES)})
        if c.key in CATEGORIES and c.category != c.key:
            errors.append({"field": f"columns.{i}.category", "message": f"the {c.key} column is of category {c.key}"})
    for category in CATEGORIES:
        if category not in keys:
            errors.append({"field": "columns", "message": f"the {category} column is always on the board"})
    return errors


def category_of(status: str, columns: Sequence[Column]) -> str | None:
    for c in columns:
        if c.key == status:
            return c.category
    return None


def progress(tasks: Sequence[tuple[int, bool]]) -> float | None:
    """Done weight ÷ total weight of `(weight, done)` pairs (see the module's doc)."""
    if not tasks:
        return None
    total = sum(max(w, 0) for w, _ in tasks)
    if total == 0:
        return 0.0
    return round(sum(max(w, 0) for w, done in tasks if done) / total, 4)


def is_late(due: date | None, done: bool, today: date) -> bool:
    return due is not None and not done and due < today


def moved_positions(source: Sequence[str], target: Sequence[str], task: str, index: int) -> dict[str, int]:
    """New positions after moving `task` (in `source`, the ordered ids of its column) to `index` of
    `target` (the ordered ids of the target column; the same list for a move within a column).

    Returns `{task_id: position}` for every task of both columns whose position is new or unchanged
    (callers write only the changed ones)."""
    same = source is target or list(source) == list(target)
    remaining_source = [t for t in source if t != task]
    into = list(remaining_source) if same else [t for t in target if t != task]
    index = max(0, min(index, len(into)))
    into.insert(index, task)
    positions = {t: i for i, t in enumerate(into)}
    if not same:
        positions.update({t: i for i, t in enumerate(remaining_source)})
    return positions
