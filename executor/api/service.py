"""What the routes share: ``Api``, the routes' logic around one ``Client`` (presenting
executions in Kestra's shape with SECRET inputs masked, a page of a search, flows with
their source, waiting for an end, the server-sent events of ``/follow`` and
``/events``), and ``ApiDep``, the dependency that hands it to a route.

Every call goes through the Client facade (``executor.client``), but for what the Client
has no method for (a flow's source text, listing and deleting flows, deleting an
execution): those go to the Client's store. Blocking calls run in the threadpool, but
for those of the follow streams and of ``?wait=true``, which wait on the event hub and
read in threads of their own (``executor.api.followers``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from executor.api import kestra as K
from executor.api import problems as P
from executor.api.followers import DEFAULT_MAX_FOLLOWERS, Followers
from executor.client import Client
from executor.errors import ExecutionNotFound, FlowNotFound, OstraError
from executor.flow import Flow
from executor.inputs import masked_inputs
from executor.loglimits import LogQuery
from executor.models import Execution
from executor.state import StateType

#: seconds of silence after which a follow stream sends a comment (keeps proxies open)
PING_INTERVAL = 5.0
#: seconds ``/follow`` lets a change settle before it reads the whole execution again
FOLLOW_SETTLE = 0.05


def sse(data: Any, event: str | None = None, event_id: str | None = None) -> str:
    """One server-sent event: ``data`` as JSON, with its event name and id if given."""
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


class Api:
    """The routes' logic around one Client (blocking calls go to the threadpool)."""

    def __init__(
        self,
        client: Client,
        ping_interval: float = PING_INTERVAL,
        max_followers: int = DEFAULT_MAX_FOLLOWERS,
    ) -> None:
        self.client = client
        self.ping_interval = ping_interval
        self.followers = Followers(client, max_followers)

    # -- presenting

    def present(self, execution: Execution) -> dict[str, Any]:
        """The execution's JSON in Kestra's shape, SECRET inputs masked."""
        data = K.execution_json(execution.model_dump(mode="json", by_alias=True))
        try:
            flow = self.client.flow(execution.namespace, execution.flow_id, execution.flow_revision)
        except OstraError:
            return data
        data["inputs"] = masked_inputs(flow.inputs, data["inputs"])
        return data

    def respond(self, execution: Execution, status: int = 200) -> JSONResponse:
        """The execution's JSON (SECRET inputs masked) as an answer."""
        return JSONResponse(self.present(execution), status_code=status)

    # -- blocking parts

    def search(
        self,
        namespace: str | None,
        flow_id: str | None,
        state: StateType | list[StateType] | None,
        page: int,
        size: int,
        *,
        namespace_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> dict[str, Any]:
        """A page of a search as the API answers it (``PagedExecutions``)."""
        found = self.client.search_page(
            namespace=namespace,
            flow_id=flow_id,
            state=state,
            page=page,
            size=size,
            namespace_prefix=namespace_prefix,
            labels=labels,
            created_from=created_from,
            created_to=created_to,
        )
        return {"results": [self.present(e) for e in found.results], "total": found.total}

    def logs(self, execution_id: str, query: LogQuery) -> list[dict[str, Any]]:
        """The execution's log entries in Kestra's shape (``ExecutionNotFound`` if none)."""
        ns, fid = self._flow_of(execution_id)
        return [
            K.log_json(e.model_dump(mode="json", by_alias=True), ns, fid)
            for e in self.client.logs(
                execution_id,
                min_level=query.min_level,
                task_run_id=query.task_run_id,
                task_id=query.task_id,
                attempt=query.attempt,
            )
        ]

    def logs_page(
        self, execution_id: str, query: LogQuery, *, page: int, size: int, cursor: int
    ) -> dict[str, Any]:
        """A page of the execution's log entries in Kestra's shape (``PagedLogs``)."""
        ns, fid = self._flow_of(execution_id)
        found = self.client.logs_page(
            execution_id,
            page=page,
            size=size,
            cursor=cursor,
            min_level=query.min_level,
            task_run_id=query.task_run_id,
            task_id=query.task_id,
            attempt=query.attempt,
        )
        return {
            "results": [
                K.log_json(e.model_dump(mode="json", by_alias=True), ns, fid) for e in found.results
            ],
            "total": found.total,
            "nextCursor": found.next_cursor,
        }

    def metrics(self, execution_id: str) -> list[dict[str, Any]]:
        """The execution's metric entries in Kestra's shape."""
        ns, fid = self._flow_of(execution_id)
        return [
            K.metric_json(m.model_dump(mode="json", by_alias=True), ns, fid)
            for m in self.client.metrics(execution_id)
        ]

    def _flow_of(self, execution_id: str) -> tuple[str, str]:
        ref = self.client.store.flow_ref(execution_id)
        if ref is None:
            raise ExecutionNotFound(execution_id)
        return ref[0], ref[1]

    def delete_execution(self, execution_id: str) -> None:
        """Delete an ended execution with its logs and metrics (404, 409 if running)."""
        if not self.client.store.delete_execution(execution_id):
            raise ExecutionNotFound(execution_id)

    # -- flows

    def deploy(self, flow: Flow, source: str) -> dict[str, Any]:
        """Deploy ``flow``, keeping ``source`` (the text it was read from)."""
        self.client.check_functions(flow)
        deployed = self.client.store.deploy_flow_source(flow, source)
        return self.flow_json(deployed, source)

    def flow_json(self, flow: Flow, source: str | None = None) -> dict[str, Any]:
        """The flow in Kestra's shape (``FlowWithSource``), its source as deployed."""
        revision = flow.revision or 1
        if source is None:
            source = self.client.store.flow_source(flow.namespace, flow.id, revision)
        data = K.flow_json(
            flow.to_dict(), revision, source if source is not None else flow.to_yaml()
        )
        # Template errors found at deploy: Kestra accepts the flow, the task run fails.
        data["warnings"] = list(flow.warnings)
        return data

    def flows(self, namespace: str | None = None, prefix: bool = False) -> list[Flow]:
        """The latest revision of every deployed flow, by namespace then id; in
        ``namespace`` (or under it too, with ``prefix``: ``a`` holds ``a.b``)."""
        found = []
        for ns, fid in sorted(self.client.store.list_flows()):
            if namespace is not None and not (
                ns == namespace or (prefix and ns.startswith(namespace + "."))
            ):
                continue
            try:
                found.append(self.client.flow(ns, fid))
            except FlowNotFound:  # deleted meanwhile
                continue
        return found

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        """Delete a flow (``FlowNotFound`` if there is none)."""
        if not self.client.store.delete_flow(namespace, flow_id):
            raise FlowNotFound(namespace, flow_id)

    async def wait(self, request: Request, execution_id: str) -> Execution | None:
        """The execution once it ended; None if the caller went away first. It waits as
        the follow streams do: on the event hub, not in a thread."""
        client, call = self.client, self.followers.call
        # The position first, then the state: an end after this read wakes the wait.
        last_id = await call(client.store.last_event_id, execution_id)
        key = self.followers.events_key(execution_id)
        async with self.followers.hub.subscribe(key, last_id) as sub:
            while True:
                sub.clear()
                if (await call(client.state, execution_id)).is_terminated():
                    return await call(client.get, execution_id)
                await sub.wait(1.0)
                if await request.is_disconnected():
                    return None

    async def follow(self, execution_id: str) -> AsyncIterator[str]:
        """Kestra's follow stream (the execution is known to exist): the execution now,
        then again after every change, each as event ``progress`` (Kestra names it by the
        event's ``id``: both are written), then as ``end`` once it ended; an execution
        that ended already is sent as ``end`` alone.

        Between changes the stream waits on the process's event hub, not in a thread;
        its reads run in the follow streams' own threads (``Followers.call``)."""
        client, call = self.client, self.followers.call
        silent_since = time.monotonic()
        yield "retry: 1000\n\n"
        try:
            last_id = await call(client.store.last_event_id, execution_id)
            key = self.followers.events_key(execution_id)
            async with self.followers.hub.subscribe(key, last_id) as sub:
                execution = await call(client.get, execution_id)
                if execution.state.current.is_terminated():
                    data = await call(self.present, execution)
                    yield sse(data, event="end", event_id="end")
                    return
                data = await call(self.present, execution)
                yield sse(data, event="progress", event_id="progress")
                while True:
                    sub.clear()  # before the read: a change after it wakes the wait
                    batch = await call(client.events, execution_id, last_id)
                    if batch:
                        last_id = batch[-1][0]
                        sub.seen(last_id)
                        execution = await call(client.get, execution_id)
                        data = await call(self.present, execution)
                        yield sse(data, event="progress", event_id="progress")
                        silent_since = time.monotonic()
                    elif await sub.wait(self._quiet_left(silent_since)):
                        # A step's changes come in a burst (a task run's end, the next
                        # one's start): one read of the execution sends them together.
                        await asyncio.sleep(FOLLOW_SETTLE)
                    else:
                        # Nothing for a while: look at the state itself (an execution
                        # deleted or its stream trimmed sends nothing more).
                        state = await call(client.state, execution_id)
                        if state.is_terminated() and not execution.state.current.is_terminated():
                            execution = await call(client.get, execution_id)
                            data = await call(self.present, execution)
                    # An end seen may be an earlier one (since restarted): the stream ends
                    # when the execution's current state is an end state.
                    if execution.state.current.is_terminated():
                        yield sse(data, event="end", event_id="end")
                        return
                    if time.monotonic() - silent_since >= self.ping_interval:
                        yield ": ping\n\n"
                        silent_since = time.monotonic()
        except OstraError as exc:
            yield sse(P.from_error(exc), event="error")

    async def events(self, execution_id: str, last_id: str) -> AsyncIterator[str]:
        """Ostra's event stream (the execution is known to exist): every state change as
        a ``StateEvent`` with its id, then ``end`` with the execution. It waits as
        ``follow`` does."""
        client, call = self.client, self.followers.call
        silent_since = time.monotonic()
        yield "retry: 1000\n\n"
        try:
            key = self.followers.events_key(execution_id)
            async with self.followers.hub.subscribe(key, last_id) as sub:
                while True:
                    sub.clear()  # before the read: a change after it wakes the wait
                    batch = await call(client.events, execution_id, last_id)
                    terminal_event = False
                    for last_id, event in batch:
                        yield sse(event.model_dump(mode="json", by_alias=True), event_id=last_id)
                        if event.task_run_id is None and event.state.is_terminated():
                            terminal_event = True
                    quiet = False
                    if batch:
                        sub.seen(last_id)
                        silent_since = time.monotonic()
                    else:
                        quiet = not await sub.wait(self._quiet_left(silent_since))
                    # An end seen in the stream may be an earlier one (since restarted):
                    # the stream ends when the execution's current state is an end state.
                    ended = False
                    if terminal_event or quiet:
                        state = await call(client.state, execution_id)
                        ended = state.is_terminated()
                    if ended:
                        execution = await call(client.get, execution_id)
                        yield sse(await call(self.present, execution), event="end")
                        return
                    if time.monotonic() - silent_since >= self.ping_interval:
                        yield ": ping\n\n"
                        silent_since = time.monotonic()
        except OstraError as exc:
            yield sse(P.from_error(exc), event="error")

    def _quiet_left(self, silent_since: float) -> float:
        """Seconds until the stream has been silent for ``ping_interval``: its next ping,
        and a look at the state (every change is in the event stream and wakes the
        stream; this is for a stream that is gone, its execution deleted)."""
        return max(0.05, silent_since + self.ping_interval - time.monotonic())


async def get_api(request: Request) -> Api:
    """The app's ``Api`` (set by ``create_app``), as a route dependency."""
    api: Api = request.app.state.api
    return api


#: A route parameter receiving the app's ``Api``.
ApiDep = Annotated[Api, Depends(get_api)]
