"""Kestra's Schedule trigger and schedule conditions, case by case.

Sources (Kestra's repository):
- ``core/src/main/java/io/kestra/plugin/core/trigger/Schedule.java`` (cron definition:
  cron-utils with strict ranges, day of week 0-7, the nicknames, seconds first);
- ``core/src/test/java/io/kestra/plugin/core/trigger/ScheduleTest.java``;
- ``core/src/test/java/io/kestra/core/validations/ScheduleValidationTest.java``;
- ``core/src/test/java/io/kestra/plugin/core/condition/{DayWeekInMonthTest,
  TimeBetweenTest,DateTimeBetweenTest}.java``.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from executor.engine.schedule import Cron, CronError, dates, parse_date
from executor.errors import FlowValidationError
from executor.flow import Flow
from executor.triggers.schedule_spec import Schedule, ScheduleCondition, acceptor


def ts(text: str) -> int:
    return int(parse_date(text).timestamp())


def test_success_monthly_dates() -> None:
    # ScheduleTest.success: "0 0 1 * *": date, next = +1 month, previous = -1 month
    cron = Cron.parse("0 0 1 * *")
    out = dates(cron, ts("2021-06-01T00:00:00Z"))
    assert out == {
        "date": "2021-06-01T00:00:00Z",
        "next": "2021-07-01T00:00:00Z",
        "previous": "2021-05-01T00:00:00Z",
    }


def test_every_second_with_seconds() -> None:
    # ScheduleTest.everySecond: "* * * * * *" withSeconds
    cron = Cron.parse("* * * * * *", with_seconds=True)
    out = dates(cron, ts("2024-01-01T10:00:05Z"))
    assert out["next"] == "2024-01-01T10:00:06Z" and out["previous"] == "2024-01-01T10:00:04Z"


def test_seconds_come_first() -> None:
    # Schedule.java: CRON_PARSER_WITH_SECONDS adds seconds before the minutes
    cron = Cron.parse("30 15 10 * * *", with_seconds=True)
    assert cron.iso(cron.next_after(ts("2024-01-01T00:00:00Z")) or 0) == "2024-01-01T10:15:30Z"


@pytest.mark.parametrize(
    ("nickname", "after", "expected"),
    [
        ("@yearly", "2024-03-05T10:00:00Z", "2025-01-01T00:00:00Z"),
        ("@annually", "2024-03-05T10:00:00Z", "2025-01-01T00:00:00Z"),
        ("@monthly", "2024-03-05T10:00:00Z", "2024-04-01T00:00:00Z"),
        ("@weekly", "2024-03-05T10:00:00Z", "2024-03-10T00:00:00Z"),  # Sunday
        ("@daily", "2024-03-05T10:00:00Z", "2024-03-06T00:00:00Z"),
        ("@midnight", "2024-03-05T10:00:00Z", "2024-03-06T00:00:00Z"),
        ("@hourly", "2024-03-05T10:20:00Z", "2024-03-05T11:00:00Z"),  # ScheduleTest.hourly
    ],
)
def test_nicknames(nickname: str, after: str, expected: str) -> None:
    # Schedule.java: withSupportedNickname{Yearly,Annually,Monthly,Weekly,Daily,Midnight,Hourly}
    cron = Cron.parse(nickname)
    assert cron.iso(cron.next_after(ts(after)) or 0) == expected


def test_day_of_week_seven_is_sunday() -> None:
    # Schedule.java: withDayOfWeek().withValidRange(0, 7).withIntMapping(7, 0)
    seven, zero = Cron.parse("0 0 * * 7"), Cron.parse("0 0 * * 0")
    start = ts("2024-03-05T00:00:00Z")
    assert seven.next_after(start) == zero.next_after(start) == ts("2024-03-10T00:00:00Z")


@pytest.mark.parametrize(
    ("cron", "with_seconds"),
    [
        ("$ome Inv@lid Cr0n", False),  # ScheduleValidationTest.cronValidation
        ("* * * * * *", False),  # six fields without withSeconds
        ("* * * * *", True),  # five fields with withSeconds
        ("60 * * * *", False),  # withStrictRange
        ("* * * * 8", False),
        ("0 0 L * *", False),  # not in Kestra's definition (no withSupportedLast...)
        ("0 0 * * 1#2", False),
        ("@reboot", False),
    ],
)
def test_invalid_cron_refused(cron: str, with_seconds: bool) -> None:
    with pytest.raises(CronError):
        Cron.parse(cron, with_seconds=with_seconds)


def test_timezone_offsets() -> None:
    # ScheduleTest.timezone: "12 9 1 * *" America/New_York: the date carries -04:00 in May
    cron = Cron.parse("12 9 1 * *", timezone="America/New_York")
    out = dates(cron, ts("2022-05-01T09:12:00-04:00"))
    assert out["date"] == "2022-05-01T09:12:00-04:00"
    assert out["next"] == "2022-06-01T09:12:00-04:00"
    assert out["previous"] == "2022-04-01T09:12:00-04:00"


def test_conditions_shape_next_and_previous() -> None:
    # ScheduleTest.conditions: Monday noon Paris, DayWeekInMonth FIRST MONDAY
    spec = Schedule.model_validate(
        {
            "id": "schedule",
            "type": "Schedule",
            "cron": "0 12 * * 1",
            "timezone": "Europe/Paris",
            "conditions": [
                {
                    "type": "io.kestra.plugin.core.condition.DayWeekInMonth",
                    "dayOfWeek": "MONDAY",
                    "dayInMonth": "FIRST",
                    "date": "{{ trigger.date }}",
                }
            ],
        }
    )
    cron = spec.cron_()
    out = dates(cron, ts("2021-08-02T12:00:00+02:00"), acceptor(spec, cron))
    assert out == {
        "date": "2021-08-02T12:00:00+02:00",
        "next": "2021-09-06T12:00:00+02:00",
        "previous": "2021-07-05T12:00:00+02:00",
    }


def test_impossible_next_condition_has_no_next() -> None:
    # ScheduleTest.impossibleNextConditions: DateTimeBetween before 2021-08-03
    spec = Schedule.model_validate(
        {
            "id": "schedule",
            "type": "Schedule",
            "cron": "0 12 * * 1",
            "timezone": "Europe/Paris",
            "conditions": [{"type": "DateTimeBetween", "before": "2021-08-03T12:00:00+02:00"}],
        }
    )
    cron = spec.cron_()
    out = dates(cron, ts("2021-08-02T12:00:00+02:00"), acceptor(spec, cron))
    assert out["previous"] == "2021-07-26T12:00:00+02:00"
    assert "next" not in out


@pytest.mark.parametrize(
    ("date", "day", "which", "expected"),
    [  # DayWeekInMonthTest.source
        ("2021-04-01", "MONDAY", "FIRST", False),
        ("2021-04-05", "MONDAY", "FIRST", True),
        ("2021-04-01", "THURSDAY", "FIRST", True),
        ("2021-04-01", "MONDAY", "LAST", False),
        ("2021-04-26", "MONDAY", "LAST", True),
        ("2021-04-12", "MONDAY", "SECOND", True),
        ("2021-04-19", "MONDAY", "THIRD", True),
        ("2021-04-26", "MONDAY", "FOURTH", True),
    ],
)
def test_day_week_in_month(date: str, day: str, which: str, expected: bool) -> None:
    cond = ScheduleCondition(type="DayWeekInMonth", date=date, dayOfWeek=day, dayInMonth=which)
    assert cond.test({}) is expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [  # TimeBetweenTest.source, date 2024-02-21T16:19:12+02:00
        (None, "16:19:11+02:00", True),
        (None, "17:19:12+02:00", False),
        ("16:20:12+02:00", "16:18:12+02:00", True),
        ("16:20:12+02:00", None, True),
        ("16:18:12+02:00", None, False),
    ],
)
def test_time_between(before: str | None, after: str | None, expected: bool) -> None:
    cond = ScheduleCondition(
        type="TimeBetween", date="2024-02-21T16:19:12+02:00", before=before, after=after
    )
    assert cond.test({}) is expected


@pytest.mark.parametrize(
    ("date", "before", "after", "expected"),
    [  # DateTimeBetweenTest.source
        (
            "2013-09-08T16:19:12+02:00",
            "2013-09-08T16:20:12+02:00",
            "2013-09-08T16:18:12+02:00",
            True,
        ),
        ("2013-09-08T16:19:12+02:00", "2013-09-08T16:20:12+02:00", None, True),
        ("2013-09-08T16:19:12+02:00", None, "2020-01-01T00:00:00+02:00", False),
    ],
)
def test_date_time_between(
    date: str, before: str | None, after: str | None, expected: bool
) -> None:
    cond = ScheduleCondition(type="DateTimeBetween", date=date, before=before, after=after)
    assert cond.test({}) is expected


def test_weekend_and_day_week() -> None:
    saturday = {"date": "2024-03-09T10:00:00Z"}
    assert ScheduleCondition(type="Weekend").test(saturday)
    assert not ScheduleCondition(type="Weekend").test({"date": "2024-03-11T10:00:00Z"})
    assert ScheduleCondition(type="DayWeek", dayOfWeek="SATURDAY").test(saturday)


def test_deploy_refuses_bad_schedules_with_their_path() -> None:
    # ScheduleValidationTest: invalid cron; interval must be null; unknown conditions
    text = """
id: f
namespace: n
tasks: [{id: a, type: Log, message: hi}]
triggers:
  - id: bad_cron
    type: Schedule
    cron: "61 * * * *"
  - id: bad_zone
    type: Schedule
    cron: "@daily"
    timezone: Mars/Olympus
  - id: bad_condition
    type: Schedule
    cron: "@daily"
    conditions:
      - type: io.kestra.plugin.core.condition.PublicHoliday
  - id: interval
    type: Schedule
    cron: "@daily"
    interval: PT1H
"""
    with pytest.raises(FlowValidationError) as info:
        Flow.from_yaml(text)
    text_out = str(info.value)
    assert "triggers[0].cron" in text_out and "out of range" in text_out
    assert "triggers[1].timezone" in text_out and "Mars/Olympus" in text_out
    assert "triggers[2].conditions[0].type" in text_out and "PublicHoliday" in text_out
    assert "triggers[3].interval" in text_out


def test_naive_date_is_utc() -> None:
    assert parse_date("2024-01-01T00:00:00") == datetime.fromisoformat("2024-01-01T00:00:00+00:00")
