"""Kestra's date filters and ``now()``: Java DateTimeFormatter patterns, named formats, zones.

Expectations come from Kestra's ``core/src/test/java/io/kestra/core/runners/pebble/filters/
DateFilterTest.java`` unless a comment says otherwise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from executor.errors import TemplateError
from executor.templating import render, render_value

# DateFilterTest.NOW = ZonedDateTime.parse("2013-09-08T16:19:12.123456+01")
NOW = datetime(2013, 9, 8, 16, 19, 12, 123456, tzinfo=timezone(timedelta(hours=1)))
CTX = {"zoned": NOW, "local": NOW.replace(tzinfo=None), "none": None}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # DateFilterTest.dateFormat
        (
            "{{ zoned | date(format='iso', timeZone='Europe/Paris') }}",
            "2013-09-08T17:19:12.123456+02:00",
        ),
        (
            '{{ zoned | date(format="iso_sec", timeZone="Europe/Paris") }}',
            "2013-09-08T17:19:12+02:00",
        ),
        (
            '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="Europe/Paris") }}',
            "2013-09-08 16:19:12.123456+02:00",
        ),
        (
            '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="UTC") }}',
            "2013-09-08 16:19:12.123456Z",
        ),
        # DateFilterTest.dateStringFormat
        (
            '{{ "July 24, 2001" | date("yyyy-MM-dd", existingFormat="MMMM dd, yyyy") }}',
            "2001-07-24",
        ),
        (
            '{{ "2013-09-08T17:19:12+02:00" | date(timeZone="Europe/Paris") }}',
            "2013-09-08T17:19:12.000000+02:00",
        ),
        (
            '{{ "2013-09-08T17:19:12" | date(timeZone="Europe/Paris") }}',
            "2013-09-08T17:19:12.000000+02:00",
        ),
        ('{{ "2013-09-08" | date(timeZone="Europe/Paris") }}', "2013-09-08T00:00:00.000000+02:00"),
        # DateFilterTest.dateFormatWithExistingFormat (rfc_1123_date_time read back)
        (
            "{{ 'Tue, 08 Feb 2022 19:38:26 GMT' | date(existingFormat='rfc_1123_date_time', "
            "timeZone='Europe/Paris') }}",
            "2022-02-08T20:38:26.000000+01:00",
        ),
        # DateFilterTest.dateAdd
        (
            '{{ zoned | dateAdd(-1,"DAYS",timeZone="Europe/Paris")}}',
            "2013-09-07T17:19:12.123456+02:00",
        ),
        # DateFilterTest.timestamp / timestampNano / timestampMicro
        ('{{ zoned | timestamp(timeZone="Europe/Paris") }}', "1378653552"),
        ('{{ zoned | timestampNano(timeZone="Europe/Paris") }}', "1378653552123456000"),
        # Kestra's TimestampMicroFilter adds the micros to the seconds *in nanoseconds*; its
        # test asserts exactly this value, so Ostra prints the same.
        ('{{ zoned | timestampMicro(timeZone="Europe/Paris") }}', "1378653552000123456"),
        # DateFilterTest.timestampDateAdd
        ("{{ (zoned | timestamp) > (zoned | dateAdd(-1, 'DAYS') | timestamp) }}", "true"),
    ],
)
def test_kestra_date_filter_cases(template: str, expected: str) -> None:
    assert render(template, CTX) == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        # AbstractDate.FORMATTERS; java.time's ISO_* formatters as documented in its Javadoc
        ("sql", "2013-09-08 15:19:12.123456"),
        ("sql_seq", "2013-09-08 15:19:12"),
        ("iso_date_time", "2013-09-08T15:19:12.123456Z[UTC]"),
        ("iso_date", "2013-09-08Z"),
        ("iso_time", "15:19:12.123456Z"),
        ("iso_local_date", "2013-09-08"),
        ("iso_local_time", "15:19:12.123456"),
        ("iso_local_date_time", "2013-09-08T15:19:12.123456"),
        ("iso_instant", "2013-09-08T15:19:12.123456Z"),
        ("iso_offset_time", "15:19:12.123456Z"),
        ("iso_ordinal_date", "2013-251Z"),
        ("iso_week_date", "2013-W36-7Z"),
        ("rfc_1123_date_time", "Sun, 8 Sep 2013 15:19:12 GMT"),
        # FormatStyle.MEDIUM / SHORT in Locale.US (Java 21: a narrow no-break space before PM)
        ("medium", "Sep 8, 2013, 3:19:12\u202fPM"),
        ("short", "9/8/13, 3:19\u202fPM"),
    ],
)
def test_named_formats(fmt: str, expected: str) -> None:
    assert render("{{ zoned | date(f, timeZone='UTC') }}", {**CTX, "f": fmt}) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # java.time.format.DateTimeFormatter pattern letters (its Javadoc table)
        ("EEE, d MMM yyyy", "Sun, 8 Sep 2013"),
        ("EEEE dd MMMM yy", "Sunday 08 September 13"),
        ("h:mm a", "5:19 PM"),
        ("HH'h'mm 'o''clock'", "17h19 o'clock"),
        ("D Q", "251 3"),
        ("xx Z O", "+0200 +0200 GMT+2"),
        ("VV z", "Europe/Paris CEST"),
        ("SSS n", "123 123456000"),
        ("yyyy-MM-dd['T'HH]", "2013-09-08T17"),
    ],
)
def test_java_pattern_letters(pattern: str, expected: str) -> None:
    tmpl = "{{ zoned | date(p, timeZone='Europe/Paris') }}"
    assert render(tmpl, {**CTX, "p": pattern}) == expected


def test_inputs_kestra_accepts() -> None:
    # AbstractDate.convert: a LocalDate is at NOON in the zone, a Long is epoch seconds,
    # an ISO string with a zone id in brackets keeps that zone.
    ctx = {"d": date(2024, 1, 2), "epoch": 0, "s": "2024-03-10T10:00:00+01:00[Europe/Paris]"}
    assert render("{{ d | date(timeZone='UTC') }}", ctx) == "2024-01-02T12:00:00.000000Z"
    assert (
        render("{{ epoch | date('yyyy-MM-dd HH:mm', timeZone='UTC') }}", ctx) == "1970-01-01 00:00"
    )
    assert render("{{ s | date('iso_zoned_date_time', timeZone='Europe/Paris') }}", ctx) == (
        "2024-03-10T10:00:00+01:00[Europe/Paris]"
    )
    nanos = {"s": "2024-01-01T00:00:00.123456789Z"}
    assert render("{{ s | timestampNano }}", nanos) == "1704067200123456789"
    assert render("{{ s | timestampMilli }}", nanos) == "1704067200123"


def test_zone_ids_and_offsets() -> None:
    # ZoneId.of: region ids, "Z", and offsets ("+05:30", "UTC+01:00")
    tmpl = "{{ 0 | date('yyyy-MM-dd HH:mm XXX VV', timeZone=z) }}"
    assert render(tmpl, {"z": "GMT"}) == "1970-01-01 00:00 Z GMT"
    assert render(tmpl, {"z": "+05:30"}) == "1970-01-01 05:30 +05:30 +05:30"
    assert render(tmpl, {"z": "UTC+01:00"}) == "1970-01-01 01:00 +01:00 +01:00"


def test_date_add_units() -> None:
    # ChronoUnit names as DateAddFilter takes them; months clamp to the month's last day
    ctx = {"d": "2024-01-31T10:00:00Z"}
    assert (
        render("{{ d | dateAdd(1, 'MONTHS', 'yyyy-MM-dd', timeZone='UTC') }}", ctx) == "2024-02-29"
    )
    assert render("{{ d | dateAdd(90, 'MINUTES', 'HH:mm', timeZone='UTC') }}", ctx) == "11:30"
    assert (
        render("{{ d | dateAdd(2, 'WEEKS', 'yyyy-MM-dd', timeZone='UTC') }}", ctx) == "2024-02-14"
    )
    # a day across the DST change keeps the wall time (ZonedDateTime.plus of a date unit)
    paris = {"d": datetime(2024, 3, 30, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))}
    assert render("{{ d | dateAdd(1, 'DAYS', timeZone='Europe/Paris') }}", paris) == (
        "2024-03-31T12:00:00.000000+02:00"
    )


def test_native_values() -> None:
    # timestamp is a Long, timestampNano a String (TimestampFilter / TimestampNanoFilter)
    assert render_value("{{ zoned | timestamp }}", CTX) == 1378653552
    assert render_value("{{ zoned | timestampNano }}", CTX) == "1378653552123456000"


def test_null_in_null_out() -> None:
    # every date filter returns null for a null input (DateFilter: `if (input == null)`)
    for f in ("date", "dateAdd(1, 'DAYS')", "timestamp", "timestampMicro", "timestampNano"):
        assert render_value("{{ none | " + f + " }}", CTX) is None


def test_now() -> None:
    # DateFilterTest.now: contains today's date; with a zone; with a named format
    before = datetime.now(UTC)
    text = render("{{ now(timeZone='UTC') }}", {})
    after = datetime.now(UTC)
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert before - timedelta(seconds=1) <= parsed <= after
    assert text.endswith("Z")
    lisbon = datetime.now(ZoneInfo("Europe/Lisbon"))
    assert render("{{ now(timeZone='Europe/Lisbon', format='iso_local_date') }}", {}) in (
        lisbon.date().isoformat(),
        (lisbon + timedelta(minutes=1)).date().isoformat(),
    )
    tokyo = render("{{ now(timeZone='Asia/Tokyo') }}", {})
    assert tokyo.endswith("+09:00")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ zoned | date(timeZone='Mars/Olympus') }}", "date: unknown time zone 'Mars/Olympus'"),
        ("{{ zoned | date('yyyy-bb') }}", "date: unknown pattern letter 'b'"),
        ("{{ zoned | date('yyyy-MM-dd{') }}", "reserved"),
        ('{{ zoned | date("yyyy \'oops") }}', "unclosed quote"),
        ("{{ 'yesterday' | date }}", "date: cannot read a date from 'yesterday'"),
        ("{{ 'July 2001' | date(existingFormat='MMMM dd, yyyy') }}", "does not match the format"),
        ("{{ zoned | dateAdd(1, 'FORTNIGHTS') }}", "dateAdd: unit must be one of"),
        ("{{ zoned | dateAdd('1', 'DAYS') }}", "dateAdd: amount must be an integer"),
        ("{{ [1] | date }}", "date: expects a date"),
        ("{{ zoned | date(locale='fr') }}", "locale 'fr' is not supported"),
        ("{{ missing | date }}", "'missing' is not defined"),
    ],
)
def test_errors_name_the_filter(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, CTX)
    assert message in str(info.value)
    assert "Traceback" not in str(info.value)
