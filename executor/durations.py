"""Durations as Kestra reads them: Java's ``Duration.parse`` (ISO-8601 ``PnDTnHnMn.nS``).

The one parser every duration goes through: task ``timeout``, retry intervals, ``Sleep``,
``Pause``'s ``pauseDuration``, DURATION inputs. Java's grammar: letters in either case, an
optional sign before ``P`` and before each number, days, hours, minutes and seconds
with up to nine fraction digits (``.`` or ``,``), at least one part, and a ``T`` only
when a time part follows. ``PT1H30M``, ``pt5s``, ``P2DT3H4M``, ``PT-6H3M``, ``-PT6H3M``
and ``PT0.5S`` parse; ``P1Y``, ``PT``, ``1h`` do not. A number, or a number written
as text (``"1.5"``), is seconds, as Kestra's ``DurationDeserializer`` reads it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "DurationError", "format_duration", "parse_duration"]

# java.time.Duration.PATTERN, with named groups.
_PATTERN = re.compile(
    r"(?P<sign>[-+]?)P(?:(?P<d>[-+]?[0-9]+)D)?"
    r"(?P<t>T(?:(?P<h>[-+]?[0-9]+)H)?(?:(?P<m>[-+]?[0-9]+)M)?"
    r"(?:(?P<s>[-+]?[0-9]+)(?:[.,](?P<f>[0-9]{0,9}))?S)?)?",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class DurationError(ValueError):
    """A value that is not a duration Kestra would accept."""


def parse_duration(value: Any) -> timedelta:
    """``value`` as a ``timedelta``: an ISO-8601 text as Java's ``Duration.parse`` reads
    it, a number of seconds, or a ``timedelta`` as is. Raises ``DurationError``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise DurationError(f"expected an ISO-8601 duration like PT5M, got {value!r}")
    if isinstance(value, int | float | Decimal):
        return timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise DurationError(
            f"expected an ISO-8601 duration like PT5M, got a {type(value).__name__}"
        )
    text = value.strip()
    if _NUMBER.fullmatch(text):
        # Kestra's DurationDeserializer reads a number written as text as seconds
        return timedelta(seconds=float(text))
    m = _PATTERN.fullmatch(text)
    parts = ("d", "h", "m", "s")
    # Java refuses "P", "PT" and "P1DT": a T needs a time part, the whole needs one part.
    if (
        m is None
        or not any(m[p] is not None for p in parts)
        or (m["t"] is not None and m["t"].upper() == "T")
    ):
        raise DurationError(
            f"invalid duration {value!r}: expected ISO-8601 like PT30S, PT1H30M, P2DT3H, PT0.5S"
        )
    seconds = (
        Decimal(m["d"] or 0) * 86400
        + Decimal(m["h"] or 0) * 3600
        + Decimal(m["m"] or 0) * 60
        + Decimal(m["s"] or 0)
    )
    if m["f"]:
        fraction = Decimal(f"0.{m['f']}")
        seconds += -fraction if (m["s"] or "").startswith("-") else fraction
    if m["sign"] == "-":
        seconds = -seconds
    try:
        return timedelta(seconds=float(seconds))
    except OverflowError:
        raise DurationError(f"duration {value!r} is too large") from None


def format_duration(value: timedelta | Decimal) -> str:
    """Java's ``Duration.toString``: ``PT1H30M``, ``PT0.5S``, ``PT-6H-3M``, ``PT0S``
    (of a timedelta, or of an exact number of seconds, nanoseconds included)."""
    if isinstance(value, timedelta):
        total = (
            Decimal(value.days) * 86400
            + Decimal(value.seconds)
            + Decimal(value.microseconds) / (Decimal(10) ** 6)
        )
    else:
        total = value
    if total == 0:
        return "PT0S"
    sign = -1 if total < 0 else 1
    whole = int(abs(total)) * sign
    frac = abs(total) - abs(whole)
    hours = int(abs(whole) // 3600) * sign
    minutes = int(abs(whole) % 3600 // 60) * sign
    secs = int(abs(whole) % 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or frac:
        s = format(Decimal(secs) + frac, "f")
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        out += f"{'-' if sign < 0 else ''}{s}S"
    return out


def _validate(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


#: A pydantic field type: parsed with ``parse_duration``, shown as Java prints it.
Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
