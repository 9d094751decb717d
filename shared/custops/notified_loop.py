"""Background loops woken by PostgreSQL NOTIFY (the tickets SLA clock and recompute worker, the
timeline's follow-up clock): each does a round of work, then sleeps until a NOTIFY on its channel
tells of more, in a managed thread (`ManagedLoop`).

What they share is how they survive: a database that stops answering closes the listening
connection and retries with a backoff (0.5 s doubling to 10 s); any other failure of one round is
logged and retried the same way, because a managed thread that dies takes the whole container with
it. Blocking calls are select()-based, so they are cooperative under eventlet.

`DeadlineLoop` is the clock shape on top (moved here from the tickets SLA clock so every clock has
one rule): fire what is due, then sleep until the next due instant the last look found, never
longer than `max_sleep` as a safety net. A transaction that makes something due NOTIFYs the channel
with the earliest instant it made due (ISO 8601, aware): the clock keeps its next wake-up in memory
and only moves it earlier when told of an earlier instant (`wake_time`), so a burst of changes due
in hours costs it no query at all; a NOTIFY without an instant makes it look now.
"""
from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable
from datetime import datetime, timezone

import psycopg
from nameko.extensions import DependencyProvider
from sqlalchemy.exc import DBAPIError

from custops import db

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0


class NotifiedLoop:
    """`run()` until `stop()`; a subclass names its `channel` and `label` and does `round()`."""

    channel: str
    label: str

    def __init__(self, service: str):
        self.service = service
        self.engine = db.engine_for(service)
        self.dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.listener: psycopg.Connection | None = None
        self.stopping = False

    def round(self) -> None:
        """One round of work and the wait after it (through `self.listener`)."""
        raise NotImplementedError

    def _listen(self) -> None:
        if self.listener is None or self.listener.closed:
            self.listener = psycopg.connect(self.dsn, autocommit=True)
            self.listener.execute(f"LISTEN {self.channel}")

    def run(self) -> None:
        backoff = FIRST_BACKOFF
        while not self.stopping:
            try:
                self._listen()  # before the round: a change committed after its look still wakes us
                self.round()
                backoff = FIRST_BACKOFF
            except (psycopg.Error, DBAPIError, OSError) as exc:
                if self.stopping:  # killed while in a query: its transaction rolled back
                    break
                log.warning("%s: %s; retrying in %.1fs", self.label, exc, backoff)
                self.close()
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad round (it rolled back)
                log.exception("%s: a round failed; retrying in %.1fs", self.label, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def stop(self) -> None:
        self.stopping = True

    def close(self) -> None:
        if self.listener is not None:
            try:
                self.listener.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self.listener = None


def wake_time(wake_at: float, told: list[str], now: float, utc_now: datetime) -> float:
    """A clock's next wake-up (on the `time.monotonic()` scale, `now` being that instant and
    `utc_now` the same instant in UTC) after NOTIFY payloads `told`: the earliest of `wake_at` and
    the due instants told; at once for a payload that names no instant (look again)."""
    for payload in told:
        try:
            due = datetime.fromisoformat(payload)
        except ValueError:  # no instant (or not one this clock reads): look now
            return now
        if due.tzinfo is None:
            return now
        wake_at = min(wake_at, now + (due - utc_now).total_seconds())
    return wake_at


class DeadlineLoop(NotifiedLoop):
    """A clock: `tick()` fires what is due and returns the seconds until the next due instant; the
    loop sleeps that long, less when a NOTIFY tells of an earlier instant."""

    max_sleep = 30.0  # seconds between looks at most, even when no NOTIFY arrives

    def tick(self) -> float:
        raise NotImplementedError

    def sleep_for(self, until_next: float | None) -> float:
        """The sleep after a look that found the next due instant `until_next` seconds away (None: none)."""
        if until_next is None:
            return self.max_sleep
        return min(self.max_sleep, max(0.0, float(until_next)))

    def _wait(self, seconds: float) -> None:
        """Sleep `seconds` (until the due instant the last look found), less when told of an earlier one."""
        wake_at = time.monotonic() + seconds
        while True:
            remaining = wake_at - time.monotonic()
            if remaining <= 0:
                return
            ready, _, _ = select.select([self.listener.fileno()], [], [], remaining)
            if not ready:
                return
            told = [n.payload for n in self.listener.notifies(timeout=0, stop_after=10_000)]
            wake_at = wake_time(wake_at, told, time.monotonic(), datetime.now(timezone.utc))

    def round(self) -> None:
        self._wait(self.tick())


class ManagedLoop(DependencyProvider):
    """Runs a loop (`make(service_name)` -> a `NotifiedLoop`) in a managed thread while the
    container runs; every instance of the service runs one (they share the work through row locks)."""

    def __init__(self, make: Callable[[str], NotifiedLoop]):
        self.make = make

    def start(self):
        self.loop = self.make(self.container.service_name)
        self.thread = self.container.spawn_managed_thread(self.loop.run)

    def stop(self):
        self.loop.stop()
        self.thread.kill()  # wakes it from its wait; an open transaction rolls back
        self.loop.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return None
