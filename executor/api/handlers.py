"""The REST API's exception handlers: every error is answered as application/problem+json,
with the status and body ``executor.api.problems`` gives it.

Errors of Ostra (``OstraError``, the API's own ``BadRequest``, ``Unauthorized`` and
``BodyTooLarge`` included), request parameters FastAPI found invalid, HTTP errors of
FastAPI and Starlette (unknown path, wrong method), and anything unexpected (500, logged).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from executor.api import problems as P
from executor.errors import OstraError

log = logging.getLogger("ostra.api")

_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]+@", re.IGNORECASE
)


def redact(text: str) -> str:
    """``text`` with the passwords of URLs in it replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def problem_response(
    body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A problem body answered with its status, as application/problem+json."""
    return JSONResponse(
        body,
        status_code=int(body["status"]),
        media_type=P.PROBLEM_JSON,
        headers=dict(headers or {}),
    )


async def _ostra_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, OstraError)
    body = P.from_error(exc)
    if body["status"] >= 500:
        log.warning("api: %s: %s", type(exc).__name__, redact(str(exc)))
    return problem_response(body, P.headers_for(exc))


async def _request_invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ())]
        errors.append({"path": ".".join(loc), "message": str(e.get("msg", "invalid"))})
    return problem_response(P.invalid_request(errors))


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(P.from_status(exc.status_code, detail), exc.headers)


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.exception("api: unexpected error", exc_info=exc)
    return problem_response(P.problem(500, P.INTERNAL, "the request failed on the server"))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as application/problem+json."""
    app.add_exception_handler(OstraError, _ostra_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
