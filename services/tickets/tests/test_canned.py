"""Canned-response placeholders (pure)."""
from tickets.canned import render, unknown_placeholders


def test_render_fills_the_known_placeholders_with_or_without_spaces():
    body = "Hi {{customer.name}}, about #{{ ticket.number }}: fixed. {{agent.name}}"
    assert render(body, {"customer.name": "Acme", "ticket.number": 42, "agent.name": "Ada"}) == \
        "Hi Acme, about #42: fixed. Ada"


def test_a_missing_value_renders_empty_and_an_unknown_placeholder_stays_visible():
    assert render("{{agent.name}}|{{customer.nmae}}", {}) == "|{{customer.nmae}}"


def test_unknown_placeholders_are_listed_once_in_order():
    body = "{{customer.name}} {{ foo }} {{bar.baz}} {{foo}}"
    assert unknown_placeholders(body) == ["foo", "bar.baz"]
    assert unknown_placeholders("no placeholders { here }") == []
