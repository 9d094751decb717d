"""A customer's work-plan profile, inside the caller's session: lifecycle stage (with the date of
each change), start and renewal dates, exec sponsor, and the tenant's custom fields
(`customers.custom_fields` holds the pure rules). `customers.store` calls these from its create and
update paths, so a customer is written in one place.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from custops import caller, outbox
from custops.contracts.customers import CustomerLifecycleChanged, CustomFieldDefined, CustomFieldRemoved
from custops.errors import Conflict, InvalidInput, NotFound
from customers import custom_fields
from customers.access_store import require_tenant
from customers.models import contacts, custom_field_definitions, customer_lifecycle_changes, customers

MAX_DEFINITIONS = 100


def definition_shape(row) -> dict:
    return {"id": str(row["id"]), "key": row["key"], "label": row["label"], "type": row["type"],
            "options": list(row["options"]), "required": row["required"],
            "created_at": row["created_at"].isoformat() if row["created_at"] else None}


def definitions(session: Session, tenant_id) -> dict[str, custom_fields.Definition]:
    rows = session.execute(select(custom_field_definitions).where(
        custom_field_definitions.c.tenant_id == tenant_id)).mappings().all()
    return {r["key"]: custom_fields.Definition(r["key"], r["type"], tuple(r["options"]), r["required"]) for r in rows}


def list_definitions(session: Session, tenant_id) -> dict:
    rows = session.execute(select(custom_field_definitions).where(custom_field_definitions.c.tenant_id == tenant_id)
                           .order_by(custom_field_definitions.c.created_at, custom_field_definitions.c.key)).mappings()
    items = [definition_shape(r) for r in rows]
    return {"items": items, "next_cursor": None, "total": len(items)}


def put_definition(session: Session, tenant_id, key: str, cmd) -> dict:
    """Define (or redefine) custom field `key`; refused when stored values would no longer fit it."""
    require_tenant(session, tenant_id)
    existing = session.execute(select(custom_field_definitions).where(
        custom_field_definitions.c.tenant_id == tenant_id, custom_field_definitions.c.key == key)
        .with_for_update()).mappings().first()
    if existing is None:
        count = session.execute(select(func.count()).where(custom_field_definitions.c.tenant_id == tenant_id)
                                ).scalar_one()
        if count >= MAX_DEFINITIONS:
            raise Conflict(f"a tenant defines at most {MAX_DEFINITIONS} custom fields")
    definition = custom_fields.Definition(key, cmd.type, tuple(cmd.options), cmd.required)
    if existing is not None:
        held = session.execute(select(customers.c.id, customers.c.custom_fields[key]).where(
            customers.c.tenant_id == tenant_id, customers.c.custom_fields.has_key(key))).all()
        for _, value in held:
            try:
                custom_fields.canonical(definition, value)
            except custom_fields.FieldValueError as exc:
                raise Conflict(f"customers hold values of {key} that the new definition refuses ({exc.message})",
                               [{"field": "type", "message": "customers hold values it refuses"}]) from None
    if cmd.required and (existing is None or not existing["required"]):
        missing = session.execute(select(func.count()).where(
            customers.c.tenant_id == tenant_id, ~customers.c.custom_fields.has_key(key))).scalar_one()
        if missing:
            raise Conflict(f"{missing} customers have no value of {key}: it cannot be required yet",
                           [{"field": "required", "message": "customers have no value yet"}])
    values = {"label": cmd.label, "type": cmd.type, "options": list(cmd.options), "required": cmd.required}
    if existing is None:
        row = {"tenant_id": tenant_id, "key": key, "id": uuid.uuid4(), "created_at": datetime.now().astimezone(),
               **values}
        session.execute(insert(custom_field_definitions).values(**row))
    else:
        row = {**existing, **values}
        if all(existing[k] == v for k, v in values.items()):
            return definition_shape(row)
        session.execute(update(custom_field_definitions).where(
            custom_field_definitions.c.tenant_id == tenant_id, custom_field_definitions.c.key == key).values(**values))
    outbox.add(session, tenant_id, CustomFieldDefined(custom_field_id=row["id"], key=key, label=cmd.label,
                                                      type=cmd.type, options=list(cmd.options), required=cmd.required,
                                                      created=existing is None))
    return definition_shape(row)


def remove_definition(session: Session, tenant_id, key: str) -> dict:
    row = session.execute(select(custom_field_definitions).where(
        custom_field_definitions.c.tenant_id == tenant_id, custom_field_definitions.c.key == key)
        .with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"custom field {key} not found")
    session.execute(delete(custom_field_definitions).where(
        custom_field_definitions.c.tenant_id == tenant_id, custom_field_definitions.c.key == key))
    session.execute(update(customers).where(customers.c.tenant_id == tenant_id,
                                            customers.c.custom_fields.has_key(key))
                    .values(custom_fields=customers.c.custom_fields.op("-")(key)))
    outbox.add(session, tenant_id, CustomFieldRemoved(custom_field_id=row["id"], key=key))
    return {"key": key, "deleted": True}


def merged_values(session: Session, tenant_id, current: dict, given: dict | None, creating=False) -> dict:
    """The customer's custom-field values after `given`, or InvalidInput naming the field."""
    known = definitions(session, tenant_id)
    try:
        return custom_fields.merged(known, current or {}, given or {}, creating=creating)
    except custom_fields.FieldValueError as exc:
        raise InvalidInput(f"invalid custom field {exc.field.partition('.')[2]}",
                           [{"field": exc.field, "message": exc.message}]) from None


