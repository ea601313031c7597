"""Ostra's REST API: Kestra's paths under ``/api/v1``, on FastAPI.

::

    uvicorn executor.api.app:create_app --factory --port 8080
    ostra server api --port 8080          # the same, with Ostra's logging

Routes (JSON in Kestra's shape, camelCase; errors are ``application/problem+json``):

=========================================  ============================================
``POST   /api/v1/flows``                    deploy a flow (YAML body)
``GET    /api/v1/flows/{namespace}/{id}``   a deployed flow (``?revision=``)
``PUT    /api/v1/flows/{namespace}/{id}``   deploy a new revision of an existing flow
``POST   /api/v1/executions/{ns}/{flowId}``  submit (inputs as JSON or a form; ``labels=k:v``;
                                            ``?wait=true`` answers when it ends)
``GET    /api/v1/executions/{id}``          an execution
``GET    /api/v1/executions/search``        ``namespace, flowId, state, page (1-based), size``
``DELETE /api/v1/executions/{id}/kill``     kill (202)
``POST   /api/v1/executions/{id}/restart``  restart a FAILED or KILLED execution
``POST   /api/v1/executions/{id}/replay``   a new execution (``?taskRunId=``; optional inputs)
``POST   /api/v1/executions/{id}/pause``    pause a RUNNING execution
``POST   /api/v1/executions/{id}/resume``   resume a PAUSED execution
``GET    /api/v1/executions/{id}/follow``   server-sent events: every state change, then
                                            ``end`` with the execution
``GET    /api/v1/logs/{id}``                the execution's log lines
``GET    /api/v1/metrics/{id}``             the execution's metrics
``GET    /health``                          liveness and Redis (never needs a token)
=========================================  ============================================

Configuration (environment, or ``create_app`` arguments): ``OSTRA_API_TOKEN`` (a
comma-separated list of accepted bearer tokens; unset: no authentication),
``OSTRA_API_MAX_BODY`` (bytes, default 1 MiB), and the ``OSTRA_*`` settings of the Client.

Nothing is stored for a refused request: flows and inputs are validated in full before
the Client writes anything. Tokens and SECRET input values are never logged or answered
(a SECRET input shows as ``******`` in executions).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from executor.api import problems as P
from executor.client import Client
from executor.errors import (
    ExecutionNotFound,
    FlowValidationError,
    InputValidationError,
    OstraError,
    Problem,
    WaitTimeout,
)
from executor.flow import Flow
from executor.inputs import InputType
from executor.models import Execution, LogEntry, MetricEntry
from executor.state import StateType

log = logging.getLogger("ostra.api")

API_PREFIX = "/api/v1"
DEFAULT_MAX_BODY = 1024 * 1024
#: seconds of silence after which a follow stream sends a comment (detects gone clients)
PING_INTERVAL = 5.0
#: a SECRET input's value as the API shows it
MASK = "******"
#: most nodes a flow's YAML may expand to (aliases included): refuses "billion laughs"
MAX_YAML_NODES = 100_000
MAX_PAGE_SIZE = 10_000
YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/plain")
#: reads ``Authorization: Bearer ...`` (module level: FastAPI resolves annotations here)
_BEARER = HTTPBearer(auto_error=False, description="One of the tokens of OSTRA_API_TOKEN")
_STREAM_ID = re.compile(r"^\d+-\d+(/\d+)?$")
_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


# ---------------------------------------------------------------- response models


class FlowOut(BaseModel):
    """A deployed flow in Kestra's shape, with its ``revision`` and YAML ``source``."""

    model_config = ConfigDict(extra="allow")

    id: str
    namespace: str
    revision: int
    source: str
    tasks: list[dict[str, Any]]


class PagedExecutions(BaseModel):
    """One page of a search (Kestra's ``PagedResults``)."""

    results: list[Execution]
    total: int


class Health(BaseModel):
    status: str
    redis: str


