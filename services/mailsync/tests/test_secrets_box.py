"""The secret box: encryption round trip, tamper detection, key rotation and key loading rules."""
import logging
import stat

import pytest
from cryptography.fernet import Fernet

from mailsync import secrets_box
from mailsync.secrets_box import SecretBox, SecretKeyError, UnreadableSecret, load


def test_round_trip_hides_the_plaintext():
    box = SecretBox([Fernet.generate_key()])
    token = box.encrypt("hunter2-ünïcode")
    assert b"hunter2" not in token
    assert box.decrypt(token) == "hunter2-ünïcode"


def test_same_secret_encrypts_differently_each_time():
    box = SecretBox([Fernet.generate_key()])
    assert box.encrypt("s3cret") != box.encrypt("s3cret")


def test_tampered_ciphertext_is_rejected():
    box = SecretBox([Fernet.generate_key()])
    token = bytearray(box.encrypt("s3cret"))
    token[len(token) // 2] ^= 0x01
    with pytest.raises(UnreadableSecret):
        box.decrypt(bytes(token))


def test_another_key_cannot_read_it():
    token = SecretBox([Fernet.generate_key()]).encrypt("s3cret")
    with pytest.raises(UnreadableSecret):
        SecretBox([Fernet.generate_key()]).decrypt(token)


def test_rotation_new_key_encrypts_old_key_still_decrypts():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    old_token = SecretBox([old]).encrypt("before rotation")
    rotated = load({"CUSTOPS_SECRET_KEY": f"{new.decode()}, {old.decode()}"})

    assert rotated.decrypt(old_token) == "before rotation"
    new_token = rotated.encrypt("after rotation")
    assert Fernet(new).decrypt(new_token) == b"after rotation"
    with pytest.raises(UnreadableSecret):
        SecretBox([old]).decrypt(new_token)
    # re-encrypting an old secret moves it to the new key
    assert SecretBox([new]).decrypt(rotated.rotate(old_token)) == "before rotation"


def test_malformed_key_is_refused_without_echoing_it():
    with pytest.raises(SecretKeyError) as exc_info:
        load({"CUSTOPS_SECRET_KEY": "not-a-fernet-key"})
    assert "not-a-fernet-key" not in str(exc_info.value)


def test_production_without_a_key_refuses_to_start(tmp_path):
    with pytest.raises(SecretKeyError, match="CUSTOPS_SECRET_KEY"):
        load({"CUSTOPS_ENV": "production"}, workdir=tmp_path)
    assert not (tmp_path / "var").exists()


def test_development_without_a_key_creates_a_private_key_file_and_reuses_it(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(secrets_box, "_warned_dev_key", False)
    with caplog.at_level(logging.WARNING, logger="mailsync.secrets_box"):
        first = load({}, workdir=tmp_path)
        second = load({"CUSTOPS_ENV": "development"}, workdir=tmp_path)

    key_file = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert second.decrypt(first.encrypt("same key")) == "same key"
    Fernet(key_file.read_bytes())  # a valid Fernet key
    warnings = [r for r in caplog.records if "CUSTOPS_SECRET_KEY is not set" in r.getMessage()]
    assert len(warnings) == 1  # once per process, not per load
    assert key_file.read_bytes().decode() not in caplog.text
    assert list((tmp_path / "var").iterdir()) == [key_file]  # no temp file left behind


def test_an_explicit_key_wins_over_the_development_file(tmp_path):
    key = Fernet.generate_key()
    box = load({"CUSTOPS_SECRET_KEY": key.decode()}, workdir=tmp_path)
    assert Fernet(key).decrypt(box.encrypt("x")) == b"x"
    assert not (tmp_path / "var").exists()
