"""Secrets: ``{{ secret('NAME') }}``, the providers it reads, masking, and SECRET inputs.

Providers (chosen with ``OSTRA_SECRETS``, a comma-separated list tried in order):

* ``env`` (the default), Kestra's open-source convention: an environment variable
  ``SECRET_<NAME>`` of the worker holds the Base64-encoded value. Names are
  case-insensitive (``secret('my_secret')`` reads ``SECRET_MY_SECRET``); line breaks in the
  variable are ignored before decoding, as Kestra's ``SecretService`` does.
* ``file``: a directory (``OSTRA_SECRETS_DIR``) with one file per secret, named after it
  (case-insensitive), holding the value as it is (one trailing newline is dropped).

Where secrets are resolved: only on a worker, while it renders a task's properties
(as in Kestra, where the worker renders the task). A ``secret()`` rendered anywhere else
(the API at submit, the executor's steps: ``runIf``, flowable values, subflow inputs)
fails with an error saying so, because what those steps render is stored in Redis.

Masking: every value a worker's render resolved (secrets, decrypted SECRET inputs) is
replaced by ``******`` in the attempt's log lines, outputs, error and metric tags before
they are stored.

SECRET inputs are encrypted when an execution is created (:mod:`executor.encryption`) and
decrypted only when a worker renders ``{{ inputs.<id> }}`` (:class:`SecretInputs`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from executor.encryption import MASK, decrypt
from executor.errors import SecretError, SecretNotFound
from executor.pebble.registry import pebble_function

__all__ = [
    "MASK",
    "EnvSecretProvider",
    "FileSecretProvider",
    "Masker",
    "SecretInputs",
    "SecretProvider",
    "provider_from_settings",
    "secret",
]


_ENV_PREFIX = "SECRET_"
# Java's ``\R``: the line breaks Kestra removes from a SECRET_* variable before decoding.
_LINE_BREAKS = re.compile(r"\r\n|[\n\x0b\x0c\r\x85\u2028\u2029]")


class SecretProvider(Protocol):
    """Resolves a secret's name to its value."""

    #: How the provider is named in errors (``environment variables SECRET_*``).
    description: str

    def get(self, name: str) -> str | None:
        """The value of secret ``name``, or None when this provider does not have it.

        Raises :class:`SecretError` when it has it but cannot read it.
        """
        ...


def _decode_env_value(var: str, raw: str) -> str:
    text = _LINE_BREAKS.sub("", raw)
    # Java's basic decoder accepts a missing padding; Python's wants it.
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(
            f"environment variable {var} is not valid Base64 (secrets in SECRET_* variables "
            "are Base64-encoded)"
        ) from None
    return data.decode("utf-8", errors="replace")


class EnvSecretProvider:
    """Kestra's convention: ``SECRET_<NAME>`` environment variables, Base64-encoded."""

    description = "environment variables SECRET_*"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        """The decoded ``SECRET_<NAME>`` (the name upper-cased), or None."""
        wanted = name.upper()
        for var, raw in self._environ.items():
            if var.startswith(_ENV_PREFIX) and var[len(_ENV_PREFIX) :].upper() == wanted:
                return _decode_env_value(var, raw)
        return None


