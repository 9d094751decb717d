"""Turning pydantic validation failures into `InvalidInput` with field errors."""
from __future__ import annotations

import uuid
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from custops.errors import InvalidInput, NotFound

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False)
    ]


def parse(model: type[M], data) -> M:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise InvalidInput("the input is not valid", field_errors(exc)) from None


def parse_id(value, what: str) -> uuid.UUID:
    """An id from a path or a reference; a malformed id cannot name anything, so it is a 404."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"{what} {value} not found") from None
