"""Problem details (RFC 9457): the body of every error the REST API answers, and the one
place that decides which status and body each error gets.

Shared by the server (``executor.api.handlers`` answers with ``from_error``,
``from_status`` and ``invalid_request``) and the HTTP client
(``executor.api.http_client``), which maps each ``type`` back to the error Ostra raises
in process. This module imports neither FastAPI nor httpx.

::

    {"type": "urn:ostra:problem:invalid-inputs", "title": "Invalid inputs", "status": 422,
     "detail": "invalid inputs (1 problem)", "errors": [{"path": "inputs.n",
     "message": "expected an integer, got 'x'"}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from executor.errors import (
    ApiError,
    ApiUnavailable,
    BadRequest,
    ExecutionNotFound,
    FlowNotFound,
    FlowValidationError,
    InputValidationError,
    NotFoundError,
    OstraError,
    PayloadTooLarge,
    StateConflict,
    StoreError,
    TemplateError,
    TooManyFollowers,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from executor.errors import Problem as ErrorProblem

#: The media type of every error body.
PROBLEM_JSON = "application/problem+json"
#: Every ``type`` Ostra answers starts with this.
TYPE_PREFIX = "urn:ostra:problem:"

INVALID_FLOW = "invalid-flow"
INVALID_INPUTS = "invalid-inputs"
INVALID_REQUEST = "invalid-request"
FLOW_NOT_FOUND = "flow-not-found"
EXECUTION_NOT_FOUND = "execution-not-found"
NOT_FOUND = "not-found"
STATE_CONFLICT = "state-conflict"
UNAUTHORIZED = "unauthorized"
BODY_TOO_LARGE = "body-too-large"
STORE_UNAVAILABLE = "store-unavailable"
TOO_MANY_FOLLOWERS = "too-many-followers"
METHOD_NOT_ALLOWED = "method-not-allowed"
UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
BAD_REQUEST = "bad-request"
INTERNAL = "internal"

#: Titles by kind (a title does not change from one occurrence to the next).
TITLES = {
    INVALID_FLOW: "Invalid flow",
    INVALID_INPUTS: "Invalid inputs",
    INVALID_REQUEST: "Invalid request",
    FLOW_NOT_FOUND: "Flow not found",
    EXECUTION_NOT_FOUND: "Execution not found",
    NOT_FOUND: "Not found",
    STATE_CONFLICT: "State conflict",
    UNAUTHORIZED: "Unauthorized",
    BODY_TOO_LARGE: "Request body too large",
    STORE_UNAVAILABLE: "State store unavailable",
    TOO_MANY_FOLLOWERS: "Too many follow streams",
    METHOD_NOT_ALLOWED: "Method not allowed",
    UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
    BAD_REQUEST: "Bad request",
    INTERNAL: "Internal server error",
}


class ProblemError(BaseModel):
    """One thing wrong with the request: where (a dotted path) and what."""

    path: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details object (extension members are allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemError] | None = None


def kind_of(problem_type: str) -> str:
    """``invalid-flow`` for ``urn:ostra:problem:invalid-flow`` (else the type unchanged)."""
    return problem_type[len(TYPE_PREFIX) :] if problem_type.startswith(TYPE_PREFIX) else ""


def problem(
    status: int,
    kind: str,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """A problem body as plain JSON data."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + kind,
        "title": TITLES.get(kind, kind),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extensions)
    return body


#: Kinds of the statuses FastAPI and Starlette answer by themselves (others: bad-request,
#: or internal from 500 on).
STATUS_KINDS = {
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: BODY_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}
#: The headers answered with a 401.
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="ostra"'}
#: The headers answered when the follow streams are all taken: when to try again.
FOLLOWERS_HEADERS = {"Retry-After": "5"}


def from_status(status: int, detail: str | None = None) -> dict[str, Any]:
    """The problem body for an HTTP error status FastAPI or Starlette raised (404 of an
    unknown path, 405, ...)."""
    default = BAD_REQUEST if status < 500 else INTERNAL
    return problem(status, STATUS_KINDS.get(status, default), detail)


def invalid_request(errors: list[dict[str, str]]) -> dict[str, Any]:
    """The 422 body for request parameters FastAPI found invalid (each ``path`` and
    ``message``)."""
    n = len(errors)
    return problem(422, INVALID_REQUEST, f"invalid request ({n} problem{'s' * (n != 1)})", errors)


