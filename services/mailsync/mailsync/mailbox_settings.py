"""A mailbox's settings across fields (issue 8): how it logs in (a password or OAuth2), its servers
(an OAuth2 provider's by default) and its TLS — turned into the columns of `mailboxes` with every
secret encrypted (`mailsync.secrets_box`), and back into the shape answered, which never holds one.

Rules:
- Create: a `password` or an `auth`, not both. OAuth2 needs its refresh token; `custom` its
  `token_url`; `tenant` is Microsoft's directory only. A host or port left out is the provider's
  preset (`mailsync.oauth2.PROVIDERS`), else required (hosts) or 993 / 587 (ports).
- Update: a `password` (or a password `auth`) switches the mailbox to its password and forgets any
  OAuth2 secrets; an OAuth2 `auth` replaces the OAuth2 settings, its client secret and refresh token
  kept when left out and the mailbox already used the same provider (else the refresh token is
  required). `tls_ca_pem: ""` removes the mailbox's own CA.
- `imap_tls` (implicit TLS) and `imap_starttls` exclude each other.
- The answer says `has_password` and `auth: {type, provider, client_id, token_url, scope,
  has_refresh_token}`; `mailbox.updated` names `password` or `auth`, never values.
"""
from __future__ import annotations

import json

from custops.errors import InvalidInput
from mailsync import mail_auth, oauth2
from mailsync.commands import Auth, CreateMailbox, UpdateMailbox

_OAUTH2_COLUMNS = ("oauth2_provider", "oauth2_client_id", "oauth2_token_url", "oauth2_scope", "oauth2_encrypted")
_SECRET_COLUMNS = {"password_encrypted": "password", **{c: "auth" for c in _OAUTH2_COLUMNS}, "auth_type": "auth"}


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field} {message}", [{"field": field, "message": message}])


def _password_columns(box, secret) -> dict:
    return {"auth_type": mail_auth.PASSWORD, "password_encrypted": box.encrypt(secret.get_secret_value()),
            **{c: None for c in _OAUTH2_COLUMNS}}


def _oauth2_columns(box, auth: Auth, current: dict | None = None) -> dict:
    for field in ("provider", "client_id"):
        if getattr(auth, field) is None:
            raise _invalid(f"auth.{field}", "is required for OAuth2")
    if auth.password is not None:
        raise _invalid("auth.password", "goes with type password, not oauth2")
    same_provider = bool(current) and current.get("auth_type") == mail_auth.OAUTH2 \
        and current.get("oauth2_provider") == auth.provider
    stored = json.loads(box.decrypt(current["oauth2_encrypted"])) if same_provider else {}
    refresh_token = auth.refresh_token.get_secret_value() if auth.refresh_token else stored.get("refresh_token")
    if not refresh_token:
        raise _invalid("auth.refresh_token", "is required (the refresh token the provider granted)")
    client_secret = auth.client_secret.get_secret_value() if auth.client_secret else stored.get("client_secret")
    if auth.provider == "custom" and not auth.token_url:
        raise _invalid("auth.token_url", "is required for a custom provider")
    if auth.tenant and auth.provider != "microsoft":
        raise _invalid("auth.tenant", "is a Microsoft directory: only for provider microsoft")
    return {"auth_type": mail_auth.OAUTH2, "password_encrypted": None, "oauth2_provider": auth.provider,
            "oauth2_client_id": auth.client_id,
            "oauth2_token_url": oauth2.token_url_for(auth.provider, auth.token_url, auth.tenant),
            "oauth2_scope": auth.scope or oauth2.PROVIDERS[auth.provider].scope,
            "oauth2_encrypted": mail_auth.encrypt_oauth2_secrets(box, client_secret, refresh_token)}


def _auth_columns(box, password, auth, current: dict | None = None) -> dict:
    if password is not None and auth is not None:
        raise _invalid("auth", "give the password or auth, not both")
    if auth is not None and auth.type == mail_auth.PASSWORD:
        others = sorted(f for f in auth.model_fields_set if f not in ("type", "password"))
        if others:
            raise _invalid(f"auth.{others[0]}", "goes with type oauth2, not password")
        if auth.password is None:
            raise _invalid("auth.password", "is required for type password")
        password = auth.password
    if password is not None:
        return _password_columns(box, password)
    if auth is not None:
        return _oauth2_columns(box, auth, current)
    return {}


def _check_tls(values: dict) -> None:
    if values.get("imap_tls") and values.get("imap_starttls"):
        raise _invalid("imap_starttls", "excludes imap_tls (implicit TLS): choose one")


def create_columns(cmd: CreateMailbox, box) -> dict:
    """The columns of a new mailbox (secrets encrypted), or InvalidInput naming the field."""
    values = cmd.model_dump(exclude={"password", "auth"})
    secrets = _auth_columns(box, cmd.password, cmd.auth)
    if not secrets:
        raise _invalid("password", "is required (or an OAuth2 auth)")
    preset = oauth2.PROVIDERS[cmd.auth.provider] if secrets["auth_type"] == mail_auth.OAUTH2 else None
    for server, default_port in (("imap", 993), ("smtp", 587)):
        if values[f"{server}_host"] is None:
            values[f"{server}_host"] = getattr(preset, f"{server}_host", None)
            if values[f"{server}_host"] is None:
                raise _invalid(f"{server}_host", "is required (no provider preset gives it)")
        if values[f"{server}_port"] is None:
            values[f"{server}_port"] = getattr(preset, f"{server}_port", default_port)
    _check_tls(values)
    return {**values, **secrets}


def update_columns(cmd: UpdateMailbox, current: dict, box) -> tuple[dict, list[str]]:
    """The columns an update changes (secrets encrypted) and the field names `mailbox.updated` tells."""
    values = cmd.model_dump(exclude_unset=True, exclude={"password", "auth"})
    if values.get("tls_ca_pem") == "":
        values["tls_ca_pem"] = None
    values.update(_auth_columns(box, cmd.password, cmd.auth, current))
    _check_tls({**current, **values})
    # a secret column names its field when it changed (a new ciphertext always does); the columns
    # cleared alongside (a password mailbox's empty OAuth2 ones) name nothing
    changed = sorted({_SECRET_COLUMNS.get(field, field) for field, value in values.items()
                      if field not in _SECRET_COLUMNS or current.get(field) != value})
    return values, changed


def auth_shape(row) -> dict:
    """How the mailbox logs in, without a secret."""
    if row.get("auth_type") != mail_auth.OAUTH2:
        return {"type": mail_auth.PASSWORD}
    return {"type": mail_auth.OAUTH2, "provider": row["oauth2_provider"], "client_id": row["oauth2_client_id"],
            "token_url": row["oauth2_token_url"], "scope": row.get("oauth2_scope"),
            "has_refresh_token": bool(row.get("oauth2_encrypted"))}
