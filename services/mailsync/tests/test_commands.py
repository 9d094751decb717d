"""Input rules for mailboxes, checked without a broker or a database."""
import pytest
from cryptography.fernet import Fernet

from custops.errors import InvalidInput
from custops.validation import parse
from mailsync.commands import CreateMailbox, UpdateMailbox
from mailsync.mailbox_settings import create_columns
from mailsync.secrets_box import SecretBox

BOX = SecretBox([Fernet.generate_key()])

VALID = {
    "name": "Support", "email": "Support@Example.com", "imap_host": "imap.example.com",
    "smtp_host": "smtp.example.com", "username": "support@example.com", "password": "hunter2",
}


def _fields(exc_info) -> set[str]:
    return {e["field"] for e in exc_info.value.errors}


def test_defaults_and_normalisation():
    cmd = parse(CreateMailbox, VALID)
    assert cmd.email == "support@example.com"  # unique regardless of case
    row = create_columns(cmd, BOX)  # ports default to 993/587 when no provider presets them
    assert (row["imap_port"], row["imap_tls"], row["imap_starttls"], row["smtp_port"], row["smtp_starttls"],
            row["tls_verify"], row["enabled"], row["auth_type"]) == (
        993, True, False, 587, True, True, True, "password")


def test_password_stays_out_of_reprs():
    cmd = parse(CreateMailbox, VALID)
    assert "hunter2" not in repr(cmd) and "hunter2" not in str(cmd.model_dump())
    assert cmd.password.get_secret_value() == "hunter2"


@pytest.mark.parametrize("field,value", [
    ("imap_port", 0), ("imap_port", 65536), ("smtp_port", -1), ("smtp_port", "587"),
    ("imap_host", ""), ("imap_host", "   "), ("smtp_host", "smtp example.com"), ("imap_host", "imaps://x.com"),
    ("email", "support"), ("email", "a@b"), ("email", "a b@example.com"), ("email", "a@@example.com"),
    ("name", " "), ("username", ""), ("password", ""),
])
def test_invalid_values_name_their_field(field, value):
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateMailbox, {**VALID, field: value})
    assert _fields(exc_info) == {field}


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds_are_inclusive(port):
    assert parse(CreateMailbox, {**VALID, "imap_port": port, "smtp_port": port}).smtp_port == port


def test_validation_errors_never_echo_the_password():
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateMailbox, {**VALID, "password": "x" * 1001})
    assert "xxxx" not in repr(exc_info.value.errors)


def test_required_fields():
    with pytest.raises(InvalidInput) as exc_info:
        parse(CreateMailbox, {})
    assert _fields(exc_info) == {"name", "email", "username"}
    # the servers and the secret: required unless an OAuth2 provider presets the servers (mailbox_settings)
    for missing in ("imap_host", "smtp_host", "password"):
        with pytest.raises(InvalidInput) as exc_info:
            create_columns(parse(CreateMailbox, {k: v for k, v in VALID.items() if k != missing}), BOX)
        assert _fields(exc_info) == {missing}


def test_update_changes_only_what_is_given_and_refuses_null():
    cmd = parse(UpdateMailbox, {"smtp_port": 465})
    assert cmd.model_dump(exclude_unset=True) == {"smtp_port": 465}
    with pytest.raises(InvalidInput) as exc_info:
        parse(UpdateMailbox, {"imap_host": None})
    assert _fields(exc_info) == {"imap_host"}
    with pytest.raises(InvalidInput) as exc_info:
        parse(UpdateMailbox, {"password": "x", "colour": "blue"})
    assert _fields(exc_info) == {"colour"}
