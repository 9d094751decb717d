"""Importing a tool's CSV export into a project, inside the caller's session (`work_plan.imports`
reads the file). A dry run answers what the import would create and every row it cannot take, and
writes nothing; the import writes the new tasks (with `task.created` each) in one transaction per
call. Rows whose stable key the project already holds are "already imported", so re-running an
import never doubles a task. Callers send a big export in chunks (`offset`, `limit` rows of the
parsed file a call), which is how the CLI and the API job show progress.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from custops.errors import InvalidInput
from customers.models import members, tasks
from customers.work_plan import imports, store

MAX_CHUNK = 2000


def _members(session, tenant_id) -> dict[str, object]:
    """Member ids by lower-cased e-mail and name (active team members only)."""
    found = {}
    for member_id, email, name in session.execute(select(members.c.id, members.c.email, members.c.name).where(
            members.c.tenant_id == tenant_id, members.c.role != "portal", members.c.deactivated_at.is_(None))):
        found.setdefault(email.lower(), member_id)
        found.setdefault(name.lower(), member_id)
    return found


def import_csv(session: Session, tenant_id, project_id, raw: bytes, *, tool=None, mapping=None, dry_run=True,
               offset: int = 0, limit: int = MAX_CHUNK) -> dict:
    """`{tool, delimiter, mapping, rows, offset, next_offset, created|would_create, already_imported,
    errors: [{line, key, message}], warnings}` for rows `offset..offset+limit` of the parsed file."""
    return import_parsed(session, tenant_id, project_id, read_export(raw, tool, mapping), dry_run=dry_run,
                         offset=offset, limit=limit)


def read_export(raw: bytes, tool=None, mapping=None) -> imports.Parsed:
    """The parsed export, or InvalidInput naming `csv` when the file as a whole cannot be read.

    A big export arrives once per chunk (the CLI and the gateway send the whole file with each
    `offset`), so the last few parsed exports are kept, by the SHA-256 of the file and the tool and
    mapping asked for: a 10,000-row file is parsed once, not once per chunk (parsing it is ~0.7 s)."""
    key = (hashlib.sha256(raw).hexdigest(), tool, tuple(sorted((mapping or {}).items())))
    parsed = _PARSED.get(key)
    if parsed is None:
        try:
            parsed = imports.parse(raw, tool, mapping)
        except imports.UnreadableExport as exc:
            raise InvalidInput(f"the file cannot be imported: {exc}",
                               [{"field": "csv", "message": str(exc)}]) from None
        _PARSED[key] = parsed
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(key)
    return parsed


PARSED_KEPT = 4  # parsed exports kept (read-only once parsed), most recently used last
_PARSED: OrderedDict = OrderedDict()


def import_parsed(session: Session, tenant_id, project_id, parsed: imports.Parsed, *, dry_run=True,
                  offset: int = 0, limit: int = MAX_CHUNK) -> dict:
    """`import_csv` of an export parsed already (a background job parses it once for all its chunks)."""
    project = store.load_project(session, tenant_id, project_id, for_update=not dry_run)
    chunk = parsed.rows[offset:offset + limit]
    keys = [r.key for r in chunk]
    existing = set(session.execute(select(tasks.c.import_key).where(
        tasks.c.project_id == project_id, tasks.c.import_key.in_(keys))).scalars()) if keys else set()
    people = _members(session, tenant_id)
    columns, _ = store.settings(session, tenant_id)
    column_of = {c.category: c.key for c in columns if c.key in ("todo", "in_progress", "blocked", "done")}
    position = {category: session.execute(select(func.count()).where(
        tasks.c.project_id == project_id, tasks.c.category == category)).scalar_one() for category in column_of}
    specs, warnings = [], []
    for row in chunk:
        if row.key in existing:
            continue
        assignee = next((people[p.lower()] for p in row.assignees if p.lower() in people), None)
        unmatched = [p for p in row.assignees if p.lower() not in people]
        if unmatched:
            warnings.append({"line": row.line, "key": row.key, "message": "no member matches "
                             + ", ".join(unmatched) + ("; left unassigned" if assignee is None else "")})
        description = row.description
        if row.parent:
            description = (f"Subtask of: {row.parent}\n\n" + description).strip()
        specs.append({"title": row.title, "status": column_of[row.category], "category": row.category,
                      "position": position[row.category], "description": description, "assignee_id": assignee,
                      "start_date": row.start, "due_date": row.due, "estimate": row.estimate_hours,
                      "estimate_unit": "hour", "import_key": row.key})
        position[row.category] += 1
    errors = [{"line": e.line, "key": e.key, "message": e.message} for e in parsed.errors] if offset == 0 else []
    following = offset + len(chunk)
    answer = {"tool": parsed.tool, "delimiter": parsed.delimiter, "mapping": parsed.mapping,
              "rows": len(parsed.rows), "offset": offset,
              "next_offset": following if following < len(parsed.rows) else None,
              "already_imported": len(chunk) - len(specs), "errors": errors, "warnings": warnings,
              "dry_run": dry_run}
    if dry_run:
        answer["would_create"] = [{"line": r.line, "key": r.key, "title": r.title, "category": r.category}
                                  for r in chunk if r.key not in existing]
        answer["created"] = 0
        return answer
    store.insert_tasks(session, tenant_id, project, specs)
    answer["created"] = len(specs)
    return answer
