"""Python functions the trust tests call: an allowed module that re-exports ``os.getenv``
(which must not make ``getenv`` callable through it) and one that echoes a secret."""

from __future__ import annotations

from os import getenv  # re-exported on purpose: it is defined in os, not here

__all__ = ["echo", "getenv", "fail_with"]


def echo(value: str) -> dict[str, str]:
    """Return ``value`` (a secret, in the scan) as an output and as an output key."""
    return {"echo": value, value: "as a key"}


def fail_with(value: str) -> None:
    """Raise an error whose message carries ``value``."""
    raise RuntimeError(f"could not use {value}")
