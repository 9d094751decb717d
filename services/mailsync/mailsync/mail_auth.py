"""How a mailbox reaches and logs in to its servers (issue 8): TLS (implicit, STARTTLS or none, with the
certificate verified against the system's CAs or the mailbox's own `tls_ca_pem`, unless `tls_verify`
is off) and the login (its password, or OAuth2 via SASL XOAUTH2 — `mailsync.oauth2`).

Stored (table `mailboxes`): `auth_type` password | oauth2; the password in `password_encrypted`; for
OAuth2 `oauth2_provider`, `oauth2_client_id`, `oauth2_token_url`, `oauth2_scope` in clear and the
client secret and refresh token in `oauth2_encrypted` (one Fernet token of a JSON object, like the
password: `mailsync.secrets_box`). Nothing here logs a secret.
"""
from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass

from imapclient.exceptions import IMAPClientError, LoginError

from mailsync import oauth2

log = logging.getLogger(__name__)

PASSWORD, OAUTH2 = "password", "oauth2"


class StartTlsUnavailable(ssl.SSLError):
    """The server does not offer STARTTLS although the mailbox asks for it (a `tls` problem)."""

    def __init__(self, host: str, port: int):
        super().__init__(f"{host}:{port} does not offer STARTTLS")
        self.reason = f"{host}:{port} does not offer STARTTLS (use implicit TLS, usually port 993, or no TLS)"


# --- TLS ------------------------------------------------------------------------------------------

def tls_context(mailbox) -> ssl.SSLContext:
    """The context that checks the server: its own CA certificates (PEM) when the mailbox has them,
    else the system's; no verification at all only when `tls_verify` is off."""
    ca_pem = mailbox.get("tls_ca_pem") or None
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    if mailbox.get("tls_verify") is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def imap_security(mailbox) -> str:
    """tls (implicit, e.g. port 993), starttls (upgrade a plain connection, port 143) or none."""
    if mailbox.get("imap_tls"):
        return "tls"
    return "starttls" if mailbox.get("imap_starttls") else "none"


def imap_starttls(client, mailbox) -> None:
    """Upgrade the plain connection, or `StartTlsUnavailable` when the server cannot."""
    if not client.has_capability("STARTTLS"):
        raise StartTlsUnavailable(mailbox["imap_host"], mailbox["imap_port"])
    client.starttls(tls_context(mailbox))


# --- credentials ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    """What a mailbox logs in with: a password, or an OAuth2 client (secrets in memory only)."""

    mailbox_id: object
    username: str
    password: str | None = None
    oauth: oauth2.Client | None = None
    on_rotated: object = None  # callable(new_refresh_token), for a provider that rotates them

    def __repr__(self) -> str:
        return f"Credentials(mailbox_id={self.mailbox_id!r}, kind={'oauth2' if self.oauth else 'password'})"

    def imap_login(self, client) -> None:
        if self.oauth is None:
            client.login(self.username, self.password or "")
            return

        def attempt(token: str) -> bool:
            try:
                _imap_xoauth2(client, self.username, token)
                return True
            except LoginError:
                return False

        oauth2.login_with_token(self.mailbox_id, self.oauth, attempt, on_rotated=self.on_rotated)

    def smtp_login(self, smtp) -> None:
        import smtplib

        if self.oauth is None:
            smtp.login(self.username, self.password or "")
            return

        def attempt(token: str) -> bool:
            answers = iter([oauth2.xoauth2_string(self.username, token)])
            try:
                # a refusal comes as a 334 challenge (JSON error) that wants an empty answer
                smtp.auth("XOAUTH2", lambda challenge=None: next(answers, ""), initial_response_ok=True)
                return True
            except smtplib.SMTPAuthenticationError:
                return False

        oauth2.login_with_token(self.mailbox_id, self.oauth, attempt, on_rotated=self.on_rotated)


def imap_login(client, mailbox, credentials) -> None:
    """Log in with `credentials` (a `Credentials`, or a bare password)."""
    if not isinstance(credentials, Credentials):
        credentials = Credentials(mailbox.get("id"), mailbox["username"], password=credentials)
    credentials.imap_login(client)


def _imap_xoauth2(client, user: str, token: str) -> None:
    """AUTHENTICATE XOAUTH2 (imapclient's `oauth2_login`, but an error challenge gets the empty answer
    RFC 7628 asks for rather than the token again)."""
    answers = iter([oauth2.xoauth2_string(user, token).encode()])
    try:
        client._command_and_check("authenticate", "XOAUTH2", lambda challenge: next(answers, b""))
    except IMAPClientError as exc:
        raise LoginError(str(exc)) from None


def credentials_for(mailbox, box, on_rotated=None) -> Credentials:
    """The decrypted credentials of a stored mailbox (`UnreadableSecret` if the key cannot read them)."""
    if (mailbox.get("auth_type") or PASSWORD) != OAUTH2:
        secret = mailbox.get("password_encrypted")
        return Credentials(mailbox["id"], mailbox["username"], password=box.decrypt(secret) if secret else "")
    secrets = json.loads(box.decrypt(mailbox["oauth2_encrypted"]))
    client = oauth2.Client(token_url=mailbox["oauth2_token_url"], client_id=mailbox["oauth2_client_id"],
                           client_secret=secrets.get("client_secret"), refresh_token=secrets["refresh_token"],
                           scope=mailbox.get("oauth2_scope"))
    return Credentials(mailbox["id"], mailbox["username"], oauth=client, on_rotated=on_rotated)


def encrypt_oauth2_secrets(box, client_secret: str | None, refresh_token: str) -> bytes:
    return box.encrypt(json.dumps({"client_secret": client_secret, "refresh_token": refresh_token}))


def store_rotated_refresh_token(engine, box, mailbox: dict):
    """`on_rotated` for a stored mailbox: the provider's new refresh token encrypted in its row (the
    row's `updated_at` untouched: the settings did not change, so no sync reconnects for it)."""
    def on_rotated(new_refresh_token: str) -> None:
        from sqlalchemy import update

        from mailsync.models import mailboxes

        secrets = json.loads(box.decrypt(mailbox["oauth2_encrypted"]))
        ciphertext = encrypt_oauth2_secrets(box, secrets.get("client_secret"), new_refresh_token)
        try:
            with engine.begin() as conn:
                conn.execute(update(mailboxes).where(mailboxes.c.id == mailbox["id"],
                                                     mailboxes.c.oauth2_encrypted == mailbox["oauth2_encrypted"])
                             .values(oauth2_encrypted=ciphertext))
        except Exception:  # noqa: BLE001 - the old refresh token goes on working meanwhile
            log.warning("mailbox %s: the rotated OAuth2 refresh token was not stored", mailbox["id"], exc_info=True)
    return on_rotated
