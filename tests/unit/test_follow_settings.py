"""``OSTRA_API_MAX_FOLLOWERS``: read, checked, and answered 503 beyond (the problem body)."""

from __future__ import annotations

import pytest

from executor.api import problems as P
from executor.api.followers import DEFAULT_MAX_FOLLOWERS, max_followers
from executor.errors import ApiUnavailable, TooManyFollowers


def test_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSTRA_API_MAX_FOLLOWERS", raising=False)
    assert max_followers(None) == DEFAULT_MAX_FOLLOWERS == 1000
    monkeypatch.setenv("OSTRA_API_MAX_FOLLOWERS", " 25 ")
    assert max_followers(None) == 25
    assert max_followers(3) == 3  # an argument wins


@pytest.mark.parametrize("raw", ["many", "1.5", "0", "-2"])
def test_a_bad_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("OSTRA_API_MAX_FOLLOWERS", raw)
    with pytest.raises(ValueError, match="OSTRA_API_MAX_FOLLOWERS"):
        max_followers(None)


def test_too_many_followers_is_a_503_problem_with_retry_after() -> None:
    exc = TooManyFollowers(7)
    body = P.from_error(exc)
    assert body["status"] == 503 and body["type"] == P.TYPE_PREFIX + "too-many-followers"
    assert body["limit"] == 7 and "OSTRA_API_MAX_FOLLOWERS" in body["detail"]
    assert P.headers_for(exc) == {"Retry-After": "5"}
    # the HTTP client reads it back as the API being unavailable (try again later)
    assert isinstance(P.to_error(503, body), ApiUnavailable)
