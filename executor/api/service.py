"""What the routes share: ``Api``, the routes' logic around one ``Client`` (presenting
executions with SECRET inputs masked, a page of a search, waiting for an end, the
server-sent events of ``/follow``), and ``ApiDep``, the dependency that hands it to a
route.

Every call goes through the Client facade (``executor.client``); blocking calls run in
the threadpool.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from executor.api import problems as P
from executor.client import Client
from executor.errors import OstraError, WaitTimeout
from executor.inputs import InputType
from executor.models import Execution
from executor.state import StateType

#: seconds of silence after which a follow stream sends a comment (detects gone clients)
PING_INTERVAL = 5.0
#: a SECRET input's value as the API shows it
MASK = "******"


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

    def __init__(self, client: Client, ping_interval: float = PING_INTERVAL) -> None:
        self.client = client
        self.ping_interval = ping_interval

    # -- presenting

    def _secret_inputs(self, execution: Execution) -> set[str]:
        try:
            flow = self.client.flow(execution.namespace, execution.flow_id, execution.flow_revision)
        except OstraError:
            return set()
        return {
            d.id
            for d in flow.inputs
            if d.type == InputType.SECRET or d.item_type == InputType.SECRET
        }

    def present(self, execution: Execution) -> dict[str, Any]:
        """The execution's JSON, SECRET inputs masked."""
        data = execution.model_dump(mode="json", by_alias=True)
        for key in self._secret_inputs(execution):
            if data["inputs"].get(key) is not None:
                data["inputs"][key] = MASK
        return data

    def respond(self, execution: Execution, status: int = 200) -> JSONResponse:
        """The execution's JSON (SECRET inputs masked) as an answer."""
        return JSONResponse(self.present(execution), status_code=status)

    # -- blocking parts

    def search(
        self,
        namespace: str | None,
        flow_id: str | None,
        state: StateType | None,
        page: int,
        size: int,
    ) -> dict[str, Any]:
        """A page of a search as the API answers it (``PagedExecutions``)."""
        found = self.client.search_page(
            namespace=namespace, flow_id=flow_id, state=state, page=page, size=size
        )
        return {"results": [self.present(e) for e in found.results], "total": found.total}

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
        client = self.client
        silent_since = time.monotonic()
        yield "retry: 1000\n\n"
        try:
            while True:
                batch = await run_in_threadpool(client.events, execution_id, last_id, block=1.0)
                terminal_event = False
                for last_id, event in batch:
                    yield sse(event.model_dump(mode="json", by_alias=True), event_id=last_id)
                    if event.task_run_id is None and event.state.is_terminated():
                        terminal_event = True
                if batch:
                    silent_since = time.monotonic()
                # An end seen in the stream may be an earlier one (since restarted): the
                # stream ends when the execution's current state is an end state.
                ended = False
                if terminal_event or not batch:
                    state = await run_in_threadpool(client.state, execution_id)
                    ended = state.is_terminated()
                if ended:
                    execution = await run_in_threadpool(client.get, execution_id)
                    yield sse(self.present(execution), event="end")
                    return
                if time.monotonic() - silent_since >= self.ping_interval:
                    yield ": ping\n\n"
                    silent_since = time.monotonic()
        except OstraError as exc:
            yield sse(P.from_error(exc), event="error")


async def get_api(request: Request) -> Api:
    """The app's ``Api`` (set by ``create_app``), as a route dependency."""
    api: Api = request.app.state.api
    return api


#: A route parameter receiving the app's ``Api``.
ApiDep = Annotated[Api, Depends(get_api)]
