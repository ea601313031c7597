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
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import redis
from redis.commands.core import Script

from executor.engine.flow_conditions import OTHER_STATES
from executor.engine.outcomes import lua_constants
from executor.errors import (
    ExecutionNotFound,
    FlowNotFound,
    KVConflict,
    QueueKeyConflict,
    StateConflict,
    StoreError,
    StoreUnavailable,
)
from executor.flow import Flow
from executor.kv import KVRecord, KVType, check_key, check_namespace, check_tenant, check_ttl
from executor.loglimits import (
    LIMIT_PLACEHOLDER,
    LogLimits,
    LogQuery,
    budget_field,
    check_page,
    page_of,
    prepared,
    truncation_message,
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
    utcnow,
)
from executor.state import TERMINAL, TRANSITIONS, StateType, allowed_sources
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
from executor.store.keys import Keys, active_member, identity, label_id
from executor.store.records import (
    changes_of,
    created_execution,
    hist,
    history,
    metadata_of,
    origin_of,
    state_of,
    task_run_of,
    trigger_state_of,
)
from executor.triggers.types import listened_states, listens

_HERE = Path(__file__).parent
F = TypeVar("F", bound=Callable[..., Any])


def _lua_prelude() -> str:
    # The table as one constant string of " FROM>TO " pairs: Lua interns it when the
    # script is compiled, where a table of tables would be rebuilt on every call.
    pairs = sorted(
        f"{src.value}>{dst.value}" for src, targets in TRANSITIONS.items() for dst in targets
    )
    terminal = ", ".join(f"{s.value}=true" for s in sorted(TERMINAL, key=lambda s: s.value))
    return (
        f"local ALLOWED = ' {' '.join(pairs)} '\n"
        f"local TERMINAL = {{{terminal}}}\n"
        f"local FLOW_ENDS_MAXLEN = {FLOW_ENDS_MAXLEN}\n"
        + lua_constants()
        + (_HERE / "_lib.lua").read_text()
    )


#: Steps run once per log line: they get only ``args()`` and ``reply()`` of ``_lib.lua``
#: (same contract), not the whole prelude, which costs a step ~15 µs to set up.
_LEAN = frozenset({"append_log", "due_claim", "due_advance", "due_unlock"})
_LEAN_PRELUDE = """
local function args()
    local A = cjson.decode(ARGV[1])
    local out = {}
    for name, v in pairs(A.k) do out[name] = KEYS[v] end
    return A, out
end
local function reply(t)
    return cjson.encode(t)
end
"""


def _script_source(name: str) -> str:
    prelude = _LEAN_PRELUDE if name in _LEAN else _lua_prelude()
    return prelude + "\n" + (_HERE / f"{name}.lua").read_text()


def _translate(fn: F) -> F:
    """Turn redis-py errors into ``StoreError`` (the only place that knows redis-py)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        except redis.RedisError as exc:
            raise StoreError(f"redis: {exc}") from exc

    return cast(F, wrapper)


def _label_pairs(raw: Any) -> list[tuple[str, str]]:
    """The (key, value) pairs of an execution's stored ``labels`` field (JSON, or None)."""
    return [(lb["key"], lb["value"]) for lb in json.loads(raw or "[]")]


def _search_entries(
    k: Keys, scopes: list[str], state: str, pairs: Iterable[tuple[str, str]]
) -> list[str]:
    """The search indexes an execution in ``state`` belongs to: its scopes, each of them by
    state, and one per label (``Keys.scopes``, ``index_scoped_state``, ``index_label``)."""
    return [
        *scopes,
        *(k.index_scoped_state(sc, state) for sc in scopes),
        *dict.fromkeys(k.index_label(a, b) for a, b in pairs),
    ]


def _under(namespace: str, prefix: str) -> bool:
    """Is ``namespace`` ``prefix`` or one of its sub-namespaces (Kestra's namespace
    prefix: ``a.b`` is under ``a``, ``a.bc`` is not)?"""
    return namespace == prefix or namespace.startswith(prefix + ".")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def iso(dt: datetime | None = None) -> str:
    return (dt or utcnow()).isoformat().replace("+00:00", "Z")


class _Step:
    """One call of a Lua step, with the contract of ``_lib.lua``: every key the script
    touches in KEYS, named (``layout``: name -> index in KEYS, or a dict/list of such),
    and the named arguments, all sent as one JSON object in ARGV[1]."""

    __slots__ = ("args", "keys", "layout")

    def __init__(self, **args: Any) -> None:
        self.args = args
        self.keys: list[str] = []
        self.layout: dict[str, Any] = {}

    def index(self, key: str) -> int:
        """Add ``key`` to KEYS; its (1-based) index there."""
        self.keys.append(key)
        return len(self.keys)

    def key(self, **named: str) -> _Step:
        """Name keys: ``step.key(exec=..., events=...)``."""
        for name, key in named.items():
            self.layout[name] = self.index(key)
        return self

    def group(self, name: str, keys: Mapping[str, str] | list[str]) -> _Step:
        """Name a table of keys: ``K[name][state]`` (a dict) or ``K[name][i]`` (a list)."""
        if isinstance(keys, list):
            self.layout[name] = [self.index(key) for key in keys]
        else:
            self.layout[name] = {n: self.index(key) for n, key in keys.items()}
        return self

    def state_index(self, k: Keys, states: Iterable[StateType | str], scopes: list[str]) -> _Step:
        """``K.idx``: the per-state index of each of ``states``; ``K.sx``: the same for
        each of the execution's ``scopes`` (``Keys.scopes``; none for no execution)."""
        names = [str(s) for s in states]
        self.group("idx", {n: k.index_state(n) for n in names})
        # Every step that may move an execution gets these: xapply() appends the state
        # changes Flow triggers listen to there.
        self.key(fends=k.flow_ends, flisten=k.flow_listeners, fstates=k.flow_state_listeners)
        self.layout["sx"] = [
            {n: self.index(k.index_scoped_state(scope, n)) for n in names} for scope in scopes
        ]
        return self

    def rows(self, k: Keys, eid: str, rows: list[NewRow]) -> list[dict[str, str]]:
        """``K.rows``: the keys of new task runs (their hash, and their queue's list when
        they have a message), and their arguments, as ``create_runs()`` reads them."""
        layout = []
        out = []
        for row in rows:
            keys = {"tr": self.index(k.task_run(eid, row.id))}
            if row.message:
                keys["queue"] = self.index(row.message.queue_key)
            layout.append(keys)
            out.append(
                {
                    "ident": identity(
                        row.task_id, row.parent_task_run_id, row.value, row.iteration
                    ),
                    "id": row.id,
                    "task": row.task_id,
                    "parent": row.parent_task_run_id or "",
                    "value": row.value if row.value is not None else "",
                    "iteration": "" if row.iteration is None else str(row.iteration),
                    "message": row.message.payload if row.message else "",
                    **({"force": "1"} if row.force else {}),
                }
            )
        self.layout["rows"] = layout
        return out

    def argv(self) -> list[str]:
        return [json.dumps({"k": self.layout, **self.args}, separators=(",", ":"))]