# ---------------------------------------------------------------- errors


class Unauthorized(Exception):
    """No or a wrong bearer token (answered 401)."""


class BodyTooLarge(StarletteHTTPException):
    """The request body is over the limit (answered 413; FastAPI re-raises it as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit} bytes")


class BadRequest(Exception):
    """The request is malformed in a way FastAPI does not see (answered 422)."""

    def __init__(self, errors: list[Problem], status: int = 422,
                 kind: str = P.INVALID_REQUEST) -> None:
        self.errors, self.status, self.kind = errors, status, kind
        super().__init__("; ".join(str(e) for e in errors))


def _problem_response(body: dict[str, Any], headers: Mapping[str, str] | None = None
                      ) -> JSONResponse:
    return JSONResponse(body, status_code=int(body["status"]), media_type=P.PROBLEM_JSON,
                        headers=dict(headers or {}))


_HTTP_KINDS = {404: P.NOT_FOUND, 405: P.METHOD_NOT_ALLOWED, 413: P.BODY_TOO_LARGE,
               415: P.UNSUPPORTED_MEDIA_TYPE, 401: P.UNAUTHORIZED}


def _install_error_handlers(app: FastAPI) -> None:
    async def ostra_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, OstraError)
        body = P.from_error(exc)
        if body["status"] >= 500:
            log.warning("api: %s: %s", type(exc).__name__, _redact(str(exc)))
        return _problem_response(body)

    async def request_invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            errors.append({"path": ".".join(loc), "message": str(e.get("msg", "invalid"))})
        n = len(errors)
        return _problem_response(P.problem(422, P.INVALID_REQUEST,
                                           f"invalid request ({n} problem{'s' * (n != 1)})",
                                           errors))

    async def bad_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        errors = [p.to_dict() for p in exc.errors]
        detail = str(exc.errors[0]) if len(exc.errors) == 1 else \
            f"invalid request ({len(errors)} problems)"
        return _problem_response(P.problem(exc.status, exc.kind, detail,
                                           errors if exc.status == 422 else None))

    async def unauthorized(_: Request, __: Exception) -> Response:
        return _problem_response(
            P.problem(401, P.UNAUTHORIZED, "a valid bearer token is required"),
            {"WWW-Authenticate": 'Bearer realm="ostra"'})

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = _HTTP_KINDS.get(exc.status_code, P.BAD_REQUEST if exc.status_code < 500
                               else P.INTERNAL)
        detail = exc.detail if isinstance(exc.detail, str) else None
        return _problem_response(P.problem(exc.status_code, kind, detail),
                                 exc.headers)

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("api: unexpected error", exc_info=exc)
        return _problem_response(P.problem(500, P.INTERNAL, "the request failed on the server"))

    app.add_exception_handler(OstraError, ostra_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(BadRequest, bad_request)
    app.add_exception_handler(Unauthorized, unauthorized)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]+@",
                           re.IGNORECASE)


def _redact(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    descriptions = {401: "No or a wrong bearer token", 404: "Not found",
                    409: "The request does not fit the current state",
                    413: "The request body is too large",
                    415: "Unsupported request content type",
                    422: "Invalid flow, inputs or parameters (every problem listed)",
                    503: "Redis cannot be reached"}
    return {s: {"model": P.Problem, "description": descriptions[s]} for s in statuses}


def _problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are application/problem+json, not the application/json FastAPI
    writes for a response ``model``."""
    ref = "#/components/schemas/Problem"
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                body = content.get("application/json")
                if status[0] in "45" and body and body.get("schema", {}).get("$ref") == ref:
                    content[P.PROBLEM_JSON] = content.pop("application/json")
    return schema


# ---------------------------------------------------------------- body limit


