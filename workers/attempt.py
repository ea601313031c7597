"""One delivery of a task run to a worker: claim it, run one attempt, record the end.

Plain Python (no Celery import): ``workers/tasks.py`` turns ``Outcome.retry_in`` into a
Celery retry of the same job.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from executor.context import RunContext
from executor.encryption import encryption_key
from executor.engine import sequencing
from executor.engine.outcomes import attempt_outcome, retry_of
from executor.engine.vocabulary import Ended
from executor.errors import (
    AttemptTimeout,
    StoreUnavailable,
    TaskFailure,
    TaskKilled,
    TemplateError,
)
from executor.flow import Flow, TaskDef
from executor.inputs import is_secret
from executor.models import LogEntry
from executor.observability import metrics, tracing
from executor.orchestrator import Orchestrator
from executor.pebble.runtime import RenderRuntime, using
from executor.render_context import build_context
from executor.secrets import Masker, SecretInputs, provider_from_settings, resolver
from executor.settings import Settings
from executor.state import StateType
from executor.store import StartResult, Status, Store
from executor.store.base import Finished, lease_holder
from executor.store.records import retry_chain
from executor.tasktypes import text_fields
from executor.templating import render_value
from workers.heartbeat import Heartbeat
from workers.interrupts import attempt_guard

log = logging.getLogger(__name__)
S = StateType
T = TypeVar("T")

#: Largest JSON size of a task run's outputs.
MAX_OUTPUT_BYTES = 1 << 20


def worker_id() -> str:
    """This process, as recorded on its attempts: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_token() -> str:
    """A fresh token for one attempt's lease (never all digits, so ``host:pid`` and
    ``host:pid:token`` holders are told apart)."""
    return "t" + secrets.token_hex(6)


def _holder_dead(holder: str, live: Callable[[str], bool]) -> bool:
    """True if the lease holder (``host:pid:token``, or ``host:pid`` from older workers) is
    a process of this host that no longer exists, or an attempt of this very process that
    is not live here any more (``live(token)`` false): several attempts may run in one
    process (thread, gevent and eventlet pools), so the process alone says nothing."""
    rest, _, last = holder.rpartition(":")
    token = ""
    if last and not last.isdigit():
        token = last
        rest, _, last = rest.rpartition(":")
    host, pid = rest, last
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        # This very process: dead unless the attempt that holds it still runs here.
        return not (token and live(token))
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _type_name(task: TaskDef) -> str:
    """The task's type by its full name (``Return`` is ``io.kestra.plugin.core.debug.Return``)."""
    try:
        return task.task_type.name
    except LookupError:
        return task.type


class _GaveUp(Exception):
    """Redis stayed unreachable until the lease lapsed (or the time to advance passed)."""


@dataclass(frozen=True)
class Outcome:
    """What the Celery job should do next: nothing, or run again in ``retry_in`` seconds."""

    retry_in: float | None = None
    attempt: int = 0


@dataclass
class _Result:
    attempt_state: StateType
    retryable: bool = True
    outputs: dict[str, Any] | None = None
    error: str = ""
    started: float = 0.0  # epoch seconds, when the attempt started on this worker


