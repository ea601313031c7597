"""``HttpClient``: the Python client over Ostra's REST API instead of Redis.

Same methods and return types as ``executor.Client``, and the same errors: the API's
problem+json answers are mapped back (``executor.api.problems.to_error``: 422 to
``FlowValidationError`` or ``InputValidationError`` with every problem, 404 to
``ExecutionNotFound`` or ``FlowNotFound``, 409 to ``StateConflict``, 503 or an unreachable
server to ``ApiUnavailable``, a ``StoreError``). The errors of HTTP itself (``ApiError``,
``Unauthorized``, ``PayloadTooLarge``, ``ApiUnavailable``) live in ``executor.errors`` and
are importable from here too::

    from executor.api.http_client import HttpClient

    with HttpClient("http://127.0.0.1:8080", token="...") as client:
        execution = client.submit(("demo", "hello"), inputs={"name": "Ada"})
        for event in client.follow(execution.id):
            print(event.task_id or "execution", event.state)
        done = client.wait(execution.id, timeout=60)

``token`` defaults to the first token of ``OSTRA_API_TOKEN``. SECRET inputs come back
masked (``******``), as the API shows them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import httpx
from pydantic_core import to_jsonable_python

from executor import bounds
from executor.api.problems import to_error as error_from_problem
from executor.errors import (
    ApiError,
    ApiUnavailable,
    InputValidationError,
    NotFoundError,
    OstraError,
    PayloadTooLarge,
    Problem,
    StateConflict,
    Unauthorized,
    WaitTimeout,
)
from executor.flow import Flow
from executor.inputs import resolve_inputs
from executor.kv import KVEntry, KVType, TypedValue, check_ttl
from executor.kv import coerce as kv_coerce
from executor.kv import encode as kv_encode
from executor.kv import iso_duration as kv_iso_duration
from executor.loglimits import LogQuery
from executor.models import (
    Execution,
    ExecutionPage,
    Label,
    LogEntry,
    LogPage,
    MetricEntry,
    StateEvent,
)
from executor.state import StateType, search_states

FlowRef = Flow | tuple[str, str] | str | Path
#: the largest page the API serves
MAX_PAGE_SIZE = 10_000
#: consecutive failed connections after which ``follow``/``wait`` give up
MAX_RECONNECTS = 5


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _flow_text(flow: Flow | str | Path) -> str:
    if isinstance(flow, Flow):
        return flow.to_yaml()
    if isinstance(flow, Path) or ("\n" not in flow and flow.endswith((".yaml", ".yml"))):
        return Path(flow).read_text()
    return flow


def _flow_from(data: Mapping[str, Any]) -> Flow:
    fields = {
        k: v
        for k, v in data.items()
        if k not in ("revision", "source", "deleted", "draft", "warnings")
    }
    return Flow.from_dict(fields).model_copy(update={"revision": data.get("revision")})


def _inputs_body(inputs: Mapping[str, Any]) -> Any:
    """The JSON body of ``inputs``; refused here (``InputValidationError``, nothing sent)
    if a value nests deeper than the API reads (``bounds.MAX_JSON_DEPTH``)."""
    problems = []
    for key, value in inputs.items():
        try:
            bounds.check_depth(value)
        except bounds.TooDeep as exc:
            problems.append(Problem(f"inputs.{key}", f"the value is {exc}"))
    if problems:
        raise InputValidationError(problems)
    return to_jsonable_python(dict(inputs))


def _search_params(
    namespace: str | None,
    flow_id: str | None,
    state: StateType | str | Iterable[StateType | str] | None,
    namespace_prefix: str | None,
    labels: Mapping[str, str] | None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> dict[str, Any]:
    """The query parameters of ``/executions/search`` for these filters."""
    params: dict[str, Any] = {}
    for name, when in (("startDate", created_from), ("endDate", created_to)):
        if when is not None:
            params[name] = (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()
    if namespace is not None:
        params["namespace"] = namespace
    if flow_id is not None:
        params["flowId"] = flow_id
    if state is not None:
        wanted = search_states(state)
        if isinstance(wanted, list):
            params["state"] = [s.value for s in wanted]
        elif wanted is not None:
            params["state"] = wanted.value
    if namespace_prefix is not None:
        params["filters[namespace][PREFIX]"] = namespace_prefix
    if labels:
        params["labels"] = [f"{k}:{v}" for k, v in labels.items()]
    return params


class HttpClient:
    """Talks to Ostra through its REST API.

    Args:
        url: the server, ``http(s)://host:port`` (``/api/v1`` is added unless given).
        token: a bearer token; defaults to the first token of ``OSTRA_API_TOKEN``.
        timeout: seconds for a request (``wait`` and ``follow`` stream as long as needed).
        transport: an httpx transport (tests: ``httpx.ASGITransport``).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = url.rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        self.url = base
        self.timeout = timeout
        if token is None:
            token = next(
                (t.strip() for t in os.environ.get("OSTRA_API_TOKEN", "").split(",") if t.strip()),
                None,
            )
        headers = {"Accept": "application/json", "User-Agent": "ostra-http-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base + "/api/v1", headers=headers, timeout=timeout, transport=transport
        )
        self._root = httpx.Client(base_url=base, timeout=timeout, transport=transport)

    def __repr__(self) -> str:  # never the token
        return f"HttpClient({self.url!r})"

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiUnavailable(
                f"cannot reach the Ostra API at {self.url}: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    @staticmethod
    def _error(response: httpx.Response) -> OstraError:
        try:
            body = response.json()
        except ValueError:
            body = None
        return error_from_problem(
            response.status_code, body if isinstance(body, dict) else None, response.reason_phrase
        )

    def close(self) -> None:
        """Close the connections to the API (the client is not used after)."""
        self._http.close()
        self._root.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """``/health``: ``{"status": "UP", "redis": "UP"}`` (raises ApiUnavailable if down)."""
        try:
            response = self._root.get("/health")
        except httpx.TransportError as exc:
            raise ApiUnavailable(f"cannot reach the Ostra API at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise ApiUnavailable(f"the Ostra API at {self.url} is {response.json()}")
        result: dict[str, Any] = response.json()
        return result

    def ping(self) -> None:
        """Check that the API and its Redis answer (raises ``ApiUnavailable`` if not)."""
        self.health()

    # ------------------------------------------------------------------ flows

    def deploy(self, flow: Flow | str | Path) -> Flow:
        """Validate and store ``flow`` on the server (a Flow, YAML text or a path).

        Returns the flow with its revision (unchanged if the definition did not change).
        """
        data = self._json(
            "POST",
            "/flows",
            content=_flow_text(flow).encode(),
            headers={"Content-Type": "application/x-yaml"},
        )
        return _flow_from(data)

    def flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """A deployed flow (its latest revision unless one is given)."""
        params = {"revision": revision} if revision is not None else None
        return _flow_from(self._json("GET", f"/flows/{_q(namespace)}/{_q(flow_id)}", params=params))

    # ------------------------------------------------------------------ executions

    def submit(
        self,
        flow: FlowRef,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | list[Label] | None = None,
    ) -> Execution:
        """Start an execution of ``flow``: a ``(namespace, flow_id)`` of a deployed flow, or
        a Flow, YAML text or a path (deployed first).

        A Flow's inputs are checked here before it is deployed; for YAML the server checks
        them after deploying it (the deploy is harmless: same definition, same revision).
        """
        if isinstance(flow, tuple):
            namespace, flow_id = flow
        else:
            if isinstance(flow, Flow):
                if flow.disabled:
                    raise StateConflict(f"flow {flow.namespace}.{flow.id} is disabled")
                resolve_inputs(flow.inputs, inputs or {}, seal=False)
            deployed = self.deploy(flow)
            namespace, flow_id = deployed.namespace, deployed.id
        items = (
            labels.items()
            if isinstance(labels, Mapping)
            else ([(lb.key, lb.value) for lb in labels] if labels else [])
        )
        params: list[tuple[str, str]] = []
        problems = []
        for key, value in items:
            if ":" in str(key):
                problems.append(
                    Problem(f"labels.{key}", "a label key cannot contain ':' over the API")
                )
            params.append(("labels", f"{key}:{value}"))
        if problems:
            raise InputValidationError(problems)
        data = self._json(
            "POST",
            f"/executions/{_q(namespace)}/{_q(flow_id)}",
            params=params,
            json=_inputs_body(inputs or {}),
        )
        return Execution.model_validate(data)

    def get(self, execution_id: str) -> Execution:
        """The execution with all its task runs, attempts and outputs."""
        return Execution.model_validate(self._json("GET", f"/executions/{_q(execution_id)}"))

    def state(self, execution_id: str) -> StateType:
        """The current state of the execution."""
        return self.get(execution_id).state.current

    def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """Block until the execution ends, then return it. Raises ``WaitTimeout``."""
        for event, data in self._stream(execution_id, timeout):
            if event == "end":
                return Execution.model_validate(data)
        return self.get(execution_id)  # pragma: no cover - the stream ends with "end"

    def follow(self, execution_id: str, timeout: float | None = None) -> Iterator[StateEvent]:
        """Every state change of the execution, its task runs and attempts, from the
        first one, as they happen; ends after the execution ends."""
        for event, data in self._stream(execution_id, timeout):
            if event == "message":
                yield StateEvent.model_validate(data)

    def _stream(self, execution_id: str, timeout: float | None) -> Iterator[tuple[str, Any]]:
        """(event, data) of ``/events`` until ``end``; reconnects after ``Last-Event-ID``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last_id: str | None = None
        failures = 0
        path = f"/executions/{_q(execution_id)}/events"

        def timed_out() -> WaitTimeout:
            return WaitTimeout(execution_id, timeout or 0, self.state(execution_id))

        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id:
                headers["Last-Event-ID"] = last_id
            read = 60.0  # the server sends a comment every few seconds of silence
            if deadline is not None:
                read = min(read, max(0.05, deadline - time.monotonic()))
            try:
                with self._http.stream(
                    "GET", path, headers=headers, timeout=httpx.Timeout(self.timeout, read=read)
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise self._error(response)
                    failures = 0
                    for event, text, event_id in iter_sse(
                        _until(response.iter_lines(), deadline, timed_out)
                    ):
                        payload = json.loads(text)
                        if event == "error":
                            raise error_from_problem(int(payload.get("status", 500)), payload)
                        if event_id:
                            last_id = event_id
                        yield event, payload
                        if event == "end":
                            return
            except httpx.ReadTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise timed_out() from None
            except httpx.TransportError as exc:
                failures += 1
                if failures > MAX_RECONNECTS:
                    raise ApiUnavailable(f"lost the Ostra API at {self.url}: {exc}") from None
                time.sleep(min(0.2 * 2**failures, 5.0))
            if deadline is not None and time.monotonic() >= deadline:
                raise timed_out()

    def search(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: StateType | str | Iterable[StateType | str] | None = None,
        limit: int = 50,
        offset: int = 0,
        namespace_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> list[Execution]:
        """Executions, newest first, filtered by namespace (exactly), flow, current
        state, namespace prefix (it and its sub-namespaces), labels and creation time
        (``created_from``/``created_to``, inclusive; a naive datetime is UTC)."""
        base = _search_params(
            namespace, flow_id, state, namespace_prefix, labels, created_from, created_to
        )
        if limit <= 0:
            return []
        if limit <= MAX_PAGE_SIZE and offset % limit == 0:
            pages = [(offset // limit + 1, limit)]
            skip = 0
        else:  # pages of the largest size from the start, sliced
            size = min(MAX_PAGE_SIZE, offset + limit)
            pages = [(n + 1, size) for n in range(-(-(offset + limit) // size))]
            skip = offset
        found: list[Execution] = []
        for page, size in pages:
            data = self._json(
                "GET", "/executions/search", params={**base, "page": page, "size": size}
            )
            found += [Execution.model_validate(x) for x in data["results"]]
            if len(data["results"]) < size:
                break
        return found[skip : skip + limit]

    def search_page(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: StateType | str | Iterable[StateType | str] | None = None,
        page: int = 1,
        size: int = 25,
        namespace_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> ExecutionPage:
        """Page ``page`` (1-based) of ``size`` executions (at most ``MAX_PAGE_SIZE``), newest
        first, filtered as ``search`` does, with how many match in all."""
        if page < 1 or size < 1:
            raise ValueError(f"page and size start at 1, got page={page}, size={size}")
        params: dict[str, Any] = {
            "page": page,
            "size": size,
            **_search_params(
                namespace, flow_id, state, namespace_prefix, labels, created_from, created_to
            ),
        }
        return ExecutionPage.model_validate(self._json("GET", "/executions/search", params=params))

    def logs(
        self,
        execution_id: str,
        *,
        min_level: str | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
    ) -> list[LogEntry]:
        """Every log line of the execution, in order (filtered as ``logs_page`` does),
        read in pages of ``MAX_PAGE_SIZE`` from a cursor."""
        entries: list[LogEntry] = []
        cursor = 0
        while True:
            found = self.logs_page(
                execution_id,
                size=MAX_PAGE_SIZE,
                cursor=cursor,
                min_level=min_level,
                task_run_id=task_run_id,
                task_id=task_id,
                attempt=attempt,
            )
            entries += found.results
            if len(found.results) < MAX_PAGE_SIZE:
                return entries
            cursor = found.next_cursor

    def logs_page(
        self,
        execution_id: str,
        *,
        page: int = 1,
        size: int = 100,
        cursor: int = 0,
        min_level: str | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
    ) -> LogPage:
        """Page ``page`` (1-based) of ``size`` log lines (at most ``MAX_PAGE_SIZE``) from
        position ``cursor`` on, filtered (``attempt`` numbered from 1), as
        ``Client.logs_page``: follow a log from ``next_cursor``."""
        if page < 1 or size < 1:
            raise ValueError(f"page and size start at 1, got page={page}, size={size}")
        LogQuery(min_level=min_level)  # an unknown level: ValueError, nothing sent
        params: dict[str, Any] = {"page": page, "size": size, "cursor": cursor}
        if min_level is not None:
            params["minLevel"] = min_level
        if task_run_id is not None:
            params["taskRunId"] = task_run_id
        if task_id is not None:
            params["taskId"] = task_id
        if attempt is not None:
            params["attempt"] = attempt - 1  # Kestra's attemptNumber, from 0
        data = self._json("GET", f"/logs/{_q(execution_id)}", params=params)
        results = []
        for x in data["results"]:
            number = x.pop("attemptNumber", None)  # Kestra's, from 0
            results.append(
                LogEntry.model_validate({**x, "attempt": None if number is None else number + 1})
            )
        return LogPage(results=results, total=data["total"], next_cursor=data["nextCursor"])

    def metrics(self, execution_id: str) -> list[MetricEntry]:
        """Every metric entry emitted by the execution's task runs."""
        found: list[MetricEntry] = []
        page = 1
        while True:
            data = self._json(
                "GET",
                f"/metrics/{_q(execution_id)}",
                params={"page": page, "size": MAX_PAGE_SIZE},
            )
            found += [MetricEntry.model_validate(x) for x in data["results"]]
            if len(found) >= data["total"] or not data["results"]:
                return found
            page += 1

    # ------------------------------------------------------------------ control

    def kill(self, execution_id: str) -> Execution:
        """Kill the execution (``StateConflict`` if it already ended)."""
        return Execution.model_validate(
            self._json("DELETE", f"/executions/{_q(execution_id)}/kill")
        )

    def restart(self, execution_id: str) -> Execution:
        """Restart a FAILED or KILLED execution (same id)."""
        return Execution.model_validate(
            self._json("POST", f"/executions/{_q(execution_id)}/restart")
        )

    def replay(
        self,
        execution_id: str,
        task_run_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Execution:
        """A new execution of the same flow, from ``task_run_id`` if given."""
        params = {"taskRunId": task_run_id} if task_run_id else None
        body = _inputs_body(inputs) if inputs else None
        return Execution.model_validate(
            self._json("POST", f"/executions/{_q(execution_id)}/replay", params=params, json=body)
        )

    def pause(self, execution_id: str) -> Execution:
        """Pause a RUNNING execution."""
        return Execution.model_validate(self._json("POST", f"/executions/{_q(execution_id)}/pause"))

    def resume(self, execution_id: str) -> Execution:
        """Resume a PAUSED execution."""
        return Execution.model_validate(
            self._json("POST", f"/executions/{_q(execution_id)}/resume")
        )

    # ------------------------------------------------------------------ KV store

    @staticmethod
    def _kv_path(namespace: str, tenant: str, key: str | None = None) -> str:
        path = f"/{_q(tenant)}/namespaces/{_q(namespace)}/kv"
        return path if key is None else f"{path}/{_q(key)}"

    def kv_get(self, namespace: str, key: str, *, tenant: str = "main") -> TypedValue:
        """The value of ``key`` with its type (raises ``NotFoundError`` if missing)."""
        return TypedValue.model_validate(self._json("GET", self._kv_path(namespace, tenant, key)))

    def kv_set(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        kv_type: KVType | str | None = None,
        ttl: float | timedelta | str | None = None,
        overwrite: bool = True,
        tenant: str = "main",
    ) -> None:
        """Store ``value`` under ``key`` (as ``Client.kv_set``)."""
        typ, data = kv_coerce(value, kv_type)
        seconds = check_ttl(ttl)
        # Kestra's PUT reads the body as Ion: dates and date-times go bare, the rest as JSON.
        body = data if typ in (KVType.DATE, KVType.DATETIME) else kv_encode(data)
        headers = {"Content-Type": "application/json"}
        if seconds is not None:
            headers["ttl"] = kv_iso_duration(timedelta(seconds=seconds))
        if not overwrite:
            headers["overwrite"] = "false"
        self._request(
            "PUT", self._kv_path(namespace, tenant, key), content=body.encode(), headers=headers
        )

    def kv_delete(self, namespace: str, key: str, *, tenant: str = "main") -> bool:
        """Delete ``key``; True if it existed."""
        return bool(self._json("DELETE", self._kv_path(namespace, tenant, key)))

    def kv_list(self, namespace: str, *, tenant: str = "main") -> list[KVEntry]:
        """The live entries of ``namespace``."""
        return [
            KVEntry.model_validate(e) for e in self._json("GET", self._kv_path(namespace, tenant))
        ]

    # ------------------------------------------------------------------ triggers

    def triggers(
        self, namespace: str | None = None, flow_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every trigger (of ``namespace``/``flow_id``), Kestra's ``Trigger`` shape."""
        params: dict[str, Any] = {"size": 1_000_000}
        if namespace is not None:
            params["namespace"] = namespace
        if flow_id is not None:
            params["flowId"] = flow_id
        page = self._json("GET", "/triggers/search", params=params)
        return [r["triggerContext"] for r in page["results"]]

    def trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """One trigger (``NotFoundError`` if the flow has none of that id)."""
        for entry in self.triggers(namespace, flow_id):
            if entry["triggerId"] == trigger_id:
                return entry
        raise NotFoundError(f"flow {namespace}.{flow_id} has no trigger {trigger_id!r}")

    def _ids(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        return {"namespace": namespace, "flowId": flow_id, "triggerId": trigger_id}

    def set_trigger_disabled(
        self, namespace: str, flow_id: str, trigger_id: str, disabled: bool
    ) -> dict[str, Any]:
        """Disable or enable a trigger; the trigger."""
        body = {**self._ids(namespace, flow_id, trigger_id), "disabled": disabled}
        return cast(dict[str, Any], self._json("PUT", "/triggers", json=body))

    def enable_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Enable a trigger a user disabled; the trigger."""
        return self.set_trigger_disabled(namespace, flow_id, trigger_id, False)

    def disable_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Disable a trigger; the trigger."""
        return self.set_trigger_disabled(namespace, flow_id, trigger_id, True)

    def unlock_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Drop a process's claim on a stuck trigger; the trigger."""
        path = f"/triggers/{namespace}/{flow_id}/{trigger_id}/unlock"
        return cast(dict[str, Any], self._json("POST", path))

    def backfill(
        self,
        namespace: str,
        flow_id: str,
        trigger_id: str,
        start: datetime | str,
        end: datetime | str,
        *,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        rerun: bool = False,
        rate: float | None = None,
    ) -> dict[str, Any]:
        """Start a backfill (``Client.backfill``); its status."""
        fill: dict[str, Any] = {
            "start": start if isinstance(start, str) else start.isoformat(),
            "end": end if isinstance(end, str) else end.isoformat(),
            "inputs": dict(inputs or {}),
            "labels": [{"key": k, "value": v} for k, v in (labels or {}).items()],
            "rerun": rerun,
        }
        if rate is not None:
            fill["rate"] = rate
        body = {**self._ids(namespace, flow_id, trigger_id), "backfill": fill}
        return cast(dict[str, Any], self._json("PUT", "/triggers", json=body)["backfill"])

    def backfill_status(
        self, namespace: str, flow_id: str, trigger_id: str
    ) -> dict[str, Any] | None:
        """The backfill of a trigger, with its progress (None if none)."""
        return cast(dict[str, Any] | None, self.trigger(namespace, flow_id, trigger_id)["backfill"])

    def _backfill(self, method: str, path: str, ids: tuple[str, str, str]) -> dict[str, Any]:
        entry = self._json(method, path, json=self._ids(*ids))
        return cast(dict[str, Any], entry["backfill"])

    def pause_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Pause a running backfill."""
        return self._backfill("PUT", "/triggers/backfill/pause", (namespace, flow_id, trigger_id))

    def resume_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Resume a paused backfill."""
        ids = (namespace, flow_id, trigger_id)
        return self._backfill("PUT", "/triggers/backfill/unpause", ids)

    def cancel_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Cancel a backfill."""
        ids = (namespace, flow_id, trigger_id)
        return self._backfill("POST", "/triggers/backfill/delete", ids)


__all__ = [
    "ApiError",
    "ApiUnavailable",
    "HttpClient",
    "PayloadTooLarge",
    "Unauthorized",
    "error_from_problem",
]


def iter_sse(lines: Iterable[str]) -> Iterator[tuple[str, str, str | None]]:
    """Server-sent events from text lines: (event name, data text, id); comments and
    fields other than ``event``, ``data`` and ``id`` are skipped."""
    event, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data), event_id
            event, data, event_id = "message", [], None
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                event_id = value


def _until(
    lines: Iterable[str], deadline: float | None, timed_out: Callable[[], Exception]
) -> Iterator[str]:
    for line in lines:
        if deadline is not None and time.monotonic() > deadline:
            raise timed_out()
        yield line
