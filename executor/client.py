"""The Python client: deploy flows, submit executions, read and follow them.

::

    from executor import Client, Flow

    client = Client("redis://127.0.0.1:6379/0")
    execution = client.submit(Flow.from_yaml("examples/hello.yaml"), inputs={"name": "Ada"})
    done = client.wait(execution.id, timeout=60)
    print(done.state.current, done.task_run("hello").outputs)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from executor.bounds import MAX_JSON_DEPTH, TooDeep, check_depth
from executor.dispatch import Dispatcher, make_app
from executor.engine import sequencing
from executor.errors import (
    ExecutionNotFound,
    FlowNotFound,
    InputValidationError,
    KVNotFound,
    Problem,
    QueueNameError,
    StateConflict,
    WaitTimeout,
)
from executor.flow import Flow, worker_group_problem
from executor.ids import new_id
from executor.inputs import masked_inputs, resolve_inputs
from executor.kv import KVEntry, KVType, TypedValue, check_ttl
from executor.kv import coerce as kv_coerce
from executor.kv import encode as kv_encode
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
from executor.observability import metrics
from executor.observability.queues import QueueStats
from executor.orchestrator import Orchestrator
from executor.python_modules import check_flow
from executor.settings import Settings, get_settings, split_patterns
from executor.state import StateType, search_states
from executor.store import RedisStore
from executor.store.base import WORKER_MEMORY_S

FlowRef = Flow | tuple[str, str] | str | Path


class Client:
    """Talks to Ostra through Redis (the same Redis the workers use), or through the REST
    API: one interface, two transports.

    Args:
        url: a Redis URL (``redis://``, ``rediss://``), or an API URL (``http(s)://``,
            which returns an ``executor.api.http_client.HttpClient`` with the same
            methods); defaults to ``OSTRA_REDIS_URL``.
        prefix: the key prefix; defaults to ``OSTRA_PREFIX`` (``ostra``).
        token: the API's bearer token (HTTP only; defaults to ``OSTRA_API_TOKEN``).
    """

    def __new__(
        cls, url: str | None = None, *, prefix: str | None = None, token: str | None = None
    ) -> Client:
        if url and url.startswith(("http://", "https://")):
            from executor.api.http_client import HttpClient

            return HttpClient(url, token=token)  # type: ignore[return-value]
        return super().__new__(cls)

    def __init__(
        self, url: str | None = None, *, prefix: str | None = None, token: str | None = None
    ) -> None:
        base = get_settings()
        update: dict[str, Any] = {}
        if url:
            update["redis_url"] = url
        if prefix:
            update["prefix"] = prefix
        self.settings: Settings = base.model_copy(update=update)
        self.store = RedisStore.from_url(self.settings.url, self.settings.prefix)
        self.orchestrator = Orchestrator(
            self.store, Dispatcher(make_app(self.settings)), self.settings
        )

    # ------------------------------------------------------------------ connection

    def ping(self) -> None:
        """Check that Redis answers (raises ``StoreError`` if it does not)."""
        self.store.ping()

    def close(self) -> None:
        """Close the connections to Redis and to the broker (the Client is not used after)."""
        self.orchestrator.dispatcher.app.close()
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ flows

    def deploy(self, flow: Flow | str | Path) -> Flow:
        """Validate and store ``flow`` (a Flow, YAML text or a path).

        Returns the flow with its revision (unchanged if the definition did not change).
        """
        if not isinstance(flow, Flow):
            flow = Flow.from_yaml(flow)
        self.check_functions(flow)
        return self.store.deploy_flow(flow)

    def check_functions(self, flow: Flow) -> None:
        """Refuse ``Python`` tasks whose module OSTRA_PYTHON_MODULES does not allow, when
        this process has the setting (the workers check anyway)."""
        patterns = self.settings.python_module_patterns
        if patterns is not None:
            check_flow(flow, patterns)

    def flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """A deployed flow (its latest revision unless one is given)."""
        return self.store.get_flow(namespace, flow_id, revision)

    # ------------------------------------------------------------------ executions

    def submit(
        self,
        flow: FlowRef,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | list[Label] | None = None,
    ) -> Execution:
        """Start an execution of ``flow``: a Flow (deployed first if it changed), a
        ``(namespace, flow_id)`` of a deployed flow, or YAML text or a path.

        Inputs are checked against the flow's input definitions first: if any is wrong,
        ``InputValidationError`` lists them all and nothing is stored. Returns the
        execution as created (CREATED, with its first task runs), as Kestra's API does;
        ``get`` reads how far it got since.
        """
        if isinstance(flow, tuple):
            resolved = self.store.get_flow(*flow)
        else:
            resolved = flow if isinstance(flow, Flow) else Flow.from_yaml(flow)
        if resolved.disabled:
            raise StateConflict(f"flow {resolved.namespace}.{resolved.id} is disabled")
        # Everything is checked before anything is stored.
        values = resolve_inputs(resolved.inputs, inputs or {})
        eid = new_id()
        all_labels = execution_labels(resolved, labels, eid)
        if not isinstance(flow, tuple):
            self.check_functions(resolved)
            resolved = self.store.deploy_flow(resolved)
        first = self.orchestrator.first_rows(eid, resolved)
        created = self.store.create_execution(
            eid, resolved, values, all_labels, first, time.time() + self.settings.pending_grace
        )
        assert created is not None
        metrics.count_execution_created(resolved.namespace, resolved.id)
        state = self.orchestrator.begin_execution(eid, resolved, first)
        if state != StateType.CREATED:  # queued or ended at once (concurrency limit, no task)
            return self.get(eid)
        return self._masked(created, resolved)

    def queue_stats(self, queues: Iterable[str] = ()) -> list[QueueStats]:
        """The depth of the default queue, of every queue a live worker consumed in the
        last day, of ``OSTRA_METRICS_QUEUES`` (comma-separated worker groups to watch even
        before a worker serves them) and of ``queues``
        (``executor.observability.queues``)."""
        from executor.observability import queues as depth

        asked = list(queues)
        problems = [
            Problem("queue", message) for q in asked if (message := worker_group_problem(q))
        ]
        if problems:
            raise QueueNameError(problems)
        store = self.store
        if not isinstance(store, RedisStore):
            return []
        names = [
            self.settings.queue,
            *store.queues_seen(time.time() - WORKER_MEMORY_S),
            *split_patterns(os.environ.get("OSTRA_METRICS_QUEUES", "")),
            *asked,
        ]
        prefix = self.orchestrator.dispatcher.broker.key_prefix
        return depth.queue_stats(store.r, names, store=store, key_prefix=prefix)

    def get(self, execution_id: str) -> Execution:
        """The execution with all its task runs, attempts and outputs (SECRET inputs
        shown as ``******``)."""
        return self._masked(self.store.get_execution(execution_id))

    def _masked(self, execution: Execution, flow: Flow | None = None) -> Execution:
        if not any(v is not None for v in execution.inputs.values()):
            return execution
        if flow is None:
            flow = self.store.get_flow(
                execution.namespace, execution.flow_id, execution.flow_revision
            )
        return execution.model_copy(update={"inputs": masked_inputs(flow.inputs, execution.inputs)})

    def state(self, execution_id: str) -> StateType:
        """Just the current state of the execution (cheap)."""
        state = self.store.execution_state(execution_id)
        if state is None:
            raise ExecutionNotFound(execution_id)
        return state

    def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """Block until the execution ends, then return it; with ``afterExecution`` tasks,
        once they ended too (Kestra's ``ExecutionService.isTerminated``). Raises
        ``WaitTimeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Read the position first, then the state: an end after this read is in the stream.
        last = self.store.last_execution_event_id(execution_id)
        state = self.state(execution_id)
        while not state.is_terminated():
            block = 1000
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(execution_id, timeout or 0, state)
                block = max(1, min(block, int(left * 1000)))
            events = self.store.read_execution_events(execution_id, last, block)
            if events:
                last, state = events[-1]
            else:
                state = self.state(execution_id)
        rest = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        return self.after_execution(self.get(execution_id), rest)

    def after_execution(self, execution: Execution, timeout: float | None = None) -> Execution:
        """``execution`` (ended) again once its afterExecution task runs ended too (as
        is, without any). Raises ``WaitTimeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            flow = self.store.get_flow(
                execution.namespace, execution.flow_id, execution.flow_revision
            )  # cached: immutable
        except FlowNotFound:
            return execution
        first = sequencing.after_end(flow).create
        if not first or execution.state.current == StateType.RETRIED:
            return execution  # nothing runs after this end
        while not (
            execution.state.current.is_terminated()
            and any(tr.task_id == first[0].task_id for tr in execution.task_run_list)
            and all(tr.state.current.is_terminated() for tr in execution.task_run_list)
        ):
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeout(execution.id, timeout or 0, execution.state.current)
            time.sleep(0.05)
            execution = self.get(execution.id)
        return execution

    def follow(self, execution_id: str, timeout: float | None = None) -> Iterator[StateEvent]:
        """Every state change of the execution, its task runs and attempts, from the
        first one, as they happen; ends after the execution ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = "0"
        self.state(execution_id)  # raises ExecutionNotFound
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeout(execution_id, timeout or 0, self.state(execution_id))
            events = self.events(execution_id, last, block=1.0)
            for last, event in events:  # noqa: B007
                yield event
                if (
                    event.task_run_id is None
                    and event.state.is_terminated()
                    and self.state(execution_id).is_terminated()
                ):
                    return  # (an end followed by a restart is not the end)
            if not events and self.state(execution_id).is_terminated():
                return

    def events(
        self, execution_id: str, after: str = "0", *, block: float | None = None
    ) -> list[tuple[str, StateEvent]]:
        """The state changes after the one of id ``after`` ("0": from the first), each with
        its id, to resume after it (what ``follow`` and the
        API's ``/events`` and ``/follow`` read).

        With ``block`` (seconds), waits that long for a change when there is none yet; an
        unknown execution has none.
        """
        block_ms = None if block is None else max(1, int(block * 1000))
        return self.store.read_events(execution_id, after, block_ms)

    # ------------------------------------------------------------------ control

    def kill(self, execution_id: str) -> Execution:
        """Kill a running (or paused, or queued) execution.

        It moves to KILLING at once: task runs not yet started end KILLED and never
        start, a task run waiting for its retry ends KILLED, running ones are stopped by
        their workers (cooperatively, then interrupted after a short grace; commands get
        their whole process group terminated). The execution is KILLED as soon as
        nothing runs: within a few seconds, or a lease period if the worker died.
        Killing twice is harmless; killing an execution that ended otherwise raises
        ``StateConflict``.
        """
        self.orchestrator.control.kill(execution_id)
        return self.get(execution_id)

    def restart(self, execution_id: str) -> Execution:
        """Restart a FAILED or KILLED execution in place: failed and killed task runs make a
        new attempt, successful ones keep their outputs (``StateConflict`` otherwise)."""
        self.orchestrator.control.restart(execution_id)
        return self.get(execution_id)

    def replay(
        self,
        execution_id: str,
        task_run_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Execution:
        """A new execution (``parentId`` = this one) of the same flow revision, from the
        start or from ``task_run_id``: task runs before it keep their outputs, it and
        everything after it run again; optionally with new ``inputs``."""
        new = self.orchestrator.control.replay(
            execution_id, task_run_id, dict(inputs) if inputs is not None else None
        )
        return self.get(new)

    def pause(self, execution_id: str) -> Execution:
        """Pause a RUNNING execution: running task runs finish, nothing new starts."""
        self.orchestrator.control.pause(execution_id)
        return self.get(execution_id)

    def resume(self, execution_id: str) -> Execution:
        """Resume a PAUSED execution (paused by hand or by a ``Pause`` task)."""
        self.orchestrator.control.resume(execution_id)
        return self.get(execution_id)

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
        state (one, or any of several), namespace prefix (it and its sub-namespaces),
        labels and creation time
        (``created_from``/``created_to``, inclusive; a naive datetime is UTC)."""
        st = search_states(state)
        ids, _ = self.store.search_page(
            namespace=namespace,
            flow_id=flow_id,
            state=st,
            namespace_prefix=namespace_prefix,
            labels=labels,
            limit=limit,
            offset=offset,
            created_from=_epoch(created_from),
            created_to=_epoch(created_to),
        )
        return [self.get(eid) for eid in ids]

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
        """Page ``page`` (1-based) of ``size`` executions, newest first, filtered as
        ``search`` does, with how many match in all (the API's ``/executions/search``).
        Only the page is read (``Store.search_page``).

        An execution that expires between the count and its read is left out of the page.
        """
        if page < 1 or size < 1:
            raise ValueError(f"page and size start at 1, got page={page}, size={size}")
        st = search_states(state)
        ids, total = self.store.search_page(
            namespace=namespace,
            flow_id=flow_id,
            state=st,
            namespace_prefix=namespace_prefix,
            labels=labels,
            limit=size,
            offset=(page - 1) * size,
            created_from=_epoch(created_from),
            created_to=_epoch(created_to),
        )
        results = []
        for eid in ids:
            try:
                results.append(self.get(eid))
            except ExecutionNotFound:  # expired between the listing and now
                continue
        return ExecutionPage(results=results, total=total)

    def logs(
        self,
        execution_id: str,
        *,
        min_level: str | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
    ) -> list[LogEntry]:
        """Every log line of the execution, in order (filtered as ``logs_page`` does).
        For a long log, read it in pages with ``logs_page``."""
        query = LogQuery(min_level, task_run_id, task_id, attempt)
        if query.everything:
            return self.store.logs(execution_id)
        return self.store.logs_page(execution_id, query=query).results

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
        """Page ``page`` (1-based) of ``size`` log lines of the execution, in order, from
        position ``cursor`` on (0: the start), keeping lines of ``min_level`` or above,
        of one task run, task or attempt (numbered from 1) if given.

        To follow a log, read from ``cursor=page.next_cursor`` of the last page read:
        nothing is read twice or missed. ``total`` is how many lines match from
        ``cursor`` on."""
        if page < 1 or size < 1:
            raise ValueError(f"page and size start at 1, got page={page}, size={size}")
        return self.store.logs_page(
            execution_id,
            cursor=cursor,
            offset=(page - 1) * size,
            limit=size,
            query=LogQuery(min_level, task_run_id, task_id, attempt),
        )

    def metrics(self, execution_id: str) -> list[MetricEntry]:
        """Every metric entry emitted by the execution's task runs."""
        return self.store.metrics(execution_id)

    # ------------------------------------------------------------------ KV store

    def kv_get(self, namespace: str, key: str, *, tenant: str = "main") -> TypedValue:
        """The value of ``key`` in ``namespace``'s KV store with its type (raises
        ``KVNotFound`` if it is missing or expired)."""
        record = self.store.kv_get(namespace, key, tenant=tenant)
        if record is None:
            raise KVNotFound(namespace, key)
        return TypedValue.of(record)

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
        """Store ``value`` under ``key`` (its type inferred unless ``kv_type`` is given;
        ``ttl``: seconds, a timedelta or an ISO-8601 duration). ``overwrite=False`` raises
        ``KVConflict`` if the key exists."""
        typ, data = kv_coerce(value, kv_type)
        self.store.kv_set(
            namespace,
            key,
            typ,
            kv_encode(data),
            ttl=check_ttl(ttl),
            overwrite=overwrite,
            tenant=tenant,
        )

    def kv_delete(self, namespace: str, key: str, *, tenant: str = "main") -> bool:
        """Delete ``key``; True if it existed."""
        return self.store.kv_delete(namespace, key, tenant=tenant)

    def kv_list(self, namespace: str, *, tenant: str = "main") -> list[KVEntry]:
        """The live entries of ``namespace`` (key, creation, update and expiration dates)."""
        return [KVEntry.of(r) for r in self.store.kv_list(namespace, tenant=tenant)]

    # -- triggers (executor/triggers/control.py, backfill.py)

    def triggers(
        self, namespace: str | None = None, flow_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every trigger of the deployed flows (of ``namespace``/``flow_id``), in Kestra's
        ``Trigger`` JSON shape: next and last fire, last execution, last error, disabled,
        backfill progress."""
        from executor.triggers import control

        return control.triggers(self.store, namespace, flow_id, lease=self.settings.schedule_lease)

    def trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """One trigger, as ``triggers`` lists it (``NotFoundError`` if there is none)."""
        from executor.store.base import TriggerRef
        from executor.triggers import control

        ref = TriggerRef(namespace, flow_id, trigger_id)
        return control.trigger(self.store, ref, lease=self.settings.schedule_lease)

    def enable_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Enable a trigger a user disabled (a schedule applies its
        ``recoverMissedSchedules`` to the ticks it missed); the trigger."""
        return self.set_trigger_disabled(namespace, flow_id, trigger_id, False)

    def disable_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Disable a trigger, whatever its flow says; the trigger."""
        return self.set_trigger_disabled(namespace, flow_id, trigger_id, True)

    def set_trigger_disabled(
        self, namespace: str, flow_id: str, trigger_id: str, disabled: bool
    ) -> dict[str, Any]:
        """``disable_trigger`` or ``enable_trigger``, by a flag; the trigger."""
        from executor.store.base import TriggerRef
        from executor.triggers import control

        control.set_disabled(self.store, TriggerRef(namespace, flow_id, trigger_id), disabled)
        return self.trigger(namespace, flow_id, trigger_id)

    def unlock_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Drop the claim of a process on a stuck trigger (``StateConflict`` if it is not
        locked); the trigger."""
        from executor.store.base import TriggerRef
        from executor.triggers import control

        control.unlock(self.store, TriggerRef(namespace, flow_id, trigger_id))
        return self.trigger(namespace, flow_id, trigger_id)

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
        """Backfill schedule ``trigger_id`` over ``[start, end]`` (aware datetimes or
        ISO-8601 text; naive means UTC): one execution per tick that has none yet
        (``rerun``: every tick again), ``rate`` per second at most
        (``OSTRA_BACKFILL_RATE``), labelled ``system.backfill: true``. The trigger loop
        of any process runs it; this returns its status at once."""
        from executor.engine.schedule import parse_date
        from executor.store.base import TriggerRef
        from executor.triggers import backfill

        return backfill.start(
            self.store,
            TriggerRef(namespace, flow_id, trigger_id),
            parse_date(start) if isinstance(start, str) else _aware(start),
            parse_date(end) if isinstance(end, str) else _aware(end),
            inputs=inputs,
            labels=labels,
            rerun=rerun,
            rate=rate,
            default_rate=self.settings.backfill_rate,
            max_ticks=self.settings.backfill_max_ticks,
        )

    def backfill_status(
        self, namespace: str, flow_id: str, trigger_id: str
    ) -> dict[str, Any] | None:
        """The backfill of a trigger: Kestra's ``Backfill`` fields and ``total``,
        ``done``, ``fired``, ``status`` (RUNNING, DONE, CANCELED, FAILED); None if none."""
        from executor.store.base import TriggerRef
        from executor.triggers import backfill

        return backfill.status(self.store, TriggerRef(namespace, flow_id, trigger_id))

    def pause_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Pause a running backfill (no tick fires until it is resumed)."""
        from executor.store.base import TriggerRef
        from executor.triggers import backfill

        return backfill.set_paused(self.store, TriggerRef(namespace, flow_id, trigger_id), True)

    def resume_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Resume a paused backfill."""
        from executor.store.base import TriggerRef
        from executor.triggers import backfill

        return backfill.set_paused(self.store, TriggerRef(namespace, flow_id, trigger_id), False)

    def cancel_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        """Cancel a backfill: no tick fires after the one in flight, if any."""
        from executor.store.base import TriggerRef
        from executor.triggers import backfill

        return backfill.cancel(self.store, TriggerRef(namespace, flow_id, trigger_id))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _too_deep(value: Any) -> bool:
    try:
        check_depth(value)
    except TooDeep:
        return True
    return False


def execution_labels(
    flow: Flow, given: Mapping[str, str] | list[Label] | None, eid: str
) -> list[Label]:
    """The labels of a new execution of ``flow``: the flow's, then ``given`` (checked:
    ``InputValidationError`` names each bad one; ``system.*`` keys are reserved but
    ``system.correlationId``), then ``system.correlationId`` (the execution's id) unless
    given."""
    merged: dict[str, str] = dict(flow.labels)
    problems = []
    items = (
        given.items()
        if isinstance(given, Mapping)
        else ([(lb.key, lb.value) for lb in given] if given else [])
    )
    for key, value in items:
        if not isinstance(key, str) or not key:
            problems.append(Problem("labels", f"invalid label key {key!r}"))
        elif key.startswith("system.") and key != "system.correlationId":
            problems.append(Problem(f"labels.{key}", "labels starting with 'system.' are reserved"))
        elif _too_deep(value):
            problems.append(
                Problem(f"labels.{key}", f"nested more than {MAX_JSON_DEPTH} levels deep")
            )
        else:
            merged[key] = str(value)
    if problems:
        raise InputValidationError(problems)
    merged.setdefault("system.correlationId", eid)
    return [Label(key=k, value=v) for k, v in merged.items()]


def _epoch(when: datetime | None) -> float | None:
    """``when`` in epoch seconds (a naive datetime is UTC), None for None."""
    return None if when is None else _aware(when).timestamp()
