"""A service's outbox relay inside the service's own process (issue 14).

`custops service <name>` runs its relay in a managed green thread of the nameko container unless
told otherwise (`--relay standalone`, or `CUSTOPS_RELAY=standalone`): one process per service instead
of two, and no second interpreter with its own ~70 MB. The standalone `custops relay <name>` stays
for scaling the relay apart from the service; any number of relays may run at once, in processes of
either kind (`FOR UPDATE SKIP LOCKED`).

The relay is the same `custops.outbox.Relay`: green here, because the service process is monkey
patched (psycopg made cooperative by `custops.db.cooperative_psycopg`, which `run_service` calls
first). Its metrics are on the service's `/metrics`, its state in the service's `/readyz`
(`ReadinessWithRelay`). A relay thread that dies of something unexpected takes the container with
it, so the process restarts rather than runs on without publishing.
"""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from custops.entrypoints import Readiness

log = logging.getLogger(__name__)

STOP_SECONDS = 5.0  # a stopping relay finishes its batch; the notification wait is 1 s at most


class ServiceRelay(DependencyProvider):
    """Runs `custops.outbox.Relay` for the container's service while the container runs."""

    def __init__(self, batch_size: int = 200):
        self.batch_size = batch_size
        self.relay = None
        self.thread = None

    def setup(self):
        from custops import outbox

        self.relay = outbox.Relay(self.container.service_name, batch_size=self.batch_size)

    def start(self):
        self.thread = self.container.spawn_managed_thread(self._run, identifier="outbox_relay")

    def _run(self):
        log.info("outbox relay for %s started (in the service process)", self.container.service_name)
        self.relay.run()

    def stop(self):
        import eventlet

        self.relay.stop()
        if self.thread is not None:
            with eventlet.Timeout(STOP_SECONDS, False):
                self.thread.wait()
        self.relay.close()

    def kill(self):
        self.relay.stop()
        if self.thread is not None:
            self.thread.kill()
        self.relay.close()

    def problems(self) -> list[str]:
        """The relay's part of `/readyz` (the service's own checks cover its database and broker)."""
        if self.thread is None or self.thread.dead:
            return ["outbox relay not running"]
        if self.relay.last_failure:
            return [f"outbox relay: last cycle failed ({self.relay.last_failure})"]
        return []

    def get_dependency(self, worker_ctx):
        return self.relay


class ReadinessWithRelay(Readiness):
    """`/readyz` of a service whose relay runs in its process: the relay's state too."""

    def problems(self) -> list[str]:
        found = super().problems()
        for ext in self.container.extensions:
            if isinstance(ext, ServiceRelay):
                found.extend(ext.problems())
        return found


def with_relay(service_cls, batch_size: int = 200):
    """`service_cls` with its outbox relay as one more dependency (a subclass: same name, same
    entrypoints), and readiness covering it."""
    attrs = {"custops_outbox_relay": ServiceRelay(batch_size)}
    if isinstance(getattr(service_cls, "custops_readiness", None), Readiness):
        attrs["custops_readiness"] = ReadinessWithRelay()
    return type(service_cls.__name__, (service_cls,), {"__module__": service_cls.__module__, **attrs})
