"""One delivery of a task run to a worker: claim it, run one attempt, record the end.

Plain Python (no Celery import): ``workers/tasks.py`` turns ``Outcome.retry_in`` into a
Celery retry of the same job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from executor.context import RunContext
from executor.encryption import encryption_key
from executor.engine.outcomes import attempt_outcome, retry_of
from executor.engine.vocabulary import Ended
from executor.errors import AttemptTimeout, TaskFailure, TaskKilled, TemplateError
from executor.flow import Flow, TaskDef
from executor.inputs import is_secret
from executor.models import LogEntry
from executor.orchestrator import Orchestrator
from executor.pebble.runtime import RenderRuntime, using
from executor.render_context import build_context
from executor.secrets import Masker, SecretInputs, provider_from_settings, resolver
from executor.settings import Settings
from executor.state import StateType
from executor.store import StartResult, Status, Store
from executor.store.records import retry_chain
from executor.tasktypes import text_fields
from executor.templating import render_value
from workers.heartbeat import Heartbeat
from workers.interrupts import attempt_guard

log = logging.getLogger(__name__)
S = StateType

#: Largest JSON size of a task run's outputs.
MAX_OUTPUT_BYTES = 1 << 20


def worker_id() -> str:
    """This process, as recorded on its attempts: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_dead(holder: str) -> bool:
    """True if the lease holder is a process of this host that no longer exists."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # this very process: the attempt it held is not running any more
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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
        res = self.store.start_attempt(
            eid, trid, me, lease, max_deliveries=self.settings.max_deliveries
        )
        if res.status == Status.BUSY and _holder_dead(res.holder):
            res = self.store.start_attempt(
                eid, trid, me, lease, force=True, max_deliveries=self.settings.max_deliveries
            )
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
        return self._attempt(eid, trid, res)

    # ------------------------------------------------------------------ one attempt

    def _attempt(self, eid: str, trid: str, res: StartResult) -> Outcome:
        flow = self.store.get_flow(res.namespace, res.flow_id, res.revision)
        task = flow.task(res.task_id)
        n = res.attempt
        timeout = task.timeout.total_seconds() if task.timeout else None
        killed_cache: list[float] = [0.0, 0.0]  # (checked at, killed?)

        def is_killed() -> bool:
            now = time.monotonic()
            if now - killed_cache[0] > 0.5:
                state = self.store.execution_state(eid)
                killed_cache[:] = [now, 1.0 if state in (S.KILLING, S.KILLED, None) else 0.0]
            return bool(killed_cache[1])

        masker = Masker()

        def on_log(entry: LogEntry) -> None:
            if masker:
                entry = entry.model_copy(update={"message": masker.mask(entry.message)})
            self.store.append_log(entry)

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
                self.heartbeat.add(eid, trid, self.settings.lease_seconds, interrupt)
                result = self._execute(
                    eid, trid, flow_task=task, flow=flow, ctx=ctx, res=res, masker=masker
                )
        except (AttemptTimeout, TaskKilled) as exc:  # raised between two checks, by a signal
            result = _Result(
                S.KILLED if isinstance(exc, TaskKilled) else S.FAILED,
                retryable=not isinstance(exc, TaskKilled),
                error=str(exc),
            )
        finally:
            self.heartbeat.remove(eid, trid)
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
        return self._record(eid, trid, flow, task, n, res, result, ctx)

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
    ) -> Outcome:
        now = time.time()
        state = result.attempt_state
        if state == S.FAILED:
            ctx.log(result.error or "attempt failed", "ERROR")
        retry = retry_of(flow, task.id)
        chain = (1, now)
        if state == S.FAILED and retry is not None and retry.new_execution:
            chain = retry_chain(self.store.execution_meta(eid), now)
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
        then = (
            self.orchestrator.plan_next(eid, flow, Ended(task.id, tr_state))
            if parent is None and retry_in is None
            else None
        )
        done = self.store.finish_attempt(
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
        )
        final = done.state
        if done.status != Status.OK:
            if final is not None and final.is_terminated():
                self.orchestrator.advance(eid, trid)
            return Outcome(attempt=n)
        if final == S.RETRYING and retry_in is not None:
            return Outcome(retry_in=retry_in, attempt=n)
        if done.next_state is not None:
            return Outcome(attempt=n)  # what follows was created and sent in that step
        if done.ended is not None:
            self.orchestrator.ended(eid, done.ended)  # the execution ended in that step
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
