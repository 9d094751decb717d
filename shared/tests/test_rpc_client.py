"""custops' RPC client (`custops.rpc.RpcClient` and its `_Link`s) against a real broker and a real
container: each caller gets its own answer, a late reply never answers the next call, a service that
is not running is a `ServiceUnavailable` at once, and every request expires with its timeout."""
from __future__ import annotations

import threading
import time
import uuid

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError, RpcTimeout

from custops import config, rpc
from custops.errors import ServiceTimeout, ServiceUnavailable
from custops.rpc import RpcClient
from custops.rpc_entrypoint import rpc as rpc_entrypoint


class ClientProbeService:
    name = "rpcclientprobe"

    @rpc_entrypoint
    def echo(self, value):
        return value

    @rpc_entrypoint
    def slow_echo(self, seconds, value):
        eventlet.sleep(seconds)
        return value

    @rpc_entrypoint
    def fail(self):
        raise ValueError("on purpose")


@pytest.fixture
def probe_service(container_factory, nameko_config):
    container = container_factory(ClientProbeService, nameko_config)
    container.start()
    return container


def test_a_late_reply_is_discarded_not_taken_for_the_next_call_s_answer(probe_service):
    link = rpc._Link(config.amqp_uri(), timeout=0.3)
    try:
        wait = link.call("rpcclientprobe", "slow_echo", (0.6, "late"), {}, {})
        with pytest.raises(RpcTimeout):
            wait()
        time.sleep(0.6)  # the late reply is on its way to this link's reply queue
        for value in ("next", "and the one after"):
            assert link.call("rpcclientprobe", "echo", (value,), {}, {})() == value
    finally:
        link.close()


def test_a_timed_out_call_leaves_the_client_answering_each_caller_its_own_answer(probe_service):
    client = RpcClient(timeout=0.3, size=1)  # one link: the next call could only be confused on it
    try:
        with pytest.raises(ServiceTimeout):
            client.call("rpcclientprobe", "slow_echo", 0.6, "late")
        time.sleep(0.6)
        assert [client.call("rpcclientprobe", "echo", i) for i in range(3)] == [0, 1, 2]
    finally:
        client.close()


def test_concurrent_calls_from_16_threads_each_get_their_own_answer(probe_service):
    client = RpcClient(timeout=10, size=16)
    wrong: list = []
    failures: list = []

    def caller(thread: int):
        for i in range(25):
            value = {"thread": thread, "i": i, "id": uuid.uuid4().hex}
            try:
                answer = client.call("rpcclientprobe", "echo", value)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(repr(exc))
                continue
            if answer != value:
                wrong.append((value, answer))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert wrong == []
        assert client._idle.qsize() <= 16
    finally:
        client.close()


def test_a_service_that_is_not_running_is_unavailable_at_once_and_the_link_stays_usable(probe_service):
    client = RpcClient(timeout=30, size=1)  # waiting for the timeout would be a ServiceTimeout
    try:
        with pytest.raises(ServiceUnavailable, match="not running"):
            client.call(f"nosuchservice{uuid.uuid4().hex[:8]}", "echo", 1)
        assert client.call("rpcclientprobe", "echo", "still here") == "still here"
        assert not client.circuit.is_open, "a missing service says nothing about the broker"
    finally:
        client.close()


def test_the_service_s_own_errors_reach_the_caller_and_keep_the_link(probe_service):
    client = RpcClient(timeout=5, size=1)
    try:
        with pytest.raises(RemoteError, match="on purpose"):
            client.call("rpcclientprobe", "fail")
        link = client._idle.queue[0]
        assert client.call("rpcclientprobe", "echo", 1) == 1
        assert client._idle.queue == [link], "the same link served the next call"
    finally:
        client.close()


def test_a_request_is_transient_carries_its_context_and_expires_with_the_caller_s_timeout():
    """Nobody consumes the service's queue: the request waits there until the caller's timeout."""
    service = f"expiryprobe{uuid.uuid4().hex[:8]}"
    queue = Queue(f"rpc-{service}", Exchange(rpc.RPC_EXCHANGE, type="topic", durable=True),
                  routing_key=f"{service}.*", auto_delete=False, durable=False)
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    with Connection(config.amqp_uri()) as conn:
        channel = conn.channel()
        queue.bind(channel).declare()
        try:
            link = rpc._Link(config.amqp_uri(), timeout=5)
            try:
                link.call(service, "anything", ("x",), {"y": 1}, {"traceparent": traceparent})
                message = wait_for(lambda: queue.bind(channel).get(no_ack=True))
                assert message is not None
                assert message.properties["expiration"] == "5000"
                assert message.properties["delivery_mode"] == 1
                assert message.properties["reply_to"] == link.reply_to
                assert message.headers == {"nameko.traceparent": traceparent}
                assert message.decode() == {"args": ["x"], "kwargs": {"y": 1}}
            finally:
                link.close()

            client = RpcClient(timeout=0.4, size=1)
            try:
                with pytest.raises(ServiceTimeout):
                    client.call(service, "anything", "x")
            finally:
                client.close()
            time.sleep(0.3)
            assert queue.bind(channel).get(no_ack=True) is None, "the broker dropped the expired request"
        finally:
            queue.bind(channel).delete()


def wait_for(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
