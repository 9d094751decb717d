"""PUT /billing/profile/logo with the RpcClient double: the owner's PNG or JPEG bytes reach billing
base64-encoded with their media type; anything else is a 4xx problem before billing is asked."""
from __future__ import annotations

import base64

import pytest

from gateway.routes.rates import LOGO_MAX_BYTES

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def _profile(*args):
    return {"company_name": "Tenant Ltd", "address": "", "payment_details": "", "logo_sha256": "ab" * 32,
            "number_prefix": "INV-", "credit_note_prefix": "CN-", "rounding_increment": 15,
            "rounding_scope": "entry", "line_grouping": "project", "default_currency": "EUR",
            "payment_terms_days": 14, "revision": 2}


@pytest.fixture
def billing(services):
    services.on("billing", "set_billing_logo", _profile)
    return services


def _put(client, bearer, content: bytes, media_type: str, role="owner"):
    return client.put("/api/v1/billing/profile/logo", data=content, headers={**bearer(role),
                                                                             "Content-Type": media_type})


@pytest.mark.parametrize("content, media_type", [(PNG, "image/png"), (JPEG, "image/jpeg")])
def test_the_owners_png_or_jpeg_reaches_billing_as_base64(client, bearer, billing, ids, content, media_type):
    response = _put(client, bearer, content, media_type)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["logo_sha256"] == "ab" * 32
    assert billing.calls_to("billing", "set_billing_logo") == [
        (ids["tenant"], base64.b64encode(content).decode("ascii"), media_type)]


@pytest.mark.parametrize("content, media_type, status, field", [
    (b"GIF89a" + b"\x00" * 10, "image/gif", 415, "Content-Type"),
    (b'{"logo": "x"}', "application/json", 415, "Content-Type"),
    (b"", "image/png", 422, "body"),
    (JPEG, "image/png", 422, "body"),  # a JPEG labelled PNG
    (b"<svg/>", "image/jpeg", 422, "body"),
    (PNG + b"\x00" * LOGO_MAX_BYTES, "image/png", 413, "body"),
])
def test_anything_else_is_a_problem_naming_the_field_and_billing_is_not_asked(client, bearer, billing, problem,
                                                                               content, media_type, status, field):
    doc = problem(_put(client, bearer, content, media_type), status)
    assert [e["field"] for e in doc["errors"]] == [field]
    assert billing.calls_to("billing", "set_billing_logo") == []


@pytest.mark.parametrize("role", ["admin", "member", "read_only"])
def test_only_the_owner_sets_the_logo(client, bearer, billing, problem, role):
    problem(_put(client, bearer, PNG, "image/png", role), 403)
    assert billing.calls_to("billing", "set_billing_logo") == []
