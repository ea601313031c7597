"""The web UI's pages (``/ui``), server-rendered with Jinja2 and driven by htmx.

=================================================  =====================================
``GET  /ui``, ``/``                                 to the executions list
``GET|POST /ui/login``, ``POST /ui/logout``         the token form (when tokens are set)
``GET  /ui/main/executions``                        the list, filters, paging
``GET  /ui/main/executions/rows``                   its rows (polled: live states)
``POST /ui/main/executions/bulk``                   kill or restart the selected ones
``GET  /ui/main/executions/{ns}/{flow}/{id}``       an execution (Kestra's UI path)
``GET  .../{id}/live``                              its live part, as server-sent events
``GET  .../{id}/logs``                              its logs (level, task, search)
``POST .../{id}/kill|restart|replay|pause|resume``  the controls
``GET  /ui/main/flows``, ``/ui/main/flows/{ns}/{id}``  flows, a flow (source, revisions,
                                                    triggers, the Execute form)
``POST /ui/main/flows/{ns}/{id}/execute``           submit from the form
``GET  /ui/main/workers``                           workers and queue depths
=================================================  =====================================

Pages read through the API's service layer (``executor.api.service.Api``) in-process.
Every ``POST`` but the login needs the session's CSRF token (``X-CSRF-Token``); with
tokens configured every page needs a session (``executor.ui.auth``).
"""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from executor.api import problems as P
from executor.api.followers import FollowResponse
from executor.api.routes.executions import SSE_HEADERS
from executor.api.service import Api, ApiDep
from executor.durations import DurationError, parse_duration
from executor.encryption import MASK
from executor.errors import (
    ExecutionNotFound,
    FlowNotFound,
    InputValidationError,
    OstraError,
)
from executor.flow import Flow
from executor.inputs import masked_inputs
from executor.loglimits import LogQuery
from executor.models import Execution
from executor.observability import tracing
from executor.state import StateType
from executor.ui import views
from executor.ui import workers as W
from executor.ui.auth import COOKIE, CSRF_HEADER, Session, Sessions, cookie_options
from executor.ui.reading import ExecutionView, header_of, read_view
from executor.ui.triggers import trigger_rows

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TENANT = "main"
#: executions on one page of the list
PAGE_SIZES = (25, 50, 100)
#: the time ranges the executions list offers (Kestra's UI offers the same kind of
#: choice, sent as the API's ``timeRange``): value, label
TIME_RANGES = (
    ("", "any time"),
    ("PT5M", "last 5 minutes"),
    ("PT1H", "last hour"),
    ("P1D", "last 24 hours"),
    ("P7D", "last 7 days"),
    ("P30D", "last 30 days"),
)
#: log lines shown at most (the last ones matching)
LOG_LINES = 500
#: log lines read at most for one view of the logs
LOG_SCAN = 5000
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
ACTIONS = ("kill", "restart", "replay", "pause", "resume")
#: seconds between two redraws of a live execution page, at least
LIVE_INTERVAL = 0.25
#: seconds of silence after which a live page's stream sends a ping
PING = 5.0


class LoginRequired(Exception):
    """No valid session where one is needed."""


