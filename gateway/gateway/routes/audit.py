"""`/audit`: the tenant's audit log (customers service), for owners and admins (`audit:read`).

Every change any service makes is recorded from its event (`customers.audit_service`): who (a member,
a portal contact, or the system), what (`action`, the event type), on what (`target`), the changed
fields before and after (never secrets), and where from (request id, trace id, IP, user agent).
The log is append-only: there is no route to change or delete a record.

`GET /audit/export.csv` streams the same filter as CSV, newest first, fetched page by page (so the
gateway never holds the whole export), at most `EXPORT_MAX_ROWS` rows: an export of exactly that
many may have been cut, continue with `to` set to its oldest `occurred_at`. The first page is
fetched before the answer starts, so a bad filter or a service that is down is a problem document;
a failure later ends the stream early (the connection is closed, not the file completed).
"""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Literal

from flask import Response, stream_with_context
from pydantic import BaseModel, Field

from custops.validation import Instant

from gateway.api import API, Paged, Query, Resource, filters, page_of
from gateway.rpc import tenant_call

EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE_ROWS = 1000  # rows per call to the customers service (its `export_audit` bound)


class AuditFilters(BaseModel):
    actor_type: Literal["member", "contact", "system"] | None = None
    actor_id: uuid.UUID | None = Field(default=None, description="the member or contact who acted")
    action: str | None = Field(default=None, min_length=1, max_length=80,
                               description="an event type (`member.role_changed`); ending in a dot "
                                           "(`ticket.`), every action of that kind")
    target_type: str | None = Field(default=None, min_length=1, max_length=40,
                                    description="`ticket`, `member`, `token`, `customer`, `time_entry`, ...")
    target_id: str | None = Field(default=None, min_length=1, max_length=80)
    request_id: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="the `X-Request-Id` of the request that made the change")
    occurred_from: Instant | None = Field(default=None, alias="from", description="inclusive")
    occurred_to: Instant | None = Field(default=None, alias="to", description="exclusive")


class AuditQuery(AuditFilters, Paged):
    pass


class AuditExportQuery(AuditFilters, Query):
    pass


class AuditActor(BaseModel):
    type: Literal["member", "contact", "system"]
    id: str | None = Field(description="null for the system")


class AuditTarget(BaseModel):
    type: str
    id: str | None


class AuditRecord(Resource):
    id: uuid.UUID = Field(description="the id of the event the record was made from")
    occurred_at: datetime
    recorded_at: datetime
    actor: AuditActor
    action: str = Field(description="the event type, e.g. `member.role_changed`")
    target: AuditTarget
    changes: dict[str, dict] = Field(description="`{field: {before, after}}` of the changed fields (a "
                                                 "creation: `after` only); never secrets")
    request_id: str | None
    trace_id: str | None
    ip: str | None
    user_agent: str | None
    producer: str = Field(description="the service that made the change")


@API.route("/audit", "GET", permission="audit:read", summary="The audit log, newest first", tag="audit",
           query=AuditQuery, response=page_of(AuditRecord))
def list_audit(query: AuditQuery):
    return tenant_call("customers", "list_audit", filters(query), query.limit, query.cursor)


@API.route("/audit/export.csv", "GET", permission="audit:read", tag="audit", query=AuditExportQuery,
           summary=f"The audit log as CSV, newest first (at most {EXPORT_MAX_ROWS} rows)", produces="text/csv")
def export_audit(query: AuditExportQuery):
    chosen = filters(query)
    first = tenant_call("customers", "export_audit", chosen, None, EXPORT_PAGE_ROWS)

    def lines():
        page, sent = first, 0
        yield _csv_line(page["columns"])
        while True:
            for row in page["rows"][:EXPORT_MAX_ROWS - sent]:
                yield _csv_line(row)
            sent += len(page["rows"])
            if page["next_cursor"] is None or sent >= EXPORT_MAX_ROWS:
                return
            page = tenant_call("customers", "export_audit", chosen, page["next_cursor"], EXPORT_PAGE_ROWS)

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


def _csv_line(cells) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(["" if cell is None else _no_formula(str(cell)) for cell in cells])
    return out.getvalue()


def _no_formula(cell: str) -> str:
    # a cell a spreadsheet would run as a formula (CSV injection) is written as text
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
