"""The background loops of the tickets service (the SLA deadline clock, the recompute worker): each
does a round of work, then sleeps until a NOTIFY on its channel tells of more, in a managed thread.

What they share is how they survive: a database that stops answering closes the listening
connection and retries with a backoff (0.5 s doubling to 10 s); any other failure of one round is
logged and retried the same way, because a managed thread that dies takes the whole container with
it. Blocking calls are select()-based, so they are cooperative under eventlet.
"""
from __future__ import annotations

import logging
import time

import psycopg
from sqlalchemy.exc import DBAPIError

from custops import db

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0


class NotifiedLoop:
    """`run()` until `stop()`; a subclass names its `channel` and `label` and does `round()`."""

    channel: str
    label: str

    def __init__(self, service: str = "tickets"):
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
