"""The probe producer as a service `custops service outboxprobe` can run (PYTHONPATH=shared/tests):
health endpoints only; its outbox is the probe database's, which the in-process relay publishes."""
from custops.entrypoints import HealthEndpoints
from probe import PROBE


class OutboxProbeService(HealthEndpoints):
    name = PROBE
