"""The event envelope and the registry of typed contracts.

Every event travels as an `Envelope`; its `data` is validated by the contract registered for
(`type`, `version`). Within a version, contracts change additively only, so consumers ignore
fields they do not know (`extra="ignore"`).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator


class EventData(BaseModel):
    """Base of every contract's payload."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]
    PRODUCER: ClassVar[str]
    DESCRIPTION: ClassVar[str] = ""


ActorType = Literal["member", "contact", "system"]


class Actor(BaseModel):
    """Who made a change: a team member, a customer's contact (portal user), or the system itself
    (a clock, a consumer reacting to another event), which has no id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ActorType
    id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _id_unless_system(self) -> "Actor":
        if (self.type == "system") != (self.id is None):
            raise ValueError("a member or contact actor has an id; the system has none")
        return self


SYSTEM = Actor(type="system")


class Origin(BaseModel):
    """Where a change came from, as the gateway saw the request (`custops.caller`): what the audit
    log records besides the actor. Each value is bounded and may be null (not known)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID
    type: str
    version: int
    occurred_at: AwareDatetime
    tenant_id: uuid.UUID | None
    producer: str
    traceparent: str | None = None
    # added to the envelope additively (absent on events published before them):
    # who made the change (the caller of the request or worker that wrote the event)
    actor: Actor | None = None
    # where the change came from (the caller's request id, IP, user agent); null without a caller
    origin: Origin | None = None
    # the producer's outbox position, set by the relay when it publishes: events of one producer
    # that share an `occurred_at` happened in this order
    sequence: int | None = None
    data: dict[str, Any]

    def payload(self) -> EventData:
        """The typed payload (raises pydantic.ValidationError when it breaks its contract)."""
        return contract_for(self.type, self.version).model_validate(self.data)

    @property
    def exchange(self) -> str:
        return exchange_name(self.producer)


class UnknownContract(LookupError):
    pass


REGISTRY: dict[tuple[str, int], type[EventData]] = {}


def contract(producer: str, type_: str, version: int = 1):
    """Class decorator registering a payload model as the contract of (`type_`, `version`)."""

    def register(cls: type[EventData]) -> type[EventData]:
        key = (type_, version)
        if key in REGISTRY:
            raise ValueError(f"contract {type_} v{version} registered twice")
        cls.TYPE, cls.VERSION, cls.PRODUCER = type_, version, producer
        cls.DESCRIPTION = (cls.__doc__ or "").strip()
        REGISTRY[key] = cls
        return cls

    return register


def contract_for(type_: str, version: int) -> type[EventData]:
    _load_contracts()
    try:
        return REGISTRY[(type_, version)]
    except KeyError:
        raise UnknownContract(f"no contract for {type_} v{version}") from None


def all_contracts() -> list[type[EventData]]:
    _load_contracts()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def exchange_name(producer: str) -> str:
    """The topic exchange a producer's events go to (nameko's naming: `<service>.events`)."""
    return f"{producer}.events"


def envelope_for(data: EventData, tenant_id, traceparent: str | None = None,
                 occurred_at: datetime | None = None, actor: Actor | None = None,
                 sequence: int | None = None, origin: Origin | None = None) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=data.TYPE,
        version=data.VERSION,
        occurred_at=occurred_at or datetime.now(timezone.utc),
        tenant_id=tenant_id,
        producer=data.PRODUCER,
        traceparent=traceparent,
        actor=actor,
        origin=origin,
        sequence=sequence,
        data=data.model_dump(mode="json"),
    )


_contracts_loaded = False


def _load_contracts() -> None:
    # The contract modules register themselves on import; once is enough (an import statement per
    # consumed event cost ~75 µs, issue 14)
    global _contracts_loaded
    if _contracts_loaded:
        return
    from custops.contracts import billing, customers, mailsync, reports, tickets, timeline  # noqa: F401
    _contracts_loaded = True
