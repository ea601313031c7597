"""A Schedule trigger's time rules, with no I/O (the clock is passed in).

Cron expressions are parsed by croniter (Ostra does not parse cron by hand) after a check
that they are in Kestra's cron definition (``Schedule.java``, cron-utils): five fields
(minute, hour, day of month, month, day of week 0-7, 7 = Sunday), or six with the
seconds *first* when ``withSeconds``, and the nicknames ``@yearly @annually @monthly
@weekly @daily @midnight @hourly``. Extensions cron-utils' definition does not have
(``L``, ``W``, ``#``, ``?``, ``H``, a year field, ``@reboot``) are refused.

Ticks are whole seconds (epoch). Around DST changes: a wall time that does not exist
(spring forward) fires at the first instant after it (croniter's behaviour); a wall
time that happens twice (fall back) fires once, at its first occurrence, unless the
hour field is a wildcard (``*``, ``*/2``: those follow real time and fire in both hours).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterError, croniter

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NAMES = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT"
_FIELD = re.compile(rf"^(\*|\d+|{_NAMES})(-(\d+|{_NAMES}))?(/\d+)?$", re.IGNORECASE)
#: How far ahead (or back) a search for a tick that meets the conditions goes (Kestra:
#: ten years).
SEARCH_YEARS = 10


class RecoverMissedSchedules(StrEnum):
    """What a schedule does with the ticks it missed (Kestra's enum; default ALL)."""

    ALL = "ALL"
    LAST = "LAST"
    NONE = "NONE"


class CronError(ValueError):
    """A cron expression or time zone Ostra cannot run (the message says why)."""


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression in a time zone; ticks are epoch seconds (int)."""

    expression: str
    with_seconds: bool
    zone: ZoneInfo
    _hour_wildcard: bool

    @classmethod
    def parse(cls, expression: str, *, with_seconds: bool = False, timezone: str = "UTC") -> Cron:
        """Check and parse; ``CronError`` says what is wrong."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CronError(f"unknown time zone {timezone!r}") from exc
        text = expression.strip()
        if text.startswith("@"):
            if text.lower() not in NICKNAMES:
                raise CronError(f"unknown cron nickname {text!r} (known: {', '.join(NICKNAMES)})")
            text = NICKNAMES[text.lower()]
            if with_seconds:
                text = "0 " + text
        fields = text.split()
        wanted = 6 if with_seconds else 5
        if len(fields) != wanted:
            raise CronError(
                f"{expression!r} has {len(fields)} fields, {wanted} expected"
                + (" (seconds first, as withSeconds: true says)" if with_seconds else "")
            )
        for f in fields:
            for part in f.split(","):
                if not _FIELD.match(part):
                    raise CronError(
                        f"{expression!r}: {part!r} is not in Kestra's cron definition "
                        "(numbers, names, *, ranges a-b, steps /n and lists)"
                    )
        try:
            croniter(text, second_at_beginning=with_seconds)
            if not croniter.is_valid(text, strict=True, second_at_beginning=with_seconds):
                raise CroniterBadCronError("a value is out of range")
        except (CroniterError, ValueError, KeyError) as exc:
            raise CronError(f"{expression!r}: {exc}") from exc
        hour = fields[2 if with_seconds else 1]
        return cls(text, with_seconds, zone, hour.startswith("*"))

    def _iter(self, start: float, *, backwards: bool = False) -> Iterator[int]:
        base = datetime.fromtimestamp(start, self.zone)
        it = croniter(
            self.expression,
            base,
            second_at_beginning=self.with_seconds,
            max_years_between_matches=SEARCH_YEARS,
        )
        last_wall: datetime | None = None
        while True:
            try:
                dt: datetime = it.get_prev(datetime) if backwards else it.get_next(datetime)
            except CroniterError:
                return
            wall = dt.replace(tzinfo=None)
            if not self._hour_wildcard and _second_pass(dt):
                continue  # fall back: this wall time happened already an hour ago
            if backwards and last_wall is not None and wall == last_wall:
                continue
            last_wall = wall
            yield int(dt.timestamp())

    def next_after(self, t: float) -> int | None:
        """The first tick strictly after ``t``."""
        return next(self._iter(t), None)

    def previous_at_or_before(self, t: float) -> int | None:
        """The last tick at or before ``t``."""
        nxt = self.next_after(t - 1)
        if nxt is not None and nxt <= t:
            return nxt
        return next(self._iter(t, backwards=True), None)

    def ticks(self, after: float, until: float) -> Iterator[int]:
        """Ticks in ``(after, until]``, in order."""
        for tick in self._iter(after):
            if tick > until:
                return
            yield tick

    def iso(self, tick: float) -> str:
        """``tick`` as ISO-8601 with its offset in the trigger's zone (Kestra's
        ``Output.toMap(zone)``: ``2026-12-02T09:00:00+01:00``, ``Z`` for UTC)."""
        dt = datetime.fromtimestamp(tick, self.zone)
        text = dt.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


def _second_pass(dt: datetime) -> bool:
    """True if ``dt`` is the second occurrence of its wall time (a fall-back hour)."""
    first = dt.replace(fold=0)
    return first.utcoffset() != dt.utcoffset()


def dates(cron: Cron, tick: int, accept: Callable[[int], bool] | None = None) -> dict[str, str]:
    """``trigger.date``, ``trigger.next`` and ``trigger.previous`` of a fire at ``tick``:
    the next and previous ticks that meet the conditions (``accept``), as Kestra's
    ``trueOutputWithCondition`` (searched up to ten years away)."""
    out = {"date": cron.iso(tick)}
    nxt = next_accepted(cron, tick, accept)
    if nxt is not None:
        out["next"] = cron.iso(nxt)
    prev = previous_accepted(cron, tick - 1, accept, before=tick)
    if prev is not None:
        out["previous"] = cron.iso(prev)
    return out


@functools.lru_cache(maxsize=4096)
def _next_plain(cron: Cron, after: float) -> int | None:
    # A fire asks for the tick after the one it fires twice (its ``trigger.next``, then
    # where the schedule goes on): croniter's set-up is most of the cost.
    return cron.next_after(after)


def next_accepted(cron: Cron, after: float, accept: Callable[[int], bool] | None) -> int | None:
    """The first tick after ``after`` that ``accept`` takes (any tick without it)."""
    if accept is None:
        return _next_plain(cron, after)
    limit = after + SEARCH_YEARS * 366 * 86400
    for tick in cron._iter(after):
        if tick > limit:
            return None
        if accept is None or accept(tick):
            return tick
    return None


def previous_accepted(
    cron: Cron,
    at_or_before: float,
    accept: Callable[[int], bool] | None,
    *,
    before: int | None = None,
) -> int | None:
    """The last tick at or before ``at_or_before`` that ``accept`` takes (``before``: a
    tick, ``at_or_before + 1``, whose previous tick is searched from it directly)."""
    if before is not None:
        first = next(cron._iter(before, backwards=True), None)
    else:
        first = cron.previous_at_or_before(at_or_before)
    if first is None:
        return None
    if accept is None or accept(first):
        return first
    limit = at_or_before - SEARCH_YEARS * 366 * 86400
    for tick in cron._iter(first, backwards=True):
        if tick < limit:
            return None
        if accept(tick):
            return tick
    return None


@dataclass(frozen=True)
class Step:
    """What to do with the tick a schedule is at, when the clock says ``now``: fire
    ``fire`` (None: fire nothing) and move on to the first tick after ``after``."""

    fire: int | None
    after: int


def step(
    cron: Cron,
    tick: int,
    now: float,
    *,
    recover: RecoverMissedSchedules = RecoverMissedSchedules.ALL,
    late_after: float = 60.0,
    late_maximum_delay: float | None = None,
) -> Step:
    """Decide for a due ``tick`` (``tick <= now``).

    A tick more than ``late_after`` seconds old was *missed* (the scheduler was down, or
    the trigger disabled): ``ALL`` fires each missed tick in turn, ``LAST`` fires only
    the last tick due and skips the ones before it, ``NONE`` skips them all and goes on
    from the first tick that is not missed. Independently, a tick older than
    ``lateMaximumDelay`` is skipped (Kestra's ``handleMaxDelay``).
    """
    if now - tick > late_after and recover != RecoverMissedSchedules.ALL:
        if recover == RecoverMissedSchedules.LAST:
            last = cron.previous_at_or_before(now)
            tick = last if last is not None and last >= tick else tick
        else:  # NONE: go on from the first tick that is not missed
            recent = cron.next_after(now - late_after - 1)
            if recent is None or recent > now:
                return Step(None, int(now))
            tick = recent
    if late_maximum_delay is not None and now - tick > late_maximum_delay:
        return Step(None, tick)
    return Step(tick, tick)


def utc(tick: float) -> datetime:
    """A tick as an aware UTC datetime."""
    return datetime.fromtimestamp(tick, UTC)


def parse_date(text: str) -> datetime:
    """An ISO-8601 date-time (``Z`` or an offset; a date alone is midnight UTC); a naive
    one is taken as UTC."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    dt = datetime.fromisoformat(raw)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


__all__ = [
    "Cron",
    "CronError",
    "RecoverMissedSchedules",
    "Step",
    "dates",
    "next_accepted",
    "parse_date",
    "previous_accepted",
    "step",
    "utc",
]
