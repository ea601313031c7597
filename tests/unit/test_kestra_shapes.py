"""``executor.api.kestra``: Java's ``Duration.toString`` and Kestra's query filters."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from executor.api.kestra import check_tenant, filters, iso_duration
from executor.errors import BadRequest, NotFoundError


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "PT0S"),
        (0.25, "PT0.25S"),
        (1.0, "PT1S"),
        (65.0, "PT1M5S"),
        (60.0, "PT1M"),
        (7200.0, "PT2H"),
        (93600.5, "PT26H0.5S"),
        (3723.123456789, "PT1H2M3.123456789S"),
    ],
)
def test_iso_duration_as_java_writes_it(seconds: float, text: str) -> None:
    assert iso_duration(seconds) == text


def test_iso_duration_of_nothing() -> None:
    assert iso_duration(None) is None


ALLOWED = {"namespace": ("EQUALS",), "state": ("EQUALS", "IN")}


def test_filters_read_what_the_sdk_sends() -> None:
    params = QueryParams(
        "filters[namespace][EQUALS]=a.b&filters[state][IN]=FAILED,SUCCESS&page=1&size=2"
    )
    assert filters(params, ALLOWED) == {
        "namespace": ("EQUALS", "a.b"),
        "state": ("IN", "FAILED,SUCCESS"),
    }


def test_filters_refuse_what_they_cannot_do() -> None:
    params = QueryParams(
        "filters[labels][EQUALS]=a:b&filters[namespace][REGEX]=x&filters=1"
        "&filters[state][IN]=A&filters[state][EQUALS]=B"
    )
    with pytest.raises(BadRequest) as caught:
        filters(params, ALLOWED)
    messages = [str(p) for p in caught.value.errors]
    assert len(messages) == 4
    assert "'labels' is not supported" in messages[0]
    assert "operation REGEX on 'namespace'" in messages[1]
    assert "expected filters[field][OPERATION]" in messages[2]
    assert "more than once" in messages[3]


def test_only_the_main_tenant() -> None:
    check_tenant("main")
    with pytest.raises(NotFoundError, match="tenant 'acme' not found"):
        check_tenant("acme")
