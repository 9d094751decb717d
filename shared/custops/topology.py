"""Names and arguments of every queue and exchange custops declares.

Used both by the setup step (which declares every subscriber queue before any producer runs) and by
the consumers themselves, so the two always agree — RabbitMQ refuses a redeclaration with other
arguments.
"""
from __future__ import annotations

from kombu import Exchange, Queue

from custops import config
from custops.events import exchange_name

DEAD_LETTER_EXCHANGE = "custops.dlx"


def event_queue_name(source: str, event_type: str, service: str, method: str) -> str:
    # nameko's SERVICE_POOL naming: every instance of a service shares one queue per handler
    return f"evt-{source}-{event_type}--{service}.{method}"


def dead_letter_queue_name(queue_name: str) -> str:
    return f"dlq.{queue_name}"


def event_exchange(source: str) -> Exchange:
    return Exchange(exchange_name(source), type="topic", durable=True, auto_delete=False)


def dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True, auto_delete=False)


def event_queue(source: str, event_type: str, service: str, method: str) -> Queue:
    name = event_queue_name(source, event_type, service, method)
    return Queue(
        name,
        exchange=event_exchange(source),
        routing_key=event_type,
        durable=True,
        auto_delete=False,
        queue_arguments={
            "x-queue-type": "quorum",
            # A backstop: our handler dead-letters a failing message itself (with its error) on
            # its last attempt; the broker does it if a consumer keeps dying mid-message.
            "x-delivery-limit": config.delivery_limit() + 2,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": name,
        },
    )


def dead_letter_queue(queue_name: str) -> Queue:
    return Queue(
        dead_letter_queue_name(queue_name),
        exchange=dead_letter_exchange(),
        routing_key=queue_name,
        durable=True,
        auto_delete=False,
    )


def subscriptions(service_cls) -> list[tuple[str, str, str]]:
    """(source, event_type, method) for every custops event handler on a service class."""
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from custops.entrypoints import EventHandler

    found = []
    for attr in dir(service_cls):
        fn = getattr(service_cls, attr, None)
        for ep in getattr(fn, ENTRYPOINT_EXTENSIONS_ATTR, ()) or ():
            if isinstance(ep, EventHandler):
                found.append((ep.source_service, ep.event_type, attr))
    return sorted(found)


def service_queues(service_cls) -> list[Queue]:
    queues = []
    for source, event_type, method in subscriptions(service_cls):
        q = event_queue(source, event_type, service_cls.name, method)
        queues += [q, dead_letter_queue(q.name)]
    return queues


def declare(connection, queues: list[Queue]) -> None:
    channel = connection.channel()
    try:
        for q in queues:
            q.bind(channel).declare()
    finally:
        channel.close()
