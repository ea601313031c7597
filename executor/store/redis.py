"""``RedisStore``: every read and write of Ostra's state, in Redis.

Every state change goes through one Lua script that checks the move against
``executor.state.TRANSITIONS`` (compiled into the script) and appends the dated history
entry in the same step, so redelivered, duplicated or late messages are harmless.
No step rewrites a whole execution: a transition touches one task run's keys, so its
cost does not grow with the number of task runs.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import redis
from redis.commands.core import Script

from executor.errors import ExecutionNotFound, FlowNotFound, StoreError
from executor.flow import Flow
from executor.models import (
    Execution,
    History,
    Label,
    LogEntry,
    MetricEntry,
    State,
    StateEvent,
    TaskRun,
    TaskRunAttempt,
    utcnow,
)
from executor.state import TERMINAL, TRANSITIONS, StateType
from executor.store.base import (
    ChildEnd,
    Created,
    Finished,
    Killed,
    Moved,
    NewRow,
    Restarted,
    StartResult,
    Status,
    TaskRunRow,
    Then,
)
from executor.store.keys import Keys, active_member, identity

_HERE = Path(__file__).parent
F = TypeVar("F", bound=Callable[..., Any])


def _lua_prelude() -> str:
    # The table as one constant string of " FROM>TO " pairs: Lua interns it when the
    # script is compiled, where a table of tables would be rebuilt on every call.
    pairs = sorted(f"{src.value}>{dst.value}" for src, targets in TRANSITIONS.items()
                   for dst in targets)
    terminal = ", ".join(f"{s.value}=true" for s in sorted(TERMINAL, key=lambda s: s.value))
    return (f"local ALLOWED = ' {' '.join(pairs)} '\n"
            f"local TERMINAL = {{{terminal}}}\n" + (_HERE / "_lib.lua").read_text())


def _script_source(name: str) -> str:
    return _lua_prelude() + "\n" + (_HERE / f"{name}.lua").read_text()


def _translate(fn: F) -> F:
    """Turn redis-py errors into ``StoreError`` (the only place that knows redis-py)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"redis: {exc}") from exc

    return cast(F, wrapper)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def iso(dt: datetime | None = None) -> str:
    return (dt or utcnow()).isoformat().replace("+00:00", "Z")


def _row_args(row: NewRow, keys: list[Any], args: list[Any], k: Keys, eid: str) -> None:
    """Append a new task run's two keys (its hash and its queue's list, or its hash again
    when it has no message) and seven arguments, as ``create_runs()`` in ``_lib.lua``
    reads them."""
    keys += [k.task_run(eid, row.id),
             row.message.queue_key if row.message else k.task_run(eid, row.id)]
    args += [identity(row.task_id, row.parent_task_run_id, row.value, row.iteration),
             row.id, row.task_id, row.parent_task_run_id or "",
             row.value if row.value is not None else "",
             "" if row.iteration is None else str(row.iteration),
             row.message.payload if row.message else ""]














