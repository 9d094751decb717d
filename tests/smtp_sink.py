"""A real SMTP server for the tests: aiosmtpd on loopback, in the test process (issue 8).

`SmtpSink` keeps every message it accepted (envelope sender, recipients, the raw bytes and the
parsed message). `answer` decides the reply to each DATA (default `250 OK`; e.g. `451` to make the
client retry, `550` to refuse for good); `on_data` runs when a message has arrived, before the
answer leaves (the kill -9 test kills the sender there: the server has the message, the client
never hears the 250).

`SmtpSink(xoauth2=check)` offers AUTH (without TLS, on loopback) with SASL XOAUTH2: `check(user,
access_token)` says whether a login holds; a refused one gets the JSON error challenge Google and
Microsoft send, then 535. `password=` adds PLAIN/LOGIN with that password. `logins` lists the users
that logged in.
"""
from __future__ import annotations

import base64
import binascii
import email
import json
import socket
import time
from dataclasses import dataclass
from email import policy
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


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
    def __init__(self, xoauth2: Callable[[str, str], bool] | None = None, password: str | None = None):
        self.received: list[Received] = []  # accepted (250)
        self.tried: list[Received] = []  # every DATA, whatever the answer
        self.answer: Callable[[Received], str] = lambda r: "250 OK"
        self.on_data: Callable[[Received], None] | None = None
        self.port = _free_port()
        self.xoauth2 = xoauth2
        self.password = password
        self.logins: list[str] = []
        auth = {"auth_require_tls": False, "authenticator": self._authenticate} if xoauth2 or password else {}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        """PLAIN / LOGIN against `password`."""
        if isinstance(auth_data, LoginPassword) and self.password is not None \
                and auth_data.password.decode() == self.password:
            self.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd finds mechanisms by this name
        if self.xoauth2 is None:
            return AuthResult(success=False, handled=False)
        try:
            blob = base64.b64decode(args[1], validate=True) if len(args) > 1 else await server.challenge_auth("")
        except binascii.Error:
            return AuthResult(success=False, handled=False)
        if not isinstance(blob, bytes):  # the client aborted: already answered
            return AuthResult(success=False, handled=True)
        fields = dict(part.split("=", 1) for part in blob.decode(errors="replace").split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if self.xoauth2(user, token):
            self.logins.append(user)
            return AuthResult(success=True, auth_data=user)
        # as Gmail does: the error as a challenge, the client's empty answer, then 535
        answered = await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer",
                                                           "scope": "https://mail.google.com/"}))
        return AuthResult(success=False, handled=not isinstance(answered, bytes))

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