def check_exec_sponsor(session: Session, tenant_id, customer_id, contact_id) -> None:
    if contact_id is None:
        return
    found = session.execute(select(contacts.c.archived_at).where(
        contacts.c.tenant_id == tenant_id, contacts.c.customer_id == customer_id, contacts.c.id == contact_id)).first()
    if found is None or found.archived_at is not None:
        raise InvalidInput("unknown exec sponsor", [{"field": "exec_sponsor_contact_id",
                                                     "message": "must be a current contact of this customer"}])


def record_lifecycle(session: Session, tenant_id, customer_id, stage: str, previous: str | None,
                     at: datetime) -> None:
    actor = caller.current_actor()
    session.execute(insert(customer_lifecycle_changes).values(
        id=uuid.uuid4(), tenant_id=tenant_id, customer_id=customer_id, stage=stage, previous_stage=previous,
        changed_at=at, changed_by=actor.id if actor.type == "member" else None))
    outbox.add(session, tenant_id, CustomerLifecycleChanged(customer_id=customer_id, stage=stage,
                                                            previous_stage=previous, changed_at=at))


def lifecycle_history(session: Session, tenant_id, customer_id) -> list[dict]:
    rows = session.execute(select(customer_lifecycle_changes).where(
        customer_lifecycle_changes.c.tenant_id == tenant_id, customer_lifecycle_changes.c.customer_id == customer_id)
        .order_by(customer_lifecycle_changes.c.changed_at, customer_lifecycle_changes.c.id)).mappings()
    return [{"stage": r["stage"], "previous_stage": r["previous_stage"], "changed_at": r["changed_at"].isoformat(),
             "changed_by": str(r["changed_by"]) if r["changed_by"] else None} for r in rows]


def custom_field_condition(key: str, value: str):
    """The SQL condition of the list filter `key:value` (see `customers.custom_fields`)."""
    field = customers.c.custom_fields
    return or_(field[key].astext == value,
               and_(func.jsonb_typeof(field[key]) == "array", field[key].op("?")(value)))



def filtered(stmt, f):
    """`stmt` (customers) narrowed by the profile filters of `CustomerFilters`."""
    if f.lifecycle_stage:
        stmt = stmt.where(customers.c.lifecycle_stage == f.lifecycle_stage)
    if f.renewal_before:
        stmt = stmt.where(customers.c.renewal_date < f.renewal_before)
    for item in f.custom_field or ():
        key, _, value = item.partition(":")
        stmt = stmt.where(custom_field_condition(key, value))
    return stmt
