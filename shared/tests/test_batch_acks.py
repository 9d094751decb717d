"""A consumer batch's acks against the real RabbitMQ (issue 9): one `multiple` ack for the batch when
nothing else of the channel below it is unsettled, and never an ack of a delivery that is still
someone else's (another queue's batch, a held or failing message) — such a delivery comes back
when the connection goes."""
from __future__ import annotations

import time
import uuid

from kombu import Connection, Consumer, Exchange, Producer, Queue

from custops import config
from custops.entrypoints import DeadLetteringQueueConsumer


def _deliveries(conn, queue, n: int) -> list:
    channel = conn.channel()
    channel.basic_qos(0, n, False)
    got = []
    Consumer(channel, queues=[queue], callbacks=[lambda body, message: got.append(message)], accept=None).consume()
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        try:
            conn.drain_events(timeout=1)
        except TimeoutError:
            pass
    assert len(got) == n
    return got


def _queued(queue) -> int:
    with Connection(config.amqp_uri()) as conn:
        deadline = time.monotonic() + 3  # a closed connection's deliveries are back at once
        while True:
            count = queue(conn.default_channel).queue_declare(passive=True).message_count
            if count or time.monotonic() > deadline:
                return count
            time.sleep(0.1)


def _run(held: set[int]) -> tuple[int, int]:
    """(ack frames sent, messages back in the queue after the connection closed) for a batch of
    six deliveries, the indexes in `held` still unsettled elsewhere."""
    exchange = Exchange(f"acks-{uuid.uuid4().hex[:8]}", type="direct", auto_delete=True)
    queue = Queue(f"acks-{uuid.uuid4().hex[:8]}", exchange, routing_key="k", auto_delete=False)
    with Connection(config.amqp_uri()) as publisher:
        queue(publisher.default_channel).declare()
        producer = Producer(publisher.default_channel, exchange=exchange)
        for i in range(6):
            producer.publish({"n": i}, routing_key="k")
    try:
        with Connection(config.amqp_uri()) as conn:
            got = _deliveries(conn, queue, 6)
            consumer = DeadLetteringQueueConsumer()
            for message in got:  # as handle_message does on each delivery
                consumer._unsettled_of(message.channel).add(message.delivery_tag)
            frames = []
            channel = got[0].channel
            real = channel.basic_ack
            channel.basic_ack = lambda tag, multiple=False: (frames.append((tag, multiple)), real(tag, multiple))[1]
            consumer.ack_messages([m for i, m in enumerate(got) if i not in held])
            time.sleep(0.3)  # the acks reach the broker before the connection closes
        return len(frames), _queued(queue)
    finally:
        with Connection(config.amqp_uri()) as conn:
            queue(conn.default_channel).delete()


def test_a_batch_with_nothing_unsettled_below_it_is_acked_in_one_frame():
    assert _run(held=set()) == (1, 0)


def test_a_delivery_still_unsettled_elsewhere_is_never_acked_by_the_batch():
    # 0, 1 in one multiple ack below the held 2; 3, 4, 5 one by one; 2 comes back
    assert _run(held={2}) == (4, 1)
