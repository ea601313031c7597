"""Identifiers: short base62 strings, like Kestra's ``IdUtils.create()``."""

from __future__ import annotations

import hashlib
import uuid

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n: int) -> str:
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out)).rjust(22, "0")


def new_id() -> str:
    """A new random id of 22 base62 characters."""
    return _base62(uuid.uuid4().int)


def derived_id(*parts: str) -> str:
    """A stable id of 22 base62 characters derived from ``parts`` (same parts, same id)."""
    return _base62(int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:16], "big"))