def headers_for(exc: OstraError) -> dict[str, str]:
    """The HTTP headers answered with the problem body of ``exc`` (most have none)."""
    if isinstance(exc, Unauthorized):
        return dict(UNAUTHORIZED_HEADERS)
    if isinstance(exc, TooManyFollowers):
        return dict(FOLLOWERS_HEADERS)
    return {}


def from_error(exc: OstraError) -> dict[str, Any]:
    """The problem body for an Ostra error raised while serving a request.

    Its ``status`` is the HTTP status to answer. Messages of Ostra's errors never show a
    secret input's value; a ``StoreError`` is answered with a fixed text (its message may
    name hosts), and so is an ``Unauthorized``.
    """
    if isinstance(exc, ApiError):
        return _from_api_error(exc)
    if isinstance(exc, ValidationFailed):
        kind = INVALID_FLOW if isinstance(exc, FlowValidationError) else INVALID_INPUTS
        first = str(exc).splitlines()[0].rstrip(":") if str(exc) else kind
        return problem(422, kind, first, [p.to_dict() for p in exc.problems])
    if isinstance(exc, ExecutionNotFound):
        return problem(404, EXECUTION_NOT_FOUND, str(exc), executionId=exc.execution_id)
    if isinstance(exc, FlowNotFound):
        return problem(404, FLOW_NOT_FOUND, str(exc), namespace=exc.namespace, flowId=exc.flow_id)
    if isinstance(exc, NotFoundError):
        return problem(404, NOT_FOUND, str(exc))
    if isinstance(exc, StateConflict):
        return problem(409, STATE_CONFLICT, str(exc))
    if isinstance(exc, TemplateError):
        return problem(422, INVALID_REQUEST, str(exc))
    if isinstance(exc, StoreError):
        return problem(
            503, STORE_UNAVAILABLE, "the state store (Redis) cannot be reached; try again later"
        )
    return problem(500, INTERNAL, "the request failed on the server")


def _from_api_error(exc: ApiError) -> dict[str, Any]:
    if isinstance(exc, Unauthorized):
        return problem(401, UNAUTHORIZED, "a valid bearer token is required")
    if isinstance(exc, TooManyFollowers):
        return problem(503, TOO_MANY_FOLLOWERS, exc.detail, limit=exc.limit)
    if isinstance(exc, BadRequest):
        errors = [p.to_dict() for p in exc.errors]
        if len(exc.errors) == 1:
            detail = str(exc.errors[0])
        else:
            detail = f"invalid request ({len(errors)} problems)"
        if isinstance(exc, UnsupportedMediaType):
            return problem(exc.status, UNSUPPORTED_MEDIA_TYPE, detail)
        return problem(exc.status, INVALID_REQUEST, detail, errors)
    return from_status(exc.status, exc.detail or None)


def to_error(status: int, body: Mapping[str, Any] | None, reason: str = "") -> OstraError:
    """The Ostra error a problem+json answer stands for (what the HTTP client raises):
    the way back of ``from_error``."""
    body = body or {}
    kind = kind_of(str(body.get("type", "")))
    detail = str(body.get("detail") or body.get("title") or reason or f"HTTP {status}")
    raw = body.get("errors") or []
    problems = (
        [
            ErrorProblem(str(e.get("path", "")), str(e.get("message", "")))
            for e in raw
            if isinstance(e, Mapping)
        ]
        if isinstance(raw, list)
        else []
    )
    if status == 422:
        problems = problems or [ErrorProblem("", detail)]
        if kind == INVALID_FLOW:
            return FlowValidationError(problems)
        return InputValidationError(problems)
    if status == 404:
        if kind == EXECUTION_NOT_FOUND and body.get("executionId"):
            return ExecutionNotFound(str(body["executionId"]))
        if kind == FLOW_NOT_FOUND and body.get("namespace") and body.get("flowId"):
            return FlowNotFound(str(body["namespace"]), str(body["flowId"]))
        return NotFoundError(detail)
    if status == 409:
        return StateConflict(detail)
    if status == 401:
        return Unauthorized(status, body, detail)
    if status == 413:
        return PayloadTooLarge(status, body, detail)
    if status == 503:
        return ApiUnavailable(detail)
    return ApiError(status, body, detail)