class UIError(Exception):
    """An error answered as an alert fragment with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def execution_path(execution: Execution) -> str:
    """The UI page of an execution (Kestra's UI path)."""
    return f"/ui/{TENANT}/executions/{execution.namespace}/{execution.flow_id}/{execution.id}"


def _now() -> datetime:
    return datetime.now(UTC)


def _state_class(state: Any) -> str:
    return f"state-{getattr(state, 'value', state)}"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


TEMPLATES.env.filters["state_class"] = _state_class
TEMPLATES.env.filters["pretty"] = _json
TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.globals["started"] = views.started
TEMPLATES.env.globals["ended"] = views.ended


def build_router(sessions: Sessions) -> APIRouter:
    """The UI's routes, guarded by ``sessions``."""
    router = APIRouter(prefix="/ui", include_in_schema=False)

    def page_session(request: Request) -> Session:
        session = sessions.check(request.cookies.get(COOKIE))
        if session is not None:
            return session
        if sessions.required:
            raise LoginRequired()
        value = sessions.issue(None)
        request.state.new_cookie = value
        fresh = sessions.check(value)
        assert fresh is not None
        return fresh

    def action_session(request: Request) -> Session:
        session = sessions.check(request.cookies.get(COOKIE))
        if session is None:
            raise LoginRequired()
        if not sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
            raise UIError(403, "refused: this action needs the page's CSRF token")
        return session

    PageSession = Annotated[Session, Depends(page_session)]
    ActionSession = Annotated[Session, Depends(action_session)]

    def render(
        request: Request,
        name: str,
        session: Session | None,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        ctx = {
            "csrf": session.csrf if session else "",
            "auth": sessions.required,
            "flower": W.flower_url(),
            **context,
        }
        response = TEMPLATES.TemplateResponse(
            request, name, ctx, status_code=status, headers=headers
        )
        new = getattr(request.state, "new_cookie", None)
        if new:
            response.set_cookie(COOKIE, new, **cookie_options(request))  # type: ignore[arg-type]
        return response

    def alert(
        request: Request, message: str, status: int, headers: dict[str, str] | None = None
    ) -> HTMLResponse:
        return render(
            request,
            "_alert.html",
            None,
            {"message": message, "ok": status < 400},
            status=status,
            headers=headers,
        )

    # ---------------------------------------------------------------- login

    @router.get("", response_class=RedirectResponse)
    def home() -> RedirectResponse:
        return RedirectResponse(f"/ui/{TENANT}/executions", status_code=302)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "") -> HTMLResponse:
        return render(request, "login.html", None, {"next": _local(next), "error": ""})

    @router.post("/login", response_model=None)
    def login(
        request: Request,
        token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "",
    ) -> Response:
        if not same_origin(request):  # no login from another site's form
            raise UIError(403, "refused: a login must come from this site's own page")
        if sessions.required and not sessions.token_ok(token):
            return render(
                request,
                "login.html",
                None,
                {"next": _local(next), "error": "That token is not accepted."},
                status=401,
            )
        response = RedirectResponse(_local(next) or f"/ui/{TENANT}/executions", status_code=303)
        response.set_cookie(
            COOKIE,
            sessions.issue(token if sessions.required else None),
            **cookie_options(request),  # type: ignore[arg-type]
        )
        return response

    @router.post("/logout", response_model=None)
    def logout(request: Request, _: ActionSession) -> Response:
        response = Response(status_code=204, headers={"HX-Redirect": "/ui/login"})
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---------------------------------------------------------------- executions list

    def _search(
        api: Api,
        namespace: str,
        flow_id: str,
        state: str,
        labels: str,
        page: int,
        size: int,
        time_range: str = "",
    ) -> dict[str, Any]:
        created_from = None
        if time_range:
            try:
                created_from = time.time() - abs(parse_duration(time_range)).total_seconds()
            except DurationError:
                message = f"a time range is an ISO-8601 duration, got {time_range!r}"
                raise UIError(422, message) from None
        label_map: dict[str, str] = {}
        for item in re.split(r"[,\s]+", labels.strip()) if labels.strip() else []:
            key, sep, value = item.partition(":")
            if not sep or not key:
                raise UIError(422, f"a label filter is key:value, got {item!r}")
            label_map[key] = value
        st = None
        if state:
            try:
                st = StateType(state)
            except ValueError:
                raise UIError(422, f"unknown state {state!r}") from None
        ns = namespace.strip()
        store = api.client.store
        ids, total = store.search_page(
            namespace=None,
            flow_id=flow_id.strip() or None,
            state=st,
            namespace_prefix=ns or None,
            labels=label_map or None,
            limit=size,
            offset=(page - 1) * size,
            created_from=created_from,
        )
        # A row needs the execution's own fields, not its task runs: an execution of
        # 10,000 task runs on the page costs what a small one does.
        results = []
        for eid in ids:
            try:
                results.append(header_of(eid, store.execution_meta(eid)))
            except ExecutionNotFound:  # expired between the listing and now
                continue
        return {"results": results, "total": total}

    def _list_context(
        api: Api,
        namespace: str,
        flow_id: str,
        state: str,
        labels: str,
        page: int,
        size: int,
        selected: list[str],
        time_range: str = "",
    ) -> dict[str, Any]:
        size = size if size in PAGE_SIZES else PAGE_SIZES[0]
        page = max(1, page)
        found = _search(api, namespace, flow_id, state, labels, page, size, time_range)
        pages = max(1, -(-found["total"] // size))
        filters = {
            "namespace": namespace,
            "flowId": flow_id,
            "state": state,
            "labels": labels,
            "timeRange": time_range,
            "size": str(size),
        }
        query = urlencode({k: v for k, v in filters.items() if v})
        now = _now()
        rows = [
            {
                "e": e,
                "url": execution_path(e),
                "duration": views.duration_text(views.span_seconds(e.state, now)),
            }
            for e in found["results"]
        ]
        return {
            "rows": rows,
            "total": found["total"],
            "page": page,
            "pages": pages,
            "size": size,
            "filters": filters,
            "query": query,
            "states": [s.value for s in StateType],
            "selected": set(selected),
            "sizes": PAGE_SIZES,
            "ranges": TIME_RANGES,
        }

    @router.get(f"/{TENANT}/executions", response_class=HTMLResponse)
    async def executions_page(
        request: Request,
        api: ApiDep,
        session: PageSession,
        namespace: str = "",
        flow_id: Annotated[str, Query(alias="flowId")] = "",
        state: str = "",
        labels: str = "",
        page: int = 1,
        size: int = PAGE_SIZES[0],
        time_range: Annotated[str, Query(alias="timeRange")] = "",
    ) -> HTMLResponse:
        ctx = await run_in_threadpool(
            _list_context, api, namespace, flow_id, state, labels, page, size, [], time_range
        )
        return render(request, "executions.html", session, ctx)

    @router.get(f"/{TENANT}/executions/rows", response_class=HTMLResponse)
    async def executions_rows(
        request: Request,
        api: ApiDep,
        session: PageSession,
        namespace: str = "",
        flow_id: Annotated[str, Query(alias="flowId")] = "",
        state: str = "",
        labels: str = "",
        page: int = 1,
        size: int = PAGE_SIZES[0],
        ids: Annotated[list[str] | None, Query()] = None,
        time_range: Annotated[str, Query(alias="timeRange")] = "",
    ) -> HTMLResponse:
        ctx = await run_in_threadpool(
            _list_context, api, namespace, flow_id, state, labels, page, size, ids or [], time_range
        )
        return render(request, "_rows.html", session, {**ctx, "oob": True})

    @router.post(f"/{TENANT}/executions/bulk", response_class=HTMLResponse)
    async def bulk(
        request: Request,
        api: ApiDep,
        _: ActionSession,
        action: Annotated[str, Form()],
        ids: Annotated[list[str] | None, Form()] = None,
    ) -> HTMLResponse:
        if action not in ("kill", "restart"):
            raise UIError(422, f"unknown bulk action {action!r}")
        if not ids:
            raise UIError(422, "select one or more executions first")
        done, refused = 0, []
        for eid in ids:
            try:
                await run_in_threadpool(getattr(api.client, action), eid)
                done += 1
            except OstraError as exc:
                refused.append(f"{eid}: {P.from_error(exc)['detail']}")
        message = f"{action}: {done} of {len(ids)} accepted"
        if refused:
            message += "; refused: " + "; ".join(refused)
        return alert(request, message, 200 if not refused else 409)

    # ---------------------------------------------------------------- one execution

    def _execution(api: Api, namespace: str, flow_id: str, execution_id: str) -> None:
        ref = api.client.store.flow_ref(execution_id)
        if ref is None or ref[0] != namespace or ref[1] != flow_id:
            raise ExecutionNotFound(execution_id)

    def _execution_context(api: Api, execution_id: str, tree_page: int) -> dict[str, Any]:
        view = read_view(api.client, execution_id, tree_page, _now())
        execution = view.execution
        try:
            flow = api.client.flow(execution.namespace, execution.flow_id, execution.flow_revision)
            inputs = masked_inputs(flow.inputs, execution.inputs)
        except OstraError:  # the flow is gone: which inputs are SECRET is not known
            inputs = dict.fromkeys(execution.inputs, MASK)
        try:
            metrics = api.client.metrics(execution.id)
        except OstraError:
            metrics = []
        return {
            **_live_context(view),
            "url": execution_path(execution),
            "inputs": inputs,
            "outputs": execution.outputs,
            "metrics": metrics,
            "levels": LEVELS,
            "task_ids": view.task_ids,
            "tree_page": tree_page,
            # Where to find it in a tracing backend: the trace id is derived from the id.
            "trace_id": f"{tracing.trace_id(execution.id):032x}" if tracing.ENABLED else None,
        }

    @router.get(f"/{TENANT}/executions/{{namespace}}/{{flow_id}}/{{execution_id}}")
    async def execution_page(
        request: Request,
        api: ApiDep,
        session: PageSession,
        namespace: str,
        flow_id: str,
        execution_id: str,
        tree_page: int = 1,
    ) -> HTMLResponse:
        try:
            await run_in_threadpool(_execution, api, namespace, flow_id, execution_id)
            ctx = await run_in_threadpool(_execution_context, api, execution_id, tree_page)
        except ExecutionNotFound as exc:
            return render(request, "missing.html", session, {"message": str(exc)}, status=404)
        return render(request, "execution.html", session, ctx)

    @router.get(f"/{TENANT}/executions/{{namespace}}/{{flow_id}}/{{execution_id}}/live")
    async def execution_live(
        request: Request,
        api: ApiDep,
        _: PageSession,
        namespace: str,
        flow_id: str,
        execution_id: str,
        tree_page: int = 1,
    ) -> Response:
        release = api.followers.acquire()
        try:
            await api.followers.call(_execution, api, namespace, flow_id, execution_id)
        except BaseException:
            release()
            raise
        return FollowResponse(
            live_frames(api, execution_id, tree_page), release, headers=SSE_HEADERS
        )

    @router.get(
        f"/{TENANT}/executions/{{namespace}}/{{flow_id}}/{{execution_id}}/logs",
        response_class=HTMLResponse,
    )
    async def execution_logs(
        request: Request,
        api: ApiDep,
        session: PageSession,
        namespace: str,
        flow_id: str,
        execution_id: str,
        level: str = "",
        task: str = "",
        q: str = "",
    ) -> HTMLResponse:
        if level and level not in LEVELS:
            raise UIError(422, f"unknown level {level!r}")

        def read() -> dict[str, Any]:
            _execution(api, namespace, flow_id, execution_id)
            query = LogQuery(level or None, None, task or None, None)
            found = api.client.logs_page(
                execution_id, size=LOG_SCAN, min_level=query.min_level, task_id=query.task_id
            )
            lines = found.results
            if q:
                needle = q.lower()
                lines = [e for e in lines if needle in e.message.lower()]
            return {
                "logs": lines[-LOG_LINES:],
                "matched": len(lines),
                "cut": len(lines) > LOG_LINES,
            }

        ctx = await run_in_threadpool(read)
        return render(request, "_logs.html", session, ctx)

    @router.post(
        f"/{TENANT}/executions/{{namespace}}/{{flow_id}}/{{execution_id}}/{{action}}",
        response_class=HTMLResponse,
    )
    async def execution_action(
        request: Request,
        api: ApiDep,
        _: ActionSession,
        namespace: str,
        flow_id: str,
        execution_id: str,
        action: str,
        task_run_id: Annotated[str, Form(alias="taskRunId")] = "",
    ) -> HTMLResponse:
        if action not in ACTIONS:
            raise UIError(404, f"unknown action {action!r}")
        try:
            await run_in_threadpool(_execution, api, namespace, flow_id, execution_id)
            if action == "replay":
                new = await run_in_threadpool(api.client.replay, execution_id, task_run_id or None)
                target = execution_path(new)
                return alert(request, f"replayed as {new.id}", 200, headers={"HX-Redirect": target})
            done: Execution = await run_in_threadpool(getattr(api.client, action), execution_id)
        except (OstraError, ValueError) as exc:
            if isinstance(exc, OstraError):
                body = P.from_error(exc)
                return alert(request, f"{action} refused: {body['detail']}", int(body["status"]))
            return alert(request, f"{action} refused: {exc}", 422)
        message = f"{action}: the execution is {done.state.current.value}"
        # The live stream ended with the execution: a restart or resume reloads the page
        # to follow it again.
        headers = {"HX-Refresh": "true"} if action in ("restart", "resume", "pause") else None
        return alert(request, message, 200, headers=headers)

    # ---------------------------------------------------------------- flows

    @router.get(f"/{TENANT}/flows", response_class=HTMLResponse)
    async def flows_page(
        request: Request, api: ApiDep, session: PageSession, namespace: str = ""
    ) -> HTMLResponse:
        flows = await run_in_threadpool(api.flows, namespace or None, True)
        return render(request, "flows.html", session, {"flows": flows, "namespace": namespace})

    def _flow_context(api: Api, namespace: str, flow_id: str, revision: int | None) -> Any:
        latest = api.client.flow(namespace, flow_id)
        flow = latest if revision is None else api.client.flow(namespace, flow_id, revision)
        source = api.client.store.flow_source(namespace, flow_id, flow.revision or 1)
        return {
            "flow": flow,
            "latest": latest.revision or 1,
            "revision": flow.revision or 1,
            "source": source if source is not None else flow.to_yaml(),
            "triggers": trigger_rows(api.client, flow),
            "fields": views.input_fields(flow),
            "errors": {},
            "general": [],
            "values": {},
        }

    @router.get(f"/{TENANT}/flows/{{namespace}}/{{flow_id}}", response_class=HTMLResponse)
    async def flow_page(
        request: Request,
        api: ApiDep,
        session: PageSession,
        namespace: str,
        flow_id: str,
        revision: int | None = None,
    ) -> HTMLResponse:
        try:
            ctx = await run_in_threadpool(_flow_context, api, namespace, flow_id, revision)
        except FlowNotFound as exc:
            return render(request, "missing.html", session, {"message": str(exc)}, status=404)
        return render(request, "flow.html", session, ctx)

    @router.post(f"/{TENANT}/flows/{{namespace}}/{{flow_id}}/execute", response_class=HTMLResponse)
    async def flow_execute(
        request: Request, api: ApiDep, session: ActionSession, namespace: str, flow_id: str
    ) -> HTMLResponse:
        form = await request.form()
        raw = {k: [str(v) for v in form.getlist(k)] for k in form}
        await form.close()
        flow: Flow = await run_in_threadpool(api.client.flow, namespace, flow_id)
        inputs = views.form_inputs(raw, flow)
        try:
            execution = await run_in_threadpool(api.client.submit, (namespace, flow_id), inputs)
        except InputValidationError as exc:
            errors: dict[str, list[str]] = {}
            general = []
            for p in exc.problems:
                key = p.path.removeprefix("inputs.").split(".")[0].split("[")[0]
                if p.path.startswith("inputs.") and key in {d.id for d in flow.inputs}:
                    errors.setdefault(key, []).append(p.message)
                else:
                    general.append(str(p))
            values = {d.id: inputs.get(d.id, "") for d in flow.inputs if d.type.value != "SECRET"}
            ctx = {
                "flow": flow,
                "fields": views.input_fields(flow),
                "errors": errors,
                "general": general,
                "values": values,
            }
            return render(request, "_execute_form.html", session, ctx, status=422)
        except OstraError as exc:
            body = P.from_error(exc)
            return alert(request, f"refused: {body['detail']}", int(body["status"]))
        return alert(
            request,
            f"started {execution.id}",
            200,
            headers={"HX-Redirect": execution_path(execution)},
        )

    # ---------------------------------------------------------------- workers

    def _workers_context(api: Api) -> dict[str, Any]:
        client = api.client
        flows = api.flows()
        groups = W.worker_groups(flows, client.settings.queue)
        found = W.workers(client)
        for w in found:
            for q in w.queues:
                if q not in groups:
                    groups.append(q)
        depths = W.queue_depths(client, sorted(groups))
        paths = {}
        for w in found:
            for job in w.running:
                if job.execution_id:
                    ref = client.store.flow_ref(job.execution_id)
                    if ref is not None:
                        paths[job.execution_id] = (
                            f"/ui/{TENANT}/executions/{ref[0]}/{ref[1]}/{job.execution_id}"
                        )
        return {"workers": found, "depths": depths, "paths": paths}

    @router.get(f"/{TENANT}/workers", response_class=HTMLResponse)
    async def workers_page(request: Request, api: ApiDep, session: PageSession) -> HTMLResponse:
        ctx = await run_in_threadpool(_workers_context, api)
        return render(request, "workers.html", session, ctx)

    return router


def same_origin(request: Request) -> bool:
    """Whether a request's ``Origin`` (when the browser sends one) is this site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def _local(target: str) -> str:
    """``target`` if it is a path of the UI (a login never redirects elsewhere)."""
    return target if target.startswith("/ui/") and not target.startswith("//") else ""


def _live_context(view: ExecutionView) -> dict[str, Any]:
    """What the live part of an execution page shows."""
    execution = view.execution
    return {
        "e": execution,
        "duration": views.duration_text(views.span_seconds(execution.state, _now())),
        "tree": view.tree,
        "gantt": view.gantt,
        "running": not execution.state.current.is_terminated(),
    }


async def live_frames(api: Api, execution_id: str, tree_page: int) -> AsyncIterator[str]:
    """The live part of an execution page as server-sent events: ``progress`` after each
    change (at most one every ``LIVE_INTERVAL`` seconds: a big execution changes all the
    time), ``end`` once it ended, pings in between.

    It waits for changes as the API's follow stream does (on the process's event hub,
    reads in the follow streams' threads), and reads the execution once per redraw."""
    client, call = api.client, api.followers.call
    template = TEMPLATES.get_template("_live.html")

    def fragment() -> tuple[str, bool]:
        view = read_view(client, execution_id, tree_page, _now())
        html = template.render(_live_context(view))
        return html, view.execution.state.current.is_terminated()

    yield "retry: 1000\n\n"
    try:
        last_id = await call(client.store.last_event_id, execution_id)
        key = api.followers.events_key(execution_id)
        async with api.followers.hub.subscribe(key, last_id) as sub:
            html, ended = await call(fragment)
            yield _sse_html(html, "end" if ended else "progress")
            silent_since = time.monotonic()
            while not ended:
                sub.clear()  # before the read: a change after it wakes the wait
                batch = await call(client.events, execution_id, last_id)
                if batch:
                    last_id = batch[-1][0]
                    sub.seen(last_id)
                    await asyncio.sleep(LIVE_INTERVAL)  # let a burst of changes settle
                    html, ended = await call(fragment)
                    yield _sse_html(html, "end" if ended else "progress")
                    silent_since = time.monotonic()
                elif not await sub.wait(max(0.05, silent_since + PING - time.monotonic())):
                    # quiet for a while: the state itself (a trimmed stream says nothing)
                    if (await call(client.state, execution_id)).is_terminated():
                        html, ended = await call(fragment)
                        yield _sse_html(html, "end")
                        return
                    yield ": ping\n\n"
                    silent_since = time.monotonic()
    except OstraError as exc:
        yield f"event: failed\ndata: {P.from_error(exc)['detail']}\n\n"


def _sse_html(html: str, event: str) -> str:
    lines = [f"event: {event}"] + [f"data: {line}" for line in html.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"
