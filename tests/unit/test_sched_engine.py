"""``executor.engine.schedule``: ticks around DST, and what a due tick becomes under
``recoverMissedSchedules`` and ``lateMaximumDelay`` (no I/O, the clock passed in)."""

from __future__ import annotations

from executor.engine.schedule import Cron, RecoverMissedSchedules, parse_date, step


def ts(text: str) -> int:
    return int(parse_date(text).timestamp())


def isos(cron: Cron, start: str, end: str) -> list[str]:
    return [cron.iso(t) for t in cron.ticks(ts(start), ts(end))]


def test_fall_back_fires_a_fixed_time_once_and_wildcard_hours_in_both() -> None:
    daily = Cron.parse("30 2 * * *", timezone="Europe/Paris")
    assert isos(daily, "2026-10-24T12:00:00+02:00", "2026-10-26T12:00:00+01:00") == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    half_hourly = Cron.parse("*/30 * * * *", timezone="Europe/Paris")
    got = isos(half_hourly, "2026-10-25T01:50:00+02:00", "2026-10-25T03:00:00+01:00")
    assert got == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_spring_forward_fires_a_missing_time_at_the_first_instant_after() -> None:
    daily = Cron.parse("30 2 * * *", timezone="Europe/Paris")
    assert isos(daily, "2026-03-28T12:00:00+01:00", "2026-03-30T12:00:00+02:00") == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_step_on_time_fires_the_tick() -> None:
    hourly = Cron.parse("0 * * * *")
    t = ts("2026-01-01T10:00:00Z")
    for mode in RecoverMissedSchedules:
        assert step(hourly, t, t + 5, recover=mode) == type(step(hourly, t, t))(t, t)


def test_step_after_downtime() -> None:
    hourly = Cron.parse("0 * * * *")
    t, now = ts("2026-01-01T10:00:00Z"), ts("2026-01-01T13:20:00Z")
    assert step(hourly, t, now, recover=RecoverMissedSchedules.ALL).fire == t
    last = step(hourly, t, now, recover=RecoverMissedSchedules.LAST)
    assert last.fire == ts("2026-01-01T13:00:00Z")
    none = step(hourly, t, now, recover=RecoverMissedSchedules.NONE)
    assert none.fire is None and hourly.next_after(none.after) == ts("2026-01-01T14:00:00Z")


def test_late_maximum_delay_skips_a_late_tick() -> None:
    minutely = Cron.parse("* * * * *")
    t = ts("2026-01-01T10:00:00Z")
    assert step(minutely, t, t + 20, late_maximum_delay=30).fire == t
    skipped = step(minutely, t, t + 45, late_maximum_delay=30)
    assert skipped.fire is None and skipped.after == t
