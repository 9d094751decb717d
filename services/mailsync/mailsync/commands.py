"""Input shapes the mailsync service accepts (validated again here: services trust no caller).

The password is a `SecretStr`, so it stays out of reprs, logs and tracebacks; validation errors
name the field, never echo the value.
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

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


class CreateMailbox(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email
    imap_host: Host
    imap_port: Port = 993
    imap_tls: bool = True
    smtp_host: Host
    smtp_port: Port = 587
    smtp_starttls: bool = True
    username: Username
    password: Password
    enabled: bool = True


class UpdateMailbox(BaseModel):
    """Only the fields given change; a password given is re-encrypted, one left out is kept."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    imap_host: Host | None = None
    imap_port: Port | None = None
    imap_tls: bool | None = None
    smtp_host: Host | None = None
    smtp_port: Port | None = None
    smtp_starttls: bool | None = None
    username: Username | None = None
    password: Password | None = None
    enabled: bool | None = None

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
