"""The caller of a request travels from the gateway through RPC into workers and onto events.

Concurrent workers of one service must each see their own caller (greenlet >= 1 gives every
greenthread its own contextvars), a worker nobody called sees none, and `outbox.add` stamps the
caller's actor (the system's when there is none) on every envelope.
"""
import json
import uuid

import eventlet
import pytest
from nameko.rpc import rpc
from sqlalchemy import select

from custops import caller, outbox
from custops.db import transaction
from custops.entrypoints import Telemetry
from custops.events import SYSTEM, Actor, Envelope, Origin
from custops.rpc import RpcClient, ServiceRpc
from probe import PROBE, ProbeHappened, create_probe_database, metadata

OUTBOX = metadata.tables["outbox"]


def test_a_caller_survives_its_header_and_a_bad_header_is_no_caller():
    who = caller.member(uuid.uuid4(), request_id="req-1", ip="203.0.113.9", user_agent="curl/8")
    assert caller.Caller.from_header(who.to_header()) == who
    for bad in [None, "", "not json", json.dumps({"actor": {"type": "wizard", "id": str(uuid.uuid4())}}),
                json.dumps({"actor": {"type": "member"}}), json.dumps({"nothing": 1})]:
        assert caller.Caller.from_header(bad) is None
    long = caller.Caller.from_header(json.dumps({"actor": {"type": "system"}, "user_agent": "x" * 5000}))
    assert long.actor == SYSTEM and len(long.user_agent) == 500


def test_the_system_has_no_id_and_people_have_one():
    with pytest.raises(ValueError):
        Actor(type="system", id=uuid.uuid4())
    with pytest.raises(ValueError):
        Actor(type="contact")


def test_using_binds_only_inside_the_block():
    assert caller.current() is None and caller.current_actor() == SYSTEM
    who = caller.contact(uuid.uuid4())
    with caller.using(who):
        assert caller.current() == who and caller.current_actor() == who.actor
    assert caller.current() is None


def test_a_consumer_may_act_for_the_events_actor():
    someone = Actor(type="member", id=uuid.uuid4())
    env = Envelope.model_validate({"id": str(uuid.uuid4()), "type": "probe.happened", "version": 1,
                                   "occurred_at": "2026-01-01T00:00:00+00:00", "tenant_id": None,
                                   "producer": PROBE, "actor": someone.model_dump(mode="json"), "data": {}})
    with caller.acting_for(env):
        assert caller.current_actor() == someone
    with caller.acting_for(env.model_copy(update={"actor": None})):
        assert caller.current_actor() == SYSTEM
    # the follow-up's origin is the event's: its audit record names the request that started it
    started = env.model_copy(update={"origin": Origin(request_id="req-1", ip="198.51.100.2")})
    with caller.acting_for(started):
        assert caller.current_origin() == Origin(request_id="req-1", ip="198.51.100.2")
    assert caller.current() is None


@pytest.fixture
def probe_engine(custops_setup):
    return create_probe_database()


def test_outbox_stamps_the_callers_actor_and_the_system_when_nobody_called(probe_engine, tenant_id):
    who = caller.member(uuid.uuid4(), request_id="req-7", ip="203.0.113.9", user_agent="curl/8")
    with transaction(probe_engine, PROBE) as session:
        with caller.using(who):
            by_member = outbox.add(session, tenant_id, ProbeHappened(n=1))
        by_nobody = outbox.add(session, tenant_id, ProbeHappened(n=2))
    assert by_member.actor == who.actor and by_nobody.actor == SYSTEM
    assert by_nobody.sequence == by_member.sequence + 1
    with probe_engine.connect() as conn:
        stored = dict(conn.execute(select(OUTBOX.c.id, OUTBOX.c.envelope).where(OUTBOX.c.tenant_id == tenant_id)).all())
    assert stored[by_member.id]["actor"] == {"type": "member", "id": str(who.actor.id)}
    assert stored[by_nobody.id]["actor"] == {"type": "system", "id": None}
    assert Envelope.model_validate(stored[by_member.id]).actor == who.actor
    # and where the request came from (what the audit log records); nothing for the system
    assert stored[by_member.id]["origin"] == {"request_id": "req-7", "ip": "203.0.113.9", "user_agent": "curl/8"}
    assert stored[by_nobody.id]["origin"] is None


class WhoAmIService:
    name = "whoamiprobe"
    telemetry = Telemetry()
    rpc_client = ServiceRpc()

    @rpc
    def whoami(self, nap):
        before = caller.current()
        eventlet.sleep(nap)  # let the other workers run in between
        after = caller.current()
        assert before == after, "the caller changed under a sleeping worker"
        return after.to_header() if after else None

    @rpc
    def ask_again(self):
        """One more hop: this worker asks the service itself, so the caller must cross RPC twice."""
        return self.rpc_client.call("whoamiprobe", "whoami", 0)


def test_concurrent_workers_each_see_their_own_caller_and_pass_it_on(container_factory, nameko_config):
    container = container_factory(WhoAmIService, nameko_config)
    container.start()
    client = RpcClient(timeout=20, size=12)
    try:
        callers = [caller.member(uuid.uuid4(), request_id=f"r{i}", ip=f"10.0.0.{i}") for i in range(10)]

        def as_caller(i):
            # each green thread of this test has its own context too
            with caller.using(callers[i]):
                return client.call("whoamiprobe", "whoami", 0.2 if i % 2 else 0.05)

        pool = eventlet.GreenPool(10)
        seen = [caller.Caller.from_header(h) for h in pool.imap(as_caller, range(10))]
        assert seen == callers

        assert client.call("whoamiprobe", "whoami", 0) is None  # nobody called: no caller left over
        with caller.using(callers[3]):
            assert caller.Caller.from_header(client.call("whoamiprobe", "ask_again")) == callers[3]
    finally:
        client.close()