class BodyLimit:
    """ASGI middleware: refuses a request body over ``limit`` bytes with 413.

    A ``Content-Length`` over the limit is refused before the body is read; a chunked
    body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    response = _problem_response(P.problem(
                        413, P.BODY_TOO_LARGE,
                        f"the request body is over the limit of {self.limit} bytes"),
                        {"Connection": "close"})
                    await response(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
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
            await _problem_response(P.problem(413, P.BODY_TOO_LARGE, str(exc.detail)))(
                scope, receive, send)


# ---------------------------------------------------------------- helpers


def configured_tokens(token: str | Sequence[str] | None) -> list[bytes]:
    if token is None:
        token = os.environ.get("OSTRA_API_TOKEN", "")
    items = token.split(",") if isinstance(token, str) else list(token)
    return [t.strip().encode() for t in items if t and t.strip()]


def _max_body(max_body: int | None) -> int:
    if max_body is not None:
        return max_body
    raw = os.environ.get("OSTRA_API_MAX_BODY", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_MAX_BODY
    except ValueError:
        raise ValueError(f"OSTRA_API_MAX_BODY must be a number of bytes, got {raw!r}") from None


def _token_ok(given: str, tokens: list[bytes]) -> bool:
    ok = False
    raw = given.encode()
    for t in tokens:  # every token is compared, in constant time each
        ok |= hmac.compare_digest(raw, t)
    return ok


def yaml_nodes(text: str, limit: int = MAX_YAML_NODES) -> int:
    """How many nodes the YAML document expands to (aliases counted as copies).

    Raises FlowValidationError past ``limit`` or on recursive aliases: a small text with
    nested aliases ("billion laughs") would otherwise expand to billions of values when
    the flow is validated and stored.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise FlowValidationError([Problem("", f"not valid YAML: {exc}")]) from None
    if root is None:
        return 0
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise FlowValidationError([Problem("", "recursive YAML aliases are not allowed")])
        visiting.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        visiting.discard(key)
        if total > limit:
            raise FlowValidationError([Problem("", f"the YAML expands to more than {limit} "
                                                   "values (too many aliases)")])
        sizes[key] = total
        return total

    return size(root)


def _flow_out(flow: Flow) -> dict[str, Any]:
    data = flow.to_dict()
    data["revision"] = flow.revision or 1
    data["source"] = flow.to_yaml()
    return data


def _parse_labels(raw: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    problems = []
    for item in raw or []:
        key, sep, value = item.partition(":")
        if not sep or not key:
            problems.append(Problem("labels", f"expected key:value, got {item!r}"))
        else:
            labels[key] = value
    if problems:
        raise InputValidationError(problems)
    return labels


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_inputs(request: Request) -> dict[str, Any]:
    """Inputs from a JSON object body, or form fields (multipart or urlencoded)."""
    media = _media_type(request)
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form()
        except StarletteHTTPException as exc:  # malformed form data (not BodyTooLarge)
            if exc.status_code != 400:
                raise
            raise BadRequest([Problem("body", f"invalid form data: {exc.detail}")]) from None
        try:
            values: dict[str, Any] = {}
            problems = []
            for key in form:
                items = form.getlist(key)
                if any(isinstance(v, UploadFile) for v in items):
                    problems.append(Problem(f"inputs.{key}", "file inputs are not supported"))
                    continue
                strs = [str(v) for v in items]
                values[key] = strs[0] if len(strs) == 1 else strs
            if problems:
                raise InputValidationError(problems)
            return values
        finally:
            await form.close()
    body = await request.body()
    if not body.strip():
        return {}
    if media not in ("application/json", "") and not media.endswith("+json"):
        raise BadRequest([Problem("body", f"unsupported content type {media!r}: send JSON, "
                                          "multipart/form-data or a urlencoded form")],
                         415, P.UNSUPPORTED_MEDIA_TYPE)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest([Problem("body", "not valid JSON")]) from None
    if not isinstance(data, dict):
        raise BadRequest([Problem("body", "expected a JSON object of input values")])
    return data


async def _read_yaml(request: Request) -> str:
    media = _media_type(request)
    if media and media not in YAML_TYPES:
        raise BadRequest([Problem("body", f"unsupported content type {media!r}: send the flow "
                                          "as application/x-yaml")],
                         415, P.UNSUPPORTED_MEDIA_TYPE)
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FlowValidationError([Problem("", "the flow is not UTF-8 text")]) from None
    if not text.strip():
        raise FlowValidationError([Problem("", "the body is empty: send the flow's YAML")])
    return text


def _parse_flow(text: str) -> Flow:
    yaml_nodes(text)
    return Flow.from_yaml(text if "\n" in text else text + "\n")  # never read as a path


_YAML_BODY = {
    "requestBody": {
        "required": True,
        "description": "The flow, in Kestra's YAML",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
    },
}
_INPUTS_SCHEMA = {"type": "object", "additionalProperties": True,
                  "description": "Input values by input id"}
_FORM_SCHEMA = {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Input values by input id (one field per input)"}
_INPUTS_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": _INPUTS_SCHEMA},
            "multipart/form-data": {"schema": _FORM_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
        },
    },
}
_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: one per state change of the execution, a task "
                       "run or an attempt (data: a StateEvent), then an event `end` (data: "
                       "the execution). An event `error` (data: a problem) ends a stream "
                       "that cannot go on.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}