def _run_keys(k: Keys, eid: str, trids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Task run id -> {tr, lease}: the keys of task runs a step may touch."""
    return {t: {"tr": k.task_run(eid, t), "lease": k.lease(eid, t)} for t in trids}


def _group_nested(step: _Step, name: str, keys: Mapping[str, Mapping[str, str]]) -> None:
    step.layout[name] = {
        outer: {inner: step.index(key) for inner, key in d.items()} for outer, d in keys.items()
    }


#: The message of a truncation marker, the limit left for ``append_log.lua`` to fill in.
_TRUNCATED = truncation_message(LIMIT_PLACEHOLDER)

#: Moves that end an execution in ``finish.lua`` come from RUNNING to one of these.
_END_STATES = (StateType.SUCCESS, StateType.WARNING, StateType.FAILED, StateType.KILLED)


class RedisStore:
    """Reads and writes Ostra's state in one Redis database, under ``keys.prefix``."""

    def __init__(
        self, client: redis.Redis, keys: Keys | None = None, log_limits: LogLimits | None = None
    ) -> None:
        self.r = client
        self.k = keys or Keys()
        self.log_limits = log_limits or LogLimits.from_settings()
        self._scripts: dict[str, Script] = {
            name: client.register_script(_script_source(name))
            for name in (
                "exec_transition",
                "create",
                "start",
                "finish",
                "kill",
                "restart",
                "tr_transition",
                "labels",
                "child_ended",
                "flowable_start",
                "admit",
                "release",
                "promote",
                "purge",
                "submit",
                "end_execution",
                "kv_set",
                "renew",
                "reindex",
                "resend",
                "append_log",
                "flow_window",
                "due_claim",
                "due_advance",
                "due_unlock",
            )
        }
        self._flow_cache: dict[tuple[str, str, int], Flow] = {}
        #: execution id -> its scope indexes (an execution's flow never changes)
        self._scope_cache: dict[str, list[str]] = {}

    def _remember(self, eid: str, namespace: str, flow_id: str) -> list[str]:
        scopes = self.k.scopes(namespace, flow_id)
        if len(self._scope_cache) > 10_000:
            self._scope_cache.clear()
        self._scope_cache[eid] = scopes
        return scopes

    def _scopes(self, eid: str) -> list[str]:
        """The scope indexes of execution ``eid`` (``Keys.scopes``), which a step that may
        move its state is given: cached, else read (none for no such execution)."""
        cached = self._scope_cache.get(eid)
        if cached is not None:
            return cached
        ns, fid = self.r.hmget(self.k.execution(eid), "namespace", "flowId")
        if ns is None or fid is None:
            return []
        return self._remember(eid, _s(ns), _s(fid))

    def _call(self, name: str, step: _Step) -> dict[str, Any]:
        """Run script ``name`` for ``step``; its reply, decoded (a JSON object)."""
        raw = self._scripts[name](keys=step.keys, args=step.argv())
        return cast(dict[str, Any], json.loads(raw))

    @classmethod
    def from_url(cls, url: str, prefix: str = "ostra") -> RedisStore:
        client = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        )
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
                    pipe.set(
                        self.k.flow_revision(flow.namespace, flow.id, revision),
                        json.dumps(stored.to_dict()),
                    )
                    pipe.hset(key, mapping={"revision": revision, "digest": digest})
                    pipe.zadd(self.k.flows, {f"{flow.namespace}:{flow.id}": time.time()})
                    self._listen(pipe, stored)
                    pipe.execute()
                    schedule_sync(self, stored)
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

    @_translate
    def deploy_flow_source(self, flow: Flow, source: str) -> Flow:
        """``deploy_flow`` keeping ``source`` byte for byte; after ``delete_flow`` the
        revisions continue from the last one (``deleted``), never overwriting one."""
        key = self.k.flow(flow.namespace, flow.id)
        digest = flow.digest()
        while True:
            with self.r.pipeline() as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    latest, old_digest, deleted = pipe.hmget(key, "revision", "digest", "deleted")
                    pipe.multi()
                    if latest is not None and _s(old_digest) == digest:
                        revision = int(latest)
                        stored = flow.model_copy(update={"revision": revision})
                    else:
                        revision = int(latest or deleted or 0) + 1
                        stored = flow.model_copy(update={"revision": revision})
                        pipe.set(
                            self.k.flow_revision(flow.namespace, flow.id, revision),
                            json.dumps(stored.to_dict()),
                        )
                        pipe.hset(key, mapping={"revision": revision, "digest": digest})
                        pipe.hdel(key, "deleted")
                        pipe.zadd(self.k.flows, {f"{flow.namespace}:{flow.id}": time.time()})
                        self._listen(pipe, stored)
                    # The same definition sent as another text: that text becomes the
                    # revision's source (the revision number follows the definition).
                    pipe.set(self.k.flow_source(flow.namespace, flow.id, revision), source)
                    pipe.execute()
                    schedule_sync(self, stored)
                    return stored
                except redis.WatchError:
                    continue  # another deploy of the same flow won the race; look again

    def _listen(self, pipe: Any, flow: Flow) -> None:
        """Keep ``flow`` in the set of flows with a Flow trigger (or out of it), and in
        the listeners of each state other than ends its triggers list (and out of the
        others), in the deploy's transaction."""
        member = f"{flow.namespace}:{flow.id}"
        if listens(flow):
            pipe.sadd(self.k.flow_listeners, member)
        else:
            pipe.srem(self.k.flow_listeners, member)
        states = listened_states(flow)
        if states:
            pipe.zadd(self.k.flow_state_listeners, {f"{s}|{member}": 0 for s in states})
        others = [f"{s}|{member}" for s in OTHER_STATES if s not in states]
        if others:
            pipe.zrem(self.k.flow_state_listeners, *others)

    @_translate
    def flow_source(self, namespace: str, flow_id: str, revision: int) -> str | None:
        raw = self.r.get(self.k.flow_source(namespace, flow_id, revision))
        return None if raw is None else raw.decode("utf-8") if isinstance(raw, bytes) else raw

    @_translate
    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Drop the flow's latest pointer and its listing (revisions stay, by number); the
        deletion takes a revision number, as in Kestra."""
        key = self.k.flow(namespace, flow_id)
        while True:
            with self.r.pipeline() as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    latest = pipe.hget(key, "revision")
                    if latest is None:
                        pipe.unwatch()  # type: ignore[no-untyped-call]
                        return False
                    pipe.multi()
                    pipe.delete(key)
                    # Kestra's FlowWithSource.toDeleted: the deletion is a revision of its own
                    pipe.hset(key, "deleted", int(latest) + 1)
                    pipe.zrem(self.k.flows, f"{namespace}:{flow_id}")
                    pipe.srem(self.k.flow_listeners, f"{namespace}:{flow_id}")
                    pipe.zrem(
                        self.k.flow_state_listeners,
                        *(f"{s}|{namespace}:{flow_id}" for s in OTHER_STATES),
                    )
                    pipe.execute()
                    schedule_deleted(self, namespace, flow_id, int(latest))
                    return True
                except redis.WatchError:
                    continue  # deployed meanwhile: look again

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
        attempt: tuple[int, float] | None = None,
        origin: ExecutionTrigger | None = None,
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
            fields["attemptNumber"], fields["originalCreated"] = str(attempt[0]), repr(attempt[1])
        if origin is not None:
            fields["trig"] = origin.model_dump_json(by_alias=True)
        copied = [
            {
                "identity": identity(
                    c["taskId"],
                    c.get("parentTaskRunId") or None,
                    c.get("value") or None,
                    int(c["iteration"]) if c.get("iteration") else None,
                ),
                "fields": c,
            }
            for c in copies
        ]
        step = _Step(
            eid=eid,
            date=date,
            now=repr(now),
            deadline=_num(pending_deadline),
            onlyIfAbsent=only_if_absent,
            fields=fields,
            copies=copied,
        )
        step.key(
            exec=k.execution(eid),
            events=k.events(eid),
            trkey=k.task_run_keys(eid),
            trs=k.task_runs(eid),
            active=k.active,
            tv=k.value_index(eid),
            all=k.index_all,
            flow=k.index_flow(flow.namespace, flow.id),
            created=k.index_state("CREATED"),
        )
        scopes = self._remember(eid, flow.namespace, flow.id)
        step.group(
            "adds", _search_entries(k, scopes, "CREATED", ((lb.key, lb.value) for lb in labels))
        )
        if trigger:
            step.key(subflows=k.subflows(trigger[0]))
        step.group("copies", [k.task_run(eid, c["id"]) for c in copies])
        step.args["rows"] = step.rows(k, eid, first)
        out = self._call("submit", step)
        _check_queue(out)
        if _status(out) != Status.OK:
            return None
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

    @_translate
    def admit(self, eid: str, flow: Flow) -> Status:
        """Take a concurrency slot for a new execution, or queue, cancel or fail it
        (see ``admit.lua``)."""
        assert flow.concurrency is not None
        k = self.k
        ns, fid = flow.namespace, flow.id
        step = _Step(
            eid=eid,
            limit=str(flow.concurrency.limit),
            behavior=str(flow.concurrency.behavior),
            date=iso(),
            flow=f"{ns}:{fid}",
        )
        step.key(
            exec=k.execution(eid),
            events=k.events(eid),
            xev=k.execution_events(eid),
            conc=k.concurrency_running(ns, fid),
            concq=k.concurrency_queue(ns, fid),
            flows=k.concurrency_flows,
        )
        step.state_index(k, ("CREATED", "QUEUED", "CANCELLED", "FAILED"), k.scopes(ns, fid))
        return _status(self._call("admit", step))

    @_translate
    def release_slot(self, eid: str, namespace: str, flow_id: str, limit: int) -> None:
        """Free a slot held by an execution that ended without freeing it (recovery; refused
        while the execution has not ended). ``limit`` is not needed any more: queued
        executions take free slots in ``pop_promoted``."""
        k = self.k
        step = _Step(eid=eid).key(
            exec=k.execution(eid),
            conc=k.concurrency_running(namespace, flow_id),
            concq=k.concurrency_queue(namespace, flow_id),
        )
        self._call("release", step)

    @_translate
    def slot_holders(self) -> list[tuple[str, str, list[str]]]:
        """(namespace, flow id, execution ids holding a slot) of flows with a limit."""
        out = []
        for raw in self.r.smembers(self.k.concurrency_flows):  # type: ignore[union-attr]
            ns, _, fid = _s(raw).partition(":")
            members = [
                _s(m)
                for m in self.r.smembers(  # type: ignore[union-attr]
                    self.k.concurrency_running(ns, fid)
                )
            ]
            out.append((ns, fid, members))
        return out

    @_translate
    def pop_promoted(self) -> list[str]:
        """Let queued executions take free concurrency slots, in queue order, and return
        them (QUEUED -> CREATED, each holding a slot): the caller starts them.

        Promotion is a step of its own (``promote.lua``), run by whoever frees a slot
        (the orchestrator after an execution of a flow with a limit ends, the reconciler
        on every sweep): for each flow with a limit, read the queue's head, then promote
        it only if it is still the head and a slot is still free, so racing callers
        never admit more than the limit.
        """
        k = self.k
        flows = [_s(f).partition(":") for f in self.r.smembers(k.concurrency_flows)]  # type: ignore[union-attr]
        promoted: list[str] = []
        for ns, _, fid in flows:
            queue = k.concurrency_queue(ns, fid)
            for _ in range(1000):  # bounded: a step either takes the head or stops
                head: Any = self.r.lindex(queue, 0)
                if head is None:
                    break
                eid = _s(head)
                step = _Step(eid=eid, date=iso()).key(
                    exec=k.execution(eid),
                    events=k.events(eid),
                    xev=k.execution_events(eid),
                    conc=k.concurrency_running(ns, fid),
                    concq=queue,
                )
                step.state_index(k, ("QUEUED", "CREATED"), k.scopes(ns, fid))
                status = _status(self._call("promote", step))
                if status == Status.OK:
                    promoted.append(eid)
                elif status not in (Status.CONFLICT, Status.DROPPED):
                    break  # FULL: no free slot
        return promoted

    @_translate
    def subflow_executions(self, eid: str) -> list[str]:
        return [_s(m) for m in self.r.smembers(self.k.subflows(eid))]  # type: ignore[union-attr]

    @_translate
    def create_task_runs(
        self, eid: str, items: list[NewRow], pending_deadline: float, ended: str = ""
    ) -> Created:
        """Create task runs once each, pushing the message of each new one that has one
        (unless the execution is PAUSED, which holds them until resumed).

        ``ended`` is the task run whose end led here: it leaves the active set in the same
        step. Returns the execution's state and (id, created) pairs (the id of an existing
        task run of the same identity when it was not created); no pairs when the
        execution refuses new task runs (KILLING or ended).
        """
        k = self.k
        step = _Step(
            eid=eid,
            date=iso(),
            deadline=_num(pending_deadline),
            ended=active_member(eid, ended) if ended else "",
        )
        step.key(
            exec=k.execution(eid),
            trkey=k.task_run_keys(eid),
            trs=k.task_runs(eid),
            events=k.events(eid),
            active=k.active,
            tv=k.value_index(eid),
        )
        step.args["rows"] = step.rows(k, eid, items)
        out = self._call("create", step)
        _check_queue(out)
        return _created(out)

    @_translate
    def transition_execution(
        self, eid: str, to: StateType, expected: StateType | None = None, **fields: Any
    ) -> Moved:
        """Compare-and-set the execution's state. Returns (status, state) as in the script."""
        k = self.k
        step = _Step(
            eid=eid,
            to=to.value,
            date=iso(),
            expected=expected.value if expected else "",
            fields={name: str(value) for name, value in fields.items()},
        )
        step.key(exec=k.execution(eid), events=k.events(eid), xev=k.execution_events(eid))
        step.state_index(k, sorted(allowed_sources(to)), self._scopes(eid))
        out = self._call("exec_transition", step)
        if out["status"] == "KEYS":
            # It ends an execution of a flow with a concurrency limit: its slot is freed
            # in the same step, with the keys of that flow's slots (nothing was written).
            ns, fid = out["namespace"], out["flowId"]
            step.key(conc=k.concurrency_running(ns, fid), concq=k.concurrency_queue(ns, fid))
            out = self._call("exec_transition", step)
        return _moved(out)

    @_translate
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
        """Compare-and-set one task run's state (see ``tr_transition.lua``)."""
        k = self.k
        step = _Step(
            eid=eid,
            trid=trid,
            to=to.value,
            date=iso(),
            expected=expected.value if expected else "",
            active=_num(active) if isinstance(active, float | int) else active,
            fields={name: str(value) for name, value in fields.items()},
        )
        step.key(tr=k.task_run(eid, trid), events=k.events(eid), active=k.active)
        return _moved(self._call("tr_transition", step))

    @_translate
    def update_labels(self, eid: str, labels: Mapping[str, str]) -> Status:
        """Add ``labels`` to a running execution (see ``labels.lua``)."""
        k = self.k
        for _ in range(100):  # again only if the labels changed between the read and the step
            raw: Any = self.r.hget(k.execution(eid), "labels")
            pairs = _label_pairs(raw)
            step = _Step(eid=eid, labels=[[key, v] for key, v in labels.items()])
            step.key(exec=k.execution(eid))
            step.group(
                "lab",
                {label_id(a, b): k.index_label(a, b) for a, b in [*pairs, *labels.items()]},
            )
            status = _status(self._call("labels", step))
            if status != Status.KEYS:
                return status
        raise StoreError(f"update labels of {eid}: its labels keep changing")

    @_translate
    def end_execution(
        self,
        eid: str,
        final: StateType,
        expected: StateType,
        task_runs: list[TaskRunRow],
        outputs: Mapping[str, Any] | None = None,
    ) -> Moved:
        """End an execution in ``final`` if it is still as read: in state ``expected``,
        with exactly ``task_runs``, each in its state (see ``end_execution.lua``)."""
        k = self.k
        step = _Step(
            eid=eid,
            final=final.value,
            date=iso(),
            expected=expected.value,
            states=[r.state.value for r in task_runs],
            now=_num(time.time()),
            outputs=json.dumps(dict(outputs), default=str) if outputs is not None else "",
        )
        step.key(
            exec=k.execution(eid),
            events=k.events(eid),
            xev=k.execution_events(eid),
            trs=k.task_runs(eid),
            ended=k.index_ended,
        )
        # the end, or RUNNING then the end for an execution not started yet
        step.state_index(
            k,
            sorted(allowed_sources(final) | allowed_sources(StateType.RUNNING)),
            self._scopes(eid),
        )
        step.group("runs", [k.task_run(eid, r.id) for r in task_runs])
        out = self._call("end_execution", step)
        if out["status"] == "KEYS":  # a flow with a concurrency limit: free its slot too
            ns, fid = out["namespace"], out["flowId"]
            step.key(conc=k.concurrency_running(ns, fid), concq=k.concurrency_queue(ns, fid))
            out = self._call("end_execution", step)
        return _moved(out)

    @_translate
    def kill_execution(self, eid: str) -> Killed:
        """Kill an execution (see ``kill.lua``): (status, state, task runs still running)."""
        k = self.k
        states = allowed_sources(StateType.KILLING) | {StateType.KILLED}
        for _ in range(100):  # again only if a task run was created meanwhile
            with self.r.pipeline(transaction=False) as pipe:
                pipe.lrange(k.task_runs(eid), 0, -1)
                pipe.hmget(k.execution(eid), "namespace", "flowId", "concLimit")
                trids, (ns, fid, limit) = pipe.execute()
            step = _Step(eid=eid, date=iso())
            step.key(
                exec=k.execution(eid),
                events=k.events(eid),
                trs=k.task_runs(eid),
                active=k.active,
                xev=k.execution_events(eid),
            )
            step.state_index(k, sorted(states), k.scopes(_s(ns), _s(fid)) if ns is not None else [])
            if limit is not None and ns is not None:
                step.key(
                    conc=k.concurrency_running(_s(ns), _s(fid)),
                    concq=k.concurrency_queue(_s(ns), _s(fid)),
                )
            _group_nested(step, "runs", _run_keys(k, eid, (_s(t) for t in trids)))
            out = self._call("kill", step)
            if out["status"] != "KEYS":
                return _killed(out)
        raise StoreError(f"kill {eid}: task runs keep being created")

    @_translate
    def restart_execution(
        self, eid: str, dropped_tasks: list[str], pending_deadline: float
    ) -> Restarted:
        """Restart an ended execution in place (see ``restart.lua``)."""
        k = self.k
        for _ in range(100):  # again only if a task run was created meanwhile
            trids = [_s(t) for t in self.r.lrange(k.task_runs(eid), 0, -1)]
            step = _Step(
                eid=eid, date=iso(), deadline=_num(pending_deadline), dropped=list(dropped_tasks)
            )
            step.key(
                exec=k.execution(eid),
                events=k.events(eid),
                trs=k.task_runs(eid),
                trkey=k.task_run_keys(eid),
                tv=k.value_index(eid),
                active=k.active,
                ended=k.index_ended,
                xev=k.execution_events(eid),
            )
            step.state_index(k, ("FAILED", "KILLED", "RESTARTED"), self._scopes(eid))
            _group_nested(step, "runs", _run_keys(k, eid, trids))
            out = self._call("restart", step)
            if out["status"] != "KEYS":
                return _restarted(out)
        raise StoreError(f"restart {eid}: task runs keep being created")

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
    def execution_origin(self, eid: str) -> tuple[str, str, float] | None:
        ns, fid, created = self.r.hmget(self.k.execution(eid), "namespace", "flowId", "created")
        if ns is None:
            return None
        return _s(ns), _s(fid or b""), float(created or 0)

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
        """Claim task run ``trid`` and start its next attempt (see ``start.lua``)."""
        k = self.k
        now = time.time()
        step = _Step(
            eid=eid,
            trid=trid,
            date=iso(),
            now=f"{now:.6f}",
            worker=worker_id,
            holder=lease_holder(worker_id, token),
            lease=str(int(lease_s * 1000)),
            force=force,
            lost=str(max_deliveries),
        )
        step.key(
            exec=k.execution(eid),
            tr=k.task_run(eid, trid),
            events=k.events(eid),
            lease=k.lease(eid, trid),
            active=k.active,
            xev=k.execution_events(eid),
        )
        step.state_index(k, _START_FROM, self._scopes(eid))
        return _start_result(self._call("start", step))

    @_translate
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
        """Record how attempt ``attempt`` ended (see ``finish.lua``); for a child of a
        flowable (``parent``), its end is counted on the flowable in the same step. For a
        top-level task run, ``then`` holds the next task runs decided for one end state:
        if it ends in that state, they are created (and sent) in the same step."""
        k = self.k
        step = _Step(
            eid=eid,
            trid=trid,
            date=iso(),
            n=str(attempt),
            aend=attempt_state.value,
            trend=task_run_state.value,
            outputs=json.dumps(dict(outputs), default=str) if outputs else "",
            retryAt=f"{retry_at:.6f}" if retry_at else "",
            deadline=f"{active_deadline:.6f}",
            error=error[:4000],
            metrics=[m.model_dump_json(by_alias=True) for m in metrics],
            holder=holder,
        )
        step.key(
            exec=k.execution(eid),
            tr=k.task_run(eid, trid),
            events=k.events(eid),
            lease=k.lease(eid, trid),
            active=k.active,
            metrics=k.metrics(eid),
        )
        if task_run_state == StateType.RETRYING:
            step.key(xev=k.execution_events(eid))
            step.state_index(k, (StateType.RUNNING, StateType.RETRYING), self._scopes(eid))
        if parent:
            step.args["child"] = {
                "errors": errors_branch,
                "iteration": "" if iteration is None else str(iteration),
            }
            step.key(
                flowable=k.task_run(eid, parent),
                ended=k.children_ended(eid, parent),
                values=k.loop_values(eid, parent),
            )
        elif then is not None:
            step.key(trkey=k.task_run_keys(eid), trs=k.task_runs(eid), tv=k.value_index(eid))
            if then.rows:
                step.args["then"] = {
                    "state": then.state.value,
                    "kind": "NEXT",
                    "deadline": _num(then.pending_deadline),
                    "rows": step.rows(k, eid, then.rows),
                }
            else:
                step.args["then"] = {
                    "state": then.state.value,
                    "kind": "END",
                    "now": f"{time.time():.6f}",
                }
                step.key(xev=k.execution_events(eid), ended=k.index_ended)
                step.state_index(k, (StateType.RUNNING, *_END_STATES), self._scopes(eid))
                # The other task runs' keys: given (ids derived from the task ids, so
                # the caller knows them without a read), else read here. The script
                # checks they are all the task runs the execution has.
                siblings = then.siblings or [_s(t) for t in self.r.lrange(k.task_runs(eid), 0, -1)]
                step.group(
                    "siblings", [k.task_run(eid, t) for t in dict.fromkeys(siblings) if t != trid]
                )
        return _finished(self._call("finish", step), parent)

    @_translate
    def renew_leases(
        self,
        leases: Mapping[tuple[str, str], float],
        holders: Mapping[tuple[str, str], str] | None = None,
    ) -> set[tuple[str, str]]:
        """Extend the leases of running attempts (the heartbeat): one round trip for all;
        a lease with a holder in ``holders`` only if it holds it (``renew.lua``)."""
        now = time.time()
        holders = holders or {}
        checked: list[tuple[str, str]] = []
        script = self._scripts["renew"]
        with self.r.pipeline(transaction=False) as pipe:
            for (eid, trid), lease_s in leases.items():
                holder = holders.get((eid, trid))
                if holder is None:
                    pipe.pexpire(self.k.lease(eid, trid), int(lease_s * 1000))
                    pipe.zadd(self.k.active, {active_member(eid, trid): now + lease_s})
                    continue
                step = _Step(
                    holder=holder,
                    ms=str(int(lease_s * 1000)),
                    deadline=f"{now + lease_s:.6f}",
                    member=active_member(eid, trid),
                )
                step.key(lease=self.k.lease(eid, trid), active=self.k.active)
                script(keys=step.keys, args=step.argv(), client=pipe)
                checked.append((eid, trid))
            replies = pipe.execute()
        held = [json.loads(r) for r in replies if isinstance(r, (bytes, str))]
        return {key for key, out in zip(checked, held, strict=True) if not out["held"]}

    @_translate
    def append_log(self, entry: LogEntry) -> Status:
        """Append a log entry within its task run's budget (``append_log.lua``)."""
        assert entry.execution_id
        eid, limits = entry.execution_id, self.log_limits
        entry = prepared(entry, limits)
        raw = entry.model_dump_json(by_alias=True)
        step = _Step(
            run=budget_field(entry),
            entry=raw,
            size=str(len(raw.encode())),
            maxBytes=str(limits.max_bytes),
            maxLines=str(limits.max_lines),
            marker=_TRUNCATED,
        )
        step.key(logs=self.k.logs(eid), used=self.k.log_budget(eid))
        return _status(self._call("append_log", step))

    # ------------------------------------------------------------------ orchestration

    @_translate
    def task_run_outputs(
        self, eid: str, task_id: str, value: str | None = None
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
        """Start a flowable task run with its plan (see ``flowable_start.lua``)."""
        k = self.k
        step = _Step(
            eid=eid,
            trid=trid,
            date=iso(),
            mode=mode,
            T=str(width),
            total=str(total),
            expected=str(expected),
            cn=str(claimed),
            plan=plan,
            values=list(values),
            outputs=outputs,
        )
        step.key(
            exec=k.execution(eid),
            tr=k.task_run(eid, trid),
            events=k.events(eid),
            ended=k.children_ended(eid, trid),
            values=k.loop_values(eid, trid),
            flowables=k.flowables(eid),
            xev=k.execution_events(eid),
        )
        step.state_index(k, _START_FROM, self._scopes(eid))
        return _status(self._call("flowable_start", step))

    @_translate
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
        """Count a child's end on its flowable, once (see ``child_ended.lua``)."""
        k = self.k
        step = _Step(
            child=child,
            klass=klass,
            task=task_id,
            iteration="" if iteration is None else str(iteration),
            errors=errors_branch,
            eid=eid,
        )
        step.key(
            flowable=k.task_run(eid, parent),
            ended=k.children_ended(eid, parent),
            values=k.loop_values(eid, parent),
            active=k.active,
        )
        return _child_end(parent, self._call("child_ended", step))

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
        step = _Step(
            message=message.payload,
            date=iso(),
            now=_num(now),
            grace=_num(grace),
            group=group,
            check=check,
        ).key(
            tr=self.k.task_run(eid, trid),
            queue=message.queue_key,
            # kombu's Redis transport: Channel.unacked_key / unacked_index_key.
            unacked=broker_prefix + "unacked",
            uindex=broker_prefix + "unacked_index",
        )
        out = self._call("resend", step)
        return Resent(out["status"], out.get("since") or "")

    @_translate
    def clear_active(self, eid: str, trid: str) -> None:
        self.r.zrem(self.k.active, active_member(eid, trid))

    @_translate
    def set_active(self, eid: str, trid: str, deadline: float) -> None:
        self.r.zadd(self.k.active, {active_member(eid, trid): deadline})

    @_translate
    def due_active(self, now: float, limit: int = 200) -> list[tuple[str, str]]:
        """Unfinished task runs whose deadline passed (for the reconciler)."""
        members = [
            _s(m) for m in self.r.zrangebyscore(self.k.active, "-inf", now, start=0, num=limit)
        ]
        # A member that names no task run (written by hand) is dropped, not swept forever.
        bad = [m for m in members if "|" not in m]
        if bad:
            self.r.zrem(self.k.active, *bad)
        return [(e, t) for e, _, t in (m.partition("|") for m in members if "|" in m)]

    @_translate
    def back_off_active(
        self, eid: str, trid: str, now: float, base: float, cap: float
    ) -> tuple[int, float]:
        member = active_member(eid, trid)
        failures = int(self.r.hincrby(self.k.active_failures, member, 1))
        deadline = now + min(cap, base * 2 ** min(failures - 1, 62))
        self.r.zadd(self.k.active, {member: deadline})
        return failures, deadline

    @_translate
    def active_failures(self, eid: str, trid: str) -> int:
        """Failed sweeps in a row of an active entry."""
        return int(self.r.hget(self.k.active_failures, active_member(eid, trid)) or 0)

    @_translate
    def forget_active_failures(self, entries: Iterable[tuple[str, str]]) -> None:
        members = [active_member(e, t) for e, t in entries]
        if members:
            self.r.hdel(self.k.active_failures, *members)
        # Entries that left the active set by another way (their task run ended) keep
        # their count: a few are checked at each call, so the hash stays as small as
        # the set of entries failing now.
        sample = [_s(m) for m in self.r.hrandfield(self.k.active_failures, 20) or []]
        if sample:
            scores = self.r.zmscore(self.k.active, sample)
            gone = [m for m, sc in zip(sample, scores, strict=True) if sc is None]
            if gone:
                self.r.hdel(self.k.active_failures, *gone)

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
    def record_sweep(self, at: float) -> None:
        self.r.set(self.k.reconciler_last_sweep, repr(at))

    @_translate
    def last_sweep(self) -> float | None:
        raw = self.r.get(self.k.reconciler_last_sweep)
        return float(raw) if raw is not None else None

    @_translate
    def worker_seen(self, name: str, at: float, queues: Iterable[str] = ()) -> None:
        with self.r.pipeline(transaction=False) as pipe:
            pipe.zadd(self.k.workers, {name: at})
            pipe.zremrangebyscore(self.k.workers, "-inf", at - WORKER_MEMORY_S)
            names = {q: at for q in queues}
            if names:
                pipe.zadd(self.k.worker_queues, names)  # type: ignore[arg-type]
            pipe.zremrangebyscore(self.k.worker_queues, "-inf", at - WORKER_MEMORY_S)
            pipe.execute()

    @_translate
    def queues_seen(self, since: float) -> list[str]:
        return sorted(_s(q) for q in self.r.zrangebyscore(self.k.worker_queues, since, "+inf"))

    @_translate
    def workers_seen(self, since: float) -> list[tuple[str, float]]:
        rows = cast(
            "list[tuple[bytes, float]]",
            self.r.zrevrangebyscore(self.k.workers, "+inf", since, withscores=True),
        )
        return [(_s(name), float(at)) for name, at in rows]

    @_translate
    def drop_lease(self, eid: str, trid: str) -> None:
        self.r.delete(self.k.lease(eid, trid))

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
        ids = [
            _s(e)
            for e in self.r.zrangebyscore(k.index_ended, "-inf", older_than, start=0, num=limit)
        ]
        purged = 0
        unknown = []
        for eid in ids:
            status = self._purge(eid, older_than)
            purged += status != Status.KEPT
            if status == Status.GONE:
                unknown.append(eid)
        if unknown:
            with self.r.pipeline(transaction=False) as pipe:
                for ns, fid in self.list_flows():
                    pipe.zrem(k.index_flow(ns, fid), *unknown)
                pipe.execute()
        return purged

    @_translate
    def delete_execution(self, eid: str) -> bool:
        """Delete an ended execution now (``purge.lua``, as the retention sweep does)."""
        state = self.execution_state(eid)
        if state is None:
            return False
        if not state.is_terminated():
            raise StateConflict(f"execution {eid} is {state.value}: only an ended one is deleted")
        # Into the retention index if not there yet, so that purge.lua takes it; the
        # script checks the state again (a restart meanwhile keeps it).
        self.r.zadd(self.k.index_ended, {eid: time.time()}, nx=True)
        status = self._purge(eid, time.time() + 1e9)
        if status == Status.KEPT:
            raise StateConflict(f"execution {eid} is running again: only an ended one is deleted")
        if status == Status.GONE:
            with self.r.pipeline(transaction=False) as pipe:
                for ns, fid in self.list_flows():
                    pipe.zrem(self.k.index_flow(ns, fid), eid)
                pipe.execute()
        return True

    def _purge(self, eid: str, older_than: float) -> Status:
        """Delete one execution (``purge.lua``): OK, KEPT (not due) or GONE (its hash was
        gone already)."""
        k = self.k
        for _ in range(100):  # again only if a task run was created meanwhile
            with self.r.pipeline(transaction=False) as pipe:
                pipe.hmget(k.execution(eid), "namespace", "flowId", "labels")
                pipe.lrange(k.task_runs(eid), 0, -1)
                pipe.smembers(k.flowables(eid))
                (ns, fid, labels), trids, flowables = pipe.execute()
            step = _Step(eid=eid, before=_num(older_than))
            step.key(exec=k.execution(eid), ended=k.index_ended, all=k.index_all)
            scopes = k.scopes(_s(ns), _s(fid)) if ns is not None and fid is not None else []
            if ns is not None:
                step.key(flow=k.index_flow(_s(ns), _s(fid)))
            step.state_index(k, sorted(TERMINAL), scopes)
            step.group("scopes", scopes)
            pairs = _label_pairs(labels)
            step.group("lab", {label_id(a, b): k.index_label(a, b) for a, b in pairs})
            step.group(
                "own",
                {
                    "xev": k.execution_events(eid),
                    "trs": k.task_runs(eid),
                    "tv": k.value_index(eid),
                    "flowables": k.flowables(eid),
                    "subflows": k.subflows(eid),
                    "trkey": k.task_run_keys(eid),
                    "metrics": k.metrics(eid),
                    "logs": k.logs(eid),
                    "logsused": k.log_budget(eid),
                    "events": k.events(eid),
                },
            )
            _group_nested(step, "runs", _run_keys(k, eid, (_s(t) for t in trids)))
            _group_nested(
                step,
                "flowables",
                {
                    _s(t): {
                        "ended": k.children_ended(eid, _s(t)),
                        "values": k.loop_values(eid, _s(t)),
                    }
                    for t in flowables
                },
            )
            status = _status(self._call("purge", step))
            self._scope_cache.pop(eid, None)
            if status != Status.KEYS:
                return status
        raise StoreError(f"purge {eid}: task runs keep being created")

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
        task_runs = [
            task_run_of(eid, x, {_s(a): _s(b) for a, b in fields.items()})
            for fields in raw
            if fields
        ]
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
            task_run_list=task_runs,
        )

    @_translate
    def logs(self, eid: str) -> list[LogEntry]:
        if not self.r.exists(self.k.execution(eid)):
            raise ExecutionNotFound(eid)
        return [LogEntry.model_validate_json(e) for e in self.r.lrange(self.k.logs(eid), 0, -1)]

    @_translate
    def logs_page(
        self,
        eid: str,
        *,
        cursor: int = 0,
        offset: int = 0,
        limit: int | None = None,
        query: LogQuery | None = None,
    ) -> LogPage:
        """A page of the log (``executor.loglimits.page_of``): without a filter, one
        LRANGE of the page; with one, the log from ``cursor`` on, read in chunks."""
        check_page(cursor, offset, limit)
        query = query or LogQuery()
        key = self.k.logs(eid)
        if query.everything:
            # LLEN and the page in one MULTI, so the end they tell agrees.
            start = cursor + offset
            stop = -1 if limit is None else start + limit - 1
            with self.r.pipeline(transaction=True) as pipe:
                pipe.exists(self.k.execution(eid))
                pipe.llen(key)
                pipe.lrange(key, start, stop)
                exists, length, raws = pipe.execute()
            if not exists:
                raise ExecutionNotFound(eid)
            full = limit is not None and len(raws) == limit
            return LogPage(
                results=[LogEntry.model_validate_json(e) for e in raws],
                total=max(0, length - cursor),
                next_cursor=start + len(raws) if full else max(cursor, length),
            )
        if not self.r.exists(self.k.execution(eid)):
            raise ExecutionNotFound(eid)
        page = page_of(
            self._log_chunks(key, cursor), cursor=cursor, offset=offset, limit=limit, query=query
        )
        return LogPage(
            results=[LogEntry.model_validate_json(e) for e in page.raws],
            total=page.total,
            next_cursor=page.next_cursor,
        )

    def _log_chunks(self, key: str, cursor: int, size: int = 2000) -> Iterator[list[Any]]:
        """The log from position ``cursor`` on, ``size`` entries at a time (entries are
        only appended, so consecutive ranges neither skip nor repeat one)."""
        start = cursor
        while True:
            chunk = self.r.lrange(key, start, start + size - 1)
            yield chunk
            if len(chunk) < size:
                return
            start += size

    @_translate
    def metrics(self, eid: str) -> list[MetricEntry]:
        if not self.r.exists(self.k.execution(eid)):
            raise ExecutionNotFound(eid)
        return [
            MetricEntry.model_validate_json(e) for e in self.r.lrange(self.k.metrics(eid), 0, -1)
        ]

    @_translate
    def last_execution_event_id(self, eid: str) -> str:
        last = self.r.xrevrange(self.k.execution_events(eid), count=1)
        return _s(last[0][0]) if last else "0"

    @_translate
    def read_execution_events(
        self, eid: str, last_id: str, block_ms: int
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
    def read_events(
        self, eid: str, last_id: str = "0", block_ms: int | None = None
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
                out += changes_of(eid, _s(entry_id), json.loads(f[b"e"]))[int(index) + 1 :]
            if out:
                block_ms = None
        res: Any = self.r.xread({self.k.events(eid): entry}, block=block_ms, count=1000)
        for _stream, entries in res or []:
            for entry_id, f in entries:
                out += changes_of(eid, _s(entry_id), json.loads(f[b"e"]))
        return out

    @_translate
    def rebuild_search_indexes(self, batch: int = 500) -> int:
        """Put every execution in the search's indexes (``reindex.lua``); how many.

        For executions stored before these indexes existed (an upgrade): without it they
        are found unfiltered, by state and by flow, but not by the other filters. Safe
        while Ostra runs, and to run again: each execution is indexed as it is at that
        moment, or read again if it moved meanwhile.
        """
        k = self.k
        total, start = 0, 0
        while True:
            ids = [_s(e) for e in self.r.zrange(k.index_all, start, start + batch - 1)]
            if not ids:
                return total
            start += len(ids)
            for _ in range(10):  # again for those that moved between the read and the step
                with self.r.pipeline(transaction=False) as pipe:
                    for eid in ids:
                        pipe.hmget(k.execution(eid), "namespace", "flowId", "state", "labels")
                    read = pipe.execute()
                step = _Step(rows=[])
                items = []
                for eid, (ns, fid, state, labels) in zip(ids, read, strict=True):
                    if ns is None or fid is None or state is None:
                        continue
                    scopes = k.scopes(_s(ns), _s(fid))
                    adds = _search_entries(k, scopes, _s(state), _label_pairs(labels))
                    exec_key = step.index(k.execution(eid))
                    items.append({"exec": exec_key, "adds": [step.index(a) for a in adds]})
                    step.args["rows"].append(
                        {"eid": eid, "state": _s(state), "labels": _s(labels) if labels else ""}
                    )
                if not items:
                    break
                step.layout["items"] = items
                out = self._call("reindex", step)
                total += int(out["done"])
                ids = [str(e) for e in out.get("again") or []]
                if not ids:
                    break

    @_translate
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

    @_translate
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
        """A page of execution ids, newest first, and how many match in all.

        A filter by flow, namespace, namespace prefix and/or state is one sorted set (the
        scope's per-state index, kept by every state move): the page is one range and the
        total its ``ZCARD``, whatever the number of executions; so is one label alone.
        Labels with other filters (or more than one), and a flow id with a namespace
        prefix, intersect sets (``ZINTERSTORE``, linear in the smallest set) into a key
        deleted in the same transaction. A creation range reads the same sets by score
        (their creation times): ``ZCOUNT`` and ``ZREVRANGEBYSCORE``. Several states are
        the union of their indexes (``ZUNIONSTORE``, linear in their sizes), in the same
        transaction.
        """
        if offset < 0:
            raise ValueError(f"a search's offset starts at 0, got {offset}")
        k = self.k
        extra: list[str] = []
        prefix = namespace_prefix
        scope: str | None
        if namespace and flow_id:
            scope = k.index_flow(namespace, flow_id)
        elif namespace:
            scope = k.index_namespace(namespace)
        elif flow_id:
            scope = k.index_flow_id(flow_id)
        elif prefix:
            scope, prefix = k.index_under(prefix), None
        else:
            scope = None
        if prefix:
            if namespace:
                if not _under(namespace, prefix):
                    return [], 0
            else:
                extra.append(k.index_under(prefix))
        states = states_of(state)
        by_state = [
            k.index_scoped_state(scope, st.value) if scope else k.index_state(st.value)
            for st in states
        ]
        union = k.search_temp(uuid.uuid4().hex) if len(by_state) > 1 else None
        if union is not None:
            base = union
        elif by_state:
            base = by_state[0]
        else:
            base = scope or k.index_all
        keys = [base, *extra, *(k.index_label(a, b) for a, b in (labels or {}).items())]
        if base == k.index_all and len(keys) > 1:
            keys = keys[1:]  # every execution: no filter of its own (a label alone: one set)
        base = keys[0]
        start, stop = (offset, offset + limit - 1) if limit > 0 else (1, 0)  # 1 > 0: none
        ranged = created_from is not None or created_to is not None
        low = "-inf" if created_from is None else repr(float(created_from))
        high = "+inf" if created_to is None else repr(float(created_to))

        def page(pipe: Any, key: str) -> None:
            if not ranged:
                pipe.zcard(key)
                pipe.zrevrange(key, start, stop)
            else:
                pipe.zcount(key, low, high)
                if limit > 0:
                    pipe.zrevrangebyscore(key, high, low, start=offset, num=limit)
                else:
                    pipe.zrevrange(key, 1, 0)  # nothing, in the same shape

        if len(keys) == 1 and union is None:
            with self.r.pipeline(transaction=False) as pipe:
                page(pipe, base)
                total, found = pipe.execute()
        else:
            # Temporary sets, made and deleted in one transaction: no other client sees them.
            temps = [union] if union is not None else []
            target = base
            if len(keys) > 1:
                target = k.search_temp(uuid.uuid4().hex)
                temps.append(target)
            with self.r.pipeline(transaction=True) as pipe:
                if union is not None:
                    pipe.zunionstore(union, by_state, aggregate="MAX")  # scores: the creation
                if len(keys) > 1:
                    pipe.zinterstore(target, keys, aggregate="MAX")
                page(pipe, target)
                pipe.unlink(*temps)
                total, found = pipe.execute()[-3:-1]
        ids = [_s(e) for e in found]
        alive = self._exists(ids)
        return [e for e, a in zip(ids, alive, strict=True) if a], int(total)

    # ------------------------------------------------------------------ KV store

    @_translate
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
        now = int(time.time() * 1000)
        args: dict[str, Any] = {
            "key": key,
            "value": value,
            "type": KVType(kv_type).value,
            "now": str(now),
            "overwrite": overwrite,
        }
        if seconds is not None:
            ttl_ms = max(1, round(seconds * 1000))
            args.update(ttl=str(ttl_ms), expires=str(now + ttl_ms))
        step = _Step(**args).key(
            entry=self.k.kv_entry(tenant, namespace, key), index=self.k.kv_index(tenant, namespace)
        )
        if self._call("kv_set", step)["status"] == "CONFLICT":
            raise KVConflict(key)

    @_translate
    def kv_get(self, namespace: str, key: str, *, tenant: str = "main") -> KVRecord | None:
        check_tenant(tenant)
        check_namespace(namespace)
        check_key(key)
        raw = self.r.hgetall(self.k.kv_entry(tenant, namespace, key))
        fields = {_s(f): _s(v) for f, v in raw.items()}
        return _kv_record(key, fields, with_value=True)

    @_translate
    def kv_delete(self, namespace: str, key: str, *, tenant: str = "main") -> bool:
        check_tenant(tenant)
        check_namespace(namespace)
        check_key(key)
        # Both keys share the namespace's hash tag: one MULTI in any deployment.
        with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(self.k.kv_entry(tenant, namespace, key))
            pipe.zrem(self.k.kv_index(tenant, namespace), key)
            deleted, _ = pipe.execute()
        return bool(deleted)

    @_translate
    def kv_list(self, namespace: str, *, tenant: str = "main") -> list[KVRecord]:
        check_tenant(tenant)
        check_namespace(namespace)
        index = self.k.kv_index(tenant, namespace)
        # Entries expire by Redis TTL; the index forgets them here, by their expiry score.
        self.r.zremrangebyscore(index, "-inf", int(time.time() * 1000))
        keys = sorted(_s(m) for m in self.r.zrange(index, 0, -1))
        with self.r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self.k.kv_entry(tenant, namespace, key), "t", "c", "u", "x")
            found = pipe.execute()
        out: list[KVRecord] = []
        gone: list[str] = []
        for key, values in zip(keys, found, strict=True):
            fields = {
                f: _s(v) for f, v in zip(("t", "c", "u", "x"), values, strict=True) if v is not None
            }
            record = _kv_record(key, fields, with_value=False)
            if record is None:
                gone.append(key)  # deleted or expired between the two reads
            else:
                out.append(record)
        if gone:
            self.r.zrem(index, *gone)
        return out

    # ------------------------------------------------------------------ triggers' state

    @_translate
    def trigger_fired(self, ref: TriggerRef, type_: str, execution_id: str, date: float) -> None:
        key = self.k.trigger(ref.uid)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"type": type_, "date": repr(date), "eid": execution_id})
            pipe.hincrby(key, "fired", 1)
            pipe.sadd(self.k.triggers, ref.uid)
            pipe.execute()

    @_translate
    def trigger_failed(self, ref: TriggerRef, type_: str, error: str, date: float) -> None:
        key = self.k.trigger(ref.uid)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"type": type_, "error": error, "errorDate": repr(date)})
            pipe.sadd(self.k.triggers, ref.uid)
            pipe.execute()

    @_translate
    def trigger_state(self, ref: TriggerRef) -> TriggerState | None:
        raw = self.r.hgetall(self.k.trigger(ref.uid))
        if not raw:
            return None
        return trigger_state_of(ref, {_s(a): _s(b) for a, b in raw.items()})

    @_translate
    def trigger_states(self, namespace: str | None = None) -> list[TriggerState]:
        uids = sorted(_s(u) for u in self.r.smembers(self.k.triggers))
        if namespace is not None:
            uids = [u for u in uids if u.split("|", 1)[0] == namespace]
        with self.r.pipeline(transaction=False) as pipe:
            for uid in uids:
                pipe.hgetall(self.k.trigger(uid))
            raws = pipe.execute()
        return [
            trigger_state_of(TriggerRef.of_uid(uid), {_s(a): _s(b) for a, b in raw.items()})
            for uid, raw in zip(uids, raws, strict=True)
            if raw
        ]

    @_translate
    def set_trigger_disabled(self, ref: TriggerRef, disabled: bool) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.k.trigger(ref.uid), "disabled", "1" if disabled else "0")
            pipe.sadd(self.k.triggers, ref.uid)
            pipe.execute()

    @_translate
    def forget_triggers(self, namespace: str, flow_id: str, keep: Iterable[str] = ()) -> None:
        kept = set(keep)
        gone = [
            s.ref
            for s in self.trigger_states(namespace)
            if s.ref.flow_id == flow_id and s.ref.trigger_id not in kept
        ]
        if not gone:
            return
        with self.r.pipeline(transaction=True) as pipe:
            for ref in gone:
                pipe.delete(self.k.trigger(ref.uid))
                pipe.srem(self.k.triggers, ref.uid)
            pipe.execute()

    # ------------------------------------------------------------------ Flow triggers

    @_translate
    def flow_listeners(self) -> list[tuple[str, str]]:
        members = sorted(_s(m) for m in self.r.smembers(self.k.flow_listeners))
        return [tuple(m.split(":", 1)) for m in members]  # type: ignore[misc]

    def _ensure_group(self) -> None:
        try:
            # From the stream's start: ends appended before any consumer ran are seen.
            self.r.xgroup_create(self.k.flow_ends, FLOW_ENDS_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @_translate
    def read_flow_ends(
        self, consumer: str, count: int, claim_idle: float | None = None
    ) -> list[FlowEndEntry]:
        stream = self.k.flow_ends
        out: list[FlowEndEntry] = []
        try:
            if claim_idle is not None:
                claimed: Any = self.r.xautoclaim(
                    stream, FLOW_ENDS_GROUP, consumer, int(claim_idle * 1000), "0-0", count=count
                )
                out += [_flow_end(i, f) for i, f in claimed[1] if i is not None and f]
                # Entries trimmed away (MAXLEN) while pending are gone: Redis 7 lists their
                # ids in claimed[2]; 6.2 claims them as (nil, nil), so they are found in
                # the pending list. Acknowledged, they stop coming back.
                gone = list(claimed[2]) if len(claimed) > 2 else []
                if any(i is None for i, _ in claimed[1]):
                    gone += self._trimmed_pending(int(claim_idle * 1000), count)
                if gone:
                    self.r.xack(stream, FLOW_ENDS_GROUP, *gone)
            if len(out) < count:
                got: Any = self.r.xreadgroup(
                    FLOW_ENDS_GROUP, consumer, {stream: ">"}, count=count - len(out)
                )
                for _, entries in got.items() if isinstance(got, dict) else got or []:
                    out += [_flow_end(i, f) for i, f in entries if f]
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._ensure_group()
            return self.read_flow_ends(consumer, count, claim_idle)
        return out

    def _trimmed_pending(self, idle_ms: int, count: int) -> list[Any]:
        """Ids of pending entries (idle ``idle_ms``) that are no longer in the stream."""
        stream = self.k.flow_ends
        pending: Any = self.r.xpending_range(stream, FLOW_ENDS_GROUP, "-", "+", count, idle=idle_ms)
        ids = [p["message_id"] for p in pending]
        with self.r.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.xrange(stream, i, i)
            found = pipe.execute()
        return [i for i, got in zip(ids, found, strict=True) if not got]

    @_translate
    def ack_flow_ends(self, entry_ids: list[str]) -> None:
        if not entry_ids:
            return
        with self.r.pipeline(transaction=True) as pipe:
            pipe.xack(self.k.flow_ends, FLOW_ENDS_GROUP, *entry_ids)
            pipe.xdel(self.k.flow_ends, *entry_ids)
            pipe.execute()

    @_translate
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
        step = _Step(
            start=repr(bounds[0]),
            end=repr(bounds[1]),
            now=repr(now),
            met=met,
            total=total,
            reset=reset,
            ttl=FLOW_WINDOW_SEEN_TTL,
        ).key(win=self.k.flow_window(uid), seen=self.k.flow_window_seen(uid, entry_id))
        return bool(self._call("flow_window", step)["complete"])

    def _due_step(self, queue: str, **args: Any) -> _Step:
        return _Step(**args).key(
            due=self.k.due(queue), tick=self.k.due_tick(queue), claimed=self.k.due_claimed(queue)
        )

    @_translate
    def due_set(self, queue: str, uid: str, tick: str | None, due: float = 0.0) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.zrem(self.k.due_claimed(queue), uid)
            if tick is None:
                pipe.zrem(self.k.due(queue), uid)
                pipe.hdel(self.k.due_tick(queue), uid)
            else:
                pipe.hset(self.k.due_tick(queue), uid, tick)
                pipe.zadd(self.k.due(queue), {uid: due})
            pipe.execute()

    @_translate
    def due_claim(self, queue: str, now: float, limit: int, lease: float) -> list[tuple[str, str]]:
        step = self._due_step(
            queue, now=f"{now:.6f}", limit=int(limit), deadline=f"{now + lease:.6f}"
        )
        out = self._call("due_claim", step)
        return [(str(u), str(t)) for u, t in (out["claimed"] or [])]

    @_translate
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
        step = self._due_step(
            queue,
            uid=uid,
            fired=fired,
            next=tick or "",
            due=f"{due:.6f}",
            ran=list(ran),
            keep=str(keep),
        )
        if ran:
            step.key(ran=self.k.ticks_ran(uid))
        return bool(self._call("due_advance", step)["advanced"])

    @_translate
    def due_advance_many(self, queue: str, steps: Sequence[DueStep]) -> list[bool]:
        if not steps:
            return []
        script = self._scripts["due_advance"]
        with self.r.pipeline(transaction=False) as pipe:
            for s in steps:
                step = self._due_step(
                    queue,
                    uid=s.uid,
                    fired=s.fired,
                    next=s.tick or "",
                    due=f"{s.due:.6f}",
                    ran=list(s.ran),
                    keep=str(s.keep),
                )
                if s.ran:
                    step.key(ran=self.k.ticks_ran(s.uid))
                script(keys=step.keys, args=step.argv(), client=pipe)
            replies = pipe.execute()
        return [bool(json.loads(r)["advanced"]) for r in replies]

    @_translate
    def due_position(self, queue: str, uid: str) -> DuePosition | None:
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hget(self.k.due_tick(queue), uid)
            pipe.zscore(self.k.due(queue), uid)
            pipe.zscore(self.k.due_claimed(queue), uid)
            tick, due, claimed = pipe.execute()
        if tick is None:
            return None
        return DuePosition(_s(tick), due, claimed)

    @_translate
    def due_unlock(self, queue: str, uid: str, now: float) -> bool:
        step = self._due_step(queue, uid=uid, now=f"{now:.6f}")
        return bool(self._call("due_unlock", step)["unlocked"])

    @_translate
    def ticks_record(self, uid: str, ticks: Sequence[str], keep: int) -> None:
        if not ticks:
            return
        key = self.k.ticks_ran(uid)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {t: float(t) for t in ticks})
            pipe.zremrangebyrank(key, 0, -(keep + 1))
            pipe.execute()

    @_translate
    def ticks_ran(self, uid: str, ticks: Sequence[str]) -> set[str]:
        if not ticks:
            return set()
        scores = self.r.zmscore(self.k.ticks_ran(uid), list(ticks))
        return {t for t, s in zip(ticks, scores, strict=True) if s is not None}

    @_translate
    def backfill_get(self, uid: str) -> dict[str, str] | None:
        raw = self.r.hgetall(self.k.backfill(uid))
        return {_s(a): _s(b) for a, b in raw.items()} if raw else None

    @_translate
    def backfill_put(self, uid: str, fields: Mapping[str, str], *, replace: bool = False) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            if replace:
                pipe.delete(self.k.backfill(uid))
            if fields:
                pipe.hset(self.k.backfill(uid), mapping=dict(fields))  # type: ignore[arg-type]
            pipe.execute()

    @_translate
    def backfill_delete(self, uid: str) -> None:
        self.r.delete(self.k.backfill(uid))


