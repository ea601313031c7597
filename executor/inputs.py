"""Typed flow inputs, Kestra style.

A flow declares its inputs (``InputDef``); an execution gives values for them,
often as strings from the command line (``ostra run flow k=v``). :func:`resolve_inputs`
coerces each value to its declared type, fills in defaults, and reports every
problem at once in an :class:`~executor.errors.InputValidationError`.

Resolved values are JSON-serializable: dates, times and datetimes become ISO-8601
strings (UTC datetimes end in ``Z``), durations become ISO-8601 durations (``PT5M``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import regex
from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from executor import bounds
from executor.durations import DurationError, format_duration, parse_duration
from executor.errors import InputValidationError, Problem
from executor.models import OstraModel

__all__ = [
    "InputDef",
    "InputType",
    "coerce_value",
    "input_def_problems",
    "is_secret",
    "masked_inputs",
    "resolve_inputs",
]


class InputType(StrEnum):
    """The type of a flow input; YAML spells it in upper case (``type: INT``)."""

    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    TIME = "TIME"
    DURATION = "DURATION"
    JSON = "JSON"
    ARRAY = "ARRAY"
    SELECT = "SELECT"
    MULTISELECT = "MULTISELECT"
    URI = "URI"
    EMAIL = "EMAIL"
    SECRET = "SECRET"

    @classmethod
    def _missing_(cls, value: object) -> InputType | None:
        # Accept ``type: int`` as well as ``type: INT``.
        if isinstance(value, str):
            return cls.__members__.get(value.strip().upper())
        return None


_CHOICE_TYPES = frozenset({InputType.SELECT, InputType.MULTISELECT})
_NUMBER_TYPES = frozenset({InputType.INT, InputType.FLOAT})
_PATTERN_TYPES = frozenset({InputType.STRING, InputType.SECRET})
_ITEM_TYPES_FORBIDDEN = frozenset({InputType.ARRAY, InputType.SELECT, InputType.MULTISELECT})


def _err(message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error with a clean message; ``field`` locates model-level errors."""
    ctx: dict[str, Any] = {"message": message}
    if field is not None:
        ctx["field"] = field
    return PydanticCustomError("input_definition", "{message}", ctx)


def _as_utc_aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


