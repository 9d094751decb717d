"""The reply path of custops' RPC entrypoint (`custops.rpc_entrypoint.rpc`): a broker error while
publishing a reply never kills the container (issue 13), and replies go out transient, unconfirmed.
Real broker, real container."""
import socket
from unittest import mock

import pytest
from kombu.exceptions import OperationalError

from custops import rpc_entrypoint
from custops.errors import ServiceTimeout
from custops.rpc import RpcClient
from custops.rpc_entrypoint import rpc


class EchoService:
    name = "echoprobe"

    @rpc
    def echo(self, value):
        return value


class NamekoEchoService:
    name = "echoprobe"

    from nameko.rpc import rpc as nameko_rpc

    @nameko_rpc
    def echo(self, value):
        return value


def _publish_failing_once(original):
    calls = {"n": 0}

    def publish(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("[Errno 111] ECONNREFUSED")
        return original(self, *args, **kwargs)

    return publish


def test_a_reply_that_cannot_be_published_is_dropped_and_the_service_keeps_serving(container_factory, nameko_config):
    container = container_factory(EchoService, nameko_config)
    container.start()
    client = RpcClient(timeout=2)
    try:
        assert client.call("echoprobe", "echo", "warm") == "warm"
        original = rpc_entrypoint.ReplyPublisher.publish
        with mock.patch.object(rpc_entrypoint.ReplyPublisher, "publish", _publish_failing_once(original)):
            with pytest.raises(ServiceTimeout):  # the reply was lost: the caller's timeout says so
                client.call("echoprobe", "echo", "lost")
            assert client.call("echoprobe", "echo", "after") == "after"
        assert container._died.ready() is False, "the container survived the failed reply"
    finally:
        client.close()


def test_with_nameko_s_own_entrypoint_the_same_failure_kills_the_container(container_factory, nameko_config):
    """Why custops has its own entrypoint: the failure above, with nameko's `rpc`."""
    from nameko.amqp.publish import Publisher
    from nameko.rpc import Responder

    class FailingOncePublisher(Publisher):
        publish = _publish_failing_once(Publisher.publish)

    container = container_factory(NamekoEchoService, nameko_config)
    container.start()
    client = RpcClient(timeout=2)
    try:
        assert client.call("echoprobe", "echo", "warm") == "warm"
        with mock.patch.object(Responder, "publisher_cls", FailingOncePublisher):
            with pytest.raises(ServiceTimeout):
                client.call("echoprobe", "echo", "lost")
        with pytest.raises(OperationalError):
            container.wait()  # the container died of it
    finally:
        client.close()


def test_replies_are_transient_and_unconfirmed():
    publisher = rpc_entrypoint.ReplyPublisher("memory://", "nameko-rpc")
    assert (publisher.confirms, publisher.delivery_mode) == (False, 1)


def test_the_kept_reply_connection_is_replaced_when_the_broker_closed_it(container_factory, nameko_config):
    """The broker closed the service's reply connection between two calls (as a restart does): the
    next reply goes out on a new one instead of being lost."""
    container = container_factory(EchoService, nameko_config)
    container.start()
    client = RpcClient(timeout=2)
    try:
        assert client.call("echoprobe", "echo", "warm") == "warm"
        consumer = next(ext for ext in container.extensions if isinstance(ext, rpc_entrypoint.ResilientRpcConsumer))
        kept = consumer.reply_publisher._connection
        kept.connection.sock.shutdown(socket.SHUT_RDWR)  # what the broker going away looks like
        assert client.call("echoprobe", "echo", "after") == "after"
        assert consumer.reply_publisher._connection is not kept
    finally:
        client.close()


def test_an_unserialisable_result_is_answered_as_an_error_and_the_service_keeps_serving(container_factory,
                                                                                         nameko_config):
    from nameko.exceptions import RemoteError

    class UnserialisableService:
        name = "echoprobe"

        @rpc
        def echo(self, value):
            return object() if value == "object" else value

    container = container_factory(UnserialisableService, nameko_config)
    container.start()
    client = RpcClient(timeout=2)
    try:
        with pytest.raises(RemoteError, match="UnserializableValueError"):
            client.call("echoprobe", "echo", "object")
        assert client.call("echoprobe", "echo", "fine") == "fine"
    finally:
        client.close()
