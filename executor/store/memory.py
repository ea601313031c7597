"""``MemoryStore``: the store contract in one process, for tests of everything above it.

It keeps the same records as ``RedisStore`` (an execution's fields as strings, state
histories as the same comma-joined JSON entries, task runs by identity, the active set,
leases, counters of flowables...) in dictionaries, and applies every step the way the
Lua script of that step does (``executor/store/*.lua``): what one script does is done
here under one ``threading.Lock``, so each step is atomic. Moves are checked against
``executor.state.TRANSITIONS``, as there.

Time comes from ``clock`` (``time.time`` by default): leases, retry delays, the sweep
lock and the dates of histories follow it, so a test can move time on. Messages that
``RedisStore`` would push onto a Celery queue (``NewRow.message``) are appended to
``queues`` (queue key -> payloads, in the order they were sent), and held back while the
execution is PAUSED or QUEUED, as the Lua steps do.

``tests/contract/`` runs one suite against both stores so that they cannot drift apart.

Two behaviours of ``RedisStore`` that look like bugs are not copied (the contract suite
marks them ``xfail`` for Redis only): ``search(flow_id=...)`` without a namespace
filters by flow id here (``RedisStore`` ignores it), and a restart frees the identity of
a dropped task run of a loop (``restart.lua`` deletes it without its ``#iteration``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from executor.engine.flow_conditions import OTHER_STATES
from executor.engine.flowables import merged_labels, walk_successors
from executor.errors import ExecutionNotFound, FlowNotFound, KVConflict, StateConflict, StoreError
from executor.flow import Flow
from executor.kv import KVRecord, KVType, check_key, check_namespace, check_tenant, check_ttl
from executor.loglimits import (
    LogLimits,
    LogQuery,
    budget_field,
    check_page,
    chunked,
    page_of,
    prepared,
    truncation_entry,
)
from executor.messages import Outgoing
from executor.models import (
    Execution,
    ExecutionTrigger,
    Label,
    LogEntry,
    LogPage,
    MetricEntry,
    StateEvent,
)
from executor.state import TERMINAL, TRANSITIONS, StateType
from executor.store.base import (
    FLOW_ENDS_MAXLEN,
    WORKER_MEMORY_S,
    ChildEnd,
    Created,
    DuePosition,
    DueStep,
    Finished,
    FlowEndEntry,
    Killed,
    Moved,
    NewRow,
    Resent,
    Restarted,
    StartResult,
    Status,
    TaskRunRow,
    Then,
    TriggerRef,
    TriggerState,
    lease_holder,
    schedule_deleted,
    schedule_sync,
    states_of,
)
from executor.store.keys import identity
from executor.store.records import (
    ahist,
    changes_of,
    created_execution,
    happend,
    hist,
    history,
    metadata_of,
    origin_of,
    state_of,
    task_run_of,
    trigger_state_of,
)
from executor.triggers.types import listened_states, listens

#: Entries kept per events stream and per execution-events stream (the Lua's MAXLEN).
EVENTS_MAXLEN = 100_000
EXEC_EVENTS_MAXLEN = 1000
#: Entries one ``read_events`` returns at most (the XREAD COUNT of ``RedisStore``).
READ_COUNT = 1000

_TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)
_BEHAVIOR = {"QUEUE": "QUEUED", "CANCEL": "CANCELLED", "FAIL": "FAILED"}
_RANK = {"KILLED": 4, "FAILED": 3, "CANCELLED": 3, "WARNING": 2}
_FINAL = {2: "WARNING", 3: "FAILED", 4: "KILLED"}

Hash = dict[str, str]


def _allowed(cur: str | None, to: str) -> bool:
    """``allowed()`` of ``_lib.lua``: same state again, or a move of the table."""
    if cur == to:
        return True
    if cur is None:
        return False
    try:
        return StateType(to) in TRANSITIONS[StateType(cur)]
    except ValueError:
        return False


def _terminal(state: str | None) -> bool:
    return state is not None and state in _TERMINAL_NAMES


def _encode(value: Any) -> str:
    """A field value as redis-py would store it (it refuses what it cannot encode)."""
    if isinstance(value, bool) or not isinstance(value, str | bytes | int | float):
        raise StoreError(f"invalid field value of type {type(value).__name__}")
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _stream_id(raw: str) -> tuple[int, int]:
    """A stream id ``"N-M"`` (or ``"N"``) as a comparable pair."""
    ms, _, seq = raw.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        raise StoreError(f"invalid stream id {raw!r}") from None


def _zsorted(zset: Mapping[str, float], reverse: bool = False) -> list[str]:
    """Members of a sorted set in Redis's order (by score, then by member)."""
    return sorted(zset, key=lambda m: (zset[m], m), reverse=reverse)


@dataclass
class _Exec:
    """Everything one execution has: the keys of ``P:{EID}:*`` in ``RedisStore``."""

    x: Hash = field(default_factory=dict)
    exec_ev: list[tuple[str, str, str]] = field(default_factory=list)  # (id, state, date)
    events: list[tuple[str, list[dict[str, str]]]] = field(default_factory=list)
    trs: list[str] = field(default_factory=list)
    trkey: dict[str, str] = field(default_factory=dict)
    tv: dict[str, str] = field(default_factory=dict)
    flowables: set[str] = field(default_factory=set)
    subflows: set[str] = field(default_factory=set)
    tr: dict[str, Hash] = field(default_factory=dict)
    ended: dict[str, set[str]] = field(default_factory=dict)  # flowable -> ended children
    values: dict[str, list[str]] = field(default_factory=dict)  # flowable -> loop values
    leases: dict[str, tuple[str, float]] = field(default_factory=dict)  # trid -> (worker, until)
    metrics: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    #: ``P:{EID}:logs:used``: task run id ("" for the execution) -> [bytes, lines, full]
    logs_used: dict[str, list[int]] = field(default_factory=dict)


