"""The namespace KV store: Kestra's key and value rules, shared by the store, the tasks,
the ``kv()`` function, the client, the API and the CLI.

Kestra keeps namespace-scoped key/value pairs (``core/storages/kv/``): a key matches
``[a-zA-Z0-9][a-zA-Z0-9._-]*``, a value has one of the types of :class:`KVType`, an entry
may expire (``ttl``), and a listing shows each live entry's creation, update and
expiration dates. Here a value is kept as JSON text with its type beside it
(:func:`encode`); dates and durations are written as ISO-8601 strings, the way Kestra's
API answers them, and read back as such (:func:`decode` gives JSON-ready values).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from executor import bounds, durations
from executor.errors import InputValidationError, Problem

__all__ = [
    "DEFAULT_TENANT",
    "KEY_PATTERN",
    "KVEntry",
    "KVRecord",
    "KVType",
    "KVValidationError",
    "TypedValue",
    "check_key",
    "check_namespace",
    "check_ttl",
    "coerce",
    "decode",
    "encode",
    "infer_type",
    "iso_duration",
    "parse_duration",
]

DEFAULT_TENANT = "main"
#: Kestra's ``KVStore.KEY_VALIDATOR_PATTERN``.
KEY_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
#: A namespace, as flows have them (``executor.flow.NAMESPACE_RE``).
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
TENANT_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
#: Kestra's ``InternalKVStore.DURATION_PATTERN``: a string read back in this form is a DURATION.
DURATION_PATTERN = re.compile(r"^P(?=[^T]|T.)(?:\d*D)?(?:T(?=.)(?:\d*H)?(?:\d*M)?(?:\d*S)?)?$")
KEY_MESSAGE = (
    "Key must start with an alphanumeric character (uppercase or lowercase) and can contain "
    "alphanumeric characters (uppercase or lowercase), dots (.), underscores (_), and "
    "hyphens (-) only."
)
MAX_KEY_LENGTH = 512
#: Largest encoded value (JSON text), in bytes.
MAX_VALUE_BYTES = 1 << 20


class KVType(StrEnum):
    """Kestra's ``KVType``: the type of a stored value."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"


class KVValidationError(InputValidationError):
    """A KV request with a bad key, namespace, TTL, type or value: nothing was stored."""

    what = "KV request"