class InputDef(OstraModel):
    """One input declared by a flow."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")
    type: InputType
    description: str | None = None
    display_name: str | None = None
    required: bool = True
    defaults: Any = None
    values: list[str] | None = Field(default=None, validate_default=True)
    item_type: InputType | None = None
    validator: str | None = None
    min: int | float | None = None
    max: int | float | None = None
    after: datetime | None = None
    before: datetime | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [
                str(x) if isinstance(x, int | float) and not isinstance(x, bool) else x for x in v
            ]
        return v

    @field_validator("values")
    @classmethod
    def _values_for_choices(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        t = info.data.get("type")
        if t in _CHOICE_TYPES:
            if not v:
                raise _err(f"values is required for {t.value} inputs (the allowed choices)")
            dupes = sorted({x for x in v if v.count(x) > 1})
            if dupes:
                raise _err(f"duplicate values: {', '.join(repr(x) for x in dupes)}")
        elif v is not None and t is not None:
            raise _err("values only applies to SELECT and MULTISELECT inputs")
        return v

    @field_validator("item_type")
    @classmethod
    def _item_type_for_arrays(cls, v: InputType | None, info: ValidationInfo) -> InputType | None:
        t = info.data.get("type")
        if v is not None and t is not None and t != InputType.ARRAY:
            raise _err("itemType only applies to ARRAY inputs")
        if v in _ITEM_TYPES_FORBIDDEN:
            raise _err(f"itemType {v.value} is not supported for array items")  # type: ignore[union-attr]
        return v

    @field_validator("validator")
    @classmethod
    def _validator_compiles(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        t = info.data.get("type")
        if t is not None and t not in _PATTERN_TYPES:
            raise _err("validator only applies to STRING and SECRET inputs")
        try:
            re.compile(v)
        except re.error as e:
            raise _err(f"invalid regular expression {v!r}: {e}") from None
        return v

    @field_validator("min", "max")
    @classmethod
    def _bounds_for_numbers(cls, v: int | float | None, info: ValidationInfo) -> int | float | None:
        t = info.data.get("type")
        if v is not None and t is not None and t not in _NUMBER_TYPES:
            raise _err(f"{info.field_name} only applies to INT and FLOAT inputs")
        if isinstance(v, float) and not math.isfinite(v):
            raise _err(f"{info.field_name} must be a finite number")
        return v

    @field_validator("after", "before")
    @classmethod
    def _bounds_for_datetimes(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        t = info.data.get("type")
        if v is not None and t is not None and t != InputType.DATETIME:
            raise _err(f"{info.field_name} only applies to DATETIME inputs")
        return _as_utc_aware(v) if v is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> InputDef:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _err(f"min ({self.min}) is greater than max ({self.max})", "min")
        if self.after is not None and self.before is not None and self.after > self.before:
            raise _err("after is later than before", "after")
        if self.defaults is not None:
            try:
                coerce_value(self, self.defaults)
            except ValueError as e:
                raise _err(f"default value is invalid: {e}", "defaults") from None
        return self


# --------------------------------------------------------------------------- coercion


class _Invalid(ValueError):
    """A value does not fit its input type (message says what was expected and given)."""


def _shown(value: Any, secret: bool) -> str:
    """How a given value appears in messages; a secret is never shown."""
    if secret:
        return "a hidden value" if isinstance(value, str) else f"a hidden {type(value).__name__}"
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})
_INT_RE = re.compile(r"^[+-]?\d+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_URI_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def _to_string(value: Any, secret: bool) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Invalid(f"expected a string, got {_shown(value, secret)}")


def _to_int(value: Any, secret: bool) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    raise _Invalid(f"expected an integer, got {_shown(value, secret)}")


def _to_float(value: Any, secret: bool) -> float:
    result: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            result = None
    if result is None or not math.isfinite(result):
        raise _Invalid(f"expected a number, got {_shown(value, secret)}")
    return result


def _to_bool(value: Any, secret: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    raise _Invalid(f"expected a boolean (true/false, yes/no, 1/0), got {_shown(value, secret)}")


def _iso_datetime(dt: datetime) -> str:
    s = dt.isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def _to_datetime(value: Any, secret: bool) -> datetime:
    if isinstance(value, datetime):
        return _as_utc_aware(value)
    if isinstance(value, str):
        try:
            return _as_utc_aware(datetime.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise _Invalid(
        f"expected an ISO-8601 date-time like 2024-01-31T12:00:00Z, got {_shown(value, secret)}"
    )


def _to_date(value: Any, secret: bool) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise _Invalid(f"expected an ISO-8601 date like 2024-01-31, got {_shown(value, secret)}")


def _to_time(value: Any, secret: bool) -> str:
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise _Invalid(f"expected an ISO-8601 time like 13:45:00, got {_shown(value, secret)}")


def _to_duration(value: Any, secret: bool) -> str:
    # Text read as every duration of a flow is (executor/durations.py), printed as Java does.
    if isinstance(value, str | timedelta):
        try:
            return format_duration(parse_duration(value))
        except DurationError:
            pass
    raise _Invalid(
        f"expected an ISO-8601 duration like PT5M, PT1H30M or P1D, got {_shown(value, secret)}"
    )


def _to_json(value: Any, secret: bool) -> Any:
    if isinstance(value, str):
        try:
            return bounds.loads(value)
        except bounds.TooDeep as e:
            raise _Invalid(f"the JSON is {e}") from None
        except ValueError as e:
            detail = "" if secret else f": {e}"
            raise _Invalid(
                f"expected JSON, got invalid JSON {_shown(value, secret)}{detail}"
            ) from None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise _Invalid(f"expected a JSON value, got {_shown(value, secret)}") from None
    return value


def _to_list(value: Any, secret: bool, what: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = bounds.loads(value)
        except bounds.TooDeep as e:
            raise _Invalid(f"the JSON array is {e}") from None
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    raise _Invalid(f"expected {what}, got {_shown(value, secret)}")


def _choices(values: list[str] | None) -> str:
    return ", ".join(repr(v) for v in values or [])


def _to_uri(value: Any, secret: bool) -> str:
    if isinstance(value, str) and _URI_RE.match(value.strip()):
        return value.strip()
    raise _Invalid(
        f"expected a URI with a scheme, like https://host/path, got {_shown(value, secret)}"
    )


def _to_email(value: Any, secret: bool) -> str:
    if isinstance(value, str) and _EMAIL_RE.match(value.strip()):
        return value.strip()
    raise _Invalid(f"expected an email address, got {_shown(value, secret)}")


def _fullmatch(pattern: str, s: str) -> Any:
    """``pattern`` (the flow author's) matched against all of ``s``, bounded in time: by
    the render budget in progress (a Subflow's inputs, resolved where its task run
    starts, the reconciler included), else by ``OSTRA_RENDER_TIMEOUT``."""
    from executor.pebble.budget import remaining
    from executor.settings import get_settings

    left = remaining()
    try:
        return regex.fullmatch(
            pattern, s, timeout=get_settings().render_timeout if left is None else left
        )
    except TimeoutError:
        raise _Invalid(f"the pattern {pattern!r} took too long to match") from None


def _coerce(defn: InputDef, t: InputType, value: Any, secret: bool) -> Any:
    """Coerce ``value`` to type ``t`` with the constraints of ``defn``."""
    if t in _PATTERN_TYPES:
        s = _to_string(value, secret)
        if defn.validator is not None and _fullmatch(defn.validator, s) is None:
            given = "the value" if secret else repr(s)
            raise _Invalid(f"{given} does not match the pattern {defn.validator!r}")
        return s
    if t in _NUMBER_TYPES:
        n: int | float = _to_int(value, secret) if t == InputType.INT else _to_float(value, secret)
        if defn.min is not None and n < defn.min:
            raise _Invalid(f"must be at least {defn.min}, got {_shown(n, secret)}")
        if defn.max is not None and n > defn.max:
            raise _Invalid(f"must be at most {defn.max}, got {_shown(n, secret)}")
        return n
    if t == InputType.DATETIME:
        dt = _to_datetime(value, secret)
        if defn.after is not None and dt < defn.after:
            raise _Invalid(f"must be after {_iso_datetime(defn.after)}, got {_iso_datetime(dt)}")
        if defn.before is not None and dt > defn.before:
            raise _Invalid(f"must be before {_iso_datetime(defn.before)}, got {_iso_datetime(dt)}")
        return _iso_datetime(dt)
    if t == InputType.ARRAY:
        items = _to_list(value, secret, "a list (or a JSON array)")
        item_type = defn.item_type or InputType.STRING
        hide = secret or item_type == InputType.SECRET
        out = []
        for i, item in enumerate(items):
            try:
                out.append(_coerce(defn, item_type, item, hide))
            except _Invalid as e:
                raise _Invalid(f"item {i}: {e}") from None
        return out
    if t == InputType.SELECT:
        choice = _to_string(value, secret)
        if choice not in (defn.values or []):
            raise _Invalid(f"expected one of {_choices(defn.values)}, got {_shown(value, secret)}")
        return choice
    if t == InputType.MULTISELECT:
        if isinstance(value, str) and not value.strip().startswith("["):
            picked: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            picked = _to_list(value, secret, "a list of choices")
        bad = [v for v in picked if not isinstance(v, str) or v not in (defn.values or [])]
        if bad:
            raise _Invalid(
                f"expected choices among {_choices(defn.values)}, "
                f"got {', '.join(_shown(v, secret) for v in bad)}"
            )
        return picked
    simple: dict[InputType, Callable[[Any, bool], Any]] = {
        InputType.BOOLEAN: _to_bool,
        InputType.DATE: _to_date,
        InputType.TIME: _to_time,
        InputType.DURATION: _to_duration,
        InputType.JSON: _to_json,
        InputType.URI: _to_uri,
        InputType.EMAIL: _to_email,
    }
    return simple[t](value, secret)


def coerce_value(defn: InputDef, value: Any) -> Any:
    """Coerce one given ``value`` to ``defn``'s type and check its constraints.

    Returns a JSON-serializable value; raises ``ValueError`` with a message naming
    what was expected and what was given (a SECRET input's value is never shown). A
    value nested deeper than ``executor.bounds.MAX_JSON_DEPTH`` levels is refused.
    """
    try:
        bounds.check_depth(value)
    except bounds.TooDeep as e:
        raise _Invalid(f"the value is {e}") from None
    return _coerce(defn, defn.type, value, defn.type == InputType.SECRET)


# --------------------------------------------------------------------------- public API


def _loc_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_PYDANTIC_MESSAGES = {
    "extra_forbidden": "unknown property",
    "missing": "is required",
}


def input_def_problems(raw: Any, path: str) -> list[Problem]:
    """Validate raw input definitions (the ``inputs`` list of a flow's YAML).

    Returns every problem found, located like ``inputs[2].values`` (``path`` is the
    prefix, usually ``"inputs"``); an empty list means the definitions are valid.
    Duplicate input ids are reported too.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        return [Problem(path, f"must be a list of input definitions, got {type(raw).__name__}")]
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        here = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            problems.append(
                Problem(here, f"must be a mapping with id and type, got {type(item).__name__}")
            )
            continue
        item_id = item.get("id")
        if isinstance(item_id, str):
            if item_id in seen:
                problems.append(
                    Problem(
                        f"{here}.id",
                        f"duplicate input id {item_id!r}"
                        f" (already declared at {path}[{seen[item_id]}])",
                    )
                )
            else:
                seen[item_id] = i
        try:
            InputDef.model_validate(dict(item))
        except ValidationError as e:
            for err in e.errors(include_url=False):
                loc = tuple(err["loc"])
                field = (err.get("ctx") or {}).get("field")
                if field is not None:
                    loc = (*loc, str(field))
                message = _PYDANTIC_MESSAGES.get(err["type"], err["msg"])
                problems.append(Problem(_loc_path(here, loc), message))
    return problems


def is_secret(defn: InputDef) -> bool:
    """True for a SECRET input or an ARRAY of SECRET items (encrypted at rest)."""
    return defn.type == InputType.SECRET or defn.item_type == InputType.SECRET


def masked_inputs(defs: list[InputDef], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as shown to a user: every given SECRET input replaced by ``******``."""
    from executor.encryption import MASK

    secret_ids = {d.id for d in defs if is_secret(d)}
    return {k: (MASK if k in secret_ids and v is not None else v) for k, v in values.items()}


def _seal(defn: InputDef, value: Any, key: bytes) -> Any:
    """A coerced SECRET value (or list of them) encrypted; ciphertexts stay as they are."""
    from executor.encryption import encrypt, is_sealed

    if isinstance(value, list):
        return [_seal(defn, v, key) for v in value]
    if not isinstance(value, str) or not value or is_sealed(key, value):
        return value
    return encrypt(key, value)


def _sealing_key(defs: list[InputDef], problems: list[Problem]) -> bytes | None:
    from executor.encryption import encryption_key
    from executor.errors import SecretError

    try:
        key = encryption_key()
    except SecretError as e:
        message = str(e)
    else:
        if key is not None:
            return key
        message = (
            "SECRET inputs are encrypted at rest and no key is configured: set "
            "OSTRA_ENCRYPTION_KEY (a Base64 AES key of 16, 24 or 32 bytes)"
        )
    for d in defs:
        problems.append(Problem(f"inputs.{d.id}", message))
    return None


def resolve_inputs(
    defs: list[InputDef], given: Mapping[str, Any] | None, *, seal: bool = True
) -> dict[str, Any]:
    """The inputs of a new execution: ``given`` values coerced, defaults filled in.

    Every declared input is in the result: its coerced given value, else its
    coerced default, else None when it is not required. A given ``None`` counts as
    not given. Raises :class:`InputValidationError` listing every problem (paths
    ``inputs.<id>``): invalid values, required inputs missing, undeclared inputs.

    With ``seal`` (the default: what is returned is stored), SECRET values are
    encrypted with ``OSTRA_ENCRYPTION_KEY`` (see :mod:`executor.secrets`); without a
    key, an execution given a SECRET value is refused. ``seal=False`` only checks.
    """
    given = given or {}
    result: dict[str, Any] = {}
    problems: list[Problem] = []
    for d in defs:
        value = given.get(d.id)
        try:
            if value is not None:
                result[d.id] = coerce_value(d, value)
            elif d.defaults is not None:
                result[d.id] = coerce_value(d, d.defaults)
            elif d.required:
                problems.append(
                    Problem(f"inputs.{d.id}", f"required input missing ({d.type.value})")
                )
            else:
                result[d.id] = None
        except ValueError as e:
            label = f"invalid {d.type.value} value" if value is not None else "invalid default"
            problems.append(Problem(f"inputs.{d.id}", f"{label}: {e}"))
    declared = {d.id for d in defs}
    for key in given:
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            problems.append(Problem(f"inputs.{key}", f"unknown input (declared inputs: {known})"))
    secrets = [d for d in defs if is_secret(d) and result.get(d.id) not in (None, "", [])]
    if seal and secrets:
        aes = _sealing_key(secrets, problems)
        if aes is not None and not problems:
            for d in secrets:
                result[d.id] = _seal(d, result[d.id], aes)
    if problems:
        raise InputValidationError(problems)
    return result
