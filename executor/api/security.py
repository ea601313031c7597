"""What guards the REST API: bearer tokens (``OSTRA_API_TOKEN``) and the request body
limits (``OSTRA_API_MAX_BODY``; ``OSTRA_WEBHOOK_MAX_BYTES`` for webhooks).

Tokens are compared in constant time and never logged or answered. The webhook routes
(``OPEN_ROUTES``, and only they) are reachable without a token, as Kestra's: their key,
part of the address, guards them (``executor.triggers.webhook``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from executor.api import problems as P
from executor.api.handlers import problem_response
from executor.errors import BodyTooLarge, Unauthorized

DEFAULT_MAX_BODY = 1024 * 1024
#: the default of ``OSTRA_WEBHOOK_MAX_BYTES``
DEFAULT_WEBHOOK_MAX_BODY = 1024 * 1024
_WEBHOOK = "/executions/webhook/{namespace}/{flowId}/{key}"
#: The route templates that need no token: Kestra's webhooks (guarded by their key),
#: with and without the tenant, with and without the trailing path Kestra's SDK sends.
#: Matched against the route the request was routed to, never against the raw path
#: (FastAPI gives the route's path inside its router, or with the prefix: both listed).
OPEN_ROUTES = frozenset(
    prefix + _WEBHOOK + tail
    for prefix in ("", "/api/v1", "/api/v1/{tenant}")
    for tail in ("", "/{path:path}")
)
#: A request path that may be a webhook's (the body limit is the webhook's there).
WEBHOOK_PATH = re.compile(r"^/api/v1(?:/[^/]+)?/executions/webhook/[^/]+/[^/]+/[^/]+")
#: reads ``Authorization: Bearer ...`` (module level: FastAPI resolves annotations here)
_BEARER = HTTPBearer(auto_error=False, description="One of the tokens of OSTRA_API_TOKEN")


def configured_tokens(token: str | Sequence[str] | None) -> list[bytes]:
    """The accepted tokens: a list, or a comma-separated string; None reads
    ``OSTRA_API_TOKEN``. Empty: no authentication."""
    if token is None:
        token = os.environ.get("OSTRA_API_TOKEN", "")
    items = token.split(",") if isinstance(token, str) else list(token)
    return [t.strip().encode() for t in items if t and t.strip()]


def max_body(limit: int | None) -> int:
    """The largest request body in bytes: ``limit``, else ``OSTRA_API_MAX_BODY``, else
    1 MiB."""
    if limit is not None:
        return limit
    raw = os.environ.get("OSTRA_API_MAX_BODY", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_MAX_BODY
    except ValueError:
        raise ValueError(f"OSTRA_API_MAX_BODY must be a number of bytes, got {raw!r}") from None


def webhook_max_body(limit: int | None) -> int:
    """The largest webhook body in bytes: ``limit``, else ``OSTRA_WEBHOOK_MAX_BYTES``,
    else 1 MiB."""
    if limit is not None:
        return limit
    raw = os.environ.get("OSTRA_WEBHOOK_MAX_BYTES", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_WEBHOOK_MAX_BODY
    except ValueError:
        raise ValueError(
            f"OSTRA_WEBHOOK_MAX_BYTES must be a number of bytes, got {raw!r}"
        ) from None


def open_route(request: Request) -> bool:
    """Whether the request was routed to one of ``OPEN_ROUTES`` (no token needed)."""
    route = request.scope.get("route")
    return getattr(route, "path", None) in OPEN_ROUTES


def token_ok(given: str, tokens: list[bytes]) -> bool:
    """Whether ``given`` is one of ``tokens`` (every one compared, in constant time each)."""
    ok = False
    raw = given.encode()
    for t in tokens:
        ok |= hmac.compare_digest(raw, t)
    return ok


def basic_password(header: str) -> str | None:
    """The password of an ``Authorization: Basic ...`` header (None if it is not one)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return password if sep else None


def bearer_auth(tokens: list[bytes]) -> Callable[..., None]:
    """A FastAPI dependency raising ``Unauthorized`` unless the request has one of
    ``tokens`` as its bearer token, or as the password of basic auth (any user name:
    Kestra's SDK sends ``username``/``password`` that way)."""

    def authenticate(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        if open_route(request):
            return
        if credentials is not None and token_ok(credentials.credentials, tokens):
            return
        password = basic_password(request.headers.get("authorization", ""))
        if password is None or not token_ok(password, tokens):
            raise Unauthorized()

    return authenticate


class BodyLimit:
    """ASGI middleware: refuses a request body over ``limit`` bytes with 413.

    A ``Content-Length`` over the limit is refused before the body is read; a chunked
    body is counted as it arrives (``BodyTooLarge`` is raised where the route reads it,
    and answered by the error handlers, or here if it is raised outside any route).
    """

    def __init__(self, app: ASGIApp, limit: int, webhook_limit: int | None = None) -> None:
        self.app, self.default = app, limit
        self.webhook_limit = limit if webhook_limit is None else webhook_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.webhook_limit if WEBHOOK_PATH.match(scope.get("path", "")) else self.default
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = False
                if too_large:
                    response = problem_response(
                        P.from_error(BodyTooLarge(limit)), {"Connection": "close"}
                    )
                    await response(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # raised outside any route's handlers
            if started:
                raise
            await problem_response(P.from_error(exc))(scope, receive, send)