def _flow_end(entry_id: Any, fields: Mapping[Any, Any]) -> FlowEndEntry:
    f = {_s(a): _s(b) for a, b in fields.items()}
    return FlowEndEntry(
        _s(entry_id),
        f.get("eid", ""),
        f.get("ns", ""),
        f.get("fid", ""),
        int(f.get("rev") or 0),
        f.get("s", ""),
        f.get("d", ""),
    )
    # ------------------------------------------------------------------ due queues


#: The one consumer group of the stream of ends.
FLOW_ENDS_GROUP = "flowtrig"
#: Seconds the answer a stream entry got from a window is remembered (``flow_window.lua``).
FLOW_WINDOW_SEEN_TTL = 86_400


# ---------------------------------------------------------------- replies
# Every script replies one JSON object with named fields (see _lib.lua); these turn the
# replies into the named results of executor/store/base.py, in one place.

#: The states an execution starts RUNNING from in ``start.lua`` and ``flowable_start.lua``
#: (RETRYING: in start.lua, the next attempt of a task run it waited for).
_START_FROM = (StateType.CREATED, StateType.RESTARTED, StateType.RETRYING, StateType.RUNNING)


def _num(value: float | str) -> str:
    """A number as Lua steps receive numbers to store (a string: stored exactly)."""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def _status(out: Mapping[str, Any]) -> Status:
    return Status(out["status"])