class MemoryStore:
    """Ostra's state in this process's memory, with ``RedisStore``'s semantics."""

    def __init__(
        self, clock: Callable[[], float] = time.time, log_limits: LogLimits | None = None
    ) -> None:
        self._clock = clock
        self.log_limits = log_limits or LogLimits.from_settings()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        #: Messages sent, per queue key (kombu's list of the queue), oldest first.
        self.queues: dict[str, list[str]] = {}
        self._flows: dict[tuple[str, str], tuple[int, str]] = {}  # -> (latest, digest)
        self._flow_revisions: dict[tuple[str, str, int], str] = {}
        self._flow_index: dict[str, float] = {}
        self._flow_sources: dict[tuple[str, str, int], str] = {}
        self._deleted_flows: dict[tuple[str, str], int] = {}  # -> the deletion's revision
        self._x: dict[str, _Exec] = {}
        self._idx_all: dict[str, float] = {}
        self._last_sweep: float | None = None
        self._workers: dict[str, float] = {}
        self._queues: dict[str, float] = {}
        self._idx_flow: dict[tuple[str, str], dict[str, float]] = {}
        self._idx_state: dict[str, dict[str, float]] = {}
        self._idx_ended: dict[str, float] = {}
        self._conc_running: dict[tuple[str, str], set[str]] = {}
        self._conc_queue: dict[tuple[str, str], list[str]] = {}
        self._conc_flows: set[str] = set()
        self._active: dict[str, float] = {}
        self._active_failures: dict[str, int] = {}
        self._sweep_lock: tuple[str, float] | None = None
        self._seq = 0  # stream ids: one counter for every stream, so ids only grow
        self._ev: list[dict[str, str]] = []  # the current step's changes (``note()``)
        self._kv: dict[tuple[str, str], dict[str, KVRecord]] = {}  # (tenant, ns) -> entries
        self._triggers: dict[str, dict[str, str]] = {}  # trigger uid -> its state's fields
        self._flow_listeners: set[str] = set()  # ``NS:ID``
        # state other than an end -> ``NS:ID`` of flows whose Flow triggers list it
        self._flow_state_listeners: dict[str, set[str]] = {}
        #: The stream of ends: (entry id, fields), oldest first; pending: entry id ->
        #: (consumer, delivery time); windows of multiple conditions and their answers.
        self._flow_ends: list[tuple[str, dict[str, str]]] = []
        self._flow_pending: dict[str, tuple[str, float]] = {}
        self._flow_delivered: str = "0-0"
        self._flow_windows: dict[str, dict[str, str]] = {}
        self._flow_seen: dict[str, bool] = {}
        # due queues: queue -> uid -> [tick, due or None, claimed-until or None]
        self._due: dict[str, dict[str, list[Any]]] = {}
        self._ran: dict[str, dict[str, None]] = {}  # uid -> ticks it ran, oldest first
        self._backfills: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ helpers

    def _now(self) -> float:
        return float(self._clock())

    def _iso(self) -> str:
        return datetime.fromtimestamp(self._now(), UTC).isoformat().replace("+00:00", "Z")

    def _e(self, eid: str) -> _Exec:
        """The records of ``eid``, created empty (as a Redis key springs into being)."""
        e = self._x.get(eid)
        if e is None:
            e = self._x[eid] = _Exec()
        return e

    def _hash(self, eid: str, trid: str) -> Hash:
        """A task run's fields ({} if none; not created)."""
        e = self._x.get(eid)
        return e.tr.get(trid, {}) if e else {}

    def _xhash(self, eid: str) -> Hash:
        e = self._x.get(eid)
        return e.x if e else {}

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._seq}-0"

    def _note(self, kind: str, trid: str, task: str, n: int | str, state: str, date: str) -> None:
        self._ev.append({"k": kind, "tr": trid, "task": task, "a": str(n), "s": state, "d": date})

    def _emit(self, eid: str) -> None:
        """Write the step's changes as one entry of ``eid``'s events (``emit()``)."""
        if self._ev:
            events = self._e(eid).events
            events.append((self._next_id(), self._ev))
            del events[:-EVENTS_MAXLEN]
            self._ev = []
            self._changed.notify_all()

    def _lease(self, eid: str, trid: str) -> tuple[str | None, int]:
        """(holder, ms left) of a live lease; (None, -2) when there is none."""
        e = self._x.get(eid)
        lease = e.leases.get(trid) if e else None
        if lease is None:
            return None, -2
        left = lease[1] - self._now()
        if left <= 0:
            assert e is not None
            del e.leases[trid]
            return None, -2
        return lease[0], math.ceil(left * 1000)

    def _exec_move(self, eid: str, to: str, date: str) -> str:
        """``exec_move()`` of ``_lib.lua``: OK, NOOP or INVALID."""
        x = self._xhash(eid)
        cur = x.get("state")
        if cur == to:
            return "NOOP"
        if not _allowed(cur, to):
            return "INVALID"
        assert cur is not None
        x["state"] = to
        x["h"] = happend(x.get("h"), hist(to, date))
        self._idx_state.setdefault(cur, {}).pop(eid, None)
        self._idx_state.setdefault(to, {})[eid] = float(x.get("created") or 0)
        self._note("x", "", "", "", to, date)
        exec_ev = self._e(eid).exec_ev
        exec_ev.append((self._next_id(), to, date))
        del exec_ev[:-EXEC_EVENTS_MAXLEN]
        self._changed.notify_all()
        limit = int(x.get("concLimit") or 0)
        if _terminal(to) and limit > 0:
            self._release(x["namespace"], x["flowId"], eid, limit, date)
        if self._flow_listeners if _terminal(to) else self._flow_state_listeners.get(to):
            self._flow_ends.append(
                (
                    self._next_id(),
                    {
                        "eid": eid,
                        "ns": x.get("namespace", ""),
                        "fid": x.get("flowId", ""),
                        "rev": x.get("flowRevision", ""),
                        "s": to,
                        "d": date,
                    },
                )
            )
            del self._flow_ends[:-FLOW_ENDS_MAXLEN]
        return "OK"

    def _release(self, ns: str, fid: str, eid: str, limit: int, date: str) -> None:
        """Free ``eid``'s slot and take it out of the queue (promoting queued executions
        is ``pop_promoted``'s step, as ``promote.lua`` is for ``RedisStore``)."""
        self._conc_running.setdefault((ns, fid), set()).discard(eid)
        queue = self._conc_queue.setdefault((ns, fid), [])
        queue[:] = [q for q in queue if q != eid]

    def _kill_run(self, eid: str, trid: str, t: Hash, st: str, n: int, date: str) -> None:
        """``kill_run()`` of ``_lib.lua``."""
        if st == "RUNNING" and n > 0:
            t[f"a{n}:state"] = "KILLED"
            t["state"] = "KILLED"
            t["h"] = happend(t.get("h"), ahist(n, "KILLED", date), hist("KILLED", date))
        else:
            t["state"] = "KILLED"
            t["h"] = happend(t.get("h"), hist("KILLED", date))
        self._note("t", trid, t.get("taskId", ""), "", "KILLED", date)

    def _create_runs(
        self, xstate: str, eid: str, date: str, deadline: float, rows: list[NewRow]
    ) -> list[tuple[str, bool]]:
        """``create_runs()`` of ``_lib.lua``: create task runs once each by identity."""
        e = self._e(eid)
        hold = xstate in ("PAUSED", "QUEUED")
        out: list[tuple[str, bool]] = []
        for row in rows:
            ident = identity(row.task_id, row.parent_task_run_id, row.value, row.iteration)
            existing = e.trkey.get(ident)
            if existing is not None:
                out.append((existing, False))
                continue
            e.trkey[ident] = row.id
            parent = row.parent_task_run_id or ""
            value = row.value if row.value is not None else ""
            t = e.tr.setdefault(row.id, {})
            t.update(
                {
                    "id": row.id,
                    "taskId": row.task_id,
                    "parentTaskRunId": parent,
                    "value": value,
                    "state": "CREATED",
                    "attempts": "0",
                    "h": hist("CREATED", date),
                }
            )
            if row.iteration is not None:
                t["iteration"] = str(row.iteration)
            if row.force:
                t["force"] = "1"
            if parent != "" or value != "":
                e.tv[f"{row.task_id}|{value}"] = row.id
            e.trs.append(row.id)
            self._active[f"{eid}|{row.id}"] = deadline
            self._note("t", row.id, row.task_id, "", "CREATED", date)
            if row.message is not None and row.message.payload != "" and not hold:
                self.queues.setdefault(row.message.queue_key, []).append(row.message.payload)
                t.update({"mq": row.message.queue_key, "mp": row.message.payload, "ms": date})
            out.append((row.id, True))
        return out

    def _child_end(
        self,
        eid: str,
        parent: str,
        child: str,
        klass: str,
        task_id: str,
        iteration: int | None,
        errors_branch: bool,
    ) -> tuple[ChildEnd, bool]:
        """``child_end()`` of ``_lib.lua``: count a child's end once, claim successors;
        and whether the child left the active set here."""
        e = self._x.get(eid)
        p = e.tr.get(parent) if e else None
        if e is None or p is None or "state" not in p or _terminal(p["state"]):
            return ChildEnd(Status.PARENT), False
        ended = e.ended.setdefault(parent, set())
        first = child not in ended
        ended.add(child)
        mode = p.get("mode")
        width, total = int(p.get("T") or 1), int(p.get("total") or 0)
        done, bad, warn = int(p.get("done") or 0), int(p.get("bad") or 0), int(p.get("warn") or 0)
        expected, cn = int(p.get("expected") or 0), int(p.get("cn") or 0)
        status = Status.ERR if errors_branch else (Status.OK if first else Status.DUP)
        succ: list[int] = []
        if status == Status.OK:
            if "plan" not in p:
                raise StoreError(f"task run {parent} is not a started flowable")
            s = 0
            for i, task in enumerate(json.loads(p["plan"])["tasks"]):
                if task == task_id:
                    s = i
            if iteration is not None:
                s += iteration * width
            done += 1
            p["done"] = str(done)
            if klass == "bad":
                bad += 1
                p["bad"] = str(bad)
            elif klass == "warn":
                warn += 1
                p["warn"] = str(warn)
            # The engine's rule, which child_end() in _lib.lua applies in Redis.
            succ, claimed = walk_successors(mode, width, total, s, bad, cn)  # type: ignore[arg-type]
            if claimed != cn:
                p["cn"] = str(claimed)
            if succ:
                expected += len(succ)
                p["expected"] = str(expected)
                p[f"c:{child}"] = ",".join(map(str, succ))
        elif status == Status.DUP:
            succ = [int(part) for part in p.get(f"c:{child}", "").split(",") if part]
        left = status != Status.ERR and mode != "dag" and not succ and done < expected
        if left:
            self._active.pop(f"{eid}|{child}", None)
        values = e.values.get(parent, [])
        row = TaskRunRow(
            parent,
            p.get("taskId", ""),
            StateType.RUNNING,
            p.get("parentTaskRunId") or None,
            p.get("value") or None,
            int(p["iteration"]) if p.get("iteration") else None,
        )
        successors = [
            (slot, values[slot // width] if slot // width < len(values) else "") for slot in succ
        ]
        counters = {"done": done, "bad": bad, "warn": warn, "expected": expected}
        return ChildEnd(
            status, counters=counters, plan=p.get("plan", ""), parent=row, successors=successors
        ), left

    # ------------------------------------------------------------------ connection

    def ping(self) -> None:
        """Always answers: the store is this process."""

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ flows

    def deploy_flow(self, flow: Flow) -> Flow:
        """Store ``flow`` as a new revision if it differs from the latest one."""
        digest = flow.digest()
        with self._lock:
            key = (flow.namespace, flow.id)
            latest = self._flows.get(key)
            if latest is not None and latest[1] == digest:
                return flow.model_copy(update={"revision": latest[0]})
            revision = (latest[0] if latest else 0) + 1
            stored = flow.model_copy(update={"revision": revision})
            self._flow_revisions[(flow.namespace, flow.id, revision)] = json.dumps(stored.to_dict())
            self._flows[key] = (revision, digest)
            self._flow_index[f"{flow.namespace}:{flow.id}"] = self._now()
            self._listen(stored)
        schedule_sync(self, stored)
        return stored

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """The latest revision of a deployed flow, or the one asked for."""
        with self._lock:
            if revision is None:
                latest = self._flows.get((namespace, flow_id))
                if latest is None:
                    raise FlowNotFound(namespace, flow_id)
                revision = latest[0]
            raw = self._flow_revisions.get((namespace, flow_id, revision))
        if raw is None:
            raise FlowNotFound(namespace, flow_id)
        return Flow.from_dict(json.loads(raw)).model_copy(update={"revision": revision})

    def list_flows(self) -> list[tuple[str, str]]:
        """(namespace, id) of every deployed flow, in the order they were first deployed."""
        with self._lock:
            members = _zsorted(self._flow_index)
        out: list[tuple[str, str]] = []
        for m in members:
            ns, _, fid = m.partition(":")
            out.append((ns, fid))
        return out

    def deploy_flow_source(self, flow: Flow, source: str) -> Flow:
        """``deploy_flow`` keeping ``source`` byte for byte; after ``delete_flow`` the
        revisions continue from the last one."""
        digest = flow.digest()
        with self._lock:
            key = (flow.namespace, flow.id)
            latest = self._flows.get(key)
            if latest is not None and latest[1] == digest:
                revision = latest[0]
                stored = flow.model_copy(update={"revision": revision})
            else:
                revision = (latest[0] if latest else self._deleted_flows.get(key, 0)) + 1
                stored = flow.model_copy(update={"revision": revision})
                self._flow_revisions[(*key, revision)] = json.dumps(stored.to_dict())
                self._flows[key] = (revision, digest)
                self._deleted_flows.pop(key, None)
                self._flow_index[f"{flow.namespace}:{flow.id}"] = self._now()
                self._listen(stored)
            self._flow_sources[(*key, revision)] = source
        schedule_sync(self, stored)
        return stored

    def flow_source(self, namespace: str, flow_id: str, revision: int) -> str | None:
        """The text a revision was deployed as (None if deployed without one)."""
        with self._lock:
            return self._flow_sources.get((namespace, flow_id, revision))

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Forget the flow's latest revision and listing (revisions stay, by number)."""
        with self._lock:
            latest = self._flows.pop((namespace, flow_id), None)
            if latest is None:
                return False
            self._deleted_flows[(namespace, flow_id)] = latest[0] + 1  # Kestra: toDeleted
            self._flow_index.pop(f"{namespace}:{flow_id}", None)
            self._flow_listeners.discard(f"{namespace}:{flow_id}")
            for members in self._flow_state_listeners.values():
                members.discard(f"{namespace}:{flow_id}")
        schedule_deleted(self, namespace, flow_id, latest[0])
        return True

    def _listen(self, flow: Flow) -> None:
        member = f"{flow.namespace}:{flow.id}"
        if listens(flow):
            self._flow_listeners.add(member)
        else:
            self._flow_listeners.discard(member)
        states = listened_states(flow)
        for state in OTHER_STATES:
            members = self._flow_state_listeners.setdefault(state, set())
            if state in states:
                members.add(member)
            else:
                members.discard(member)

    # ------------------------------------------------------------------ executions

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
        attempt: tuple[int, float] | None = None,
        origin: ExecutionTrigger | None = None,
    ) -> Execution | None:
        """Create an execution in CREATED with its first task runs, in one step
        (``submit.lua``), and return it as created (None with ``only_if_absent`` when
        it existed already)."""
        inputs_json = json.dumps(dict(inputs))
        with self._lock:
            now, date = self._now(), self._iso()
            if only_if_absent and self._xhash(eid):
                return None
            fields: Hash = {
                "id": eid,
                "namespace": flow.namespace,
                "flowId": flow.id,
                "flowRevision": str(flow.revision or 1),
                "state": StateType.CREATED.value,
                "inputs": inputs_json,
                "labels": json.dumps([lb.model_dump() for lb in labels]),
                "variables": json.dumps(flow.variables),
                "created": repr(now),
                "originalId": original_id or eid,
                "parentId": parent_id or "",
                "h": hist("CREATED", date),
            }
            if flow.concurrency is not None:
                fields["concLimit"] = str(flow.concurrency.limit)
            if trigger is not None:
                fields["triggerExecutionId"], fields["triggerTaskRunId"] = trigger
            if attempt is not None:
                fields["attemptNumber"] = str(attempt[0])
                fields["originalCreated"] = repr(attempt[1])
            if origin is not None:
                fields["trig"] = origin.model_dump_json(by_alias=True)
            e = self._e(eid)
            e.x.update(fields)
            self._idx_all[eid] = now
            self._idx_flow.setdefault((flow.namespace, flow.id), {})[eid] = now
            self._idx_state.setdefault("CREATED", {})[eid] = now
            self._note("x", "", "", "", "CREATED", date)
            for c in copies:
                trid = c["id"]
                e.tr.setdefault(trid, {}).update({k: str(v) for k, v in c.items()})
                e.trkey[
                    identity(
                        c["taskId"],
                        c.get("parentTaskRunId") or None,
                        c.get("value") or None,
                        int(c["iteration"]) if c.get("iteration") else None,
                    )
                ] = trid
                e.tv[f"{c['taskId']}|{c.get('value') or ''}"] = trid
                e.trs.append(trid)
            self._create_runs("CREATED", eid, date, pending_deadline, first)
            if trigger is not None:
                self._e(trigger[0]).subflows.add(eid)
            self._emit(eid)
        return created_execution(
            eid,
            flow,
            json.loads(inputs_json),
            labels,
            parent_id,
            original_id,
            fields,
            copies,
            first,
            date,
        )

    def admit(self, eid: str, flow: Flow) -> Status:
        """Take a concurrency slot for a new execution, or queue, cancel or fail it
        (``admit.lua``)."""
        assert flow.concurrency is not None
        key = (flow.namespace, flow.id)
        limit, behavior = flow.concurrency.limit, flow.concurrency.behavior
        with self._lock:
            self._conc_flows.add(f"{flow.namespace}:{flow.id}")
            running = self._conc_running.setdefault(key, set())
            queue = self._conc_queue.setdefault(key, [])
            if len(running) < limit and not queue:
                running.add(eid)
                return Status.RUN
            to = _BEHAVIOR[behavior]
            if to == "QUEUED":
                queue.append(eid)
            self._exec_move(eid, to, self._iso())
            self._emit(eid)
            return Status(to)

    def release_slot(self, eid: str, namespace: str, flow_id: str, limit: int) -> None:
        """Free a slot held by an execution that ended without freeing it (recovery); an
        execution that has not ended keeps its slot (``release.lua``)."""
        with self._lock:
            state = self._xhash(eid).get("state")
            if state is not None and not _terminal(state):
                return
            self._release(namespace, flow_id, eid, limit, self._iso())

    def slot_holders(self) -> list[tuple[str, str, list[str]]]:
        """(namespace, flow id, execution ids holding a slot) of flows with a limit."""
        with self._lock:
            out = []
            for raw in sorted(self._conc_flows):
                ns, _, fid = raw.partition(":")
                out.append((ns, fid, sorted(self._conc_running.get((ns, fid), set()))))
            return out

    def pop_promoted(self) -> list[str]:
        """Let queued executions take free slots, in queue order (QUEUED -> CREATED, each
        holding a slot), and return them for the caller to start (``promote.lua``)."""
        with self._lock:
            promoted = []
            for raw in sorted(self._conc_flows):
                ns, _, fid = raw.partition(":")
                running = self._conc_running.setdefault((ns, fid), set())
                queue = self._conc_queue.setdefault((ns, fid), [])
                while queue:
                    head = queue[0]
                    x = self._xhash(head)
                    if x.get("state") != "QUEUED":
                        queue.pop(0)  # not waiting any more: it takes no slot
                        continue
                    if len(running) >= int(x.get("concLimit") or 0):
                        break
                    queue.pop(0)
                    running.add(head)
                    self._exec_move(head, "CREATED", self._iso())
                    self._emit(head)
                    promoted.append(head)
            return promoted

    def subflow_executions(self, eid: str) -> list[str]:
        """Executions started by ``eid``'s Subflow tasks."""
        with self._lock:
            e = self._x.get(eid)
            return sorted(e.subflows) if e else []

    def create_task_runs(
        self, eid: str, items: list[NewRow], pending_deadline: float, ended: str = ""
    ) -> Created:
        """Create task runs once each (``create.lua``), sending the messages of the new
        ones unless the execution holds them (PAUSED, QUEUED); ``ended`` leaves the active
        set. No pairs when the execution refuses new task runs (KILLING, ended, missing:
        then the state reads FAILED)."""
        with self._lock:
            xstate = self._xhash(eid).get("state")
            if xstate is None:
                return Created(StateType.FAILED, [])
            if xstate == "KILLING" or _terminal(xstate):
                if not (_terminal(xstate) and items and all(r.force for r in items)):
                    return Created(StateType(xstate), [])
            if ended:
                self._active.pop(f"{eid}|{ended}", None)
            runs = self._create_runs(xstate, eid, self._iso(), pending_deadline, items)
            self._emit(eid)
            return Created(StateType(xstate), runs)

    def update_labels(self, eid: str, labels: Mapping[str, str]) -> Status:
        """Add labels to a running execution (``labels.lua``): OK, MISSING or REFUSED."""
        with self._lock:
            x = self._xhash(eid)
            cur = x.get("state")
            if cur is None:
                return Status.MISSING
            if cur == "KILLING" or _terminal(cur):
                return Status.REFUSED
            old = [(lb["key"], lb["value"]) for lb in json.loads(x.get("labels") or "[]")]
            merged = merged_labels(old, dict(labels))
            x["labels"] = json.dumps([{"key": k, "value": v} for k, v in merged])
            return Status.OK

    def transition_execution(
        self, eid: str, to: StateType, expected: StateType | None = None, **fields: Any
    ) -> Moved:
        """Compare-and-set the execution's state (``exec_transition.lua``): OK, NOOP,
        INVALID, CONFLICT (not in ``expected``) or MISSING; ``fields`` are written on OK."""
        encoded = {name: _encode(value) for name, value in fields.items()}
        with self._lock:
            x = self._xhash(eid)
            cur = x.get("state")
            if cur is None:
                return Moved(Status.MISSING, None)
            if expected is not None and cur != expected.value and cur != to.value:
                return Moved(Status.CONFLICT, StateType(cur))
            status = self._exec_move(eid, to.value, self._iso())
            if status == "OK":
                x.update(encoded)
            self._emit(eid)
            if status == "INVALID":
                return Moved(Status.INVALID, StateType(cur))
            return Moved(Status(status), to)

    def end_execution(
        self,
        eid: str,
        final: StateType,
        expected: StateType,
        task_runs: list[TaskRunRow],
        outputs: Mapping[str, Any] | None = None,
    ) -> Moved:
        """End the execution if it is still as read (``end_execution.lua``): OK, NOOP,
        CONFLICT (the snapshot is out of date), INVALID or MISSING."""
        with self._lock:
            x = self._xhash(eid)
            cur = x.get("state")
            if cur is None:
                return Moved(Status.MISSING, None)
            e = self._e(eid)
            if (
                cur != expected.value
                or len(e.trs) != len(task_runs)
                or any(self._hash(eid, r.id).get("state") != r.state.value for r in task_runs)
            ):
                return Moved(Status.CONFLICT, StateType(cur))
            via = "RUNNING" if cur in ("CREATED", "QUEUED", "RESTARTED") else None
            if via and not (_allowed(cur, via) and _allowed(via, final.value)):
                return Moved(Status.INVALID, StateType(cur))
            if not via and not _allowed(cur, final.value):
                return Moved(Status.INVALID, StateType(cur))
            if cur == final.value:
                return Moved(Status.NOOP, final)
            date = self._iso()
            if via:
                self._exec_move(eid, via, date)
            self._exec_move(eid, final.value, date)
            if outputs is not None:
                x["outputs"] = json.dumps(dict(outputs), default=str)
            self._idx_ended[eid] = self._now()
            self._emit(eid)
            return Moved(Status.OK, final)

    def transition_task_run(
        self,
        eid: str,
        trid: str,
        to: StateType,
        expected: StateType | None = None,
        *,
        active: float | str = "",
        **fields: Any,
    ) -> Moved:
        """Compare-and-set one task run's state (``tr_transition.lua``); ``active``: its
        new deadline in the active set, "-" to take it out, "" to leave it as it is."""
        encoded = {name: _encode(value) for name, value in fields.items()}
        if isinstance(active, float | int) and not isinstance(active, bool):
            deadline: float | None = float(f"{active:.6f}")
        elif active in ("", "-"):
            deadline = None
        else:
            try:
                deadline = float(active)
            except ValueError:
                raise StoreError(f"invalid active deadline {active!r}") from None
        with self._lock:
            t = self._hash(eid, trid)
            cur = t.get("state")
            if cur is None:
                return Moved(Status.MISSING, None)
            if cur == to.value:
                return Moved(Status.NOOP, StateType(cur))
            if expected is not None and cur != expected.value:
                return Moved(Status.CONFLICT, StateType(cur))
            if not _allowed(cur, to.value):
                return Moved(Status.INVALID, StateType(cur))
            date = self._iso()
            t["state"] = to.value
            t["h"] = happend(t.get("h"), hist(to.value, date))
            t.update(encoded)
            member = f"{eid}|{trid}"
            if active == "-":
                self._active.pop(member, None)
            elif deadline is not None:
                self._active[member] = deadline
            self._note("t", trid, t.get("taskId", ""), "", to.value, date)
            self._emit(eid)
            return Moved(Status.OK, to)

    def kill_execution(self, eid: str) -> Killed:
        """Kill an execution (``kill.lua``): KILLING, task runs without a live attempt end
        KILLED at once; KILLED in the same step when nothing is left running."""
        with self._lock:
            cur = self._xhash(eid).get("state")
            if cur is None:
                return Killed(Status.MISSING, None, [])
            if _terminal(cur):
                return Killed(Status.ENDED, StateType(cur), [])
            date = self._iso()
            self._exec_move(eid, "KILLING", date)
            e = self._e(eid)
            running: list[str] = []
            for trid in list(e.trs):
                t = e.tr.get(trid)
                st = t.get("state") if t else None
                if t is None or st is None or _terminal(st):
                    continue
                if st == "RUNNING" and self._lease(eid, trid)[0] is not None:
                    running.append(trid)
                else:
                    self._kill_run(eid, trid, t, st, int(t.get("attempts") or 0), date)
                    self._active.pop(f"{eid}|{trid}", None)
            if not running:
                self._exec_move(eid, "KILLED", date)
                self._emit(eid)
                return Killed(Status.KILLED, StateType.KILLED, [])
            self._emit(eid)
            return Killed(Status.KILLING, StateType.KILLING, running)

    def restart_execution(
        self, eid: str, dropped_tasks: list[str], pending_deadline: float
    ) -> Restarted:
        """Restart a FAILED or KILLED execution in place (``restart.lua``)."""
        with self._lock:
            cur = self._xhash(eid).get("state")
            if cur is None:
                return Restarted(Status.MISSING, None, [])
            if cur not in ("FAILED", "KILLED"):
                return Restarted(Status.REFUSED, StateType(cur), [])
            date = self._iso()
            dropped = set(dropped_tasks)
            self._idx_ended.pop(eid, None)
            self._exec_move(eid, "RESTARTED", date)
            e = self._e(eid)
            restarted: list[str] = []
            for trid in list(e.trs):
                t = e.tr.get(trid, {})
                task, st = t.get("taskId"), t.get("state")
                if task in dropped:
                    # Its identity is freed, iteration included, so it is created again
                    # when reached; it leaves the value index and the active set.
                    e.trkey.pop(
                        identity(
                            task or "",
                            t.get("parentTaskRunId") or None,
                            t.get("value") or None,
                            int(t["iteration"]) if t.get("iteration") else None,
                        ),
                        None,
                    )
                    if t.get("parentTaskRunId") or t.get("value"):
                        e.tv.pop(f"{task}|{t.get('value') or ''}", None)
                    self._active.pop(f"{eid}|{trid}", None)
                    e.trs[:] = [x for x in e.trs if x != trid]
                    e.tr.pop(trid, None)
                    e.leases.pop(trid, None)
                elif st in ("FAILED", "KILLED"):
                    t["state"] = "RESTARTED"
                    t["lost"] = "0"
                    t["h"] = happend(t.get("h"), hist("RESTARTED", date))
                    self._active[f"{eid}|{trid}"] = pending_deadline
                    self._note("t", trid, task or "", "", "RESTARTED", date)
                    restarted.append(trid)
            self._emit(eid)
            return Restarted(Status.OK, StateType.RESTARTED, restarted)

    def task_run_field(self, eid: str, trid: str, name: str) -> str | None:
        """One stored field of a task run (None if unset)."""
        with self._lock:
            return self._hash(eid, trid).get(name)

    def read_task_runs_raw(self, eid: str, trids: list[str]) -> list[dict[str, str]]:
        """Stored fields of task runs, history included (for replay)."""
        with self._lock:
            return [dict(self._hash(eid, trid)) for trid in trids]

    def execution_state(self, eid: str) -> StateType | None:
        """The execution's state (None if it does not exist)."""
        with self._lock:
            raw = self._xhash(eid).get("state")
        return StateType(raw) if raw is not None else None

    def execution_origin(self, eid: str) -> tuple[str, str, float] | None:
        """(namespace, flow id, creation time) of the execution, None if it does not exist."""
        with self._lock:
            x = self._xhash(eid)
            if "namespace" not in x:
                return None
            return x["namespace"], x.get("flowId", ""), float(x.get("created") or 0)

    def flow_ref(self, eid: str) -> tuple[str, str, int] | None:
        """(namespace, flow id, revision) of the execution, None if it does not exist."""
        with self._lock:
            x = self._xhash(eid)
            if "namespace" not in x:
                return None
            return x["namespace"], x.get("flowId", ""), int(x.get("flowRevision") or 1)

    def execution_states(self, eids: list[str]) -> list[StateType | None]:
        """The states of several executions (None for those that do not exist)."""
        with self._lock:
            raws = [self._xhash(eid).get("state") for eid in eids]
        return [StateType(s) if s is not None else None for s in raws]

    def execution_field(self, eid: str, name: str) -> Any:
        """A JSON field of the execution (``ExecutionNotFound`` if it is not set)."""
        with self._lock:
            raw = self._xhash(eid).get(name)
        if raw is None:
            raise ExecutionNotFound(eid)
        return json.loads(raw)

    def execution_meta(self, eid: str) -> dict[str, str]:
        """Every stored field of the execution (``ExecutionNotFound`` if none)."""
        with self._lock:
            x = dict(self._xhash(eid))
        if not x:
            raise ExecutionNotFound(eid)
        return x

    # ------------------------------------------------------------------ attempts

    def start_attempt(
        self,
        eid: str,
        trid: str,
        worker_id: str,
        lease_s: float,
        force: bool = False,
        max_deliveries: int = 5,
        token: str = "",
    ) -> StartResult:
        """Claim task run ``trid`` and start its next attempt under a lease
        (``start.lua``), held by ``lease_holder(worker_id, token)``."""
        lease_ms = int(lease_s * 1000)
        if lease_ms <= 0:
            raise StoreError("invalid lease: it must last at least 1 ms")
        with self._lock:
            x, t = self._xhash(eid), self._hash(eid, trid)
            xstate, st = x.get("state"), t.get("state")
            if xstate is None or st is None:
                return StartResult(Status.MISSING)
            now = float(f"{self._now():.6f}")
            date = self._iso()
            task, h = t.get("taskId", ""), t.get("h")
            if _terminal(st):
                return StartResult(Status.DONE, state=StateType(st))
            n = int(t.get("attempts") or 0)
            holder, pttl = self._lease(eid, trid)
            if (xstate == "KILLING" or _terminal(xstate)) and t.get("force") != "1":
                # A task run of a killed execution never starts (nor is a lost one resumed).
                if st == "RUNNING" and (n == 0 or (not force and holder is not None)):
                    return StartResult(Status.BUSY, wait_ms=max(pttl, 0), holder=holder or "")
                self._kill_run(eid, trid, t, st, n, date)
                self._emit(eid)
                return StartResult(Status.KILLED)
            if xstate in ("PAUSED", "QUEUED") and st != "RUNNING":
                return StartResult(Status.PAUSED)
            if st == "RETRYING":
                at = float(t.get("retryAt") or 0)
                if at > now:
                    return StartResult(Status.WAIT, wait_ms=math.ceil((at - now) * 1000))
            if st == "PAUSED":
                return StartResult(Status.PAUSED)
            claimed = False
            resubmitted = False
            if st == "RUNNING":
                if holder is not None and not force:
                    return StartResult(Status.BUSY, wait_ms=max(pttl, 0), holder=holder)
                # The worker of attempt n died (its lease expired): it is RESUBMITTED.
                if n > 0:
                    resubmitted = True
                    h = happend(h, ahist(n, "RESUBMITTED", date))
                    t[f"a{n}:state"] = "RESUBMITTED"
                    t[f"a{n}:reason"] = "worker lost"
                    t["h"] = h
                    self._note("a", trid, task, n, "RESUBMITTED", date)
                lost = int(t.get("lost") or 0) + 1
                t["lost"] = str(lost)
                if lost >= max_deliveries:
                    t["state"] = "FAILED"
                    t["error"] = f"worker lost {lost} times while running this task run"
                    t["h"] = happend(h, hist("FAILED", date))
                    self._note("t", trid, task, "", "FAILED", date)
                    self._emit(eid)
                    return StartResult(Status.DONE, state=StateType.FAILED, resubmitted=resubmitted)
            elif _allowed(st, "RUNNING"):
                claimed = True  # moves to RUNNING below, with the attempt, in one write
                self._note("t", trid, task, "", "RUNNING", date)
            else:
                return StartResult(Status.WAIT, wait_ms=1000)
            n += 1
            first_start = t.get("firstStart") or f"{now:.6f}"
            if claimed:
                h = happend(h, hist("RUNNING", date), ahist(n, "RUNNING", date))
            else:
                h = happend(h, ahist(n, "RUNNING", date))
            t.update(
                {
                    "state": "RUNNING",
                    "attempts": str(n),
                    f"a{n}:state": "RUNNING",
                    f"a{n}:worker": worker_id,
                    "firstStart": first_start,
                    "h": h,
                }
            )
            for sent in ("mq", "mp", "ms", "mw"):
                t.pop(sent, None)
            self._note("a", trid, task, n, "RUNNING", date)
            self._e(eid).leases[trid] = (lease_holder(worker_id, token), now + lease_ms / 1000)
            self._active[f"{eid}|{trid}"] = now + lease_ms / 1000
            if xstate in ("CREATED", "RESTARTED", "RETRYING"):
                self._exec_move(eid, "RUNNING", date)
            self._emit(eid)
            return StartResult(
                Status.START,
                attempt=n,
                task_id=task,
                parent_task_run_id=t.get("parentTaskRunId") or None,
                value=t.get("value") or None,
                namespace=x.get("namespace", ""),
                flow_id=x.get("flowId", ""),
                revision=int(x.get("flowRevision") or 0),
                first_start=float(first_start),
                iteration=int(t["iteration"]) if t.get("iteration") else None,
                resubmitted=resubmitted,
            )

    def finish_attempt(
        self,
        eid: str,
        trid: str,
        attempt: int,
        attempt_state: StateType,
        task_run_state: StateType,
        *,
        outputs: Mapping[str, Any] | None = None,
        retry_at: float | None = None,
        active_deadline: float,
        error: str = "",
        metrics: Iterable[MetricEntry] = (),
        parent: str | None = None,
        errors_branch: bool = False,
        iteration: int | None = None,
        then: Then | None = None,
        holder: str = "",
    ) -> Finished:
        """Record how attempt ``attempt`` ended, with the task run (``finish.lua``): only
        the live attempt of a RUNNING task run may end it (else STALE), the one whose
        lease holds ``holder`` (when given) or lapsed unclaimed; KILLED whatever
        it says while the execution is being killed. A flowable child's end is counted on
        ``parent`` in the same step; for a top-level task run, ``then`` is applied if it
        ended in ``then.state``: its rows created (NEXT), or, with none, the execution
        ended in the worst state of its top-level task runs if all ended (END)."""
        outputs_json = json.dumps(dict(outputs), default=str) if outputs else ""
        entries = [m.model_dump_json(by_alias=True) for m in metrics]
        with self._lock:
            date = self._iso()
            n = str(attempt)
            t = self._hash(eid, trid)
            st, h = t.get("state"), t.get("h")
            if st is None:
                return Finished(Status.STALE, None)
            if st != "RUNNING" or t.get("attempts") != n:
                if t.get(f"a{n}:state") == "RUNNING":
                    t[f"a{n}:state"] = "KILLED"
                    t["h"] = happend(h, ahist(n, "KILLED", date))
                return Finished(Status.STALE, StateType(st))
            held, _ = self._lease(eid, trid)
            if holder and held is not None and held != holder:
                return Finished(Status.STALE, StateType(st))
            e = self._e(eid)
            x = e.x
            xstate = x.get("state")
            task = t.get("taskId", "")
            aend, trend = attempt_state.value, task_run_state.value
            if xstate in ("KILLING", "KILLED") and t.get("force") != "1":
                aend, trend = "KILLED", "KILLED"
            t[f"a{n}:state"] = aend
            t["state"] = trend
            t["h"] = happend(h, ahist(n, aend, date), hist(trend, date))
            if outputs_json and trend != "KILLED":
                t["outputs"] = outputs_json
            if error:
                t[f"a{n}:reason"] = error[:4000]
            if trend in ("RETRYING", "RETRIED"):
                t["retryAt"] = f"{retry_at:.6f}" if retry_at else ""
            e.metrics.extend(entries)
            e.leases.pop(trid, None)
            self._note("a", trid, task, n, aend, date)
            self._note("t", trid, task, "", trend, date)
            if trend == "RETRYING" and xstate == "RUNNING":
                self._exec_move(eid, "RETRYING", date)
                xstate = "RETRYING"
            member = f"{eid}|{trid}"
            deadline = float(f"{active_deadline:.6f}")

            if parent:  # a child of a flowable
                self._emit(eid)
                if trend in ("RETRYING", "RETRIED"):
                    self._active[member] = deadline
                    return Finished(Status.OK, StateType(trend))
                klass = "ok"
                if trend in ("FAILED", "KILLED", "CANCELLED"):
                    klass = "bad"
                elif trend == "WARNING":
                    klass = "warn"
                counted, left = self._child_end(
                    eid, parent, trid, klass, task, iteration, errors_branch
                )
                # Kept active until advanced (unless nothing follows it).
                if not left:
                    self._active[member] = deadline
                return Finished(Status.OK, StateType(trend), child=counted)

            result = Finished(Status.OK, StateType(trend))
            applies = (
                then is not None
                and then.state.value == trend
                and xstate != "KILLING"
                and not _terminal(xstate)
            )
            if applies and then is not None and then.rows:
                # Its successors exist from now on: it leaves the active set.
                self._active.pop(member, None)
                self._create_runs(
                    xstate or "", eid, date, float(f"{then.pending_deadline:.6f}"), then.rows
                )
                result = Finished(Status.OK, StateType(trend), next_state=StateType(xstate or ""))
            elif applies and xstate == "RUNNING" and not x.get("triggerExecutionId"):
                worst = _RANK.get(trend, 0)
                for other in e.trs:
                    if other == trid:
                        continue
                    r = e.tr.get(other, {})
                    if not _terminal(r.get("state")):
                        worst = -1
                        break
                    if not r.get("parentTaskRunId"):
                        worst = max(worst, _RANK.get(r.get("state", ""), 0))
                if worst >= 0:
                    final = _FINAL.get(worst, "SUCCESS")
                    self._exec_move(eid, final, date)
                    self._idx_ended[eid] = self._now()
                    self._active.pop(member, None)
                    result = Finished(Status.OK, StateType(trend), ended=StateType(final))
                else:
                    self._active[member] = deadline
            else:
                # Kept active until advanced, so a crash before that is recovered.
                self._active[member] = deadline
            self._emit(eid)
            return result

    def renew_leases(
        self,
        leases: Mapping[tuple[str, str], float],
        holders: Mapping[tuple[str, str], str] | None = None,
    ) -> set[tuple[str, str]]:
        """Extend the live leases of running attempts (the heartbeat), and their
        deadlines in the active set; a lease with a holder in ``holders`` only while it
        holds it (``renew.lua``). Returns the leases that did not."""
        lost: set[tuple[str, str]] = set()
        with self._lock:
            now = self._now()
            for (eid, trid), lease_s in leases.items():
                holder, _ = self._lease(eid, trid)
                want = (holders or {}).get((eid, trid))
                if want is not None and holder != want:
                    lost.add((eid, trid))
                    continue
                if holder is not None:
                    self._e(eid).leases[trid] = (holder, now + int(lease_s * 1000) / 1000)
                self._active[f"{eid}|{trid}"] = now + lease_s
        return lost

    def drop_lease(self, eid: str, trid: str) -> None:
        """The attempt's lease is gone: its next renewal fails."""
        with self._lock:
            e = self._x.get(eid)
            if e is not None:
                e.leases.pop(trid, None)

    def lease_alive(self, eid: str, trid: str) -> bool:
        """True while the attempt's lease holds."""
        with self._lock:
            return self._lease(eid, trid)[0] is not None

    def retry_at(self, eid: str, trid: str) -> float:
        """When a RETRYING task run's next attempt is due (epoch s; 0 if none)."""
        with self._lock:
            return float(self._hash(eid, trid).get("retryAt") or 0)

    def append_log(self, entry: LogEntry) -> Status:
        """Append a log entry within its task run's budget (as ``append_log.lua``)."""
        eid = entry.execution_id
        assert eid
        limits = self.log_limits
        entry = prepared(entry, limits)
        raw = entry.model_dump_json(by_alias=True)
        size = len(raw.encode())
        with self._lock:
            e = self._e(eid)
            used = e.logs_used.setdefault(budget_field(entry), [0, 0, 0])
            if used[2]:
                return Status.FULL
            over_bytes = used[0] + size > limits.max_bytes
            if over_bytes or used[1] + 1 > limits.max_lines:
                used[2] = 1
                limit = f"{limits.max_bytes} bytes" if over_bytes else f"{limits.max_lines} lines"
                e.logs.append(truncation_entry(entry, limit).model_dump_json(by_alias=True))
                return Status.FULL
            used[0] += size
            used[1] += 1
            e.logs.append(raw)
        return Status.OK

    # ------------------------------------------------------------------ flowables

    def start_flowable(
        self,
        eid: str,
        trid: str,
        mode: str,
        width: int,
        total: int,
        expected: int,
        claimed: int,
        plan: str,
        values: list[str],
        outputs: str = "",
    ) -> Status:
        """Start a flowable task run with its plan (``flowable_start.lua``): OK, NOOP
        (started already) or REFUSED (missing, or the execution is ending)."""
        with self._lock:
            xstate = self._xhash(eid).get("state")
            t = self._hash(eid, trid)
            st = t.get("state")
            if xstate is None or st is None:
                return Status.REFUSED
            if xstate == "KILLING" or _terminal(xstate):
                return Status.REFUSED
            if st not in ("CREATED", "RESTARTED", "PAUSED"):
                return Status.NOOP
            date = self._iso()
            e = self._e(eid)
            e.ended.pop(trid, None)
            e.values.pop(trid, None)
            e.flowables.add(trid)
            t.update(
                {
                    "state": "RUNNING",
                    "mode": mode,
                    "T": str(width),
                    "total": str(total),
                    "expected": str(expected),
                    "cn": str(claimed),
                    "done": "0",
                    "bad": "0",
                    "warn": "0",
                    "plan": plan,
                    "h": happend(t.get("h"), hist("RUNNING", date)),
                }
            )
            if outputs:
                t["outputs"] = outputs
            if values:
                e.values[trid] = list(values)
            self._note("t", trid, t.get("taskId", ""), "", "RUNNING", date)
            if xstate in ("CREATED", "RESTARTED"):
                self._exec_move(eid, "RUNNING", date)
            self._emit(eid)
            return Status.OK

    def child_ended(
        self,
        eid: str,
        parent: str,
        child: str,
        klass: str,
        task_id: str,
        iteration: int | None,
        errors_branch: bool,
    ) -> ChildEnd:
        """Count a child's end on its flowable, once, and claim its successors
        (``child_ended.lua``)."""
        with self._lock:
            return self._child_end(eid, parent, child, klass, task_id, iteration, errors_branch)[0]

    # ------------------------------------------------------------------ reading task runs

    def task_run_outputs(
        self, eid: str, task_id: str, value: str | None = None
    ) -> dict[str, Any] | None:
        """Outputs of the (latest) task run of ``task_id`` (for loop value ``value``);
        None if it has not run."""
        with self._lock:
            e = self._x.get(eid)
            if e is None:
                return None
            indexed = e.tv.get(f"{task_id}|{value or ''}")
            top = e.trkey.get(identity(task_id))
            trid = indexed if indexed is not None else (top if value is None else None)
            if trid is None:
                return None
            raw = e.tr.get(trid, {}).get("outputs")
        out: dict[str, Any] = json.loads(raw) if raw else {}
        return out

    def task_run_row(self, eid: str, trid: str) -> TaskRunRow | None:
        """One task run's row (None if it does not exist)."""
        with self._lock:
            return _row(trid, self._hash(eid, trid))

    def task_run_rows(self, eid: str) -> list[TaskRunRow]:
        """Every task run of the execution, in creation order."""
        with self._lock:
            e = self._x.get(eid)
            if e is None:
                return []
            rows = [_row(trid, e.tr.get(trid, {})) for trid in e.trs]
        return [r for r in rows if r is not None]

    def children_rows(self, eid: str, parent: str) -> list[TaskRunRow]:
        """The task runs whose parent is ``parent``."""
        return [r for r in self.task_run_rows(eid) if r.parent_task_run_id == parent]

    # ------------------------------------------------------------------ the active set

    def clear_active(self, eid: str, trid: str) -> None:
        """Take a task run out of the active set."""
        with self._lock:
            self._active.pop(f"{eid}|{trid}", None)

    def set_active(self, eid: str, trid: str, deadline: float) -> None:
        """Put a task run in the active set, due at ``deadline``."""
        with self._lock:
            self._active[f"{eid}|{trid}"] = float(deadline)

    def resend_task_run(
        self,
        eid: str,
        trid: str,
        message: Outgoing,
        *,
        group: str,
        broker_prefix: str,
        now: float,
        grace: float,
        check: bool,
    ) -> Resent:
        """Queue a new copy unless the last one is still queued (no worker ever reserves
        a copy here: ``queues`` are lists nobody consumes)."""
        with self._lock:
            t = self._hash(eid, trid)
            if not t:
                return Resent("MISSING")
            queue = self.queues.setdefault(message.queue_key, [])
            if check and t.get("mq") == message.queue_key and t.get("mp") in queue:
                t["mw"] = group
                return Resent("QUEUED", t.get("ms", ""))
            queue.append(message.payload)
            t.update({"mq": message.queue_key, "mp": message.payload, "ms": self._iso()})
            t.pop("mw", None)
            return Resent("SENT")

    def back_off_active(
        self, eid: str, trid: str, now: float, base: float, cap: float
    ) -> tuple[int, float]:
        """Count one more failed sweep of an entry and put it off (see ``Store``)."""
        member = f"{eid}|{trid}"
        with self._lock:
            failures = self._active_failures.get(member, 0) + 1
            self._active_failures[member] = failures
            deadline = now + min(cap, base * 2 ** min(failures - 1, 62))
            self._active[member] = deadline
        return failures, deadline

    def forget_active_failures(self, entries: Iterable[tuple[str, str]]) -> None:
        """Forget the failure counts of ``entries`` and of entries no longer active."""
        with self._lock:
            for eid, trid in entries:
                self._active_failures.pop(f"{eid}|{trid}", None)
            for member in [m for m in self._active_failures if m not in self._active]:
                del self._active_failures[member]

    def active_failures(self, eid: str, trid: str) -> int:
        """Failed sweeps in a row of an active entry (0 if none)."""
        with self._lock:
            return self._active_failures.get(f"{eid}|{trid}", 0)

    def due_active(self, now: float, limit: int = 200) -> list[tuple[str, str]]:
        """(execution, task run) of active entries whose deadline passed, soonest first."""
        with self._lock:
            for bad in [m for m in self._active if "|" not in m]:
                del self._active[bad]  # names no task run
            due = {m: s for m, s in self._active.items() if s <= now}
        out: list[tuple[str, str]] = []
        for m in _zsorted(due)[:limit]:
            eid, _, trid = m.partition("|")
            out.append((eid, trid))
        return out

    def acquire_sweep_lock(self, token: str, ttl_ms: int) -> bool:
        """Take the one reconciler sweep lock for ``ttl_ms``, or keep it (its expiry
        unchanged, as ``RedisStore`` does) when ``token`` holds it already."""
        with self._lock:
            now = self._now()
            if self._sweep_lock is None or self._sweep_lock[1] <= now:
                self._sweep_lock = (token, now + ttl_ms / 1000)
                return True
            return self._sweep_lock[0] == token

    def release_sweep_lock(self, token: str) -> None:
        """Give the sweep lock up if ``token`` holds it."""
        with self._lock:
            lock = self._sweep_lock
            if lock is not None and lock[1] > self._now() and lock[0] == token:
                self._sweep_lock = None

    def record_sweep(self, at: float) -> None:
        """Note that a reconciler sweep ran at ``at``."""
        with self._lock:
            self._last_sweep = at

    def last_sweep(self) -> float | None:
        """When a reconciler sweep last ran (None: never)."""
        with self._lock:
            return self._last_sweep

    def worker_seen(self, name: str, at: float, queues: Iterable[str] = ()) -> None:
        """Note that worker ``name`` was alive at ``at``, consuming ``queues``."""
        with self._lock:
            self._workers[name] = at
            for q in queues:
                self._queues[q] = at
            for seen in (self._workers, self._queues):
                for old in [w for w, t in seen.items() if t < at - WORKER_MEMORY_S]:
                    del seen[old]

    def queues_seen(self, since: float) -> list[str]:
        """The queues live workers consumed at ``since`` or later."""
        with self._lock:
            return sorted(q for q, t in self._queues.items() if t >= since)

    def workers_seen(self, since: float) -> list[tuple[str, float]]:
        """The workers seen alive at ``since`` or later, latest first."""
        with self._lock:
            seen = [(w, t) for w, t in self._workers.items() if t >= since]
        return sorted(seen, key=lambda wt: (-wt[1], wt[0]))

    # ------------------------------------------------------------------ retention

    def mark_ended(self, eid: str) -> None:
        """Start the retention of an ended execution (``purge_ended`` deletes it later)."""
        with self._lock:
            self._idx_ended[eid] = self._now()

    def purge_ended(self, older_than: float, limit: int = 200) -> int:
        """Delete up to ``limit`` executions that ended before ``older_than``, with every
        index entry (``purge.lua``); a restarted one is only dropped from retention.
        Returns how many were deleted."""
        with self._lock:
            due = {e: s for e, s in self._idx_ended.items() if s <= older_than}
            purged = 0
            unknown: list[str] = []
            for eid in _zsorted(due)[:limit]:
                out = self._purge(eid, older_than)
                purged += out != -1
                if out == -2:
                    unknown.append(eid)
            for index in self._idx_flow.values():
                for eid in unknown:
                    index.pop(eid, None)
            return purged

    def delete_execution(self, eid: str) -> bool:
        """Delete an ended execution now, as the retention sweep does."""
        with self._lock:
            raw = self._xhash(eid).get("state")
            if raw is None:
                return False
            if not _terminal(raw):
                raise StateConflict(f"execution {eid} is {raw}: only an ended one is deleted")
            self._idx_ended.setdefault(eid, self._now())
            out = self._purge(eid, math.inf)
            if out == -2:
                for index in self._idx_flow.values():
                    index.pop(eid, None)
            return True

    def _purge(self, eid: str, older_than: float) -> int:
        score = self._idx_ended.get(eid)
        if score is None or score > older_than:
            return -1
        x = self._xhash(eid)
        xstate = x.get("state")
        if xstate is not None and not _terminal(xstate):
            del self._idx_ended[eid]  # running again (restarted): not ours to delete
            return -1
        e = self._x.pop(eid, None)
        deleted = 0
        if e is not None:
            deleted = (
                sum(
                    1
                    for part in (
                        e.x,
                        e.exec_ev,
                        e.events,
                        e.trs,
                        e.trkey,
                        e.tv,
                        e.flowables,
                        e.subflows,
                        e.metrics,
                        e.logs,
                        e.logs_used,
                    )
                    if part
                )
                + len(e.tr)
                + len(e.leases)
                + len(e.ended)
                + len(e.values)
            )
        del self._idx_ended[eid]
        self._idx_all.pop(eid, None)
        if xstate is not None:
            self._idx_state.get(xstate, {}).pop(eid, None)
            self._idx_flow.get((x.get("namespace", ""), x.get("flowId", "")), {}).pop(eid, None)
            return deleted
        for state in _TERMINAL_NAMES:
            self._idx_state.get(state, {}).pop(eid, None)
        return -2  # its flow is unknown: dropped from every flow index by the caller

    # ------------------------------------------------------------------ reading executions

    def get_execution(self, eid: str) -> Execution:
        """The whole execution (``ExecutionNotFound`` if none)."""
        with self._lock:
            e = self._x.get(eid)
            if e is None or not e.x:
                raise ExecutionNotFound(eid)
            x = dict(e.x)
            raws = [dict(e.tr[trid]) for trid in e.trs if e.tr.get(trid)]
        state = state_of(history(x.get("h")))
        return Execution(
            id=eid,
            namespace=x["namespace"],
            flow_id=x["flowId"],
            flow_revision=int(x.get("flowRevision") or 1),
            state=state,
            inputs=json.loads(x.get("inputs") or "{}"),
            outputs=json.loads(x.get("outputs") or "{}"),
            labels=[Label.model_validate(lb) for lb in json.loads(x.get("labels") or "[]")],
            variables=json.loads(x.get("variables") or "{}"),
            parent_id=x.get("parentId") or None,
            original_id=x.get("originalId") or eid,
            metadata=metadata_of(x, state.start_date),
            trigger=origin_of(x),
            task_run_list=[task_run_of(eid, x, h) for h in raws],
        )

    def logs(self, eid: str) -> list[LogEntry]:
        """The execution's log entries (``ExecutionNotFound`` if it does not exist)."""
        with self._lock:
            if not self._xhash(eid):
                raise ExecutionNotFound(eid)
            raws = list(self._e(eid).logs)
        return [LogEntry.model_validate_json(raw) for raw in raws]

    def logs_page(
        self,
        eid: str,
        *,
        cursor: int = 0,
        offset: int = 0,
        limit: int | None = None,
        query: LogQuery | None = None,
    ) -> LogPage:
        """A page of the execution's log entries (``executor.loglimits.page_of``)."""
        check_page(cursor, offset, limit)
        with self._lock:
            if not self._xhash(eid):
                raise ExecutionNotFound(eid)
            raws = self._e(eid).logs[cursor:]
        page = page_of(
            chunked(raws, 2000),
            cursor=cursor,
            offset=offset,
            limit=limit,
            query=query or LogQuery(),
        )
        return LogPage(
            results=[LogEntry.model_validate_json(raw) for raw in page.raws],
            total=page.total,
            next_cursor=page.next_cursor,
        )

    def metrics(self, eid: str) -> list[MetricEntry]:
        """The execution's metric entries (``ExecutionNotFound`` if it does not exist)."""
        with self._lock:
            if not self._xhash(eid):
                raise ExecutionNotFound(eid)
            raws = list(self._e(eid).metrics)
        return [MetricEntry.model_validate_json(raw) for raw in raws]

    def last_execution_event_id(self, eid: str) -> str:
        """The id of the newest execution state change ("0" if none)."""
        with self._lock:
            e = self._x.get(eid)
            return e.exec_ev[-1][0] if e and e.exec_ev else "0"

    def _wait(self, ready: Callable[[], bool], block_ms: int | None) -> None:
        """Wait (the lock held) until ``ready()`` or ``block_ms`` passed; 0 waits for
        ever, as Redis's ``XREAD BLOCK 0`` does; None does not wait."""
        if block_ms is None or ready():
            return
        until = None if block_ms == 0 else time.monotonic() + block_ms / 1000
        while not ready():
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                return
            self._changed.wait(left)

    def read_execution_events(
        self, eid: str, last_id: str, block_ms: int
    ) -> list[tuple[str, StateType]]:
        """Execution state changes after ``last_id`` (blocking up to ``block_ms``)."""
        after = _stream_id(last_id)

        def newer() -> list[tuple[str, str, str]]:
            e = self._x.get(eid)
            return [ev for ev in (e.exec_ev if e else []) if _stream_id(ev[0]) > after]

        with self._lock:
            self._wait(lambda: bool(newer()), block_ms)
            return [(i, StateType(s)) for i, s, _ in newer()]

    def last_event_id(self, eid: str) -> str:
        """The id of the newest state change so far ("0" if none)."""
        with self._lock:
            e = self._x.get(eid)
            return e.events[-1][0] if e and e.events else "0"

    def read_events(
        self, eid: str, last_id: str = "0", block_ms: int | None = None
    ) -> list[tuple[str, StateEvent]]:
        """State changes after ``last_id`` (blocking up to ``block_ms`` for new ones).

        The changes of one step are one entry; each change gets its own id,
        ``ENTRY/i``, and reading resumes after any of them (as with ``RedisStore``).
        """
        entry, _, index = last_id.partition("/")
        after = _stream_id(entry)

        def entries() -> list[tuple[str, list[dict[str, str]]]]:
            e = self._x.get(eid)
            return [ev for ev in (e.events if e else []) if _stream_id(ev[0]) > after]

        out: list[tuple[str, StateEvent]] = []
        with self._lock:
            if index:  # the rest of a step whose first changes were read
                e = self._x.get(eid)
                for entry_id, changes in e.events if e else []:
                    if entry_id == entry:
                        out += changes_of(eid, entry_id, changes)[int(index) + 1 :]
                if out:
                    block_ms = None
            self._wait(lambda: bool(entries()), block_ms)
            for entry_id, changes in entries()[:READ_COUNT]:
                out += changes_of(eid, entry_id, changes)
        return out

    def search(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: StateType | None = None,
        namespace_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[str]:
        """Execution ids, newest first, filtered as ``search_page`` does."""
        return self.search_page(
            namespace=namespace,
            flow_id=flow_id,
            state=state,
            namespace_prefix=namespace_prefix,
            labels=labels,
            limit=limit,
            offset=offset,
        )[0]

    def search_page(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: StateType | Iterable[StateType] | None = None,
        namespace_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
        created_from: float | None = None,
        created_to: float | None = None,
    ) -> tuple[list[str], int]:
        """A page of execution ids, newest first, and how many match in all: every
        execution checked (the twin keeps no search indexes)."""
        if offset < 0:
            raise ValueError(f"a search's offset starts at 0, got {offset}")
        wanted = dict(labels or {})
        states = {s.value for s in states_of(state)}

        def matches(x: Hash) -> bool:
            ns = x.get("namespace", "")
            if namespace and ns != namespace:
                return False
            if flow_id and x.get("flowId") != flow_id:
                return False
            if states and x.get("state") not in states:
                return False
            if namespace_prefix and not (
                ns == namespace_prefix or ns.startswith(namespace_prefix + ".")
            ):
                return False
            if wanted:
                have = {(lb["key"], lb["value"]) for lb in json.loads(x.get("labels") or "[]")}
                return all(pair in have for pair in wanted.items())
            return True

        low = float("-inf") if created_from is None else created_from
        high = float("inf") if created_to is None else created_to
        with self._lock:
            ids = [
                e
                for e in _zsorted(self._idx_all, reverse=True)
                if low <= self._idx_all[e] <= high and matches(self._xhash(e))
            ]
            return (ids[offset : offset + limit] if limit > 0 else []), len(ids)

    # ------------------------------------------------------------------ KV store

    def _kv_live(self, tenant: str, namespace: str) -> dict[str, KVRecord]:
        """The entries of a namespace, expired ones dropped (as Redis expires keys)."""
        entries = self._kv.get((tenant, namespace), {})
        now = self._now()
        for key in [k for k, r in entries.items() if r.expires is not None and r.expires <= now]:
            del entries[key]
        return entries

    def kv_set(
        self,
        namespace: str,
        key: str,
        kv_type: KVType,
        value: str,
        *,
        ttl: float | None = None,
        overwrite: bool = True,
        tenant: str = "main",
    ) -> None:
        check_tenant(tenant)
        check_namespace(namespace)
        check_key(key)
        seconds = check_ttl(ttl)
        with self._lock:
            entries = self._kv_live(tenant, namespace)
            old = entries.get(key)
            if old is not None and not overwrite:
                raise KVConflict(key)
            now = self._now()
            entries[key] = KVRecord(
                key=key,
                type=KVType(kv_type),
                value=value,
                created=old.created if old is not None else now,
                updated=now,
                expires=now + seconds if seconds is not None else None,
            )
            self._kv[(tenant, namespace)] = entries

    def kv_get(self, namespace: str, key: str, *, tenant: str = "main") -> KVRecord | None:
        check_tenant(tenant)
        check_namespace(namespace)
        check_key(key)
        with self._lock:
            return self._kv_live(tenant, namespace).get(key)

    def kv_delete(self, namespace: str, key: str, *, tenant: str = "main") -> bool:
        check_tenant(tenant)
        check_namespace(namespace)
        check_key(key)
        with self._lock:
            return self._kv_live(tenant, namespace).pop(key, None) is not None

    def kv_list(self, namespace: str, *, tenant: str = "main") -> list[KVRecord]:
        check_tenant(tenant)
        check_namespace(namespace)
        with self._lock:
            entries = self._kv_live(tenant, namespace)
            return [
                KVRecord(r.key, r.type, None, r.created, r.updated, r.expires)
                for _, r in sorted(entries.items())
            ]

    # ------------------------------------------------------------------ triggers' state

    def trigger_fired(self, ref: TriggerRef, type_: str, execution_id: str, date: float) -> None:
        with self._lock:
            h = self._triggers.setdefault(ref.uid, {})
            h.update({"type": type_, "date": repr(date), "eid": execution_id})
            h["fired"] = str(int(h.get("fired") or 0) + 1)

    def trigger_failed(self, ref: TriggerRef, type_: str, error: str, date: float) -> None:
        with self._lock:
            h = self._triggers.setdefault(ref.uid, {})
            h.update({"type": type_, "error": error, "errorDate": repr(date)})

    def trigger_state(self, ref: TriggerRef) -> TriggerState | None:
        with self._lock:
            h = self._triggers.get(ref.uid)
            return trigger_state_of(ref, dict(h)) if h else None

    def trigger_states(self, namespace: str | None = None) -> list[TriggerState]:
        with self._lock:
            return [
                trigger_state_of(TriggerRef.of_uid(uid), dict(h))
                for uid, h in sorted(self._triggers.items())
                if h and (namespace is None or uid.split("|", 1)[0] == namespace)
            ]

    def set_trigger_disabled(self, ref: TriggerRef, disabled: bool) -> None:
        with self._lock:
            self._triggers.setdefault(ref.uid, {})["disabled"] = "1" if disabled else "0"

    def forget_triggers(self, namespace: str, flow_id: str, keep: Iterable[str] = ()) -> None:
        kept = set(keep)
        with self._lock:
            for uid in list(self._triggers):
                ref = TriggerRef.of_uid(uid)
                if (ref.namespace, ref.flow_id) == (namespace, flow_id) and (
                    ref.trigger_id not in kept
                ):
                    del self._triggers[uid]

    # ------------------------------------------------------------------ Flow triggers

    def flow_listeners(self) -> list[tuple[str, str]]:
        with self._lock:
            members = sorted(self._flow_listeners)
        return [(m.partition(":")[0], m.partition(":")[2]) for m in members]

    def read_flow_ends(
        self, consumer: str, count: int, claim_idle: float | None = None
    ) -> list[FlowEndEntry]:
        with self._lock:
            now = self._now()
            fields = dict(self._flow_ends)
            out: list[FlowEndEntry] = []
            if claim_idle is not None:
                for eid, (_, at) in sorted(
                    self._flow_pending.items(), key=lambda kv: _stream_id(kv[0])
                ):
                    if len(out) >= count:
                        break
                    if now - at < claim_idle:
                        continue
                    if eid not in fields:  # trimmed while pending
                        del self._flow_pending[eid]
                        continue
                    self._flow_pending[eid] = (consumer, now)
                    out.append(_flow_end(eid, fields[eid]))
            for eid, f in self._flow_ends:
                if len(out) >= count:
                    break
                if _stream_id(eid) <= _stream_id(self._flow_delivered):
                    continue
                self._flow_delivered = eid
                self._flow_pending[eid] = (consumer, now)
                out.append(_flow_end(eid, f))
            return out

    def ack_flow_ends(self, entry_ids: list[str]) -> None:
        gone = set(entry_ids)
        with self._lock:
            for eid in gone:
                self._flow_pending.pop(eid, None)
            self._flow_ends = [e for e in self._flow_ends if e[0] not in gone]

    def flow_window(
        self,
        uid: str,
        entry_id: str,
        bounds: tuple[float, float],
        met: list[str],
        total: int,
        reset: bool,
        now: float,
    ) -> bool:
        with self._lock:
            seen_key = f"{uid}:{entry_id}"
            if seen_key in self._flow_seen:
                return self._flow_seen[seen_key]
            w = self._flow_windows.get(uid)
            if w is not None and float(w["end"]) < now:
                w = None
                del self._flow_windows[uid]
            if not met and w is None:
                return total == 0
            if w is None:
                w = self._flow_windows[uid] = {"start": repr(bounds[0]), "end": repr(bounds[1])}
            for name in met:
                w["c:" + name] = "1"
            complete = len(w) - 2 >= total
            if complete and reset:
                del self._flow_windows[uid]
            self._flow_seen[seen_key] = complete
            return complete

    def due_set(self, queue: str, uid: str, tick: str | None, due: float = 0.0) -> None:
        with self._lock:
            q = self._due.setdefault(queue, {})
            if tick is None:
                q.pop(uid, None)
            else:
                q[uid] = [tick, due, None]

    def due_claim(self, queue: str, now: float, limit: int, lease: float) -> list[tuple[str, str]]:
        with self._lock:
            q = self._due.setdefault(queue, {})
            for entry in q.values():
                if entry[2] is not None and entry[2] <= now:
                    entry[1], entry[2] = now, None
            due = sorted((e[1], uid) for uid, e in q.items() if e[1] is not None and e[1] <= now)
            out = []
            for _, uid in due[: int(limit)]:
                q[uid][1], q[uid][2] = None, now + lease
                out.append((uid, str(q[uid][0])))
            return out

    def due_advance(
        self,
        queue: str,
        uid: str,
        fired: str,
        tick: str | None,
        due: float = 0.0,
        *,
        ran: Sequence[str] = (),
        keep: int = 0,
    ) -> bool:
        with self._lock:
            q = self._due.setdefault(queue, {})
            entry = q.get(uid)
            if entry is None or entry[0] != fired or entry[2] is None:
                return False
            if tick is None:
                del q[uid]
            else:
                q[uid] = [tick, due, None]
        self.ticks_record(uid, ran, keep)
        return True

    def ticks_record(self, uid: str, ticks: Sequence[str], keep: int) -> None:
        if not ticks:
            return
        with self._lock:
            kept = self._ran.setdefault(uid, {})
            for t in ticks:
                kept[t] = None
            ordered = sorted(kept, key=float)
            self._ran[uid] = dict.fromkeys(ordered[max(0, len(ordered) - keep) :])

    def due_advance_many(self, queue: str, steps: Sequence[DueStep]) -> list[bool]:
        return [
            self.due_advance(queue, s.uid, s.fired, s.tick, s.due, ran=s.ran, keep=s.keep)
            for s in steps
        ]

    def due_position(self, queue: str, uid: str) -> DuePosition | None:
        with self._lock:
            entry = self._due.get(queue, {}).get(uid)
            return DuePosition(entry[0], entry[1], entry[2]) if entry else None

    def due_unlock(self, queue: str, uid: str, now: float) -> bool:
        with self._lock:
            entry = self._due.get(queue, {}).get(uid)
            if entry is None or entry[2] is None:
                return False
            entry[1], entry[2] = now, None
            return True

    def ticks_ran(self, uid: str, ticks: Sequence[str]) -> set[str]:
        with self._lock:
            kept = self._ran.get(uid, {})
            return {t for t in ticks if t in kept}

    def backfill_get(self, uid: str) -> dict[str, str] | None:
        with self._lock:
            b = self._backfills.get(uid)
            return dict(b) if b else None

    def backfill_put(self, uid: str, fields: Mapping[str, str], *, replace: bool = False) -> None:
        with self._lock:
            if replace:
                self._backfills.pop(uid, None)
            if fields:
                self._backfills.setdefault(uid, {}).update(fields)

    def backfill_delete(self, uid: str) -> None:
        with self._lock:
            self._backfills.pop(uid, None)


def _flow_end(entry_id: str, f: Mapping[str, str]) -> FlowEndEntry:
    return FlowEndEntry(
        entry_id,
        f.get("eid", ""),
        f.get("ns", ""),
        f.get("fid", ""),
        int(f.get("rev") or 0),
        f.get("s", ""),
        f.get("d", ""),
    )
    # ------------------------------------------------------------------ due queues


def _row(trid: str, t: Hash) -> TaskRunRow | None:
    if "taskId" not in t:
        return None
    return TaskRunRow(
        trid,
        t["taskId"],
        StateType(t["state"]),
        t.get("parentTaskRunId") or None,
        t.get("value") or None,
        int(t["iteration"]) if t.get("iteration") is not None else None,
    )
