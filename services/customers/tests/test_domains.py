"""Domain and address normalisation, and the sender-matching rules (pure)."""
import pytest

from customers import domains


@pytest.mark.parametrize("raw,expected", [
    ("acme.example", "acme.example"),
    ("  Acme.EXAMPLE. ", "acme.example"),
    ("eu.mail.acme.co.uk", "eu.mail.acme.co.uk"),
    ("my-company.io", "my-company.io"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("shop.xn--p1ai", "shop.xn--p1ai"),
])
def test_valid_domains_are_normalised(raw, expected):
    assert domains.normalise_domain(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "localhost", "acme", ".acme.example", "acme..example", "-acme.example", "acme-.example",
    "acme_corp.example", "acme.example/path", "http://acme.example", "jane@acme.example",
    "acme.123", "a" * 64 + ".example", ("a" * 60 + ".") * 5 + "example", 42, None,
])
def test_invalid_domains_are_refused(raw):
    with pytest.raises(ValueError):
        domains.normalise_domain(raw)


def test_emails_are_lower_cased_and_validated():
    assert domains.normalise_email(" Jane.Doe+Billing@Acme.Example ") == "jane.doe+billing@acme.example"
    for bad in ["jane", "jane@", "@acme.example", "jane@localhost", "ja ne@acme.example", "jane@acme..example"]:
        with pytest.raises(ValueError):
            domains.normalise_email(bad)


def test_sender_email_reads_display_name_forms():
    assert domains.sender_email('"Jane Doe" <Jane@Acme.Example>') == "jane@acme.example"
    assert domains.sender_email("jane@acme.example") == "jane@acme.example"
    assert domains.sender_email("not an address") is None
    assert domains.sender_email(None) is None


def test_candidate_domains_go_from_most_specific_and_stop_before_the_tld():
    assert domains.candidate_domains("jane@eu.mail.acme.example") == [
        "eu.mail.acme.example", "mail.acme.example", "acme.example"]
    assert domains.candidate_domains("jane@acme.example") == ["acme.example"]


def test_most_specific_owner_wins():
    candidates = domains.candidate_domains("jane@eu.acme.example")
    assert domains.most_specific({"acme.example": "parent", "eu.acme.example": "eu"}, candidates) == "eu"
    assert domains.most_specific({"acme.example": "parent"}, candidates) == "parent"
    assert domains.most_specific({"globex.example": "other"}, candidates) is None