class RedisStore:
    """Reads and writes Ostra's state in one Redis database, under ``keys.prefix``."""

    def __init__(self, client: redis.Redis, keys: Keys | None = None) -> None:
        self.r = client
        self.k = keys or Keys()
        self._scripts: dict[str, Script] = {
            name: client.register_script(_script_source(name))
            for name in ("exec_transition", "create", "start", "finish", "kill", "restart",
                         "tr_transition", "child_ended", "flowable_start", "admit", "release",
                         "purge", "submit", "end_execution")
        }
        self._flow_cache: dict[tuple[str, str, int], Flow] = {}

    @classmethod
    def from_url(cls, url: str, prefix: str = "ostra") -> RedisStore:
        client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5,
                                      health_check_interval=30)
        return cls(client, Keys(prefix))

    @_translate
    def ping(self) -> None:
        """Check that Redis answers (raises ``StoreError`` if not)."""
        self.r.ping()

    def close(self) -> None:
        """Close the connections to Redis."""
        self.r.close()

    # ------------------------------------------------------------------ flows

    @_translate
    def deploy_flow(self, flow: Flow) -> Flow:
        """Store ``flow`` as a new revision if it differs from the latest one."""
        key = self.k.flow(flow.namespace, flow.id)
        digest = flow.digest()
        while True:
            with self.r.pipeline() as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    latest, old_digest = pipe.hmget(key, "revision", "digest")
                    if latest is not None and _s(old_digest) == digest:
                        return flow.model_copy(update={"revision": int(latest)})
                    revision = int(latest or 0) + 1
                    stored = flow.model_copy(update={"revision": revision})
                    pipe.multi()
                    pipe.set(self.k.flow_revision(flow.namespace, flow.id, revision),
                             json.dumps(stored.to_dict()))
                    pipe.hset(key, mapping={"revision": revision, "digest": digest})
                    pipe.zadd(self.k.flows, {f"{flow.namespace}:{flow.id}": time.time()})
                    pipe.execute()
                    return stored
                except redis.WatchError:
                    continue  # another deploy of the same flow won the race; look again

    @_translate
    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """A deployed flow: its latest revision, or the one asked for (cached: immutable)."""
        if revision is None:
            latest = self.r.hget(self.k.flow(namespace, flow_id), "revision")
            if latest is None:
                raise FlowNotFound(namespace, flow_id)
            revision = int(latest)
        cached = self._flow_cache.get((namespace, flow_id, revision))
        if cached is not None:
            return cached
        raw = self.r.get(self.k.flow_revision(namespace, flow_id, revision))
        if raw is None:
            raise FlowNotFound(namespace, flow_id)
        flow = Flow.from_dict(json.loads(raw)).model_copy(update={"revision": revision})
        if len(self._flow_cache) > 256:
            self._flow_cache.clear()
        self._flow_cache[(namespace, flow_id, revision)] = flow
        return flow

    @_translate
    def list_flows(self) -> list[tuple[str, str]]:
        return [tuple(_s(m).split(":", 1)) for m in self.r.zrange(self.k.flows, 0, -1)]  # type: ignore[misc]

    # ------------------------------------------------------------------ executions

    @_translate
    def create_execution(
        self,
        eid: str,
        flow: Flow,
        inputs: Mapping[str, Any],
        labels: list[Label],
        first: list[NewRow],
        pending_deadline: float,
        parent_id: str | None = None,
        original_id: str | None = None,
        copies: list[dict[str, str]] = (),  # type: ignore[assignment]
        trigger: tuple[str, str] | None = None,
        only_if_absent: bool = False,
    ) -> Execution | None:
        """Create an execution in CREATED with its first task runs, in one step
        (``submit.lua``), and return it as created.

        ``first`` lists the root task runs to create now (with the messages to push for
        them, if any); ``copies`` ended task runs (hash fields, history included) carried
        over by a replay, already given their new ids; ``trigger`` the (execution, task
        run) of a Subflow task that started it. With ``only_if_absent``, nothing is
        written if the execution exists already (returns None).
        """
        now, date = time.time(), iso()
        k = self.k
        inputs_json = json.dumps(dict(inputs))
        fields: dict[str, Any] = {
            "id": eid, "namespace": flow.namespace, "flowId": flow.id,
            "flowRevision": str(flow.revision or 1), "state": StateType.CREATED.value,
            "inputs": inputs_json,
            "labels": json.dumps([lb.model_dump() for lb in labels]),
            "variables": json.dumps(flow.variables), "created": repr(now),
            "originalId": original_id or eid, "parentId": parent_id or "",
            "h": _hist("CREATED", date),
        }
        if flow.concurrency is not None:
            fields["concLimit"] = str(flow.concurrency.limit)
        if trigger is not None:
            fields["triggerExecutionId"], fields["triggerTaskRunId"] = trigger
        copied = [{"identity": identity(c["taskId"], c.get("parentTaskRunId") or None,
                                        c.get("value") or None,
                                        int(c["iteration"]) if c.get("iteration") else None),
                   "fields": c} for c in copies]
        keys = [k.execution(eid), k.events(eid), k.task_run_keys(eid), k.task_runs(eid),
                k.active, k.value_index(eid), k.index_all,
                k.index_flow(flow.namespace, flow.id), k.index_state("CREATED"),
                k.subflows(trigger[0]) if trigger else k.execution(eid)]
        args: list[Any] = [eid, date, repr(now), pending_deadline, "1" if only_if_absent else "0",
                           json.dumps(fields), k.task_run(eid, ""),
                           json.dumps(copied) if copied else ""]
        for row in first:
            _row_args(row, keys, args, k, eid)
        if not int(self._scripts["submit"](keys=keys, args=args)):
            return None
        created = [History(state=StateType.CREATED, date=date)]  # type: ignore[arg-type]
        return Execution(
            id=eid, namespace=flow.namespace, flow_id=flow.id, flow_revision=flow.revision or 1,
            state=State(current=StateType.CREATED, histories=created),
            inputs=json.loads(inputs_json), labels=labels, variables=flow.variables,
            parent_id=parent_id, original_id=original_id or eid,
            task_run_list=[self._task_run(eid, fields, c) for c in copies] + [
                TaskRun(id=row.id, execution_id=eid, namespace=flow.namespace,
                        flow_id=flow.id, task_id=row.task_id,
                        parent_task_run_id=row.parent_task_run_id, value=row.value,
                        iteration=row.iteration,
                        state=State(current=StateType.CREATED, histories=created))
                for row in first],
        )

    @_translate
    def admit(self, eid: str, flow: Flow) -> Status:
        """Take a concurrency slot for a new execution, or queue, cancel or fail it
        (see ``admit.lua``)."""
        assert flow.concurrency is not None
        k = self.k
        ns, fid = flow.namespace, flow.id
        return Status(_s(self._scripts["admit"](
            keys=[k.execution(eid), k.events(eid),
                  k.concurrency_running(ns, fid), k.concurrency_queue(ns, fid),
                  k.concurrency_flows],
            args=[k.prefix, eid, flow.concurrency.limit, flow.concurrency.behavior, iso(),
                  f"{ns}:{fid}"])))

    @_translate
    def release_slot(self, eid: str, namespace: str, flow_id: str, limit: int) -> None:
        """Free a slot held by an execution that ended without freeing it (recovery)."""
        k = self.k
        self._scripts["release"](keys=[k.execution(eid)],
                                 args=[k.prefix, eid, namespace, flow_id, limit, iso()])

    @_translate
    def slot_holders(self) -> list[tuple[str, str, list[str]]]:
        """(namespace, flow id, execution ids holding a slot) of flows with a limit."""
        out = []
        for raw in self.r.smembers(self.k.concurrency_flows):  # type: ignore[union-attr]
            ns, _, fid = _s(raw).partition(":")
            members = [_s(m) for m in self.r.smembers(  # type: ignore[union-attr]
                self.k.concurrency_running(ns, fid))]
            out.append((ns, fid, members))
        return out

    @_translate
    def pop_promoted(self) -> list[str]:
        """Executions that just left a concurrency queue, to be started."""
        out: Any = self.r.lpop(self.k.promoted, 100)
        return [_s(e) for e in out or []]

    @_translate
    def subflow_executions(self, eid: str) -> list[str]:
        return [_s(m) for m in self.r.smembers(self.k.subflows(eid))]  # type: ignore[union-attr]

    @_translate
    def create_task_runs(self, eid: str, items: list[NewRow], pending_deadline: float,
                         ended: str = "") -> Created:
        """Create task runs once each, pushing the message of each new one that has one
        (unless the execution is PAUSED, which holds them until resumed).

        ``ended`` is the task run whose end led here: it leaves the active set in the same
        step. Returns the execution's state and (id, created) pairs (the id of an existing
        task run of the same identity when it was not created); no pairs when the
        execution refuses new task runs (KILLING or ended).
        """
        k = self.k
        keys = [k.execution(eid), k.task_run_keys(eid), k.task_runs(eid), k.events(eid), k.active,
                k.value_index(eid)]
        args: list[Any] = [eid, iso(), pending_deadline, active_member(eid, ended) if ended else ""]
        for row in items:
            _row_args(row, keys, args, k, eid)
        out = self._scripts["create"](keys=keys, args=args)
        if _s(out[0]) == "REFUSED":
            return Created(StateType.FAILED if _s(out[1]) == "MISSING"
                           else StateType(_s(out[1])), [])
        return Created(StateType(_s(out[0])), _pairs(out[1:]))

    @_translate
    def transition_execution(self, eid: str, to: StateType, expected: StateType | None = None,
                             **fields: Any) -> Moved:
        """Compare-and-set the execution's state. Returns (status, state) as in the script."""
        k = self.k
        args: list[Any] = [k.prefix, eid, to.value, iso(), expected.value if expected else ""]
        for name, value in fields.items():
            args += [name, value]
        status, cur = self._scripts["exec_transition"](
            keys=[k.execution(eid), k.events(eid)], args=args)
        return _moved(status, cur)

    @_translate
    def transition_task_run(self, eid: str, trid: str, to: StateType,
                            expected: StateType | None = None, *, active: float | str = "",
                            **fields: Any) -> Moved:
        """Compare-and-set one task run's state (see ``tr_transition.lua``)."""
        k = self.k
        args: list[Any] = [eid, trid, to.value, iso(), expected.value if expected else "",
                           f"{active:.6f}" if isinstance(active, float) else active]
        for name, value in fields.items():
            args += [name, value]
        status, cur = self._scripts["tr_transition"](
            keys=[k.task_run(eid, trid), k.events(eid), k.active],
            args=args)
        return _moved(status, cur)

    @_translate
    def end_execution(self, eid: str, final: StateType, expected: StateType,
                      task_runs: list[TaskRunRow], outputs: Mapping[str, Any] | None = None
                      ) -> Moved:
        """End an execution in ``final`` if it is still as read: in state ``expected``,
        with exactly ``task_runs``, each in its state (see ``end_execution.lua``)."""
        k = self.k
        keys = [k.execution(eid), k.events(eid), k.task_runs(eid), k.index_ended,
                *(k.task_run(eid, r.id) for r in task_runs)]
        args: list[Any] = [k.prefix, eid, final.value, iso(), expected.value,
                           f"{time.time():.6f}",
                           json.dumps(dict(outputs), default=str) if outputs is not None else "",
                           *(r.state.value for r in task_runs)]
        status, cur = self._scripts["end_execution"](keys=keys, args=args)
        return _moved(status, cur)

    @_translate
    def kill_execution(self, eid: str) -> Killed:
        """Kill an execution (see ``kill.lua``): (status, state, task runs still running)."""
        k = self.k
        out = self._scripts["kill"](
            keys=[k.execution(eid), k.events(eid), k.task_runs(eid), k.active],
            args=[k.prefix, eid, iso(), k.task_run(eid, "")])
        status = Status(_s(out[0]))
        if status == Status.MISSING:
            return Killed(status, None, [])
        if status == Status.ENDED:
            return Killed(status, StateType(_s(out[1])), [])
        return Killed(status, StateType(status.value), [_s(t) for t in out[2:]])

    @_translate
    def restart_execution(self, eid: str, dropped_tasks: list[str], pending_deadline: float
                          ) -> Restarted:
        """Restart an ended execution in place (see ``restart.lua``)."""
        k = self.k
        keys = [k.execution(eid), k.events(eid), k.task_runs(eid), k.task_run_keys(eid),
                k.active, k.index_ended]
        out = self._scripts["restart"](
            keys=keys, args=[k.prefix, eid, iso(), k.task_run(eid, ""), pending_deadline,
                             *dropped_tasks])
        status = Status(_s(out[0]))
        if status == Status.MISSING:
            return Restarted(status, None, [])
        if status == Status.REFUSED:
            return Restarted(status, StateType(_s(out[1])), [])
        return Restarted(status, StateType.RESTARTED, [_s(t) for t in out[1:]])

    @_translate
    def task_run_field(self, eid: str, trid: str, name: str) -> str | None:
        raw = self.r.hget(self.k.task_run(eid, trid), name)
        return _s(raw) if raw is not None else None

    @_translate
    def read_task_runs_raw(self, eid: str, trids: list[str]) -> list[dict[str, str]]:
        """Hash fields of task runs, as stored, history included (for replay)."""
        with self.r.pipeline(transaction=False) as pipe:
            for trid in trids:
                pipe.hgetall(self.k.task_run(eid, trid))
            raw = pipe.execute()
        return [{_s(a): _s(b) for a, b in fields.items()} for fields in raw]

    @_translate
    def execution_state(self, eid: str) -> StateType | None:
        raw = self.r.hget(self.k.execution(eid), "state")
        return StateType(_s(raw)) if raw is not None else None

    @_translate
    def flow_ref(self, eid: str) -> tuple[str, str, int] | None:
        """(namespace, flow id, revision) of the execution, or None if it does not exist."""
        ns, fid, rev = self.r.hmget(self.k.execution(eid), "namespace", "flowId", "flowRevision")
        if ns is None:
            return None
        return _s(ns), _s(fid), int(rev or 1)

    @_translate
    def execution_states(self, eids: list[str]) -> list[StateType | None]:
        with self.r.pipeline(transaction=False) as pipe:
            for eid in eids:
                pipe.hget(self.k.execution(eid), "state")
            return [StateType(_s(s)) if s is not None else None for s in pipe.execute()]

    @_translate
    def execution_field(self, eid: str, name: str) -> Any:
        """A JSON field of the execution hash (``inputs``, ``labels``, ``variables``)."""
        raw = self.r.hget(self.k.execution(eid), name)
        if raw is None:
            raise ExecutionNotFound(eid)
        return json.loads(raw)

    @_translate
    def execution_meta(self, eid: str) -> dict[str, str]:
        raw = self.r.hgetall(self.k.execution(eid))
        if not raw:
            raise ExecutionNotFound(eid)
        return {_s(a): _s(b) for a, b in raw.items()}

    # ------------------------------------------------------------------ attempts

    @_translate
    def start_attempt(self, eid: str, trid: str, worker_id: str, lease_s: float,
                      force: bool = False, max_deliveries: int = 5) -> StartResult:
        """Claim task run ``trid`` and start its next attempt (see ``start.lua``)."""
        k = self.k
        now = time.time()
        out = self._scripts["start"](
            keys=[k.execution(eid), k.task_run(eid, trid), k.events(eid), k.lease(eid, trid),
                  k.active],
            args=[k.prefix, eid, trid, iso(), f"{now:.6f}", worker_id, int(lease_s * 1000),
                  "1" if force else "0", max_deliveries],
        )
        status = Status(_s(out[0]))
        if status == Status.START:
            return StartResult(
                status, attempt=int(out[1]), task_id=_s(out[2]),
                parent_task_run_id=_s(out[3]) or None, value=_s(out[4]) or None,
                namespace=_s(out[5]), flow_id=_s(out[6]), revision=int(out[7]),
                first_start=float(out[8]),
                iteration=int(out[9]) if out[9] else None,
            )
        if status == Status.DONE:
            return StartResult(status, state=StateType(_s(out[1])))
        if status == Status.WAIT:
            return StartResult(status, wait_ms=int(out[1]))
        if status == Status.BUSY:
            return StartResult(status, wait_ms=max(int(out[1]), 0), holder=_s(out[2]))
        return StartResult(status)

    @_translate
    def finish_attempt(
        self, eid: str, trid: str, attempt: int, attempt_state: StateType,
        task_run_state: StateType, *, outputs: Mapping[str, Any] | None = None,
        retry_at: float | None = None, active_deadline: float, error: str = "",
        metrics: Iterable[MetricEntry] = (), parent: str | None = None,
        errors_branch: bool = False, iteration: int | None = None,
        then: Then | None = None,
    ) -> Finished:
        """Record how attempt ``attempt`` ended (see ``finish.lua``); for a child of a
        flowable (``parent``), its end is counted on the flowable in the same step. For a
        top-level task run, ``then`` holds the next task runs decided for one end state:
        if it ends in that state, they are created (and sent) in the same step."""
        k = self.k
        keys = [k.execution(eid), k.task_run(eid, trid), k.events(eid), k.lease(eid, trid),
                k.active, k.metrics(eid)]
        entries = [m.model_dump_json(by_alias=True) for m in metrics]
        args: list[Any] = [
            eid, trid, iso(), attempt, attempt_state.value, task_run_state.value,
            json.dumps(dict(outputs), default=str) if outputs else "",
            f"{retry_at:.6f}" if retry_at else "", f"{active_deadline:.6f}", error[:4000],
            ("1" if errors_branch else "0") if parent else "",
            "" if iteration is None else iteration, len(entries), *entries]
        if parent:
            keys += [k.task_run(eid, parent), k.children_ended(eid, parent),
                     k.loop_values(eid, parent)]
        elif then is not None:
            keys += [k.task_run_keys(eid), k.task_runs(eid), k.value_index(eid)]
            if then.rows:
                args += [then.state.value, "NEXT", f"{then.pending_deadline:.6f}"]
            else:
                args += [then.state.value, "END", f"{time.time():.6f}", k.prefix]
            for row in then.rows:
                _row_args(row, keys, args, k, eid)
        out = self._scripts["finish"](keys=keys, args=args)
        st = _s(out[1])
        state = StateType(st) if st else None
        status = Status(_s(out[0]))
        if parent and len(out) > 2:
            return Finished(status, state, child=_child_end(parent, out[2:]))
        if len(out) > 2 and _s(out[2]) == "NEXT":
            return Finished(status, state, next_state=StateType(_s(out[3])))
        if len(out) > 2 and _s(out[2]) == "END":
            return Finished(status, state, ended=StateType(_s(out[3])))
        return Finished(status, state)

    @_translate
    def renew_leases(self, leases: Mapping[tuple[str, str], float]) -> None:
        """Extend the leases of running attempts (the heartbeat)."""
        now = time.time()
        with self.r.pipeline(transaction=False) as pipe:
            for (eid, trid), lease_s in leases.items():
                pipe.pexpire(self.k.lease(eid, trid), int(lease_s * 1000))
                pipe.zadd(self.k.active, {active_member(eid, trid): now + lease_s})
            pipe.execute()

    @_translate
    def append_log(self, entry: LogEntry) -> None:
        assert entry.execution_id
        self.r.rpush(self.k.logs(entry.execution_id), entry.model_dump_json(by_alias=True))

    # ------------------------------------------------------------------ orchestration

    @_translate
    def task_run_outputs(self, eid: str, task_id: str, value: str | None = None
                         ) -> dict[str, Any] | None:
        """Outputs of the (latest) task run of ``task_id`` (for loop value ``value``
        inside loops); None if it has not run."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hget(self.k.value_index(eid), f"{task_id}|{value or ''}")
            # a top-level task run is found by its identity (create_runs() in _lib.lua)
            pipe.hget(self.k.task_run_keys(eid), identity(task_id))
            indexed, top = pipe.execute()
        trid = indexed if indexed is not None else (top if value is None else None)
        if trid is None:
            return None
        raw = self.r.hget(self.k.task_run(eid, _s(trid)), "outputs")
        return json.loads(raw) if raw else {}

    @_translate
    def start_flowable(self, eid: str, trid: str, mode: str, width: int, total: int,
                       expected: int, claimed: int, plan: str, values: list[str]) -> Status:
        """Start a flowable task run with its plan (see ``flowable_start.lua``)."""
        k = self.k
        out = self._scripts["flowable_start"](
            keys=[k.execution(eid), k.task_run(eid, trid), k.events(eid),
                  k.children_ended(eid, trid), k.loop_values(eid, trid), k.flowables(eid)],
            args=[k.prefix, eid, trid, iso(), mode, width, total, expected, claimed, plan,
                  *values])
        return Status(_s(out[0]))

    @_translate
    def child_ended(self, eid: str, parent: str, child: str, klass: str, task_id: str,
                    iteration: int | None, errors_branch: bool) -> ChildEnd:
        """Count a child's end on its flowable, once (see ``child_ended.lua``)."""
        k = self.k
        out = self._scripts["child_ended"](
            keys=[k.task_run(eid, parent), k.children_ended(eid, parent),
                  k.loop_values(eid, parent), k.active],
            args=[child, klass, task_id, "" if iteration is None else iteration,
                  "1" if errors_branch else "0", eid])
        return _child_end(parent, out)

    @_translate
    def children_rows(self, eid: str, parent: str) -> list[TaskRunRow]:
        """The task runs whose parent is ``parent`` (for small flowables such as Dag)."""
        return [r for r in self.task_run_rows(eid) if r.parent_task_run_id == parent]

    @_translate
    def task_run_row(self, eid: str, trid: str) -> TaskRunRow | None:
        vals = self.r.hmget(self.k.task_run(eid, trid), *_ROW_FIELDS)
        return _row(trid, vals)

    @_translate
    def task_run_rows(self, eid: str) -> list[TaskRunRow]:
        """Every task run of the execution (used once, when it ends)."""
        ids = [_s(t) for t in self.r.lrange(self.k.task_runs(eid), 0, -1)]
        with self.r.pipeline(transaction=False) as pipe:
            for trid in ids:
                pipe.hmget(self.k.task_run(eid, trid), *_ROW_FIELDS)
            rows = pipe.execute()
        return [row for trid, v in zip(ids, rows, strict=True) if (row := _row(trid, v))]

    @_translate
    def clear_active(self, eid: str, trid: str) -> None:
        self.r.zrem(self.k.active, active_member(eid, trid))

    @_translate
    def set_active(self, eid: str, trid: str, deadline: float) -> None:
        self.r.zadd(self.k.active, {active_member(eid, trid): deadline})

    @_translate
    def due_active(self, now: float, limit: int = 200) -> list[tuple[str, str]]:
        """Unfinished task runs whose deadline passed (for the reconciler)."""
        members = self.r.zrangebyscore(self.k.active, "-inf", now, start=0, num=limit)
        return [tuple(_s(m).split("|", 1)) for m in members]  # type: ignore[misc]

    @_translate
    def acquire_sweep_lock(self, token: str, ttl_ms: int) -> bool:
        """Take (or keep, for the same ``token``) the one reconciler sweep lock."""
        if self.r.set(self.k.reconciler_lock, token, nx=True, px=ttl_ms):
            return True
        holder: Any = self.r.get(self.k.reconciler_lock)
        return holder is not None and _s(holder) == token

    @_translate
    def release_sweep_lock(self, token: str) -> None:
        """Give the sweep lock up if ``token`` holds it."""
        holder: Any = self.r.get(self.k.reconciler_lock)
        if holder is not None and _s(holder) == token:
            self.r.delete(self.k.reconciler_lock)

    @_translate
    def lease_alive(self, eid: str, trid: str) -> bool:
        return bool(self.r.exists(self.k.lease(eid, trid)))

    @_translate
    def retry_at(self, eid: str, trid: str) -> float:
        return float(self.r.hget(self.k.task_run(eid, trid), "retryAt") or 0)

    @_translate
    def mark_ended(self, eid: str) -> None:
        """Start the retention of an ended execution (``purge_ended`` deletes it later)."""
        self.r.zadd(self.k.index_ended, {eid: time.time()})

    @_translate
    def purge_ended(self, older_than: float, limit: int = 200) -> int:
        """Delete up to ``limit`` executions that ended before ``older_than`` (every key,
        every index entry; see ``purge.lua``). Returns how many were deleted."""
        k = self.k
        ids = [_s(e) for e in self.r.zrangebyscore(k.index_ended, "-inf", older_than,
                                                   start=0, num=limit)]
        purged = 0
        unknown = []
        for eid in ids:
            out = int(self._scripts["purge"](
                keys=[k.execution(eid), k.index_ended],
                args=[k.prefix, eid, k.execution(eid).removesuffix("exec"), older_than]))
            purged += out != -1
            if out == -2:
                unknown.append(eid)
        if unknown:
            with self.r.pipeline(transaction=False) as pipe:
                for ns, fid in self.list_flows():
                    pipe.zrem(k.index_flow(ns, fid), *unknown)
                pipe.execute()
        return purged

    def _exists(self, ids: list[str]) -> list[bool]:
        with self.r.pipeline(transaction=False) as pipe:
            for eid in ids:
                pipe.exists(self.k.execution(eid))
            return [bool(x) for x in pipe.execute()]

    # ------------------------------------------------------------------ reading

    @_translate
    def get_execution(self, eid: str) -> Execution:
        """Assemble the whole execution (two round trips, whatever its size)."""
        k = self.k
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hgetall(k.execution(eid))
            pipe.lrange(k.task_runs(eid), 0, -1)
            xh, trids = pipe.execute()
        if not xh:
            raise ExecutionNotFound(eid)
        x = {_s(a): _s(b) for a, b in xh.items()}
        with self.r.pipeline(transaction=False) as pipe:
            for trid in trids:
                pipe.hgetall(k.task_run(eid, _s(trid)))
            raw = pipe.execute()
        task_runs = [self._task_run(eid, x, {_s(a): _s(b) for a, b in fields.items()})
                     for fields in raw if fields]
        return Execution(
            id=eid, namespace=x["namespace"], flow_id=x["flowId"],
            flow_revision=int(x.get("flowRevision") or 1),
            state=_state(_history(x.get("h"))),
            inputs=json.loads(x.get("inputs") or "{}"),
            outputs=json.loads(x.get("outputs") or "{}"),
            labels=[Label.model_validate(lb) for lb in json.loads(x.get("labels") or "[]")],
            variables=json.loads(x.get("variables") or "{}"),
            parent_id=x.get("parentId") or None, original_id=x.get("originalId") or eid,
            task_run_list=task_runs,
        )

    @staticmethod
    def _task_run(eid: str, x: dict[str, str], h: dict[str, str]) -> TaskRun:
        entries = _history(h.get("h"))
        n = int(h.get("attempts") or 0)
        attempts = [
            TaskRunAttempt(
                number=i,
                state=_state([e for e in entries if e.get("attempt") == i]),
                worker_id=h.get(f"a{i}:worker"),
                reason=h.get(f"a{i}:reason"),
            )
            for i in range(1, n + 1)
        ]
        return TaskRun(
            id=h["id"], execution_id=eid, namespace=x["namespace"], flow_id=x["flowId"],
            task_id=h["taskId"], parent_task_run_id=h.get("parentTaskRunId") or None,
            value=h.get("value") or None, attempts=attempts,
            iteration=int(h["iteration"]) if h.get("iteration") else None,
            outputs=json.loads(h["outputs"]) if h.get("outputs") else {},
            state=_state([e for e in entries if "attempt" not in e]),
        )

    @_translate
    def logs(self, eid: str) -> list[LogEntry]:
        if not self.r.exists(self.k.execution(eid)):
            raise ExecutionNotFound(eid)
        return [LogEntry.model_validate_json(e) for e in self.r.lrange(self.k.logs(eid), 0, -1)]

    @_translate
    def metrics(self, eid: str) -> list[MetricEntry]:
        if not self.r.exists(self.k.execution(eid)):
            raise ExecutionNotFound(eid)
        return [MetricEntry.model_validate_json(e)
                for e in self.r.lrange(self.k.metrics(eid), 0, -1)]

    @_translate
    def last_execution_event_id(self, eid: str) -> str:
        last = self.r.xrevrange(self.k.execution_events(eid), count=1)
        return _s(last[0][0]) if last else "0"

    @_translate
    def read_execution_events(self, eid: str, last_id: str, block_ms: int
                              ) -> list[tuple[str, StateType]]:
        """Execution state changes after ``last_id`` (blocking up to ``block_ms``)."""
        res: Any = self.r.xread({self.k.execution_events(eid): last_id}, block=block_ms)
        return [(_s(i), StateType(_s(f[b"s"]))) for _, entries in res or [] for i, f in entries]

    @_translate
    def last_event_id(self, eid: str) -> str:
        """The id of the newest state change so far ("0" if none)."""
        last = self.r.xrevrange(self.k.events(eid), count=1)
        return _s(last[0][0]) if last else "0"

    @_translate
    def read_events(self, eid: str, last_id: str = "0", block_ms: int | None = None
                    ) -> list[tuple[str, StateEvent]]:
        """State changes after ``last_id`` (blocking up to ``block_ms`` for new ones).

        One stream entry holds the changes of one step; each change gets its own id,
        ``ENTRY/i``, and reading resumes after any of them.
        """
        out: list[tuple[str, StateEvent]] = []
        entry, _, index = last_id.partition("/")
        if index:  # the rest of a step whose first changes were read
            found: Any = self.r.xrange(self.k.events(eid), entry, entry)
            for entry_id, f in found or []:
                out += self._changes(eid, entry_id, f)[int(index) + 1:]
            if out:
                block_ms = None
        res: Any = self.r.xread({self.k.events(eid): entry}, block=block_ms, count=1000)
        for _stream, entries in res or []:
            for entry_id, f in entries:
                out += self._changes(eid, entry_id, f)
        return out

    @staticmethod
    def _changes(eid: str, entry_id: Any, fields: Any) -> list[tuple[str, StateEvent]]:
        return [(f"{_s(entry_id)}/{i}", StateEvent(
            execution_id=eid, state=StateType(d["s"]), date=d["d"],
            task_run_id=d["tr"] or None, task_id=d["task"] or None,
            attempt=int(d["a"]) if d["a"] else None,
        )) for i, d in enumerate(json.loads(fields[b"e"]))]

    @_translate
    def search(self, *, namespace: str | None = None, flow_id: str | None = None,
               state: StateType | None = None, limit: int = 50, offset: int = 0
               ) -> list[str]:
        """Execution ids, newest first, filtered by flow and/or current state."""
        k = self.k
        if namespace and flow_id:
            base = k.index_flow(namespace, flow_id)
        elif state:
            base = k.index_state(state.value)
        else:
            base = k.index_all
        ids = [_s(e) for e in self.r.zrevrange(base, 0, -1)]
        if state and base != k.index_state(state.value):
            in_state = set(_s(e) for e in self.r.zrange(k.index_state(state.value), 0, -1))
            ids = [e for e in ids if e in in_state]
        if namespace and not flow_id:
            with self.r.pipeline(transaction=False) as pipe:
                for eid in ids:
                    pipe.hget(k.execution(eid), "namespace")
                nss = pipe.execute()
            ids = [e for e, ns in zip(ids, nss, strict=True)
                   if ns is not None and _s(ns) == namespace]
        alive = self._exists(ids[offset:offset + limit])
        return [e for e, a in zip(ids[offset:offset + limit], alive, strict=True) if a]