def _sse(data: Any, event: str | None = None, event_id: str | None = None) -> str:
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


# ---------------------------------------------------------------- the app


class Api:
    """The routes' logic around one Client (blocking calls go to the threadpool)."""

    def __init__(self, client: Client, ping_interval: float = PING_INTERVAL) -> None:
        self.client = client
        self.ping_interval = ping_interval

    # -- presenting

    def _secret_inputs(self, execution: Execution) -> set[str]:
        try:
            flow = self.client.flow(execution.namespace, execution.flow_id,
                                    execution.flow_revision)
        except OstraError:
            return set()
        return {d.id for d in flow.inputs if d.type == InputType.SECRET
                or d.item_type == InputType.SECRET}

    def present(self, execution: Execution) -> dict[str, Any]:
        """The execution's JSON, SECRET inputs masked."""
        data = execution.model_dump(mode="json", by_alias=True)
        for key in self._secret_inputs(execution):
            if data["inputs"].get(key) is not None:
                data["inputs"][key] = MASK
        return data

    def respond(self, execution: Execution, status: int = 200) -> JSONResponse:
        return JSONResponse(self.present(execution), status_code=status)

    # -- blocking parts

    def search(self, namespace: str | None, flow_id: str | None, state: StateType | None,
               page: int, size: int) -> dict[str, Any]:
        ids = self.client.store.search(namespace=namespace, flow_id=flow_id, state=state,
                                       limit=2**31, offset=0)
        results = []
        for eid in ids[(page - 1) * size:page * size]:
            try:
                results.append(self.present(self.client.get(eid)))
            except ExecutionNotFound:  # expired between the listing and now
                continue
        return {"results": results, "total": len(ids)}

    async def wait(self, request: Request, execution_id: str) -> Execution | None:
        """The execution once it ended; None if the caller went away first."""
        while True:
            try:
                return await run_in_threadpool(self.client.wait, execution_id, 1.0)
            except WaitTimeout:
                if await request.is_disconnected():
                    return None

    async def events(self, execution_id: str, last_id: str) -> AsyncIterator[str]:
        """The follow stream (the execution is known to exist)."""
        store = self.client.store
        silent_since = time.monotonic()
        yield "retry: 1000\n\n"
        try:
            while True:
                batch = await run_in_threadpool(store.read_events, execution_id, last_id, 1000)
                terminal_event = False
                for last_id, event in batch:
                    yield _sse(event.model_dump(mode="json", by_alias=True), event_id=last_id)
                    if event.task_run_id is None and event.state.is_terminated():
                        terminal_event = True
                if batch:
                    silent_since = time.monotonic()
                # An end seen in the stream may be an earlier one (since restarted): the
                # stream ends when the execution's current state is an end state.
                ended = False
                if terminal_event or not batch:
                    state = await run_in_threadpool(self.client.state, execution_id)
                    ended = state.is_terminated()
                if ended:
                    execution = await run_in_threadpool(self.client.get, execution_id)
                    yield _sse(self.present(execution), event="end")
                    return
                if time.monotonic() - silent_since >= self.ping_interval:
                    yield ": ping\n\n"
                    silent_since = time.monotonic()
        except OstraError as exc:
            yield _sse(P.from_error(exc), event="error")


