"""Encryption at rest for mailbox secrets (Fernet: AES-128-CBC + HMAC-SHA256, authenticated).

The key comes from `CUSTOPS_SECRET_KEY`: one urlsafe-base64 32-byte Fernet key, or a comma-separated
list for rotation — the first key encrypts, every key decrypts (MultiFernet), so a new key can be
put in front and old ciphertexts re-encrypted at leisure. Without the variable, a development
process uses (and on first use creates, mode 0600) `var/secret.key` under the working directory
and warns once; a production process (`CUSTOPS_ENV=production`) refuses to start instead, because
a key that silently differs per machine makes every stored secret unreadable elsewhere.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

KEY_VARIABLE = "CUSTOPS_SECRET_KEY"
DEV_KEY_FILE = Path("var") / "secret.key"

_warned_dev_key = False


class SecretKeyError(RuntimeError):
    """No usable secret key: the process must not start."""


class UnreadableSecret(Exception):
    """A ciphertext that no configured key can authenticate (tampered, or from another key)."""


class SecretBox:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise SecretKeyError("at least one secret key is required")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            # never echo the key material itself
            raise SecretKeyError(
                f"{KEY_VARIABLE} must hold urlsafe-base64 32-byte Fernet keys, comma-separated "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')") from None

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode("utf-8")
        except InvalidToken:
            raise UnreadableSecret("the secret cannot be decrypted with any configured key") from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same secret, re-encrypted with the current (first) key."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise UnreadableSecret("the secret cannot be decrypted with any configured key") from None


def load(environ: Mapping[str, str] | None = None, workdir: Path | None = None) -> SecretBox:
    """The box configured by the environment (see the module docstring for the rules)."""
    environ = os.environ if environ is None else environ
    configured = environ.get(KEY_VARIABLE, "").strip()
    if configured:
        return SecretBox([k.strip().encode() for k in configured.split(",") if k.strip()])
    if environ.get("CUSTOPS_ENV", "").strip().lower() == "production":
        raise SecretKeyError(
            f"{KEY_VARIABLE} is not set and CUSTOPS_ENV=production: refusing to start without the "
            "key that encrypts mailbox secrets")
    path = (workdir or Path.cwd()) / DEV_KEY_FILE
    key = _read_or_create_key_file(path)
    global _warned_dev_key
    if not _warned_dev_key:
        _warned_dev_key = True
        log.warning("%s is not set: using the development key file %s (set %s in production)",
                    KEY_VARIABLE, path, KEY_VARIABLE)
    return SecretBox([key])


def _read_or_create_key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temp file, then link it into place: link fails if another process won the
        # race, and nobody ever sees a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # a leftover of a crash, whatever its mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes().strip()
    if not key:
        raise SecretKeyError(f"the development key file {path} is empty: delete it to create a new one")
    return key


try:  # the nameko dependency provider
    from nameko.extensions import DependencyProvider
except ImportError:  # pragma: no cover
    DependencyProvider = object  # type: ignore[assignment,misc]


class Secrets(DependencyProvider):
    """nameko dependency: the service's `SecretBox`. Loaded at setup, so a missing production key
    stops the container from starting rather than failing the first request."""

    def setup(self):
        self.box = load()

    def get_dependency(self, worker_ctx):
        return self.box