@dataclass(frozen=True)
class KVRecord:
    """One stored entry, as the store contract returns it.

    ``value`` is the JSON text of the value (None in listings); dates are epoch seconds.
    """

    key: str
    type: KVType
    value: str | None
    created: float
    updated: float
    expires: float | None = None


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(round(ts, 3), UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class KVEntry(BaseModel):
    """One entry of a listing, as Kestra's API answers it (``KVEntry``)."""

    model_config = ConfigDict(populate_by_name=True)

    key: str
    creation_date: str = Field(alias="creationDate")
    update_date: str = Field(alias="updateDate")
    expiration_date: str | None = Field(default=None, alias="expirationDate")

    @classmethod
    def of(cls, record: KVRecord) -> KVEntry:
        """The entry of a stored record."""
        return cls(
            key=record.key,
            creationDate=_iso(record.created),
            updateDate=_iso(record.updated),
            expirationDate=_iso(record.expires) if record.expires is not None else None,
        )


class TypedValue(BaseModel):
    """A value and its type, as Kestra's ``GET .../kv/{key}`` answers it."""

    type: KVType
    value: Any

    @classmethod
    def of(cls, record: KVRecord) -> TypedValue:
        """The typed value of a stored record."""
        return cls(type=record.type, value=decode(record))


# ---------------------------------------------------------------------- checks


def _fail(path: str, message: str) -> KVValidationError:
    return KVValidationError([Problem(path, message)])


def check_key(key: Any) -> str:
    """``key`` if Kestra accepts it as a KV key, else a :class:`KVValidationError`."""
    if not isinstance(key, str) or not key:
        raise _fail("key", "Key cannot be null or empty")
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.match(key):
        raise _fail("key", f"{KEY_MESSAGE} Got {key[:80]!r}.")
    return key


def check_namespace(namespace: Any) -> str:
    """``namespace`` if it is a valid namespace, else a :class:`KVValidationError`."""
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.match(namespace):
        raise _fail(
            "namespace",
            "a namespace is lowercase letters, digits, '.', '_' and '-', starting with a "
            f"letter or digit; got {namespace!r}",
        )
    return namespace


def check_tenant(tenant: Any) -> str:
    """``tenant`` if it is a valid tenant id, else a :class:`KVValidationError`."""
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise _fail("tenant", f"invalid tenant {tenant!r}")
    return tenant


def parse_duration(value: str) -> timedelta:
    """An ISO-8601 duration (``PT5M``, ``P1DT5S``) as a timedelta, else ValueError
    (the one parser, :func:`executor.durations.parse_duration`, for text only)."""
    if not value.strip().upper().startswith(("P", "-P", "+P")):
        raise ValueError(f"expected an ISO-8601 duration like PT5M, got {value!r}")
    return durations.parse_duration(value)


def check_ttl(ttl: Any) -> float | None:
    """A TTL (a timedelta, seconds, or an ISO-8601 duration) in seconds, or None for none.

    Kestra refuses a negative TTL; a zero TTL would be an entry that never lives, so it is
    refused too.
    """
    if ttl is None:
        return None
    try:
        if isinstance(ttl, timedelta):
            seconds = ttl.total_seconds()
        elif isinstance(ttl, bool):
            raise ValueError(f"expected a duration, got {ttl!r}")
        elif isinstance(ttl, int | float):
            seconds = float(ttl)
        elif isinstance(ttl, str):
            seconds = parse_duration(ttl).total_seconds()
        else:
            raise ValueError(f"expected a duration like PT5M, got {type(ttl).__name__}")
    except ValueError as exc:
        raise _fail("ttl", str(exc)) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise _fail("ttl", f"ttl must be a positive duration, got {ttl!r}")
    return seconds


# ---------------------------------------------------------------------- values


def iso_duration(value: timedelta) -> str:
    """Java's ``Duration.toString`` form: ``PT5S``, ``PT24H5S``, ``PT1.5S``, ``PT0S``."""
    return durations.format_duration(value)


def _iso_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def infer_type(value: Any) -> KVType:
    """Kestra's ``KVType.from``: the type of a value given without one.

    A string in ISO-8601 duration form is a DURATION, as Kestra reads such a string back.
    """
    if value is None:
        return KVType.STRING
    if isinstance(value, bool):
        return KVType.BOOLEAN
    if isinstance(value, int | float | Decimal):
        return KVType.NUMBER
    if isinstance(value, str):
        return KVType.DURATION if DURATION_PATTERN.match(value) else KVType.STRING
    if isinstance(value, datetime):
        return KVType.DATETIME
    if isinstance(value, date):
        return KVType.DATE
    if isinstance(value, timedelta):
        return KVType.DURATION
    return KVType.JSON


def coerce(value: Any, kv_type: KVType | str | None) -> tuple[KVType, Any]:
    """The type and JSON-ready value to store for ``value`` given as ``kv_type``.

    As Kestra's ``Set`` task: a string value is parsed as the type given (NUMBER as a JSON
    number, BOOLEAN true only for ``true``, DATETIME/DATE/DURATION as ISO-8601, JSON as
    JSON text); without a type, the type is inferred (:func:`infer_type`).
    """
    if kv_type is not None:
        try:
            kv_type = KVType(str(kv_type).upper())
        except ValueError:
            names = ", ".join(t.value for t in KVType)
            raise _fail("kvType", f"unknown kvType {kv_type!r} (one of {names})") from None
    try:
        bounds.check_depth(value)
    except bounds.TooDeep as exc:
        raise _fail("value", f"the value is {exc}") from None
    typ = infer_type(value) if kv_type is None else kv_type
    try:
        return typ, _jsonable(value, typ)
    except (ValueError, TypeError) as exc:
        raise _fail("value", f"not a {typ.value} value: {exc}") from None


def _jsonable(value: Any, typ: KVType) -> Any:
    if typ == KVType.STRING:
        return value if isinstance(value, str) else json.dumps(value, default=str)
    if typ == KVType.NUMBER:
        if isinstance(value, str):
            value = bounds.loads(value)
        if isinstance(value, Decimal):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        return value
    if typ == KVType.BOOLEAN:
        if isinstance(value, str):
            return value.strip().lower() == "true"  # Java's Boolean.parseBoolean
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected a boolean, got {value!r}")
    if typ == KVType.DATETIME:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.strip().replace("z", "Z"))
        if not isinstance(value, datetime):
            raise ValueError(f"expected an ISO-8601 date-time, got {value!r}")
        return _iso_datetime(value)
    if typ == KVType.DATE:
        if isinstance(value, str):
            text = value.strip()
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        if isinstance(value, datetime):
            return _iso_datetime(value)
        if not isinstance(value, date):
            raise ValueError(f"expected an ISO-8601 date, got {value!r}")
        return value.isoformat()
    if typ == KVType.DURATION:
        if isinstance(value, str):
            value = parse_duration(value)
        if not isinstance(value, timedelta):
            raise ValueError(f"expected an ISO-8601 duration, got {value!r}")
        return iso_duration(value)
    # JSON
    if isinstance(value, str):
        return bounds.loads(value)
    json.dumps(value, allow_nan=False)  # raises TypeError/ValueError for what JSON cannot hold
    return value


def encode(value: Any) -> str:
    """The JSON text stored for a JSON-ready value (from :func:`coerce`)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise _fail("value", f"the value is over {MAX_VALUE_BYTES} bytes")
    return text


def decode(record: KVRecord) -> Any:
    """The JSON-ready value of a record (dates and durations as ISO-8601 strings)."""
    return None if record.value is None else json.loads(record.value)