def _opt_state(raw: Any) -> StateType | None:
    return StateType(raw) if raw else None


def _list(raw: Any) -> list[Any]:
    """A JSON array from Lua (cjson encodes an empty table as ``{}``)."""
    return raw if isinstance(raw, list) else []


def _moved(out: Mapping[str, Any]) -> Moved:
    return Moved(_status(out), _opt_state(out.get("state")))


def _check_queue(out: Mapping[str, Any]) -> None:
    """Raise ``QueueKeyConflict`` if the step refused a queue key of the wrong type."""
    if out.get("queue"):
        raise QueueKeyConflict(str(out["queue"]), str(out.get("type", "")))


def _created(out: Mapping[str, Any]) -> Created:
    if out["status"] == "REFUSED":
        state = out["state"]
        return Created(StateType.FAILED if state == "MISSING" else StateType(state), [])
    return Created(StateType(out["state"]), [(str(i), bool(c)) for i, c in _list(out["runs"])])


def _killed(out: Mapping[str, Any]) -> Killed:
    status = _status(out)
    if status in (Status.KILLED, Status.KILLING):
        return Killed(status, StateType(status.value), [str(t) for t in _list(out["running"])])
    return Killed(status, _opt_state(out.get("state")), [])


def _restarted(out: Mapping[str, Any]) -> Restarted:
    status = _status(out)
    if status == Status.OK:
        return Restarted(status, StateType.RESTARTED, [str(t) for t in _list(out["restarted"])])
    return Restarted(status, _opt_state(out.get("state")), [])


