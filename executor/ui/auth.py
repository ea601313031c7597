"""The web UI's sessions and CSRF tokens.

With API tokens configured (``OSTRA_API_TOKEN``), the UI asks for one on its login page
and keeps a **session cookie** that carries no token: a random session id, an expiry and
a fingerprint of the token (an HMAC of it), signed with HMAC-SHA256. A session is valid
while its signature checks, it has not expired and its fingerprint is still the one of a
configured token (so removing a token from the configuration ends its sessions). The
cookie is ``HttpOnly``, ``SameSite=Strict``, and ``Secure`` when the request came over
TLS (or ``X-Forwarded-Proto: https``).

Without tokens, every visitor gets an anonymous session the same way, so that the CSRF
check is the same in both cases.

Every state-changing request of the UI carries the session's **CSRF token**, an HMAC of
the session id, in the ``X-CSRF-Token`` header (htmx sends it from the page); the server
recomputes it and refuses a request without it (403).

The signing key is ``OSTRA_UI_SECRET`` when set; else it is derived from the configured
tokens (every API process with the same tokens accepts the same sessions); else (no
tokens) a random key of the process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from fastapi import Request

#: the session cookie's name
COOKIE = "ostra_session"
#: the header every state-changing UI request carries
CSRF_HEADER = "X-CSRF-Token"
#: how long a session lasts (seconds)
SESSION_TTL = 12 * 3600


@dataclass(frozen=True)
class Session:
    """A valid session: its id and its CSRF token."""

    sid: str
    csrf: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signs and checks session cookies and CSRF tokens for one set of API tokens."""

    def __init__(self, tokens: list[bytes], secret: str | None = None) -> None:
        self.tokens = tokens
        if secret is None:
            secret = os.environ.get("OSTRA_UI_SECRET") or None
        if secret:
            self.key = hashlib.sha256(b"ostra-ui|" + secret.encode()).digest()
        elif tokens:
            self.key = hashlib.sha256(b"ostra-ui-tokens|" + b"\0".join(sorted(tokens))).digest()
        else:
            self.key = secrets.token_bytes(32)

    @property
    def required(self) -> bool:
        """Whether a token is needed to use the UI."""
        return bool(self.tokens)

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self.key, "|".join(parts).encode(), hashlib.sha256).digest())

    def fingerprint(self, token: bytes) -> str:
        """What a cookie keeps of a token: an HMAC of it, never the token."""
        return self._mac("token", token.decode(errors="replace"))[:22]

    def token_ok(self, given: str) -> bool:
        """Whether ``given`` is one of the configured tokens (constant time each)."""
        ok = False
        for t in self.tokens:
            ok |= hmac.compare_digest(given.encode(), t)
        return ok

    def issue(self, token: str | None, now: float | None = None) -> str:
        """A new session cookie's value (for ``token``, already checked, or anonymous)."""
        now = time.time() if now is None else now
        body = {
            "sid": secrets.token_urlsafe(18),
            "exp": int(now + SESSION_TTL),
            "tok": self.fingerprint(token.encode()) if token else "",
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._mac('session', payload)}"

    def check(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie value holds, if it is valid now."""
        if not cookie or "." not in cookie:
            return None
        payload, _, sig = cookie.rpartition(".")
        if not hmac.compare_digest(sig, self._mac("session", payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            sid, exp, tok = str(body["sid"]), int(body["exp"]), str(body["tok"])
        except (ValueError, KeyError, TypeError):
            return None
        if exp < (time.time() if now is None else now):
            return None
        if self.tokens:
            known = {self.fingerprint(t) for t in self.tokens}
            if tok not in known:
                return None
        return Session(sid, self.csrf_of(sid))

    def csrf_of(self, sid: str) -> str:
        """The CSRF token of a session."""
        return self._mac("csrf", sid)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        """Whether ``given`` is the session's CSRF token."""
        return bool(given) and hmac.compare_digest(str(given), session.csrf)


def secure(request: Request) -> bool:
    """Whether the request came over TLS (directly or through a proxy saying so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def cookie_options(request: Request) -> dict[str, object]:
    """The session cookie's attributes for this request."""
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": secure(request),
        "path": "/",
        "max_age": SESSION_TTL,
    }
