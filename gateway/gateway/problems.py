"""Every error the gateway answers is an RFC 9457 problem document (`application/problem+json`).

Bad input is always a 4xx; a genuine unexpected error is a 500 that says nothing about internals
(the details go to the log, tied to the request's trace id).
"""
from __future__ import annotations

import json
import logging

from flask import Flask, Response
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound, RemoteError
from werkzeug.exceptions import HTTPException

from custops.errors import ServiceError, ServiceTimeout, ServiceUnavailable

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://custops.dev/problems/"

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

# status → (type slug, title) for the statuses the gateway answers itself
_KINDS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    410: ("gone", "Gone"),
    413: ("payload-too-large", "Payload too large"),
    414: ("uri-too-long", "URI too long"),
    415: ("unsupported-media-type", "Unsupported media type"),
    417: ("expectation-failed", "Expectation failed"),
    422: ("unprocessable", "Unprocessable input"),
    431: ("header-fields-too-large", "Request header fields too large"),
    500: ("internal", "Internal error"),
    501: ("not-implemented", "Not implemented"),
    502: ("bad-gateway", "Bad gateway"),
    503: ("service-unavailable", "Service unavailable"),
    504: ("service-timeout", "Service timeout"),
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, detail: str = "", errors: list[dict] | None = None,
                 headers: dict | None = None, title: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.title = title


def document(status: int, detail: str = "", errors: list[dict] | None = None, title: str | None = None) -> dict:
    slug, default_title = _KINDS.get(status, ("error", "Error"))
    doc = {"type": TYPE_BASE + slug, "title": title or default_title, "status": status}
    if detail:
        doc["detail"] = detail
    if errors is not None:
        doc["errors"] = [{"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
                         for e in errors]
    return doc


def response(status: int, detail: str = "", errors: list[dict] | None = None,
             headers: dict | None = None, title: str | None = None) -> Response:
    resp = Response(json.dumps(document(status, detail, errors, title)), status=status, content_type=CONTENT_TYPE)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def install(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return response(exc.status, exc.detail, exc.errors, exc.headers, exc.title)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # werkzeug's own (404 unknown route, 405 with its Allow header, 413, malformed request...)
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return response(exc.code or 500, exc.description or "", headers=headers)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        # NotFound 404, Conflict 409, InvalidInput 422 (with its field errors), Forbidden 403
        return response(exc.status, exc.detail, exc.errors or ([] if exc.status == 422 else None))

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable):
        return response(503, str(exc) or "a service needed for this request is not available",
                        headers={"Retry-After": "5"})

    @app.errorhandler(ServiceTimeout)
    def _timeout(exc: ServiceTimeout):
        return response(504, str(exc) or "a service did not answer in time")

    @app.errorhandler(RemoteError)
    @app.errorhandler(MethodNotFound)
    @app.errorhandler(IncorrectSignature)
    @app.errorhandler(MalformedRequest)
    def _remote(exc: Exception):
        # a service failed unexpectedly or does not speak this call: its internals stay in the log
        log.error("remote failure: %s: %s", type(exc).__name__, getattr(exc, "exc_type", ""), exc_info=exc)
        return response(502, "a service failed to handle this request")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("unhandled error", exc_info=exc)
        return response(500, "an unexpected error occurred; it has been logged")
