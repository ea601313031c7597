"""Problem details (RFC 9457): the body of every error the REST API answers.

Shared by the server (``executor.api.app``) and the HTTP client
(``executor.api.http_client``), which maps each ``type`` back to the error Ostra raises
in process. This module imports neither FastAPI nor httpx.

::

    {"type": "urn:ostra:problem:invalid-inputs", "title": "Invalid inputs", "status": 422,
     "detail": "invalid inputs (1 problem)", "errors": [{"path": "inputs.n",
     "message": "expected an integer, got 'x'"}]}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from executor.errors import (
    ExecutionNotFound,
    FlowNotFound,
    FlowValidationError,
    NotFoundError,
    OstraError,
    StateConflict,
    StoreError,
    TemplateError,
    ValidationFailed,
)

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
    return problem_type[len(TYPE_PREFIX):] if problem_type.startswith(TYPE_PREFIX) else ""


def problem(status: int, kind: str, detail: str | None = None,
            errors: list[dict[str, str]] | None = None, **extensions: Any) -> dict[str, Any]:
    """A problem body as plain JSON data."""
    body: dict[str, Any] = {"type": TYPE_PREFIX + kind, "title": TITLES.get(kind, kind),
                            "status": status}
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extensions)
    return body


def from_error(exc: OstraError) -> dict[str, Any]:
    """The problem body for an Ostra error raised while serving a request.

    Messages of Ostra's errors never show a secret input's value; a ``StoreError`` is
    answered with a fixed text (its message may name hosts).
    """
    if isinstance(exc, ValidationFailed):
        kind = INVALID_FLOW if isinstance(exc, FlowValidationError) else INVALID_INPUTS
        first = str(exc).splitlines()[0].rstrip(":") if str(exc) else kind
        return problem(422, kind, first, [p.to_dict() for p in exc.problems])
    if isinstance(exc, ExecutionNotFound):
        return problem(404, EXECUTION_NOT_FOUND, str(exc), executionId=exc.execution_id)
    if isinstance(exc, FlowNotFound):
        return problem(404, FLOW_NOT_FOUND, str(exc), namespace=exc.namespace,
                       flowId=exc.flow_id)
    if isinstance(exc, NotFoundError):
        return problem(404, NOT_FOUND, str(exc))
    if isinstance(exc, StateConflict):
        return problem(409, STATE_CONFLICT, str(exc))
    if isinstance(exc, TemplateError):
        return problem(422, INVALID_REQUEST, str(exc))
    if isinstance(exc, StoreError):
        return problem(503, STORE_UNAVAILABLE, "the state store (Redis) cannot be reached; "
                                               "try again later")
    return problem(500, INTERNAL, "the request failed on the server")
