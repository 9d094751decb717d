"""Test support for services' own tests (like `nameko.testing`): plumbing, no business rules."""
from __future__ import annotations

from nameko.testing.services import entrypoint_waiter

from custops import outbox
from custops.entrypoints import handled_events


def publish_and_wait(container, method: str, envelope, timeout: float = 15) -> None:
    """Publish `envelope` as a relay would (persistent, confirmed) and wait until `container`'s
    handler `method` has handled it; fails unless the handler took it without an error."""
    publisher = outbox.Publisher()
    outcomes = {}

    def callback(worker_ctx, result, exc_info):
        for event_id, failure in handled_events(worker_ctx):
            if event_id == str(envelope.id):
                outcomes[event_id] = failure
        return bool(outcomes)

    with entrypoint_waiter(container, method, callback=callback, timeout=timeout):
        try:
            assert publisher.publish_batch([envelope.model_dump(mode="json")]) == set()
        finally:
            publisher.close()
    assert list(outcomes.values()) == [None]


def publish_each_and_wait(container, method: str, *envelopes, timeout: float = 15) -> None:
    """`publish_and_wait` for each envelope in turn (a handler sees them in this order)."""
    for envelope in envelopes:
        publish_and_wait(container, method, envelope, timeout=timeout)