class AttemptRunner:
    """Runs deliveries of task runs in one worker process."""

    def __init__(self, store: Store, orchestrator: Orchestrator, settings: Settings) -> None:
        self.store = store
        self.orchestrator = orchestrator
        self.settings = settings
        self.heartbeat = Heartbeat(store)

    def run(self, eid: str, trid: str) -> Outcome:
        """Handle one delivery of task run ``trid`` of execution ``eid``."""
        me = worker_id()
        lease = self.settings.lease_seconds
        token = new_token()
        holder = lease_holder(me, token)
        # Live here before the lease can name it: a duplicate delivery in another thread of
        # this process must see its holder alive.
        self.heartbeat.claim(token, eid, trid, holder, lease)
        try:
            return self._run(eid, trid, me, token, holder)
        finally:
            self.heartbeat.remove(token)

    def _run(self, eid: str, trid: str, me: str, token: str, holder: str) -> Outcome:
        lease = self.settings.lease_seconds
        deliveries = self.settings.max_deliveries
        res = self.store.start_attempt(eid, trid, me, lease, max_deliveries=deliveries, token=token)
        if res.status == Status.BUSY and _holder_dead(res.holder, self.heartbeat.holds):
            res = self.store.start_attempt(
                eid, trid, me, lease, force=True, max_deliveries=deliveries, token=token
            )
        if res.resubmitted:
            metrics.count_resubmitted()
        if res.status == Status.BUSY:
            # Another worker holds a live lease: a duplicate delivery. Look again once the
            # lease could have lapsed; by then it either ended or its worker is gone.
            return Outcome(retry_in=max(res.wait_ms / 1000, 0.2) + 0.2)
        if res.status == Status.WAIT:
            return Outcome(retry_in=max(res.wait_ms / 1000, 0.05))
        if res.status == Status.PAUSED:
            return Outcome()  # resuming the execution sends it again
        if res.status in (Status.DONE, Status.KILLED):
            self.orchestrator.advance(eid, trid)
            return Outcome()
        if res.status != Status.START:
            log.warning("task run %s of execution %s not found; message dropped", trid, eid)
            return Outcome()
        self.heartbeat.started(token)  # its lease exists: renewed from now on
        if not tracing.ENABLED:
            return self._attempt(eid, trid, res, token, holder)
        with tracing.attempt_span(eid, trid, res.task_id, "", res.attempt) as span:
            outcome = self._attempt(eid, trid, res, token, holder, span)
        return outcome

    # ------------------------------------------------------------------ one attempt

    def _attempt(
        self, eid: str, trid: str, res: StartResult, token: str, holder: str, span: Any = None
    ) -> Outcome:
        started = time.time()
        flow = self.store.get_flow(res.namespace, res.flow_id, res.revision)
        task = flow.task(res.task_id)
        n = res.attempt
        if span is not None:
            span.set_attribute("ostra.task.type", _type_name(task))
        timeout = task.timeout.total_seconds() if task.timeout else None
        killed_cache: list[float] = [0.0, 0.0]  # (checked at, killed?)
        # An afterExecution task run runs on whatever its (ended) execution's state.
        forced = bool(flow.after_execution) and sequencing.is_after_execution(flow, task.id)
        if forced:
            self.heartbeat.force(token)

        def is_killed() -> bool:
            if self.heartbeat.lost(token):
                return True  # its lease lapsed: stop before another worker takes over
            if forced:
                return False
            now = time.monotonic()
            if now - killed_cache[0] > 0.5:
                state = self.store.execution_state(eid)
                killed_cache[:] = [now, 1.0 if state in (S.KILLING, S.KILLED, None) else 0.0]
            return bool(killed_cache[1])

        masker = Masker()
        log_full = [False]

        def on_log(entry: LogEntry) -> None:
            # The task run's budget only shrinks: once the store said FULL, nothing more
            # of this attempt would be stored, so stop paying a round trip per line.
            if log_full[0]:
                return
            if masker:
                entry = entry.model_copy(update={"message": masker.mask(entry.message)})
            log_full[0] = self.store.append_log(entry) == Status.FULL

        ctx = RunContext(
            execution_id=eid,
            task_run_id=trid,
            task_id=task.id,
            namespace=flow.namespace,
            flow_id=flow.id,
            attempt=n,
            timeout=timeout,
            deadline=time.monotonic() + timeout if timeout else None,
            value=res.value,
            on_log=on_log,
            is_killed=is_killed,
            store=self.store,
            mask=masker.mask_value,
        )
        try:
            with attempt_guard(timeout) as interrupt:
                self.heartbeat.started(token, interrupt)
                try:
                    result = self._execute(
                        eid, trid, flow_task=task, flow=flow, ctx=ctx, res=res, masker=masker
                    )
                finally:
                    self.heartbeat.ended(token)
        except (AttemptTimeout, TaskKilled) as exc:  # raised between two checks, by a signal
            result = _Result(
                S.KILLED if isinstance(exc, TaskKilled) else S.FAILED,
                retryable=not isinstance(exc, TaskKilled),
                error=str(exc),
            )
        result.started = started
        if span is not None:
            span.set_attribute("ostra.state", result.attempt_state.value)
        if self.heartbeat.lost(token):
            # Another worker may run it by now: the next delivery records this attempt as
            # lost (RESUBMITTED) and runs the next one.
            log.warning(
                "task run %s of execution %s: attempt %d stopped, its lease lapsed; "
                "nothing recorded",
                trid,
                eid,
                n,
            )
            return Outcome()
        if masker:
            # Nothing a resolved secret reached is stored in plaintext.
            result.error = masker.mask(result.error)
            result.outputs = masker.mask_value(result.outputs)
            ctx.metrics = [
                m.model_copy(
                    update={"name": masker.mask(m.name), "tags": masker.mask_value(m.tags)}
                )
                for m in ctx.metrics
            ]
        try:
            return self._record(eid, trid, flow, task, n, res, result, ctx, token, holder)
        except _GaveUp as exc:
            log.warning("task run %s of execution %s: %s", trid, eid, exc)
            return Outcome(attempt=n)

    def _execute(
        self,
        eid: str,
        trid: str,
        *,
        flow_task: TaskDef,
        flow: Flow,
        ctx: RunContext,
        res: StartResult,
        masker: Masker,
    ) -> _Result:
        tt = flow_task.task_type
        try:
            context = build_context(
                self.store,
                eid,
                flow,
                flow_task,
                task_run_id=trid,
                attempt=ctx.attempt,
                value=res.value,
                parent_task_run_id=res.parent_task_run_id,
                iteration=res.iteration,
            )
            secret_ids = frozenset(d.id for d in flow.inputs if is_secret(d))
            if secret_ids:
                context["inputs"] = SecretInputs(
                    context["inputs"], secret_ids, encryption_key(), masker.add
                )
            # Secrets are resolved here only: this render's results stay in this process.
            runtime = RenderRuntime(
                store=self.store,
                namespace=flow.namespace,
                flow_id=flow.id,
                execution_id=eid,
                task_run_id=trid,
                secret=lambda name: resolver(provider_from_settings())(name),
                on_secret=masker.add,
            )
            with using(runtime):
                rendered = render_value(flow_task.properties, context)
            props = tt.properties.model_validate(text_fields(tt.properties, rendered))
            outputs = tt.resolve_runner()(props, ctx)
            outputs = dict(outputs or {})
            size = len(json.dumps(outputs, default=str))
            if size > MAX_OUTPUT_BYTES:
                raise TaskFailure(
                    f"outputs too large: {size} bytes (limit {MAX_OUTPUT_BYTES})", retryable=False
                )
            return _Result(S.SUCCESS, outputs=outputs)
        except TaskKilled as exc:
            return _Result(S.KILLED, retryable=False, error=str(exc))
        except TaskFailure as exc:
            return _Result(S.FAILED, retryable=exc.retryable, error=str(exc))
        except TemplateError as exc:
            return _Result(S.FAILED, retryable=False, error=f"template error: {exc}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            return _Result(S.FAILED, retryable=False, error=f"invalid properties: {problems}")
        except Exception as exc:
            ctx.log(traceback.format_exc(limit=8), "DEBUG")
            return _Result(S.FAILED, error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _observe(
        eid: str,
        trid: str,
        task: TaskDef,
        n: int,
        res: StartResult,
        result: _Result,
        final: StateType | None,
        retried: bool,
    ) -> None:
        """Count the attempt that just ended and, if its task run ended with it, export
        the task run's span (the metrics and traces of ``executor.observability``)."""
        if not (metrics.ENABLED or tracing.ENABLED):
            return
        now = time.time()
        ended = final if final is not None and final.is_terminated() else None
        type_name = _type_name(task)
        metrics.count_attempt_ended(
            type_name,
            result.attempt_state.value,
            now - result.started,
            ended.value if ended is not None else None,
            retried,
        )
        if ended is not None:
            tracing.task_run_ended(
                eid, trid, task.id, type_name, ended.value, res.first_start, now, n
            )

    def _persist(self, what: str, fn: Callable[[], T], gave_up: Callable[[], bool]) -> T:
        """``fn()``, tried again with backoff while Redis is unreachable, until
        ``gave_up()`` (then ``_GaveUp``). Only what is safe to repeat goes here: every
        step is a compare-and-set, a repeated one changes nothing."""
        delay = 0.05
        while True:
            try:
                return fn()
            except StoreUnavailable as exc:
                if gave_up():
                    raise _GaveUp(f"{what}: Redis unreachable until the lease lapsed") from exc
                log.warning("%s: %s; trying again in %.2fs", what, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _record(
        self,
        eid: str,
        trid: str,
        flow: Flow,
        task: TaskDef,
        n: int,
        res: StartResult,
        result: _Result,
        ctx: RunContext,
        token: str,
        holder: str,
    ) -> Outcome:
        # While Redis is unreachable the end is written again and again, the heartbeat
        # renewing the lease meanwhile, until the lease lapses (then another worker may
        # run it again: nothing is recorded).
        def lapsed() -> bool:
            return self.heartbeat.lost(token)

        state = result.attempt_state
        if state == S.FAILED:
            self._persist(
                "attempt log", lambda: ctx.log(result.error or "attempt failed", "ERROR"), lapsed
            )
        now = time.time()
        retry = retry_of(flow, task.id)
        chain = (1, now)
        if state == S.FAILED and retry is not None and retry.new_execution:
            meta = self._persist("execution", lambda: self.store.execution_meta(eid), lapsed)
            chain = retry_chain(meta, now)
        outcome = attempt_outcome(
            task,
            n,
            state,
            retryable=result.retryable,
            elapsed_s=now - res.first_start,
            retry=retry,
            execution_attempt=chain[0],
            since_first_execution_s=now - chain[1],
        )
        tr_state, retry_in = outcome.state, outcome.retry_in
        retry_at = now + retry_in if retry_in is not None else None
        deadline = (
            retry_at + self.settings.pending_grace
            if retry_at
            else now + self.settings.lease_seconds
        )
        parent = res.parent_task_run_id
        # A top-level task run's successors are decided now, for the end state it is about
        # to record, and created in the same step (unless it ends otherwise: killed).
        decided = Ended(task.id, tr_state)
        then = (
            self._persist(
                "next task runs", lambda: self.orchestrator.plan_next(eid, flow, decided), lapsed
            )
            if parent is None and retry_in is None
            else None
        )
        tries = [0]

        def finish() -> Finished:
            tries[0] += 1
            return self.store.finish_attempt(
                eid,
                trid,
                n,
                state,
                tr_state,
                outputs=result.outputs,
                retry_at=retry_at,
                active_deadline=deadline,
                error=result.error,
                metrics=ctx.metrics,
                parent=parent,
                errors_branch=parent is not None and flow.locate(task.id).branch == "errors",
                iteration=res.iteration,
                then=then,
                holder=holder,
            )

        done = self._persist("attempt end", finish, lapsed)
        if done.status == Status.OK:
            self._observe(eid, trid, task, n, res, result, done.state, retry_in is not None)
        # Its lease is gone with its end: what follows has until the reconciler would
        # advance it (its active-set deadline, a lease from now) to be applied.
        self.heartbeat.remove(token)
        until = time.monotonic() + self.settings.lease_seconds
        final = done.state

        def after() -> Outcome:
            if done.status != Status.OK:
                if tries[0] > 1 and final == S.RETRYING and retry_in is not None:
                    # An earlier try was applied and its reply lost: schedule the retry.
                    return Outcome(retry_in=retry_in, attempt=n)
                if final is not None and final.is_terminated():
                    self.orchestrator.advance(eid, trid)
                return Outcome(attempt=n)
            if final == S.RETRYING and retry_in is not None:
                return Outcome(retry_in=retry_in, attempt=n)
            if done.next_state is not None:
                return Outcome(attempt=n)  # what follows was created and sent in that step
            if done.ended is not None:
                # the execution ended in that step
                self.orchestrator.ended(eid, done.ended, flow)
                return Outcome(attempt=n)
            assert final is not None
            self.orchestrator.advance(
                eid,
                trid,
                flow=flow,
                child_end=done.child,
                ended=Ended(task.id, final, res.parent_task_run_id, res.value, res.iteration),
            )
            return Outcome(attempt=n)

        return self._persist("advance", after, lambda: time.monotonic() >= until)