def _moved(status: Any, cur: Any) -> Moved:
    cur_s = _s(cur)
    return Moved(Status(_s(status)), StateType(cur_s) if cur_s else None)


def _pairs(out: list[Any]) -> list[tuple[str, bool]]:
    """(id, created) pairs from ``create_runs()``'s flat list."""
    return [(_s(out[i]), bool(int(out[i + 1]))) for i in range(0, len(out), 2)]


def _child_end(parent: str, out: list[Any]) -> ChildEnd:
    """Parse what ``child_end()`` (in ``_lib.lua``) returns."""
    status = Status(_s(out[0]))
    if status == Status.PARENT:
        return ChildEnd(status)
    n = int(out[11])
    slots = [int(x) for x in out[12:12 + n]]
    values = [_s(x) for x in out[12 + n:12 + 2 * n]]
    parent_row = TaskRunRow(parent, _s(out[7]), StateType.RUNNING, _s(out[8]) or None,
                            _s(out[9]) or None, int(out[10]) if _s(out[10]) else None)
    return ChildEnd(
        status, counters=dict(zip(("done", "bad", "warn", "expected"),
                                  (int(_s(x)) for x in out[1:5]), strict=True)),
        plan=_s(out[6]), parent=parent_row, successors=list(zip(slots, values, strict=True)))


_ROW_FIELDS = ("taskId", "state", "parentTaskRunId", "value", "iteration")


def _row(trid: str, vals: list[Any]) -> TaskRunRow | None:
    if vals[0] is None:
        return None
    return TaskRunRow(trid, _s(vals[0]), StateType(_s(vals[1])), _s(vals[2]) or None,
                      _s(vals[3]) or None, int(vals[4]) if vals[4] is not None else None)


def _history(raw: str | None) -> list[dict[str, Any]]:
    """The entries of a history field (JSON objects joined by commas, see ``_lib.lua``)."""
    return json.loads(f"[{raw}]") if raw else []


def _hist(state: str, date: str) -> str:
    """One history entry, as ``hist()`` in ``_lib.lua`` writes it."""
    return f'{{"state":"{state}","date":"{date}"}}'


def _state(entries: list[dict[str, Any]]) -> State:
    hist = [History(state=StateType(e["state"]), date=e["date"]) for e in entries]
    return State(current=hist[-1].state if hist else StateType.CREATED, histories=hist)
