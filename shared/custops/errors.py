"""Errors a service raises to mean "the caller asked for something wrong".

Registered with nameko so the gateway receives the same exception types back over RPC, and listed
as `expected_exceptions` on RPC entrypoints so they are not logged as failures. The gateway maps
them to problem documents (404, 409, 400/422, 403).
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class ServiceError(Exception):
    status = 500
    title = "Service error"

    def __init__(self, detail: str = "", errors: list[dict] | None = None):
        super().__init__(detail, errors or [])
        self.detail = detail
        self.errors = errors or []

    def __str__(self) -> str:
        return self.detail


@deserialize_to_instance
class NotFound(ServiceError):
    status = 404
    title = "Not found"


@deserialize_to_instance
class Conflict(ServiceError):
    status = 409
    title = "Conflict"


@deserialize_to_instance
class InvalidInput(ServiceError):
    """Input that is well-formed but breaks a rule (unknown customer, bad transition, ...)."""

    status = 422
    title = "Unprocessable input"


@deserialize_to_instance
class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


@deserialize_to_instance
class Gone(ServiceError):
    """Something that existed and can no longer be used (a consumed or expired one-time invite)."""

    status = 410
    title = "Gone"


EXPECTED = (NotFound, Conflict, InvalidInput, Forbidden, Gone)


# Registered too: a service whose database or dependency is unavailable raises these, and its
# caller (the gateway) answers 503/504 instead of a 502 for an unknown remote error (issue 13).
@deserialize_to_instance
class ServiceUnavailable(Exception):
    """The target service could not be reached (unknown queue, broker down), or it could not reach
    what it needs (its database)."""


@deserialize_to_instance
class ServiceTimeout(Exception):
    """The target service did not answer within the RPC timeout."""