def _start_result(out: Mapping[str, Any]) -> StartResult:
    status = _status(out)
    if status == Status.START:
        return StartResult(
            status,
            attempt=int(out["attempt"]),
            task_id=out["taskId"],
            parent_task_run_id=out["parent"] or None,
            value=out["value"] or None,
            namespace=out["namespace"],
            flow_id=out["flowId"],
            revision=int(out["revision"]),
            first_start=float(out["firstStart"]),
            iteration=int(out["iteration"]) if out["iteration"] else None,
            resubmitted=bool(out.get("resubmitted")),
        )
    if status == Status.BUSY:
        return StartResult(status, wait_ms=max(int(out["ms"]), 0), holder=out["holder"])
    return StartResult(
        status,
        wait_ms=int(out.get("ms", 0)),
        state=_opt_state(out.get("state")),
        resubmitted=bool(out.get("resubmitted")),
    )


def _finished(out: Mapping[str, Any], parent: str | None) -> Finished:
    state = _opt_state(out.get("state"))
    child = _child_end(parent, out["child"]) if parent and "child" in out else None
    return Finished(
        _status(out),
        state,
        child=child,
        next_state=_opt_state(out.get("next")),
        ended=_opt_state(out.get("ended")),
    )


def _child_end(parent: str, out: Mapping[str, Any]) -> ChildEnd:
    """What ``child_end()`` (in ``_lib.lua``) replies."""
    status = _status(out)
    if status == Status.PARENT:
        return ChildEnd(status)
    parent_row = TaskRunRow(
        parent,
        out["taskId"],
        StateType.RUNNING,
        out["parent"] or None,
        out["value"] or None,
        int(out["iteration"]) if out["iteration"] else None,
    )
    return ChildEnd(
        status,
        counters={name: int(out[name]) for name in ("done", "bad", "warn", "expected")},
        plan=out["plan"],
        parent=parent_row,
        successors=[(int(slot), str(value)) for slot, value in _list(out["successors"])],
    )


_ROW_FIELDS = ("taskId", "state", "parentTaskRunId", "value", "iteration")


def _row(trid: str, vals: list[Any]) -> TaskRunRow | None:
    if vals[0] is None:
        return None
    return TaskRunRow(
        trid,
        _s(vals[0]),
        StateType(_s(vals[1])),
        _s(vals[2]) or None,
        _s(vals[3]) or None,
        int(vals[4]) if vals[4] is not None else None,
    )


def _kv_record(key: str, fields: dict[str, str], *, with_value: bool) -> KVRecord | None:
    """A KV entry hash (``kv_set.lua``) as a record; None if gone or past its expiry."""
    if "t" not in fields or "c" not in fields:
        return None
    expires = float(fields["x"]) / 1000 if "x" in fields else None
    if expires is not None and expires <= time.time():
        return None  # Redis expires it any moment now
    return KVRecord(
        key=key,
        type=KVType(fields["t"]),
        value=fields.get("v") if with_value else None,
        created=float(fields["c"]) / 1000,
        updated=float(fields["u"]) / 1000,
        expires=expires,
    )
