"""The UI's session cookies and CSRF tokens: signed, expiring, tied to a configured token
and never carrying it."""

from __future__ import annotations

import base64

from executor.ui.auth import SESSION_TTL, Sessions


def test_a_session_for_a_token_checks_and_carries_no_token() -> None:
    s = Sessions([b"tok-a", b"tok-b"], secret="")
    assert s.required and s.token_ok("tok-b") and not s.token_ok("tok-c")
    cookie = s.issue("tok-b", now=1000.0)
    session = s.check(cookie, now=1001.0)
    assert session is not None and session.csrf == s.csrf_of(session.sid)
    payload = cookie.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"tok-b" not in decoded and "tok-b" not in cookie


def test_a_tampered_expired_or_foreign_cookie_is_refused() -> None:
    s = Sessions([b"tok-a"], secret="")
    cookie = s.issue("tok-a", now=1000.0)
    assert s.check(cookie, now=1000.0 + SESSION_TTL + 1) is None  # expired
    payload, sig = cookie.split(".")
    assert s.check(payload[:-2] + "AA." + sig, now=1000.0) is None  # changed
    assert s.check(payload + "." + sig[:-1] + "x", now=1000.0) is None
    assert s.check(None) is None and s.check("garbage") is None
    other = Sessions([b"tok-a"], secret="another secret")
    assert other.check(cookie, now=1000.0) is None  # signed with another key


def test_removing_a_token_from_the_configuration_ends_its_sessions() -> None:
    before = Sessions([b"tok-a", b"tok-b"], secret="shared")
    cookie = before.issue("tok-b", now=1000.0)
    after = Sessions([b"tok-a"], secret="shared")
    assert before.check(cookie, now=1000.0) is not None
    assert after.check(cookie, now=1000.0) is None


def test_processes_with_the_same_tokens_accept_the_same_sessions() -> None:
    one, two = Sessions([b"tok-a"], secret=""), Sessions([b"tok-a"], secret="")
    session = two.check(one.issue("tok-a"))
    assert session is not None
    assert two.csrf_ok(session, one.csrf_of(session.sid))


def test_csrf_token_is_per_session() -> None:
    s = Sessions([], secret="")
    assert not s.required
    a, b = s.check(s.issue(None)), s.check(s.issue(None))
    assert a is not None and b is not None and a.sid != b.sid
    assert s.csrf_ok(a, a.csrf)
    assert not s.csrf_ok(a, b.csrf) and not s.csrf_ok(a, None) and not s.csrf_ok(a, "")
