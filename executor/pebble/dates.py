"""Kestra's date filters and ``now()``: Java ``DateTimeFormatter`` patterns in Python.

Kestra formats dates with ``java.time`` (``AbstractDate.java``): a pattern such as
``yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX`` or one of its named formats (``iso``, ``sql``,
``iso_date_time``...), in a time zone (``timeZone``, the system's by default, which is
UTC for Ostra). Inputs may be datetimes, dates, epoch seconds (ints) or strings in ISO
form (or in ``existingFormat``).

Nanoseconds are kept next to the datetime (Python stops at microseconds), so that
``timestampNano`` of ``"...12.123456789Z"`` is exact.

Not supported: localized week fields (``w``, ``W``, ``Y`` follow ISO weeks), ``locale``
other than English, and full time-zone names (``zzzz`` prints the zone's id).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2.runtime import Undefined

from executor.errors import TemplateError
from executor.pebble.registry import pebble_filter, pebble_function

__all__ = ["Moment", "format_moment", "parse_moment", "to_moment"]

#: The zone of dates given without one and of ``timeZone``-less formatting.
DEFAULT_ZONE: tzinfo = UTC

_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_MONTHS_SHORT = [calendar.month_abbr[i] for i in range(1, 13)]
_DAYS = [calendar.day_name[i] for i in range(7)]
_DAYS_SHORT = [calendar.day_abbr[i] for i in range(7)]
#: Java 20+ (CLDR 42) puts a narrow no-break space before AM/PM in localized styles.
_NNBSP = "\u202f"


@dataclass(frozen=True)
class Moment:
    """An aware datetime and its nanosecond of second (``dt.microsecond`` agrees with it)."""

    dt: datetime
    nano: int

    @classmethod
    def of(cls, dt: datetime) -> Moment:
        return cls(dt, dt.microsecond * 1000)

    def at_zone(self, zone: tzinfo) -> Moment:
        return Moment(self.dt.astimezone(zone), self.nano)

    def epoch_second(self) -> int:
        delta = self.dt.replace(microsecond=0) - datetime(1970, 1, 1, tzinfo=UTC)
        return delta.days * 86400 + delta.seconds


# --------------------------------------------------------------------------- zones


def zone_of(name: Any, what: str) -> tzinfo:
    """The zone named ``name`` (an IANA id, ``UTC``/``Z`` or an offset like ``+02:00``)."""
    if name is None or isinstance(name, Undefined):
        return DEFAULT_ZONE
    if not isinstance(name, str):
        raise TemplateError(f"{what}: timeZone must be a string, got {type(name).__name__}")
    if name == "Z":
        return UTC
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?", name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        delta = timedelta(
            hours=int(m.group(2)), minutes=int(m.group(3) or 0), seconds=int(m.group(4) or 0)
        )
        return _fixed(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateError(f"{what}: unknown time zone {name!r}") from None


def _fixed(offset: timedelta) -> tzinfo:
    from datetime import timezone

    return UTC if not offset else timezone(offset)


# --------------------------------------------------------------------------- patterns

_LETTERS = set("GuyDMLdQqYwWEecFaBhKkHmsSAnNVvzOXxZ")
_Token = tuple[str, str | int]  # ("lit", text) or (letter, count)


def _tokens(pattern: str, what: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            j = i + 1
            text = []
            while j < n:
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            else:
                raise TemplateError(f"{what}: pattern {pattern!r} has an unclosed quote")
            out.append(("lit", "".join(text) if text or j > i + 1 else "'"))
            i = j + 1
        elif c.isascii() and c.isalpha():
            if c not in _LETTERS:
                raise TemplateError(f"{what}: unknown pattern letter {c!r} in {pattern!r}")
            j = i
            while j < n and pattern[j] == c:
                j += 1
            out.append((c, j - i))
            i = j
        elif c in "#{}":
            raise TemplateError(f"{what}: pattern letter {c!r} is reserved, in {pattern!r}")
        elif c in "[]":
            i += 1  # optional sections: every field of a date-time is present when printing
        else:
            out.append(("lit", c))
            i += 1
    return out


def _offset_parts(m: Moment) -> tuple[str, int, int, int]:
    off = m.dt.utcoffset() or timedelta(0)
    secs = int(off.total_seconds())
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    return sign, secs // 3600, secs // 60 % 60, secs % 60


def _offset(m: Moment, count: int, zero: str | None) -> str:
    sign, h, mi, s = _offset_parts(m)
    if zero is not None and h == mi == s == 0:
        return zero
    if count == 1:
        return f"{sign}{h:02d}" + (f"{mi:02d}" if mi else "")
    if count == 2:
        return f"{sign}{h:02d}{mi:02d}"
    if count == 3:
        return f"{sign}{h:02d}:{mi:02d}"
    if count == 4:
        return f"{sign}{h:02d}{mi:02d}" + (f"{s:02d}" if s else "")
    return f"{sign}{h:02d}:{mi:02d}" + (f":{s:02d}" if s else "")


def _gmt(m: Moment, full: bool) -> str:
    sign, h, mi, _ = _offset_parts(m)
    if h == mi == 0:
        return "GMT"
    if full:
        return f"GMT{sign}{h:02d}:{mi:02d}"
    return f"GMT{sign}{h}" + (f":{mi:02d}" if mi else "")


def _zone_id(m: Moment) -> str:
    tz = m.dt.tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    return _offset(m, 5, "Z")


def _num(v: int, count: int) -> str:
    return f"{v:0{count}d}" if v >= 0 else "-" + f"{-v:0{count}d}"


def _field(m: Moment, letter: str, count: int, what: str) -> str:
    d = m.dt
    if letter in "yu":
        return f"{d.year % 100:02d}" if count == 2 else _num(d.year, count)
    if letter == "Y":
        y = d.isocalendar().year
        return f"{y % 100:02d}" if count == 2 else _num(y, count)
    if letter in "ML":
        if count >= 5:
            return _MONTHS[d.month - 1][0]
        if count == 4:
            return _MONTHS[d.month - 1]
        if count == 3:
            return _MONTHS_SHORT[d.month - 1]
        return _num(d.month, count)
    if letter == "d":
        return _num(d.day, count)
    if letter == "D":
        return _num(d.timetuple().tm_yday, count)
    if letter in "Qq":
        q = (d.month - 1) // 3 + 1
        if count == 3:
            return f"Q{q}"
        if count == 4:
            return f"{['1st', '2nd', '3rd', '4th'][q - 1]} quarter"
        return _num(q, count)
    if letter == "w":
        return _num(d.isocalendar().week, count)
    if letter == "W":
        return _num((d.day - 1 + date(d.year, d.month, 1).weekday()) // 7 + 1, count)
    if letter in "Eec":
        if letter != "E" and count <= 2:
            return _num(d.isoweekday(), count)
        if count >= 5:
            return _DAYS[d.weekday()][0]
        if count == 4:
            return _DAYS[d.weekday()]
        return _DAYS_SHORT[d.weekday()]
    if letter == "F":
        return _num((d.day - 1) // 7 + 1, count)
    if letter == "a":
        return "AM" if d.hour < 12 else "PM"
    if letter == "G":
        return "Anno Domini" if count == 4 else ("A" if count == 5 else "AD")
    if letter == "h":
        return _num(d.hour % 12 or 12, count)
    if letter == "K":
        return _num(d.hour % 12, count)
    if letter == "k":
        return _num(d.hour or 24, count)
    if letter == "H":
        return _num(d.hour, count)
    if letter == "m":
        return _num(d.minute, count)
    if letter == "s":
        return _num(d.second, count)
    if letter == "S":
        return f"{m.nano:09d}"[:count] if count <= 9 else f"{m.nano:09d}" + "0" * (count - 9)
    if letter == "n":
        return _num(m.nano, count)
    if letter == "A":
        ms = ((d.hour * 60 + d.minute) * 60 + d.second) * 1000 + m.nano // 1_000_000
        return _num(ms, count)
    if letter == "N":
        ns = ((d.hour * 60 + d.minute) * 60 + d.second) * 1_000_000_000 + m.nano
        return _num(ns, count)
    if letter in "Vv":
        return _zone_id(m)
    if letter == "z":
        return _zone_id(m) if count == 4 else (d.tzname() or _zone_id(m))
    if letter == "O":
        return _gmt(m, count == 4)
    if letter == "X":
        return _offset(m, count, "Z")
    if letter == "x":
        return _offset(m, count, None)
    if letter == "Z":
        if count <= 3:
            return _offset(m, 2, None)
        if count == 4:
            return _gmt(m, True)
        return _offset(m, 5, "Z")
    raise TemplateError(f"{what}: pattern letter {letter!r} is not supported")  # pragma: no cover


def _format_pattern(m: Moment, pattern: str, what: str) -> str:
    parts = []
    for kind, val in _tokens(pattern, what):
        if kind == "lit":
            parts.append(str(val))
        else:
            parts.append(_field(m, kind, int(val), what))
    return "".join(parts)


def _fraction(nano: int) -> str:
    """``.123``, ``.123456`` or ``.123456789``: as ``ISO_LOCAL_TIME`` prints nanos, none if 0."""
    if not nano:
        return ""
    return "." + f"{nano:09d}".rstrip("0")


def _iso_local_time(m: Moment) -> str:
    d = m.dt
    return f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}{_fraction(m.nano)}"


def _iso_local_date(m: Moment) -> str:
    return f"{m.dt.year:04d}-{m.dt.month:02d}-{m.dt.day:02d}"


def _iso_offset(m: Moment) -> str:
    return _offset(m, 5, "Z")


def _region(m: Moment) -> str:
    tz = m.dt.tzinfo
    return f"[{tz.key}]" if isinstance(tz, ZoneInfo) else ""


def _instant(m: Moment) -> str:
    u = m.at_zone(UTC)
    n = u.nano
    frac = ""
    if n:
        frac = "." + (
            f"{n // 1_000_000:03d}"
            if n % 1_000_000 == 0
            else f"{n // 1000:06d}"
            if n % 1000 == 0
            else f"{n:09d}"
        )
    return f"{_iso_local_date(u)}T{u.dt.hour:02d}:{u.dt.minute:02d}:{u.dt.second:02d}{frac}Z"


def _rfc1123(m: Moment) -> str:
    d = m.dt
    off = "GMT" if not (d.utcoffset() or timedelta(0)) else _offset(m, 2, None)
    return (
        f"{_DAYS_SHORT[d.weekday()]}, {d.day} {_MONTHS_SHORT[d.month - 1]} {d.year} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {off}"
    )


def _ld(m: Moment) -> str:
    return f"{_iso_local_date(m)}T{_iso_local_time(m)}"


_PATTERNS = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
}
_BUILTINS = {
    "iso_date_time": lambda m: _ld(m) + _iso_offset(m) + _region(m),
    "iso_date": lambda m: _iso_local_date(m) + _iso_offset(m),
    "iso_time": lambda m: _iso_local_time(m) + _iso_offset(m),
    "iso_local_date": _iso_local_date,
    "iso_instant": _instant,
    "iso_local_date_time": _ld,
    "iso_local_time": _iso_local_time,
    "iso_offset_time": lambda m: _iso_local_time(m) + _iso_offset(m),
    "iso_ordinal_date": lambda m: (
        f"{m.dt.year:04d}-{m.dt.timetuple().tm_yday:03d}" + _iso_offset(m)
    ),
    "iso_week_date": lambda m: (
        f"{m.dt.isocalendar().year:04d}-W{m.dt.isocalendar().week:02d}-{m.dt.isoweekday()}"
        + _iso_offset(m)
    ),
    "iso_zoned_date_time": lambda m: _ld(m) + _iso_offset(m) + _region(m),
    "rfc_1123_date_time": _rfc1123,
}
# FormatStyle of ``DateTimeFormatter.ofLocalizedDateTime`` in Locale.US (Java 21, CLDR).
_STYLES = {
    "short": "M/d/yy, h:mm" + _NNBSP + "a",
    "medium": "MMM d, y, h:mm:ss" + _NNBSP + "a",
    "long": "MMMM d, y 'at' h:mm:ss" + _NNBSP + "a z",
    "full": "EEEE, MMMM d, y 'at' h:mm:ss" + _NNBSP + "a zzzz",
}

#: Kestra's named formats (``AbstractDate.FORMATTERS`` and the four styles).
NAMED_FORMATS = frozenset(_PATTERNS) | frozenset(_BUILTINS) | frozenset(_STYLES)


def format_moment(m: Moment, fmt: str, what: str = "date") -> str:
    """``m`` printed with a Kestra named format or a ``DateTimeFormatter`` pattern."""
    if fmt in _BUILTINS:
        return str(_BUILTINS[fmt](m))
    return _format_pattern(m, _PATTERNS.get(fmt) or _STYLES.get(fmt) or fmt, what)


# --------------------------------------------------------------------------- parsing

_ISO = re.compile(
    r"(?P<y>[+-]?\d{4,9})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"(?P<off>Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?"
    r"(?:\[(?P<zone>[^\]]+)\])?)?"
)


@dataclass
class _Parsed:
    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int = 0
    second: int = 0
    nano: int = 0
    pm: bool | None = None
    zone: tzinfo | None = None


def _build(p: _Parsed, zone: tzinfo, text: str, what: str) -> Moment:
    if p.year is None or p.month is None or p.day is None:
        raise TemplateError(f"{what}: cannot read a date from {text!r}")
    hour = p.hour
    if hour is not None and p.pm is not None:
        hour = hour % 12 + (12 if p.pm else 0)
    try:
        dt = datetime(p.year, p.month, p.day, hour or 0, p.minute, p.second, p.nano // 1000)
    except ValueError as e:
        raise TemplateError(f"{what}: invalid date {text!r}: {e}") from None
    if p.zone is not None:
        return Moment(dt.replace(tzinfo=p.zone), p.nano)
    # A date-time without zone is in ``zone``; a date alone is its start of day there.
    return Moment(dt.replace(tzinfo=zone), p.nano)


def _parse_iso(text: str, zone: tzinfo, what: str) -> Moment:
    m = _ISO.fullmatch(text.strip())
    if not m:
        raise TemplateError(f"{what}: cannot read a date from {text!r} (expected ISO 8601)")
    f = m.group("f") or ""
    p = _Parsed(
        year=int(m.group("y")),
        month=int(m.group("mo")),
        day=int(m.group("d")),
        hour=int(m.group("h")) if m.group("h") else None,
        minute=int(m.group("mi") or 0),
        second=int(m.group("s") or 0),
        nano=int(f.ljust(9, "0")) if f else 0,
    )
    if m.group("zone"):
        p.zone = zone_of(m.group("zone"), what)
    elif m.group("off"):
        p.zone = zone_of(m.group("off"), what)
    moment = _build(p, zone, text, what)
    if m.group("zone") and m.group("off"):
        # "...+02:00[Europe/Paris]": the offset fixes the instant when the wall time is ambiguous
        fixed = moment.dt.replace(tzinfo=zone_of(m.group("off"), what))
        moment = Moment(fixed.astimezone(p.zone), p.nano)
    return moment


_RFC1123 = re.compile(
    r"(?:[A-Za-z]{3}, )?(?P<d>\d{1,2}) (?P<mo>[A-Za-z]{3}) (?P<y>\d{4}) "
    r"(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))? (?P<off>GMT|[+-]\d{4})"
)


def _parse_rfc1123(text: str, zone: tzinfo, what: str) -> Moment:
    m = _RFC1123.fullmatch(text.strip())
    if not m or m.group("mo").title() not in _MONTHS_SHORT:
        raise TemplateError(f"{what}: {text!r} is not an RFC 1123 date-time")
    off = m.group("off")
    return _build(
        _Parsed(
            year=int(m.group("y")),
            month=_MONTHS_SHORT.index(m.group("mo").title()) + 1,
            day=int(m.group("d")),
            hour=int(m.group("h")),
            minute=int(m.group("mi")),
            second=int(m.group("s") or 0),
            zone=UTC if off == "GMT" else zone_of(off, what),
        ),
        zone,
        text,
        what,
    )


def _names_regex(names: list[str]) -> str:
    return "(" + "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True)) + ")"


def _parse_pattern(text: str, pattern: str, zone: tzinfo, what: str) -> Moment:
    regex: list[str] = []
    setters: list[tuple[str, int]] = []
    for kind, val in _tokens(pattern, what):
        if kind == "lit":
            regex.append(re.escape(str(val)))
            continue
        count = int(val)
        if kind in "ML" and count >= 3:
            regex.append(_names_regex(_MONTHS if count == 4 else _MONTHS_SHORT))
        elif kind == "E":
            regex.append(_names_regex(_DAYS if count == 4 else _DAYS_SHORT))
        elif kind == "a":
            regex.append("(AM|PM|am|pm)")
        elif kind in "XxZ":
            regex.append(r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)")
        elif kind in "Vz":
            regex.append(r"([A-Za-z_]+(?:/[A-Za-z_+-]+)*|[+-]\d{2}:?\d{2})")
        elif kind == "S":
            regex.append(rf"(\d{{{count}}})")
        elif kind in "yuMLdDHhKkmsn":
            regex.append(rf"(\d{{{count},9}})" if count > 1 else r"(\d{1,9})")
            if kind in "yu" and count == 2:
                regex[-1] = r"(\d{2})"
        else:
            raise TemplateError(f"{what}: pattern letter {kind!r} cannot be read, in {pattern!r}")
        setters.append((kind, count))
    m = re.fullmatch("".join(regex), text.strip())
    if not m:
        raise TemplateError(f"{what}: {text!r} does not match the format {pattern!r}")
    p = _Parsed()
    for (kind, count), raw in zip(setters, m.groups(), strict=True):
        if kind in "yu":
            p.year = 2000 + int(raw) if count == 2 else int(raw)
        elif kind in "ML":
            if count >= 3:
                names = _MONTHS if count == 4 else _MONTHS_SHORT
                p.month = names.index(raw) + 1
            else:
                p.month = int(raw)
        elif kind == "d":
            p.day = int(raw)
        elif kind in "Hk":
            p.hour = int(raw) % 24
        elif kind in "hK":
            p.hour = int(raw)
            p.pm = bool(p.pm)
        elif kind == "m":
            p.minute = int(raw)
        elif kind == "s":
            p.second = int(raw)
        elif kind == "S":
            p.nano = int(raw.ljust(9, "0")[:9])
        elif kind == "n":
            p.nano = int(raw)
        elif kind == "a":
            p.pm = raw.upper() == "PM"
        elif kind in "XxZVz":
            p.zone = zone_of(raw, what)
    return _build(p, zone, text, what)


def parse_moment(text: str, zone: tzinfo, existing_format: str | None, what: str) -> Moment:
    """Read ``text`` as Kestra does: ISO (zoned, local date-time or date) or ``existing_format``."""
    if existing_format is None:
        return _parse_iso(text, zone, what)
    if existing_format == "rfc_1123_date_time":
        return _parse_rfc1123(text, zone, what)
    if existing_format in _BUILTINS:
        return _parse_iso(text, zone, what)
    pattern = _PATTERNS.get(existing_format) or _STYLES.get(existing_format) or existing_format
    return _parse_pattern(text, pattern, zone, what)


def to_moment(value: Any, zone: tzinfo, existing_format: Any, what: str) -> Moment:
    """A template value as a moment: datetime, date (noon), epoch seconds or a string."""
    if existing_format is not None and not isinstance(existing_format, str):
        raise TemplateError(f"{what}: existingFormat must be a string")
    if isinstance(value, datetime):
        return Moment.of(value if value.tzinfo else value.replace(tzinfo=zone))
    if isinstance(value, date):
        return Moment.of(datetime.combine(value, time(12), tzinfo=zone))
    if isinstance(value, bool):
        raise TemplateError(f"{what}: cannot read a date from a boolean")
    if isinstance(value, int):
        try:
            return Moment.of(datetime.fromtimestamp(value, tz=zone))
        except (OverflowError, OSError, ValueError):
            raise TemplateError(f"{what}: epoch second {value} is out of range") from None
    if isinstance(value, str):
        return parse_moment(value, zone, existing_format, what)
    raise TemplateError(
        f"{what}: expects a date, a datetime, epoch seconds or a string, got {type(value).__name__}"
    )


# --------------------------------------------------------------------------- filters


def _undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _check_locale(locale: Any, what: str) -> None:
    if locale is not None and not (isinstance(locale, str) and locale.lower().startswith("en")):
        raise TemplateError(f"{what}: locale {locale!r} is not supported (only English)")


def _print(m: Moment, fmt: Any, zone: tzinfo, locale: Any, what: str) -> str:
    if not isinstance(fmt, str):
        raise TemplateError(f"{what}: format must be a string, got {type(fmt).__name__}")
    _check_locale(locale, what)
    return format_moment(m.at_zone(zone), fmt, what)


def _format(value: Any, fmt: Any, tz: Any, existing: Any, locale: Any, what: str) -> str:
    zone = zone_of(tz, what)
    return _print(to_moment(value, zone, existing, what), fmt, zone, locale, what)


@pebble_filter("date")
def date_filter(
    value: Any,
    format: Any = "iso",
    timeZone: Any = None,
    existingFormat: Any = None,
    locale: Any = None,
) -> str | None:
    """``{{ d | date('yyyy-MM-dd', timeZone='Europe/Paris') }}``: the date printed."""
    _undefined(value)
    if value is None:
        return None
    return _format(value, format, timeZone, existingFormat, locale, "date")


_TIME_UNITS = {
    "NANOS": timedelta(microseconds=0.001),
    "MICROS": timedelta(microseconds=1),
    "MILLIS": timedelta(milliseconds=1),
    "SECONDS": timedelta(seconds=1),
    "MINUTES": timedelta(minutes=1),
    "HOURS": timedelta(hours=1),
    "HALF_DAYS": timedelta(hours=12),
}
_DAY_UNITS = {"DAYS": 1, "WEEKS": 7}
_MONTH_UNITS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def _plus(m: Moment, amount: int, unit: str) -> Moment:
    """``ZonedDateTime.plus``: time units move the instant, date units the wall clock."""
    if unit == "NANOS":
        total = m.nano + amount
        secs, nano = divmod(total, 1_000_000_000)
        dt = m.dt.astimezone(UTC) + timedelta(seconds=secs)
        dt = dt.replace(microsecond=nano // 1000)
        return Moment(dt.astimezone(m.dt.tzinfo), nano)
    if unit in _TIME_UNITS:
        dt = (m.dt.astimezone(UTC) + amount * _TIME_UNITS[unit]).astimezone(m.dt.tzinfo)
        return Moment(dt, dt.microsecond * 1000 + m.nano % 1000)
    if unit in _DAY_UNITS:
        return Moment(m.dt + timedelta(days=amount * _DAY_UNITS[unit]), m.nano)
    months = m.dt.month - 1 + amount * _MONTH_UNITS[unit]
    year, month = m.dt.year + months // 12, months % 12 + 1
    day = min(m.dt.day, calendar.monthrange(year, month)[1])
    return Moment(m.dt.replace(year=year, month=month, day=day), m.nano)


_UNITS = frozenset(_TIME_UNITS) | frozenset(_DAY_UNITS) | frozenset(_MONTH_UNITS)


@pebble_filter("dateAdd")
def date_add(
    value: Any,
    amount: Any = None,
    unit: Any = None,
    format: Any = "iso",
    timeZone: Any = None,
    existingFormat: Any = None,
    locale: Any = None,
) -> str | None:
    """``{{ d | dateAdd(-1, 'DAYS') }}``: the date moved by ``amount`` ``unit`` (ChronoUnit)."""
    _undefined(value)
    if value is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TemplateError("dateAdd: amount must be an integer")
    if unit not in _UNITS:
        raise TemplateError(f"dateAdd: unit must be one of {', '.join(sorted(_UNITS))}")
    zone = zone_of(timeZone, "dateAdd")
    try:
        moved = _plus(to_moment(value, zone, existingFormat, "dateAdd"), amount, str(unit))
    except (OverflowError, ValueError):
        raise TemplateError("dateAdd: the resulting date is out of range") from None
    return _print(moved, format, zone, locale, "dateAdd")


def _stamp(value: Any, tz: Any, existing: Any, what: str) -> Moment | None:
    _undefined(value)
    if value is None:
        return None
    return to_moment(value, zone_of(tz, what), existing, what)


@pebble_filter("timestamp")
def timestamp(value: Any, timeZone: Any = None, existingFormat: Any = None) -> int | None:
    """Epoch seconds of a date."""
    m = _stamp(value, timeZone, existingFormat, "timestamp")
    return None if m is None else m.epoch_second()


@pebble_filter("timestampMilli")
def timestamp_milli(value: Any, timeZone: Any = None, existingFormat: Any = None) -> int | None:
    """Epoch milliseconds of a date (an Ostra addition; Kestra has no such filter)."""
    m = _stamp(value, timeZone, existingFormat, "timestampMilli")
    return None if m is None else m.epoch_second() * 1000 + m.nano // 1_000_000


@pebble_filter("timestampMicro")
def timestamp_micro(value: Any, timeZone: Any = None, existingFormat: Any = None) -> str | None:
    """Kestra's ``timestampMicro``, as a string, computed as Kestra does (TimestampMicroFilter):
    epoch seconds in *nanoseconds* plus the microseconds of the second."""
    m = _stamp(value, timeZone, existingFormat, "timestampMicro")
    return None if m is None else str(m.epoch_second() * 1_000_000_000 + m.nano // 1000)


@pebble_filter("timestampNano")
def timestamp_nano(value: Any, timeZone: Any = None, existingFormat: Any = None) -> str | None:
    """Epoch nanoseconds of a date, as a string."""
    m = _stamp(value, timeZone, existingFormat, "timestampNano")
    return None if m is None else str(m.epoch_second() * 1_000_000_000 + m.nano)


@pebble_function("now")
def now(
    format: Any = "iso", timeZone: Any = None, existingFormat: Any = None, locale: Any = None
) -> str:
    """``{{ now() }}``: the current date-time, printed as the ``date`` filter prints."""
    zone = zone_of(timeZone, "now")
    return _format(datetime.now(zone), format, timeZone, None, locale, "now")