def create_app(client: Client | None = None, token: str | Sequence[str] | None = None, *,
               max_body: int | None = None, ping_interval: float = PING_INTERVAL) -> FastAPI:
    """The API around ``client`` (default: a Client of ``OSTRA_REDIS_URL``).

    Args:
        client: the Client the routes use; one is made (and closed at shutdown) if None.
        token: accepted bearer tokens (a list, or a comma-separated string); None reads
            ``OSTRA_API_TOKEN``; empty: no authentication.
        max_body: the largest request body in bytes (None: ``OSTRA_API_MAX_BODY``, 1 MiB).
        ping_interval: seconds of silence after which a follow stream sends a comment.
    """
    tokens = configured_tokens(token)
    limit = _max_body(max_body)
    own = client is None
    the_client = client if client is not None else Client()
    api = Api(the_client, ping_interval)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if own:
            the_client.orchestrator.dispatcher.app.close()
            the_client.store.r.close()

    # With tokens, every route but /health needs one: the OpenAPI document is served by
    # a route of the guarded router below, and the interactive docs are off.
    app = FastAPI(
        title="Ostra", version="0.1.0", lifespan=lifespan,
        description="Kestra-style workflow executions on Celery workers, state in Redis. "
                    "Errors are application/problem+json (RFC 9457).",
        openapi_url=None if tokens else "/openapi.json",
        docs_url=None if tokens else "/docs",
        redoc_url=None if tokens else "/redoc",
    )
    app.state.client = the_client
    app.add_middleware(BodyLimit, limit=limit)
    _install_error_handlers(app)

    dependencies = []
    auth_errors: tuple[int, ...] = ()
    if tokens:
        def authenticate(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        ) -> None:
            if credentials is None or not _token_ok(credentials.credentials, tokens):
                raise Unauthorized()

        dependencies.append(Depends(authenticate))
        auth_errors = (401,)

    router = APIRouter(prefix=API_PREFIX, dependencies=dependencies,
                       responses=_error_responses(*auth_errors, 422, 503))

    # -- flows

    @router.post("/flows", response_model=FlowOut, tags=["flows"], summary="Deploy a flow",
                 openapi_extra=_YAML_BODY, responses=_error_responses(413, 415, 422))
    async def deploy_flow(request: Request) -> Response:
        text = await _read_yaml(request)
        flow = _parse_flow(text)
        deployed = await run_in_threadpool(the_client.deploy, flow)
        return JSONResponse(_flow_out(deployed))

    @router.get(
        "/flows/{namespace}/{id}", response_model=FlowOut, tags=["flows"],
        summary="A deployed flow",
        responses={**_error_responses(404, 422),
                   200: {"content": {"application/json": {},
                                     "application/x-yaml": {"schema": {"type": "string"}}},
                         "description": "The flow (YAML if the Accept header asks for it)"}})
    def get_flow(
        request: Request, namespace: str, id: str,
        revision: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        flow = the_client.flow(namespace, id, revision)
        accept = request.headers.get("accept", "")
        if "yaml" in accept and "json" not in accept:
            return Response(flow.to_yaml(), media_type="application/x-yaml")
        return JSONResponse(_flow_out(flow))

    @router.put("/flows/{namespace}/{id}", response_model=FlowOut, tags=["flows"],
                summary="Deploy a new revision of a flow", openapi_extra=_YAML_BODY,
                responses=_error_responses(404, 413, 415, 422))
    async def update_flow(request: Request, namespace: str, id: str) -> Response:
        text = await _read_yaml(request)
        flow = _parse_flow(text)
        problems = [Problem(name, f"the body says {got!r} but the path says {want!r}")
                    for name, got, want in (("namespace", flow.namespace, namespace),
                                            ("id", flow.id, id)) if got != want]
        if problems:
            raise FlowValidationError(problems)
        await run_in_threadpool(the_client.flow, namespace, id)  # 404 if not deployed
        deployed = await run_in_threadpool(the_client.deploy, flow)
        return JSONResponse(_flow_out(deployed))

    # -- executions

    @router.get("/executions/search", response_model=PagedExecutions, tags=["executions"],
                summary="Search executions, newest first", responses=_error_responses(422))
    def search_executions(
        namespace: str | None = None,
        flow_id: Annotated[str | None, Query(alias="flowId")] = None,
        state: StateType | None = None,
        page: Annotated[int, Query(ge=1, le=2**31)] = 1,
        size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
    ) -> Response:
        return JSONResponse(api.search(namespace, flow_id, state, page, size))

    @router.get("/executions/{executionId}", response_model=Execution, tags=["executions"],
                summary="An execution", responses=_error_responses(404))
    def get_execution(execution_id: Annotated[str, PathParam(alias="executionId")]) -> Response:
        return api.respond(the_client.get(execution_id))

    @router.delete("/executions/{executionId}/kill", response_model=Execution,
                   status_code=202, tags=["executions"], summary="Kill an execution",
                   responses=_error_responses(404, 409))
    def kill_execution(execution_id: Annotated[str, PathParam(alias="executionId")]) -> Response:
        return api.respond(the_client.kill(execution_id), 202)

    @router.post("/executions/{executionId}/restart", response_model=Execution,
                 tags=["executions"], summary="Restart a FAILED or KILLED execution",
                 responses=_error_responses(404, 409))
    def restart_execution(
        execution_id: Annotated[str, PathParam(alias="executionId")],
    ) -> Response:
        return api.respond(the_client.restart(execution_id))

    @router.post("/executions/{executionId}/replay", response_model=Execution,
                 tags=["executions"], summary="Replay an execution (a new execution)",
                 openapi_extra=_INPUTS_BODY,
                 responses=_error_responses(404, 409, 413, 415, 422))
    async def replay_execution(
        request: Request,
        execution_id: Annotated[str, PathParam(alias="executionId")],
        task_run_id: Annotated[str | None, Query(
            alias="taskRunId", description="Replay from this task run")] = None,
    ) -> Response:
        inputs = await _read_inputs(request)
        execution = await run_in_threadpool(the_client.replay, execution_id, task_run_id,
                                            inputs or None)
        return api.respond(execution)

    @router.post("/executions/{executionId}/pause", response_model=Execution,
                 tags=["executions"], summary="Pause a RUNNING execution",
                 responses=_error_responses(404, 409))
    def pause_execution(execution_id: Annotated[str, PathParam(alias="executionId")]) -> Response:
        return api.respond(the_client.pause(execution_id))

    @router.post("/executions/{executionId}/resume", response_model=Execution,
                 tags=["executions"], summary="Resume a PAUSED execution",
                 responses=_error_responses(404, 409))
    def resume_execution(
        execution_id: Annotated[str, PathParam(alias="executionId")],
    ) -> Response:
        return api.respond(the_client.resume(execution_id))

    # After the routes of /executions/{executionId}/restart|replay|pause|resume, which
    # take precedence: a flow with one of these ids cannot be started over the API.
    @router.post("/executions/{namespace}/{flowId}", response_model=Execution,
                 tags=["executions"], summary="Start an execution of a deployed flow",
                 openapi_extra=_INPUTS_BODY, responses=_error_responses(404, 409, 413, 415, 422))
    async def create_execution(
        request: Request,
        namespace: str,
        flow_id: Annotated[str, PathParam(alias="flowId")],
        labels: Annotated[list[str] | None, Query(
            description="A label as key:value (repeatable)")] = None,
        wait: Annotated[bool, Query(description="Answer when the execution ends")] = False,
    ) -> Response:
        inputs = await _read_inputs(request)
        label_map = _parse_labels(labels)
        execution = await run_in_threadpool(the_client.submit, (namespace, flow_id), inputs,
                                            label_map)
        if wait:
            done = await api.wait(request, execution.id)
            if done is None:  # the caller went away; the execution goes on
                return Response(status_code=204)
            execution = done
        return api.respond(execution)

    @router.get("/executions/{executionId}/follow", tags=["executions"],
                summary="Follow an execution's state changes (server-sent events)",
                response_class=StreamingResponse,
                responses={**_SSE_RESPONSE, **_error_responses(404)})
    async def follow_execution(
        execution_id: Annotated[str, PathParam(alias="executionId")],
        last_event_id: Annotated[str | None, Header(
            alias="Last-Event-ID", description="Resume after this event")] = None,
    ) -> Response:
        await run_in_threadpool(the_client.state, execution_id)  # 404 before streaming
        start = last_event_id if last_event_id and _STREAM_ID.match(last_event_id) else "0"
        return StreamingResponse(api.events(execution_id, start),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    # -- logs and metrics

    @router.get("/logs/{executionId}", response_model=list[LogEntry], tags=["logs"],
                summary="An execution's log lines, in order", responses=_error_responses(404))
    def get_logs(
        execution_id: Annotated[str, PathParam(alias="executionId")],
        task_run_id: Annotated[str | None, Query(alias="taskRunId")] = None,
        min_level: Annotated[str | None, Query(
            alias="minLevel", pattern="^(TRACE|DEBUG|INFO|WARN|ERROR)$")] = None,
    ) -> Response:
        entries = the_client.logs(execution_id)
        if task_run_id is not None:
            entries = [e for e in entries if e.task_run_id == task_run_id]
        if min_level is not None:
            floor = _LEVELS.index(min_level)
            entries = [e for e in entries if _LEVELS.index(e.level) >= floor]
        return JSONResponse([e.model_dump(mode="json", by_alias=True) for e in entries])

    @router.get("/metrics/{executionId}", response_model=list[MetricEntry], tags=["metrics"],
                summary="An execution's metrics", responses=_error_responses(404))
    def get_metrics(execution_id: Annotated[str, PathParam(alias="executionId")]) -> Response:
        return JSONResponse([m.model_dump(mode="json", by_alias=True)
                             for m in the_client.metrics(execution_id)])

    app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_media_types(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if tokens:
        guarded = APIRouter(dependencies=dependencies)

        @guarded.get("/openapi.json", include_in_schema=False)
        def openapi_document() -> JSONResponse:
            return JSONResponse(app.openapi())

        app.include_router(guarded)

    @app.get("/health", response_model=Health, tags=["health"],
             summary="Liveness, and whether Redis answers (no token needed)",
             responses={503: {"model": Health, "description": "Redis cannot be reached"}})
    def health() -> Response:
        try:
            the_client.store.r.ping()
        except Exception:  # any failure to reach Redis is "DOWN"
            return JSONResponse({"status": "DOWN", "redis": "DOWN"}, status_code=503)
        return JSONResponse({"status": "UP", "redis": "UP"})

    return app


__all__ = ["API_PREFIX", "Api", "BodyLimit", "FlowOut", "PagedExecutions", "configured_tokens",
           "create_app", "yaml_nodes"]
