"""AES-GCM encryption of SECRET inputs at rest, as Kestra's ``EncryptionService`` does it.

AES/GCM/NoPadding with a 12-byte random IV written before the ciphertext and its 128-bit
tag, the whole Base64-encoded, under the Base64 key ``OSTRA_ENCRYPTION_KEY`` (16, 24 or 32
bytes; Kestra's ``kestra.encryption.secret-key``).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from executor.errors import SecretError

__all__ = ["MASK", "decrypt", "encrypt", "encryption_key", "is_sealed", "parse_key"]

_IV_LENGTH = 12

#: What a secret value (or SECRET input) is replaced with wherever it would be shown or
#: stored (here rather than in :mod:`executor.secrets`, which the pure engine must not reach).
MASK = "******"


def encryption_key() -> bytes | None:
    """The AES key of ``OSTRA_ENCRYPTION_KEY`` (Base64), or None when it is not set."""
    from executor.settings import get_settings

    raw = get_settings().encryption_key
    return parse_key(raw) if raw else None


def parse_key(raw: str) -> bytes:
    """Decode a Base64 AES key; raises :class:`SecretError` if it is not 16, 24 or 32 bytes."""
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("OSTRA_ENCRYPTION_KEY is not valid Base64") from None
    if len(key) not in (16, 24, 32):
        raise SecretError(f"OSTRA_ENCRYPTION_KEY must decode to 16, 24 or 32 bytes, got {len(key)}")
    return key


def encrypt(key: bytes, plaintext: str) -> str:
    """Kestra's ``EncryptionService.encrypt``: Base64(IV + AES-GCM ciphertext and tag)."""
    if not plaintext:
        return plaintext
    iv = os.urandom(_IV_LENGTH)
    return base64.b64encode(iv + AESGCM(key).encrypt(iv, plaintext.encode(), None)).decode()


def decrypt(key: bytes, sealed: str) -> str:
    """The inverse of :func:`encrypt`; raises :class:`SecretError` if it does not decrypt."""
    if not sealed:
        return sealed
    try:
        data = base64.b64decode(sealed, validate=True)
        if len(data) <= _IV_LENGTH:
            raise ValueError("too short")
        return AESGCM(key).decrypt(data[:_IV_LENGTH], data[_IV_LENGTH:], None).decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        raise SecretError(
            "a SECRET input does not decrypt with OSTRA_ENCRYPTION_KEY (was it encrypted "
            "with another key?)"
        ) from None


def is_sealed(key: bytes, value: str) -> bool:
    """True if ``value`` is already a ciphertext of ``key`` (a subflow given its parent's
    SECRET input as rendered outside a worker, or a replay's copy)."""
    try:
        decrypt(key, value)
    except SecretError:
        return False
    return bool(value)


def ensure_key(directory: Path | None = None) -> str:
    """Make sure this process (and the workers it starts, which inherit its environment)
    has ``OSTRA_ENCRYPTION_KEY``, for the all-in-one commands that own their Redis.

    A configured key is kept. Otherwise the key is read from ``directory/encryption.key``,
    made there (mode 0600) the first time, so that SECRET inputs stored in that data
    directory can be read after a restart; without ``directory`` (``ostra run``, whose
    Redis dies with the run) it is a fresh random key. Returns how the key was obtained.
    """
    from executor.settings import get_settings

    if os.environ.get("OSTRA_ENCRYPTION_KEY"):
        return "configured"
    if directory is None:
        key, how = base64.b64encode(secrets.token_bytes(32)).decode(), "generated for this run"
    else:
        path = directory / "encryption.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        key, how = path.read_text().strip(), f"read from {path}"
        parse_key(key)  # a damaged file is a clear error, not a later decryption failure
    os.environ["OSTRA_ENCRYPTION_KEY"] = key
    get_settings.cache_clear()
    return how