class FileSecretProvider:
    """One file per secret in a directory, named after the secret (case-insensitive)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.description = f"files in {self.directory}"

    def get(self, name: str) -> str | None:
        """The content of the file named ``name`` (one trailing newline dropped), or None."""
        if not self.directory.is_dir():
            raise SecretError(f"secrets directory {self.directory} does not exist")
        wanted = name.upper()
        # Names are matched against the listing, so a name never reaches the file system
        # as a path (no ``../``).
        for entry in sorted(self.directory.iterdir()):
            if entry.name.upper() == wanted and not entry.name.startswith(".") and entry.is_file():
                try:
                    text = entry.read_text(encoding="utf-8", errors="replace")
                except OSError as e:
                    raise SecretError(f"cannot read secret file {entry}: {e.strerror}") from None
                if text.endswith("\r\n"):
                    return text[:-2]
                return text[:-1] if text.endswith("\n") else text
        return None


class ChainedProviders:
    """Providers tried in order; the first that has the secret answers."""

    def __init__(self, providers: list[SecretProvider]) -> None:
        self.providers = providers
        self.description = ", then ".join(p.description for p in providers)

    def get(self, name: str) -> str | None:
        """The value from the first provider that has ``name``, or None."""
        for p in self.providers:
            value = p.get(name)
            if value is not None:
                return value
        return None


def provider_from_settings(
    kinds: str | None = None, directory: str | None = None
) -> ChainedProviders:
    """The providers named by ``OSTRA_SECRETS`` (``env``, ``file``, or ``env,file``)."""
    from executor.settings import get_settings

    s = get_settings()
    kinds = s.secrets if kinds is None else kinds
    directory = s.secrets_dir if directory is None else directory
    chosen: list[SecretProvider] = []
    for kind in (k.strip().lower() for k in kinds.split(",")):
        if kind == "env":
            chosen.append(EnvSecretProvider())
        elif kind == "file":
            if not directory:
                raise SecretError("OSTRA_SECRETS includes 'file' but OSTRA_SECRETS_DIR is not set")
            chosen.append(FileSecretProvider(directory))
        elif kind:
            raise SecretError(f"unknown secret provider {kind!r} in OSTRA_SECRETS (env, file)")
    return ChainedProviders(chosen)


def resolver(provider: SecretProvider) -> Callable[[str], str]:
    """``provider.get`` that raises :class:`SecretNotFound` naming the secret and provider."""

    def resolve(name: str) -> str:
        value = provider.get(name)
        if value is None:
            raise SecretNotFound(name, provider.description)
        return value

    return resolve


@pebble_function("secret")
def secret(key: Any = None) -> str:
    """``secret('NAME')``: the secret's value (only while a worker renders a task)."""
    if not isinstance(key, str) or not key:
        raise SecretError("The 'secret' function expects an argument 'key' (the secret's name).")
    # Imported here: the templating module (which the pure engine reaches) imports this
    # one, and the runtime refers to the store.
    from executor.pebble.runtime import current

    rt = current()
    if rt.secret is None:
        raise SecretError(
            f"secret({key!r}) can only be rendered by a worker running a task "
            "(not at submit, nor in runIf, flowable or subflow properties)"
        )
    value = rt.secret(key)
    if rt.on_secret is not None:
        rt.on_secret(value)
    return value


# --------------------------------------------------------------------------- masking


#: Shortest string leaf of a JSON secret that is masked on its own.
MIN_LEAF = 4


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _string_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _string_leaves(v)


class Masker:
    """The secret values seen by one attempt, and the masking of what it stores."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._ordered: list[str] | None = None
        for v in values:
            self.add(v)

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (empty strings are ignored).

        A JSON object or array (``{"secretKey": "..."}``) has its string leaves of
        :data:`MIN_LEAF` characters or more masked too: templates read them apart
        (``(secret('x') | fromJson).secretKey``).
        """
        if not value or value in self._values:
            return
        self._values.add(value)
        self._ordered = None
        if value.lstrip()[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                return
            for leaf in _string_leaves(parsed):
                if len(leaf) >= MIN_LEAF:
                    self._values.add(leaf)

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        """``text`` with every known secret value replaced by :data:`MASK`."""
        if not self._values:
            return text
        if self._ordered is None:
            # Longest first, so a secret containing another is masked whole.
            self._ordered = sorted(self._values, key=len, reverse=True)
        for v in self._ordered:
            if v in text:
                text = text.replace(v, MASK)
        return text

    def mask_value(self, value: Any) -> Any:
        """``value`` with every string inside it (keys too) masked."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {self.mask_value(k): self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(v) for v in value]
        return value


# --------------------------------------------------------------------------- SECRET inputs


class SecretInputs(Mapping[str, Any]):
    """``inputs`` as a worker's render sees them: SECRET inputs decrypted on use and
    reported to ``on_secret`` (so that the attempt masks them)."""

    def __init__(
        self,
        inputs: Mapping[str, Any],
        secret_ids: frozenset[str],
        key: bytes | None,
        on_secret: Callable[[str], None],
    ) -> None:
        self._inputs, self._ids, self._key, self._on_secret = inputs, secret_ids, key, on_secret

    def _open(self, name: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self._open(name, v) for v in value]
        if not isinstance(value, str) or not value:
            return value
        if self._key is None:
            raise SecretError(
                f"cannot decrypt SECRET input {name!r}: OSTRA_ENCRYPTION_KEY is not set on "
                "this worker"
            )
        plain = decrypt(self._key, value)
        self._on_secret(plain)
        return plain

    def __getitem__(self, name: str) -> Any:
        value = self._inputs[name]
        return self._open(name, value) if name in self._ids else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._inputs)

    def __len__(self) -> int:
        return len(self._inputs)
