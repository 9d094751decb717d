"""OAuth2 for mailboxes (issue 8): the refresh-token flow (RFC 6749 §6) that turns a mailbox's stored
refresh token into short-lived access tokens, and the SASL XOAUTH2 string IMAP and SMTP log in with.

Decisions:
- Providers are presets of a token endpoint and default servers: `google`
  (https://oauth2.googleapis.com/token, imap.gmail.com:993, smtp.gmail.com:587), `microsoft`
  (https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token with the directory tenant,
  `common` unless given; outlook.office365.com:993, smtp.office365.com:587; it needs the scope
  asked on refresh) and `custom` (any provider: its token URL is required). A token URL given
  overrides the preset's. Token URLs are https, except on loopback (a local test endpoint).
- An access token is cached in the process until `EXPIRY_MARGIN` seconds before the expiry the
  endpoint announced, per mailbox and refresh token (a new refresh token never gets an old
  mailbox's access token). A login the server refuses with a cached token refreshes once and tries
  again (the server may have revoked it early); a refusal of a fresh token is the server's word.
- A refused refresh (`invalid_grant`: revoked or expired, `invalid_client`: wrong client id or
  secret) raises `OAuth2Error` with kind `oauth2` and the endpoint's own error code and description,
  which the sync shows as the mailbox's last error (`oauth2: invalid_grant: ...`) and the connection
  test as its reason. An endpoint that cannot be reached is the same kind, saying so.
- A provider may answer a new refresh token (Microsoft rotates them): `Refreshed.refresh_token`
  carries it so the caller stores it (encrypted); the old one keeps working until then.
- Neither the refresh token, the client secret nor an access token is ever logged or put in an
  error message.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable

EXPIRY_MARGIN = 120.0  # seconds before the announced expiry an access token is no longer used
DEFAULT_LIFETIME = 3600.0  # when the endpoint does not say (`expires_in` missing)
HTTP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Provider:
    token_url: str | None
    imap_host: str | None
    imap_port: int
    smtp_host: str | None
    smtp_port: int
    scope: str | None = None


PROVIDERS: dict[str, Provider] = {
    "google": Provider("https://oauth2.googleapis.com/token", "imap.gmail.com", 993, "smtp.gmail.com", 587),
    "microsoft": Provider("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token", "outlook.office365.com",
                          993, "smtp.office365.com", 587,
                          scope="https://outlook.office.com/IMAP.AccessAsUser.All "
                                "https://outlook.office.com/SMTP.Send offline_access"),
    "custom": Provider(None, None, 993, None, 587),
}


class OAuth2Error(Exception):
    """A refresh that failed, or an access token the server refused: `kind` is `oauth2` (the token
    endpoint said no, or could not be reached) or `auth` (the mail server refused a fresh token)."""

    def __init__(self, error: str, description: str = "", kind: str = "oauth2"):
        self.error = error
        self.description = description
        self.kind = kind
        super().__init__(f"{error}: {description}" if description else error)


def token_url_for(provider: str, token_url: str | None = None, tenant: str | None = None) -> str:
    """The token endpoint of a mailbox: the one given, else the provider's (Microsoft's for `tenant`)."""
    if token_url:
        return token_url
    preset = PROVIDERS[provider].token_url
    if preset is None:
        raise ValueError("a custom provider needs its token_url")
    return preset.format(tenant=tenant or "common")


def check_token_url(url: str) -> str:
    """`url` if it is an absolute https URL (http only to a loopback host); ValueError otherwise."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute https URL")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials (give client_id and client_secret)")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("must be https (plain http only to a loopback address)")
    return url.strip()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def xoauth2_string(user: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64): `user=..^Aauth=Bearer ..^A^A`."""
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"


@dataclass(frozen=True)
class Client:
    """What a mailbox refreshes with (secrets decrypted, in memory only)."""

    token_url: str
    client_id: str
    client_secret: str | None
    refresh_token: str
    scope: str | None = None

    def __repr__(self) -> str:  # never the secrets
        return f"oauth2.Client(token_url={self.token_url!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class Refreshed:
    access_token: str
    expires_at: float  # time.time() seconds
    refresh_token: str | None = None  # a new one, when the provider rotated it

    def __repr__(self) -> str:
        return f"oauth2.Refreshed(expires_at={self.expires_at!r})"


def refresh(client: Client, now: Callable[[], float] = time.time) -> Refreshed:
    """Trade the refresh token for an access token at the token endpoint (one POST)."""
    form = {"grant_type": "refresh_token", "refresh_token": client.refresh_token, "client_id": client.client_id}
    if client.client_secret:
        form["client_secret"] = client.client_secret
    if client.scope:
        form["scope"] = client.scope
    request = urllib.request.Request(client.token_url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"}, method="POST")
    started = now()
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 - checked URL
            body = _json(response.read())
    except urllib.error.HTTPError as exc:
        body = _json(exc.read())
        error = str(body.get("error") or f"http_{exc.code}")[:100]
        description = str(body.get("error_description") or exc.reason or "")[:300]
        raise OAuth2Error(error, f"{description} (token endpoint answered {exc.code})".strip()) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OAuth2Error("unreachable", f"the token endpoint {client.token_url} could not be reached: {reason}") \
            from None
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise OAuth2Error("invalid_response", "the token endpoint answered no access_token")
    try:
        lifetime = float(body.get("expires_in", DEFAULT_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    rotated = body.get("refresh_token")
    return Refreshed(token, started + lifetime,
                     rotated if isinstance(rotated, str) and rotated and rotated != client.refresh_token else None)


def _json(data: bytes) -> dict:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class TokenCache:
    """Access tokens of this process, per (mailbox, refresh token), until shortly before they expire."""

    def __init__(self, now: Callable[[], float] = time.time, margin: float = EXPIRY_MARGIN,
                 refresher: Callable[[Client], Refreshed] | None = None):
        self.now = now
        self.margin = margin
        self.refresher = refresher or (lambda client: refresh(client, now))
        self._tokens: dict[tuple[str, str], Refreshed] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(mailbox_id, client: Client) -> tuple[str, str]:
        return str(mailbox_id), hashlib.sha256(client.refresh_token.encode()).hexdigest()

    def cached(self, mailbox_id, client: Client) -> str | None:
        with self._lock:
            found = self._tokens.get(self._key(mailbox_id, client))
        if found is not None and found.expires_at - self.margin > self.now():
            return found.access_token
        return None

    def fresh(self, mailbox_id, client: Client) -> Refreshed:
        """A newly refreshed token (cached; the old one of this mailbox forgotten)."""
        refreshed = self.refresher(client)
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if k[0] != str(mailbox_id)}
            self._tokens[self._key(mailbox_id, client)] = refreshed
            if refreshed.refresh_token:  # the rotated one finds the same access token
                self._tokens[self._key(mailbox_id, Client(client.token_url, client.client_id, client.client_secret,
                                                          refreshed.refresh_token, client.scope))] = refreshed
        return refreshed

    def forget(self, mailbox_id) -> None:
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if k[0] != str(mailbox_id)}


TOKENS = TokenCache()


def login_with_token(mailbox_id, client: Client, attempt: Callable[[str], bool], cache: TokenCache = TOKENS,
                     on_rotated: Callable[[str], None] | None = None) -> None:
    """Log in with an access token: `attempt(token)` is True when the server took it. A cached token
    the server refuses is refreshed once and tried again; a refused fresh token raises `OAuth2Error`
    of kind `auth`. `on_rotated(new_refresh_token)` is called when the provider rotated it."""
    token = cache.cached(mailbox_id, client)
    if token is not None and attempt(token):
        return
    refreshed = cache.fresh(mailbox_id, client)
    if refreshed.refresh_token and on_rotated is not None:
        on_rotated(refreshed.refresh_token)
    if not attempt(refreshed.access_token):
        raise OAuth2Error("refused", "the mail server refused a freshly refreshed OAuth2 access token (XOAUTH2): "
                                     "check the user name and that the grant includes mail access", kind="auth")


def xoauth2_b64(user: str, access_token: str) -> str:
    return base64.b64encode(xoauth2_string(user, access_token).encode()).decode()
