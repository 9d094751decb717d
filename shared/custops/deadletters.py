"""Inspecting and replaying dead-lettered events."""
from __future__ import annotations

from kombu import Connection

from custops import config, topology


def _queue_names() -> list[str]:
    from custops.runtime import load_service_class

    names = []
    for service in config.SERVICES:
        try:
            cls = load_service_class(service)
        except ImportError:
            continue
        for source, event_type, method in topology.subscriptions(cls):
            names.append(topology.event_queue_name(source, event_type, service, method))
    return names


def counts() -> dict[str, int]:
    """Dead-lettered messages waiting, per consumer queue."""
    result = {}
    with Connection(config.amqp_uri()) as conn:
        channel = conn.channel()
        for name in _queue_names():
            dlq = topology.dead_letter_queue(name).bind(channel)
            _, count, _ = dlq.queue_declare(passive=False)
            result[name] = count
        channel.close()
    return result


def peek(queue_name: str, limit: int = 20) -> list[dict]:
    """The dead letters of one consumer queue, with their errors (left in place)."""
    found = []
    with Connection(config.amqp_uri()) as conn:
        channel = conn.channel()
        dlq = topology.dead_letter_queue(queue_name).bind(channel)
        dlq.declare()
        messages = []
        for _ in range(limit):
            msg = dlq.get(no_ack=False, accept=["json", "application/json"])
            if msg is None:
                break
            messages.append(msg)
            headers = msg.headers or {}
            found.append({
                "error": headers.get("x-custops-error"),
                "deliveries": headers.get("x-custops-deliveries"),
                "body": msg.body.decode("utf-8", "replace") if isinstance(msg.body, bytes) else msg.body,
            })
        for msg in messages:
            msg.requeue()
        channel.close()
    return found


def replay(queue_name: str, limit: int | None = None) -> int:
    """Move dead letters back onto their consumer queue (after the cause is fixed)."""
    moved = 0
    with Connection(config.amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        dlq = topology.dead_letter_queue(queue_name).bind(channel)
        dlq.declare()
        producer = conn.Producer(channel)
        while limit is None or moved < limit:
            msg = dlq.get(no_ack=False, accept=["json", "application/json"])
            if msg is None:
                break
            headers = {k: v for k, v in (msg.headers or {}).items()
                       if not k.startswith("x-custops-") and k not in ("x-death", "x-delivery-count")}
            headers["x-custops-replayed"] = True
            producer.publish(msg.body, exchange="", routing_key=queue_name, headers=headers,
                             content_type=msg.content_type, content_encoding=msg.content_encoding,
                             delivery_mode=2)
            msg.ack()
            moved += 1
        channel.close()
    return moved
