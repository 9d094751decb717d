"""Input shapes the mailsync service accepts (validated again here: services trust no caller).

The password is a `SecretStr`, so it stays out of reprs, logs and tracebacks; validation errors
name the field, never echo the value. So are an OAuth2 client secret and refresh token (`auth`:
`{"type": "password", "password"}` or `{"type": "oauth2", "provider", "client_id", "client_secret",
"refresh_token", "token_url"?, "tenant"?, "scope"?}`, see `mailsync.oauth2`); the rules across fields
(a password or an auth, a provider's default servers) are `mailsync.mailbox_settings`.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from mailsync.oauth2 import check_token_url

# Valid-ish on purpose: one @, no spaces, a dot in the domain. Deliverability is the server's call.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# A DNS name or IP literal: no spaces, slashes or scheme ("imap.example.com", "10.0.0.5", "[::1]").
_HOST = re.compile(r"^[A-Za-z0-9._\-:\[\]]+$")


def _email(v: str) -> str:
    v = v.strip().lower()
    if not _EMAIL.match(v):
        raise ValueError("must be an email address like support@example.com")
    return v


def _host(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be blank")
    if not _HOST.match(v):
        raise ValueError("must be a host name or IP address (no scheme, path or spaces)")
    return v


def _text(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be blank")
    return v


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
Host = Annotated[str, Field(max_length=253), AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
Name = Annotated[str, Field(max_length=200), AfterValidator(_text)]
Username = Annotated[str, Field(max_length=320), AfterValidator(_text)]
Password = Annotated[SecretStr, Field(min_length=1, max_length=1000)]
ClientId = Annotated[str, Field(max_length=500), AfterValidator(_text)]
OAuthSecret = Annotated[SecretStr, Field(min_length=1, max_length=4000)]
TokenUrl = Annotated[str, Field(max_length=2000), AfterValidator(check_token_url)]
# a Microsoft directory: its id, a domain, `common`, `organizations` or `consumers`
DirectoryTenant = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9.\-]+$")]
Scope = Annotated[str, Field(max_length=1000), AfterValidator(_text)]


def _ca_pem(v: str) -> str:
    v = v.strip()
    if "-----BEGIN CERTIFICATE-----" not in v:
        raise ValueError("must be PEM certificates (-----BEGIN CERTIFICATE-----)")
    import ssl

    try:
        ssl.create_default_context(cadata=v)
    except (ssl.SSLError, ValueError):
        raise ValueError("must be readable PEM certificates") from None
    return v


CaPem = Annotated[str, Field(max_length=100_000), AfterValidator(_ca_pem)]

MAX_ADDRESSES = 50


def _each_once(v: list[str]) -> list[str]:
    return list(dict.fromkeys(v))


# The addresses a mailbox receives for besides its email (aliases, plus-addresses such as
# support+billing@example.com), each once, lower-cased; what they are used for: `mailsync.intake.OurAddresses`.
Addresses = Annotated[list[Email], Field(max_length=MAX_ADDRESSES), AfterValidator(_each_once)]


class Auth(BaseModel):
    """How a mailbox logs in: `password` (with `password`) or `oauth2` (with `provider` and `client_id`;
    its secrets left out on an update keep the stored ones of the same provider). One model rather
    than a union, so that an error names `auth.<field>`; which fields go with which type is
    `mailsync.mailbox_settings`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["password", "oauth2"]
    password: Password | None = None
    provider: Literal["google", "microsoft", "custom"] | None = None
    client_id: ClientId | None = None
    client_secret: OAuthSecret | None = None
    refresh_token: OAuthSecret | None = None
    token_url: TokenUrl | None = None
    tenant: DirectoryTenant | None = None
    scope: Scope | None = None


class CreateMailbox(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email
    imap_host: Host | None = None  # None: the OAuth2 provider's (required otherwise)
    imap_port: Port | None = None  # None: the provider's, else 993
    imap_tls: bool = True
    imap_starttls: bool = False
    smtp_host: Host | None = None
    smtp_port: Port | None = None  # None: the provider's, else 587
    smtp_starttls: bool = True
    tls_verify: bool = True
    tls_ca_pem: CaPem | None = None
    username: Username
    password: Password | None = None  # or `auth`
    auth: Auth | None = None
    enabled: bool = True
    addresses: Addresses = []


class UpdateMailbox(BaseModel):
    """Only the fields given change; a password given is re-encrypted, one left out is kept."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    imap_host: Host | None = None
    imap_port: Port | None = None
    imap_tls: bool | None = None
    imap_starttls: bool | None = None
    smtp_host: Host | None = None
    smtp_port: Port | None = None
    smtp_starttls: bool | None = None
    tls_verify: bool | None = None
    tls_ca_pem: CaPem | None = None  # "" removes it (back to the system's CAs)
    username: Username | None = None
    password: Password | None = None
    auth: Auth | None = None
    enabled: bool | None = None
    addresses: Addresses | None = None  # the whole list: [] removes every alias

    @field_validator("tls_ca_pem", mode="wrap")
    @classmethod
    def _ca_pem_or_blank(cls, v, handler):
        return v if v == "" else handler(v)

    @field_validator("*")
    @classmethod
    def _no_nulls(cls, v):
        # every stored field is required: null would mean "erase", which is not a thing here
        if v is None:
            raise ValueError("must not be null")
        return v


class MailboxFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
