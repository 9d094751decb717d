"""Generates docs/events.md, the catalog downstream subscribers read, from the typed contracts."""
from __future__ import annotations

import json

from custops.events import Envelope, all_contracts, exchange_name

HEADER = """# custops event catalog

Generated from the contracts in `shared/custops/contracts/` by `custops catalog`; do not edit by hand
(a test fails when this file and the contracts disagree).

## How to subscribe

Each producing service publishes to a durable **topic exchange** named `<producer>.events`; the
routing key is the event `type`. Bind your own durable queue to the exchange with the types you
want (or `#` for all). Messages are persistent JSON (`content_type: application/json`); the AMQP
`message_id` is the event `id`, and the header `nameko.traceparent` carries the W3C trace context.

Delivery is **at least once**: deduplicate on the envelope `id`. Within a `version`, contracts
change additively only — ignore fields you do not know. A breaking change gets a new `version`.

## Envelope

| field | type | meaning |
|---|---|---|
| `id` | UUID | unique per event; your idempotency key |
| `type` | string | e.g. `ticket.created`; also the routing key |
| `version` | int | contract version of `data` |
| `occurred_at` | string (ISO 8601, UTC) | when it happened |
| `tenant_id` | UUID | the tenant the event belongs to |
| `producer` | string | the service that published it |
| `traceparent` | string or null | W3C trace context of the change |
| `actor` | object or null | who made the change (see below) |
| `origin` | object or null | where the change came from (see below) |
| `sequence` | int or null | the producer's outbox position (see below) |
| `data` | object | the payload described below |

`actor` is `{"type": "member", "id": UUID}` (a team member), `{"type": "contact", "id": UUID}` (a
customer's contact, e.g. a portal user) or `{"type": "system"}` (no id: a change nobody asked for,
such as the SLA clock or a consumer reacting to another event). `sequence` is set when the event is
published: among one producer's events with the same `occurred_at`, they happened in `sequence`
order (sequences of different producers are not comparable). `origin` is
`{"request_id", "ip", "user_agent"}` of the API request that made the change (each may be null),
null for a change nobody asked for; the audit log records it. All three were added within the
envelope's life: absent or null on older events.

"""


def _type_of(schema: dict, defs: dict) -> str:
    if "$ref" in schema:
        return _type_of(defs[schema["$ref"].split("/")[-1]], defs)
    if "anyOf" in schema:
        return " or ".join(_type_of(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    t = schema.get("type", "any")
    if t == "array":
        return f"list of {_type_of(schema.get('items', {}), defs)}"
    fmt = schema.get("format")
    return f"{t} ({fmt})" if fmt else t


def published_contracts():
    # only the suite's own contracts (tests register throwaway ones of their own)
    return [c for c in all_contracts() if c.__module__.startswith("custops.contracts.")]


def render() -> str:
    out = [HEADER, "## Events\n"]
    out.append("| type | version | exchange | routing key |\n|---|---|---|---|")
    for c in published_contracts():
        out.append(f"| [`{c.TYPE}`](#{c.TYPE.replace('.', '')}-v{c.VERSION}) | {c.VERSION} | "
                   f"`{exchange_name(c.PRODUCER)}` | `{c.TYPE}` |")
    out.append("")
    for c in published_contracts():
        schema = c.model_json_schema()
        defs = schema.get("$defs", {})
        required = set(schema.get("required", []))
        out.append(f"### {c.TYPE} v{c.VERSION}\n")
        out.append(f"{c.DESCRIPTION}\n")
        out.append(f"Producer: `{c.PRODUCER}` — exchange `{exchange_name(c.PRODUCER)}`, "
                   f"routing key `{c.TYPE}`.\n")
        out.append("| field | type | required |\n|---|---|---|")
        for name, prop in schema["properties"].items():
            out.append(f"| `{name}` | {_type_of(prop, defs)} | {'yes' if name in required else 'no'} |")
        out.append("")
    out.append("## Envelope JSON schema\n")
    out.append("```json\n" + json.dumps(Envelope.model_json_schema(), indent=2) + "\n```\n")
    return "\n".join(out)
