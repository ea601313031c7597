"""Identifiers: short base62 strings from random UUIDs, like Kestra's ``IdUtils.create()``."""

from __future__ import annotations

import uuid

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id() -> str:
    """A new random id of 22 base62 characters."""
    n = uuid.uuid4().int
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out)).rjust(22, "0")
