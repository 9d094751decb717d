"""A real SMTP server for the tests: aiosmtpd on loopback, in the test process (issue 8).

`SmtpSink` keeps every message it accepted (envelope sender, recipients, the raw bytes and the
parsed message). `answer` decides the reply to each DATA (default `250 OK`; e.g. `451` to make the
client retry, `550` to refuse for good); `on_data` runs when a message has arrived, before the
answer leaves (the kill -9 test kills the sender there: the server has the message, the client
never hears the 250).
"""
from __future__ import annotations

import email
import socket
import time
from dataclasses import dataclass
from email import policy
from typing import Callable

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self):
        return email.message_from_bytes(self.raw, policy=policy.default)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    def __init__(self):
        self.received: list[Received] = []  # accepted (250)
        self.tried: list[Received] = []  # every DATA, whatever the answer
        self.answer: Callable[[Received], str] = lambda r: "250 OK"
        self.on_data: Callable[[Received], None] | None = None
        self.port = _free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        raw = bytes(envelope.original_content or envelope.content)
        got = Received(envelope.mail_from, list(envelope.rcpt_tos), raw)
        self.tried.append(got)
        if self.on_data is not None:
            self.on_data(got)
        response = self.answer(got)
        if response.startswith("250"):
            self.received.append(got)
        return response

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SMTP server got {len(self.received)} messages, not {count}, "
                                     f"within {timeout}s")
            time.sleep(0.02)
        return list(self.received)
