"""The store contract: what the orchestrator, workers, reconciler, client and API may ask.

``RedisStore`` (``executor/store/redis.py``) implements it on Redis, with Lua steps;
``MemoryStore`` (``executor/store/memory.py``) implements it in one process, for tests
of everything above the store. One contract suite (``tests/contract/``) runs against
both, so they cannot drift apart.

Every step that changes state is atomic and checked against the one transition table
(``executor.state.TRANSITIONS``); its outcome is a :class:`Status` and, where there is
more to say, one of the small named results below (never a positional list).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from executor.flow import Flow
from executor.kv import KVRecord, KVType
from executor.loglimits import LogLimits, LogQuery
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
from executor.state import StateType

#: Seconds a worker not seen alive is still remembered (``workers_seen``).
WORKER_MEMORY_S = 86_400.0


def lease_holder(worker_id: str, token: str) -> str:
    """What a running attempt's lease holds: its worker's id and the attempt's own token
    (``host:pid:token``), so a process running several attempts at once (thread, gevent
    and eventlet pools) tells its own live attempts from dead ones; ``worker_id`` alone
    without a token."""
    return f"{worker_id}:{token}" if token else worker_id


class Status(StrEnum):
    """How a store step went. A ``StrEnum``: it compares equal to its name."""

    OK = "OK"  #: applied
    NOOP = "NOOP"  #: already in that state: nothing to do (same state again)
    INVALID = "INVALID"  #: the transition table forbids the move: nothing written
    MISSING = "MISSING"  #: no such execution or task run
    CONFLICT = "CONFLICT"  #: not in the expected state (a compare-and-set lost): nothing written
    STALE = "STALE"  #: a superseded attempt's result: only that attempt's record changed
    REFUSED = "REFUSED"  #: the execution takes no such step now (ended, being killed)
    DUP = "DUP"  #: a child's end counted already (a repeated call)
    ERR = "ERR"  #: a child of its flowable's ``errors`` branch (walked by the orchestrator)
    PARENT = "PARENT"  #: the child's flowable is gone or ended already
    START = "START"  #: an attempt started
    DONE = "DONE"  #: the task run ended already
    KILLED = "KILLED"  #: the execution is being killed: the task run ended KILLED
    KILLING = "KILLING"  #: kill: the execution is KILLING, task runs are being stopped
    ENDED = "ENDED"  #: kill: the execution had ended already
    WAIT = "WAIT"  #: not due yet (a retry delay)
    PAUSED = "PAUSED"  #: the execution holds its task runs (paused or queued)
    BUSY = "BUSY"  #: another worker holds a live lease
    RUN = "RUN"  #: admit: a concurrency slot was taken
    QUEUED = "QUEUED"  #: admit: queued behind the concurrency limit
    CANCELLED = "CANCELLED"  #: admit: cancelled by the concurrency limit
    FAILED = "FAILED"  #: admit: failed by the concurrency limit
    # Appended with the Lua steps that only apply (issue 9):
    KEYS = "KEYS"  #: a step needs keys it was not given: nothing written, call again
    FULL = "FULL"  #: promote: no free concurrency slot; append_log: the log cap is reached
    DROPPED = "DROPPED"  #: promote: the queue's head was not waiting any more: dropped
    KEPT = "KEPT"  #: purge: not due (any more): nothing deleted
    GONE = "GONE"  #: purge: the execution's hash was gone already


@dataclass(frozen=True)
class TaskRunRow:
    """The few fields of a task run the orchestrator needs."""

    id: str
    task_id: str
    state: StateType
    parent_task_run_id: str | None
    value: str | None
    iteration: int | None = None


@dataclass(frozen=True)
class NewRow:
    """A task run to create: its id, identity fields, and the message that starts it
    (None when an orchestrator starts it instead: flowables, Pause, Subflow, runIf)."""

    id: str
    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None
    message: Outgoing | None = None
    #: Kestra's ``forceExecution``: created, started and ended even once the execution
    #: has ended (an ``afterExecution`` task run): the execution's end does not kill it.
    force: bool = False


@dataclass(frozen=True)
class Then:
    """What follows a top-level task run, decided for its end in ``state``: the next
    task runs (``rows``), or, with none, the end of the execution."""

    state: StateType
    rows: list[NewRow]
    pending_deadline: float = 0.0
    #: With no rows (the end of the execution): the ids of the other top-level task runs
    #: the execution may have, created or not (ids derived from the execution's id and
    #: the task id, ``executor.ids.derived_id(eid, task_id)``). The store ends the
    #: execution in the same step only if these are all the task runs it has and all
    #: ended; otherwise the orchestrator ends it.
    siblings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StartResult:
    """What ``start_attempt`` found (see ``Store.start_attempt``)."""

    status: Status
    attempt: int = 0
    task_id: str = ""
    parent_task_run_id: str | None = None
    value: str | None = None
    namespace: str = ""
    flow_id: str = ""
    revision: int = 0
    first_start: float = 0.0
    iteration: int | None = None
    wait_ms: int = 0
    holder: str = ""
    state: StateType | None = None
    #: This claim recorded the previous attempt RESUBMITTED (its worker was lost).
    resubmitted: bool = False


@dataclass(frozen=True)
class ChildEnd:
    """A flowable child's end, counted on its flowable: ``status`` (OK, DUP, ERR, or
    PARENT when the flowable had ended already), the flowable's counters and stored plan,
    the flowable's own row, and the successor slots claimed, as (slot, loop value)."""

    status: Status
    counters: dict[str, int] = field(default_factory=dict)
    plan: str = ""
    parent: TaskRunRow | None = None
    successors: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Finished:
    """What ``finish_attempt`` did: ``status`` (OK, or STALE for a superseded attempt),
    the task run's state, the count of a flowable child's end (``child``); when the next
    task runs were created in the same step, the execution's state then (``next_state``);
    when the execution ended in that step, its end state (``ended``)."""

    status: Status
    state: StateType | None
    child: ChildEnd | None = None
    next_state: StateType | None = None
    ended: StateType | None = None


class Moved(NamedTuple):
    """The outcome of a compare-and-set of a state: status and the state now."""

    status: Status
    state: StateType | None


class Resent(NamedTuple):
    """The outcome of ``resend_task_run``: ``SENT`` (a new copy is queued), ``QUEUED``
    (the last copy is still in its queue: nothing sent; ``since`` when it was sent,
    ISO), ``RESERVED`` (a worker holds the last copy: nothing sent) or ``MISSING``."""

    status: str
    since: str = ""


class Created(NamedTuple):
    """Task runs created once each: the execution's state and (id, created) pairs, the
    id of the existing task run of the same identity where one was not created (no
    pairs when the execution refuses new task runs: KILLING or ended)."""

    state: StateType
    runs: list[tuple[str, bool]]


class Killed(NamedTuple):
    """Kill: ``status`` (MISSING, ENDED, KILLED when nothing was running, KILLING), the
    execution's state, and the task runs still running (being stopped)."""

    status: Status
    state: StateType | None
    running: list[str]


class Restarted(NamedTuple):
    """Restart: ``status`` (OK, MISSING, REFUSED), the execution's state, and the task
    runs moved to RESTARTED."""

    status: Status
    state: StateType | None
    restarted: list[str]


class TriggerRef(NamedTuple):
    """One trigger of one flow: (namespace, flow id, trigger id)."""

    namespace: str
    flow_id: str
    trigger_id: str

    @property
    def uid(self) -> str:
        """One string for it (``|`` appears in none of the three ids)."""
        return f"{self.namespace}|{self.flow_id}|{self.trigger_id}"

    @classmethod
    def of_uid(cls, uid: str) -> TriggerRef:
        ns, fid, tid = uid.split("|", 2)
        return cls(ns, fid, tid)


#: The stream of ends of Flow triggers keeps about this many entries (``MAXLEN ~``):
#: consumers that fall further behind lose the oldest ends.
FLOW_ENDS_MAXLEN = 100_000


class FlowEndEntry(NamedTuple):
    """One entry of the stream of ends: an execution reached an end state while some
    flow listened, or moved to another state (PAUSED, RUNNING...) while some flow's Flow
    trigger listed it; its stream id, the execution and its new ``state``."""

    entry_id: str
    execution_id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: str
    date: str


@dataclass(frozen=True)
class TriggerState:
    """What a trigger did last (Kestra's ``Trigger`` context, as far as it is known):
    its last fire (``date``, epoch s, and the execution it started), how many
    executions it started, its last error, and whether it was disabled by a user."""

    ref: TriggerRef
    type: str = ""
    date: float | None = None
    execution_id: str | None = None
    fired: int = 0
    error: str | None = None
    error_date: float | None = None
    disabled: bool = False
    #: Fields other parts of Ostra keep on the trigger (a schedule's next tick...).
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DuePosition:
    """Where one member of a due queue stands: the ``tick`` it is at, when it is
    ``due`` (epoch s; None while claimed) and, while a process holds it, until when
    (``claimed_until``, epoch s)."""

    tick: str
    due: float | None
    claimed_until: float | None


class DueStep(NamedTuple):
    """One ``due_advance`` of ``due_advance_many``."""

    uid: str
    fired: str
    tick: str | None
    due: float = 0.0
    ran: Sequence[str] = ()
    keep: int = 0


def states_of(state: StateType | Iterable[StateType] | None) -> list[StateType]:
    """The states a search's ``state`` filter names (none: any state), each once."""
    if state is None:
        return []
    if isinstance(state, StateType):
        return [state]
    return list(dict.fromkeys(StateType(s) for s in state))


#: The due queues (``due_*`` methods): schedules' next ticks, backfills' next steps,
#: the deadlines of executions' MAX_DURATION SLAs (``executor/sla.py``).
DUE_QUEUES = ("sched", "backfill", "sla")


@runtime_checkable
class Store(Protocol):
    """Everything Ostra reads and writes of its state. Implementations: ``RedisStore``,
    ``MemoryStore``. Errors of the backend come out as ``executor.errors.StoreError``."""

    # -- connection
    def ping(self) -> None:
        """Check that the backend answers (raises ``StoreError`` if not)."""

    def close(self) -> None:
        """Release connections."""

    # -- flows
    def deploy_flow(self, flow: Flow) -> Flow:
        """Store ``flow`` as a new revision if it differs from the latest; the stored one."""

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """The latest revision, or the one asked for (``FlowNotFound`` if none)."""

    def list_flows(self) -> list[tuple[str, str]]:
        """(namespace, id) of every deployed flow."""

    def deploy_flow_source(self, flow: Flow, source: str) -> Flow:
        """``deploy_flow`` keeping ``source`` (the text ``flow`` was read from) as the
        revision's source; a flow deployed again after ``delete_flow`` continues the
        revisions it had."""

    def flow_source(self, namespace: str, flow_id: str, revision: int) -> str | None:
        """The text a revision was deployed as (None if it was deployed without one)."""

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Delete a flow: it is no longer found nor listed; its revisions stay readable
        by number for the executions that run them; the deletion takes a revision number
        (Kestra's ``FlowWithSource.toDeleted``). False if there was no such flow."""

    # -- executions
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
        copies: list[dict[str, str]] = ...,  # type: ignore[assignment]
        trigger: tuple[str, str] | None = None,
        only_if_absent: bool = False,
        attempt: tuple[int, float] | None = None,
        origin: ExecutionTrigger | None = None,
    ) -> Execution | None:
        """Create an execution in CREATED with its first task runs (their messages
        pushed), in one step; the execution as created (None with ``only_if_absent``
        when it existed already). ``copies``: ended task runs carried over by a replay
        (stored fields, new ids); ``trigger``: the (execution, task run) of a Subflow;
        ``attempt``: (``metadata.attemptNumber``, the first execution's creation, epoch s)
        of a new execution made by a ``CREATE_NEW_EXECUTION`` retry; ``origin``: the
        flow's trigger that started it (read back as ``Execution.trigger``). Raises
        ``QueueKeyConflict``, with nothing written, if a first task run's queue key holds
        a value that is not a list (Redis)."""

    def admit(self, eid: str, flow: Flow) -> Status:
        """Take a concurrency slot (RUN), or queue (QUEUED), cancel or fail the execution."""

    def release_slot(self, eid: str, namespace: str, flow_id: str, limit: int) -> None:
        """Free a slot held by an execution that ended without freeing it (recovery)."""

    def slot_holders(self) -> list[tuple[str, str, list[str]]]:
        """(namespace, flow id, execution ids holding a slot) of flows with a limit."""

    def pop_promoted(self) -> list[str]:
        """Executions that just left a concurrency queue, to be started."""

    def subflow_executions(self, eid: str) -> list[str]:
        """Executions started by ``eid``'s Subflow tasks."""

    def create_task_runs(
        self, eid: str, items: list[NewRow], pending_deadline: float, ended: str = ""
    ) -> Created:
        """Create task runs once each by identity, pushing their messages (held while
        the execution is PAUSED or QUEUED); ``ended`` leaves the active set. An ended
        execution takes new task runs only if every one of them is ``force``. Raises
        ``QueueKeyConflict``, with nothing written, as ``create_execution`` does."""

    def transition_execution(
        self, eid: str, to: StateType, expected: StateType | None = None, **fields: Any
    ) -> Moved:
        """Compare-and-set the execution's state (and write ``fields`` with it)."""

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
        """Compare-and-set a task run's state; ``active``: its new deadline in the active
        set, "-" to leave it, "" to keep it as it is."""

    def update_labels(self, eid: str, labels: Mapping[str, str]) -> Status:
        """Add ``labels`` to a running execution: an existing key takes its new value in
        place, a new key is appended. MISSING for no such execution, REFUSED once it
        ended or is being killed (nothing written)."""

    def end_execution(
        self,
        eid: str,
        final: StateType,
        expected: StateType,
        task_runs: list[TaskRunRow],
        outputs: Mapping[str, Any] | None = None,
    ) -> Moved:
        """End an execution in ``final`` (with its rendered flow ``outputs``), a
        compare-and-set on the snapshot it was decided from: only if it is still in
        ``expected`` with exactly ``task_runs``, each in its state (else CONFLICT, nothing
        written). A not yet started one passes through RUNNING; its retention starts."""

    def kill_execution(self, eid: str) -> Killed:
        """KILLING (or KILLED at once when nothing runs); task runs not running end KILLED."""

    def restart_execution(
        self, eid: str, dropped_tasks: list[str], pending_deadline: float
    ) -> Restarted:
        """Restart a FAILED or KILLED execution in place: failed and killed task runs
        RESTARTED, task runs of ``dropped_tasks`` deleted."""

    def task_run_field(self, eid: str, trid: str, name: str) -> str | None:
        """One stored field of a task run."""

    def read_task_runs_raw(self, eid: str, trids: list[str]) -> list[dict[str, str]]:
        """Stored fields of task runs, history included (for replay)."""

    def execution_state(self, eid: str) -> StateType | None:
        """The execution's state (None if it does not exist)."""

    def flow_ref(self, eid: str) -> tuple[str, str, int] | None:
        """(namespace, flow id, revision) of the execution, None if it does not exist."""

    def execution_origin(self, eid: str) -> tuple[str, str, float] | None:
        """(namespace, flow id, creation time in epoch seconds) of the execution, None if
        it does not exist (what its end is counted under, in the metrics)."""

    def execution_states(self, eids: list[str]) -> list[StateType | None]:
        """The states of several executions."""

    def execution_field(self, eid: str, name: str) -> Any:
        """A JSON field of the execution (``inputs``, ``labels``, ``variables``...)."""

    def execution_meta(self, eid: str) -> dict[str, str]:
        """Every stored field of the execution (``ExecutionNotFound`` if none)."""

    # -- attempts
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
        """Claim a task run and start its next attempt under a lease, held by
        ``lease_holder(worker_id, token)`` (``worker_id`` is recorded on the attempt)."""

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
        """Record how an attempt ended, with the task run; a flowable child's end is
        counted on its flowable in the same step; ``then`` is applied in the same step
        if the task run ended in ``then.state``. Fenced: only attempt ``attempt`` of a
        RUNNING task run whose lease holds ``holder`` (when given) or has lapsed with no
        newer attempt started may end it; else STALE."""

    def renew_leases(
        self,
        leases: Mapping[tuple[str, str], float],
        holders: Mapping[tuple[str, str], str] | None = None,
    ) -> set[tuple[str, str]]:
        """Extend the leases of running attempts (the heartbeat). A lease given a holder
        in ``holders`` is extended only while it holds that holder; returns those that
        did not (lapsed, or another attempt's): their attempts must stop."""

    def drop_lease(self, eid: str, trid: str) -> None:
        """Take the lease of task run ``trid``'s running attempt away (the task run was
        ended by its execution's SLA): its worker's next renewal fails, so the attempt
        stops and records nothing."""

    def lease_alive(self, eid: str, trid: str) -> bool:
        """True while the attempt's lease holds."""

    def retry_at(self, eid: str, trid: str) -> float:
        """When a RETRYING task run's next attempt is due (epoch s; 0 if none)."""

    #: The caps of each task run's logs (by default from the settings).
    log_limits: LogLimits

    def append_log(self, entry: LogEntry) -> Status:
        """Append a log entry to its execution, within its task run's budget
        (``log_limits``, counted atomically over every attempt and writer): OK (stored,
        its message cut to ``line_max_bytes`` with a marker if longer), or FULL (dropped:
        the task run's bytes or lines are used up; the first entry dropped stores one
        WARN entry saying so instead)."""

    # -- flowables
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
        """Start a flowable task run (RUNNING) with its plan and loop values (and its
        first ``outputs``, JSON, if given: a LoopUntil's ``iterationCount``). A PAUSED
        one starts too (a Pause with ``tasks``, once resumed)."""

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
        """Count a child's end on its flowable, once, and claim its successors."""

    # -- reading task runs
    def task_run_outputs(
        self, eid: str, task_id: str, value: str | None = None
    ) -> dict[str, Any] | None:
        """Outputs of the latest task run of ``task_id`` (for loop value ``value``)."""

    def task_run_row(self, eid: str, trid: str) -> TaskRunRow | None:
        """One task run's row (None if it does not exist)."""

    def task_run_rows(self, eid: str) -> list[TaskRunRow]:
        """Every task run of the execution, in creation order."""

    def children_rows(self, eid: str, parent: str) -> list[TaskRunRow]:
        """The task runs whose parent is ``parent``."""

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
        """Push ``message`` (a new copy of task run ``trid``'s, for queue ``group``) unless,
        with ``check``, the last copy sent is still queued: in its queue's list, or
        reserved by a worker (kombu's ``unacked`` hash, under ``broker_prefix``, kombu's
        ``global_keyprefix``) less than ``grace`` seconds before ``now``. A task run whose
        copy is still in the list is marked waiting for its worker group."""

    # -- the active set (what the reconciler sweeps)
    def clear_active(self, eid: str, trid: str) -> None:
        """Take a task run out of the active set."""

    def set_active(self, eid: str, trid: str, deadline: float) -> None:
        """Put a task run in the active set, due at ``deadline``."""

    def due_active(self, now: float, limit: int = 200) -> list[tuple[str, str]]:
        """(execution, task run) of active entries whose deadline passed."""

    def back_off_active(
        self, eid: str, trid: str, now: float, base: float, cap: float
    ) -> tuple[int, float]:
        """Count one more failed sweep of an active entry and put it off: due again
        ``min(cap, base * 2 ** (failures - 1))`` seconds after ``now``. Returns the number
        of failures so far and the new deadline."""

    def active_failures(self, eid: str, trid: str) -> int:
        """Failed sweeps in a row of an active entry (0 if none)."""

    def forget_active_failures(self, entries: Iterable[tuple[str, str]]) -> None:
        """Forget the failure counts of ``entries`` (swept without error), and those of
        entries that left the active set meanwhile."""

    def acquire_sweep_lock(self, token: str, ttl_ms: int) -> bool:
        """Take (or keep, for the same ``token``) the one reconciler sweep lock."""

    def release_sweep_lock(self, token: str) -> None:
        """Give the sweep lock up if ``token`` holds it."""

    def record_sweep(self, at: float) -> None:
        """Note that a reconciler sweep ran at ``at`` (epoch seconds), for ``/health``."""

    def last_sweep(self) -> float | None:
        """When a reconciler sweep last ran (None: never)."""

    def worker_seen(self, name: str, at: float, queues: Iterable[str] = ()) -> None:
        """Note that worker ``name`` was alive at ``at`` (epoch seconds), consuming
        ``queues``."""

    def queues_seen(self, since: float) -> list[str]:
        """The queues live workers consumed at ``since`` or later (sorted)."""

    def workers_seen(self, since: float) -> list[tuple[str, float]]:
        """The workers seen alive at ``since`` or later, with when (latest first); the
        ones not seen for a day are forgotten."""

    # -- retention
    def mark_ended(self, eid: str) -> None:
        """Start the retention of an ended execution."""

    def purge_ended(self, older_than: float, limit: int = 200) -> int:
        """Delete up to ``limit`` executions that ended before ``older_than``."""

    def delete_execution(self, eid: str) -> bool:
        """Delete an ended execution now, with its logs and metrics (False if there is no
        such execution; ``StateConflict`` if it has not ended)."""

    # -- reading executions
    def get_execution(self, eid: str) -> Execution:
        """The whole execution (``ExecutionNotFound`` if none)."""

    def logs(self, eid: str) -> list[LogEntry]:
        """The execution's log entries."""

    def logs_page(
        self,
        eid: str,
        *,
        cursor: int = 0,
        offset: int = 0,
        limit: int | None = None,
        query: LogQuery | None = None,
    ) -> LogPage:
        """A page of the execution's log entries (``executor.loglimits.page_of``): from
        position ``cursor`` on, those ``query`` keeps, less the first ``offset``, at most
        ``limit``; ``ExecutionNotFound`` if there is no such execution, ``ValueError``
        for a negative cursor or offset or a limit below 1."""

    def metrics(self, eid: str) -> list[MetricEntry]:
        """The execution's metric entries."""

    def last_execution_event_id(self, eid: str) -> str:
        """The id of the newest execution state change ("0" if none)."""

    def read_execution_events(
        self, eid: str, last_id: str, block_ms: int
    ) -> list[tuple[str, StateType]]:
        """Execution state changes after ``last_id`` (blocking up to ``block_ms``)."""

    def last_event_id(self, eid: str) -> str:
        """The id of the newest state change of any kind ("0" if none)."""

    def read_events(
        self, eid: str, last_id: str = "0", block_ms: int | None = None
    ) -> list[tuple[str, StateEvent]]:
        """State changes after ``last_id`` (blocking up to ``block_ms`` for new ones)."""

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
        """Up to ``limit`` execution ids from ``offset`` (from 0; ``ValueError`` if
        negative), newest first (by creation), and how many match in all. Filters, each
        when given: ``namespace`` exactly, ``flow_id``, the current ``state`` (one, or any
        of several),
        ``namespace_prefix`` (that namespace and its sub-namespaces, Kestra's ``a.b``
        under ``a``; not ``a.bc``), ``labels`` (every key with that value), created at or
        after ``created_from`` and at or before ``created_to`` (epoch seconds). In
        ``RedisStore`` a page costs the same at 1 M executions as at 1k, but for labels
        with another filter and a flow id under a prefix (an intersection, linear in the
        smallest set)."""

    # KV store: namespace-scoped entries, Kestra's rules in executor/kv.py. Each method
    # checks tenant, namespace and key (and ttl) first and raises KVValidationError
    # without writing anything.
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
        """Store ``value`` (JSON text, see ``executor.kv.encode``) of ``kv_type`` under
        ``key``, expiring after ``ttl`` seconds if given (a new ttl, or none, replaces the
        old one). Keeps the creation date of an entry it replaces; raises ``KVConflict``
        (nothing written) if the key is live and ``overwrite`` is false."""

    def kv_get(self, namespace: str, key: str, *, tenant: str = "main") -> KVRecord | None:
        """The live entry of ``key`` with its value, or None (never set, deleted, expired)."""

    def kv_delete(self, namespace: str, key: str, *, tenant: str = "main") -> bool:
        """Delete ``key``; True if a live entry was deleted."""

    def kv_list(self, namespace: str, *, tenant: str = "main") -> list[KVRecord]:
        """The live entries of ``namespace`` by key, without their values."""

    # -- triggers' state (executor/triggers/)
    def trigger_fired(self, ref: TriggerRef, type_: str, execution_id: str, date: float) -> None:
        """Record that trigger ``ref`` (of type ``type_``) started ``execution_id`` at
        ``date`` (epoch s): its last fire, one more in its count."""

    def trigger_failed(self, ref: TriggerRef, type_: str, error: str, date: float) -> None:
        """Record ``error`` as the last error of trigger ``ref`` (at ``date``)."""

    def trigger_state(self, ref: TriggerRef) -> TriggerState | None:
        """The recorded state of ``ref`` (None if nothing was ever recorded)."""

    def trigger_states(self, namespace: str | None = None) -> list[TriggerState]:
        """The recorded state of every trigger (of ``namespace`` only, if given), by uid."""

    def set_trigger_disabled(self, ref: TriggerRef, disabled: bool) -> None:
        """Disable (or enable again) trigger ``ref`` whatever its flow says."""

    def forget_triggers(self, namespace: str, flow_id: str, keep: Iterable[str] = ()) -> None:
        """Delete the state of the flow's triggers whose id is not in ``keep``."""

    # -- Flow triggers (executor/triggers/flow_trigger.py)
    def flow_listeners(self) -> list[tuple[str, str]]:
        """(namespace, flow id) of every deployed flow with an enabled Flow trigger (kept
        by ``deploy_flow``, ``deploy_flow_source`` and ``delete_flow``); while there is
        none, ends are not appended to the stream of ends. A move to a state other than
        an end is appended only while an enabled Flow trigger of an enabled flow lists
        that state in ``states`` (kept by the same calls)."""

    def read_flow_ends(
        self, consumer: str, count: int, claim_idle: float | None = None
    ) -> list[FlowEndEntry]:
        """Up to ``count`` entries of the stream of ends for ``consumer`` of the one
        consumer group: first, if ``claim_idle`` (seconds) is given, entries another
        consumer read and left unacknowledged that long (it died or hangs), then new
        ones. An entry stays pending until ``ack_flow_ends``."""

    def ack_flow_ends(self, entry_ids: list[str]) -> None:
        """Acknowledge (and drop) entries of the stream of ends once evaluated."""

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
        """Record in multiple condition ``uid``'s window the conditions ``met`` by stream
        entry ``entry_id``; True if all ``total`` are met. ``bounds`` (epoch s) is the
        window a first result opens (a window whose end passed is forgotten); ``reset``:
        forget the window once complete (``resetOnSuccess``). Atomic, and the same entry
        recorded again gives the same answer (a retry after a crash)."""

    # -- due queues (executor/triggers/schedule.py): schedules, backfills
    def due_set(self, queue: str, uid: str, tick: str | None, due: float = 0.0) -> None:
        """Put ``uid`` in due queue ``queue`` at ``tick``, due at ``due`` (epoch s), or
        take it out (``tick`` None); a claim on it is dropped (its holder's advance
        then changes nothing)."""

    def due_claim(self, queue: str, now: float, limit: int, lease: float) -> list[tuple[str, str]]:
        """Claim up to ``limit`` members due at ``now`` for ``lease`` seconds, after
        handing back the claims whose lease lapsed: [(uid, tick)], each claimed by one
        caller only."""

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
        """Move claimed ``uid`` from ``fired`` to ``tick`` (due at ``due``; None: out of
        the queue) and release it, recording ``ran`` among the ticks it ran (the newest
        ``keep`` kept; queue ``sched`` only: the record shares its hash tag); False,
        with nothing written, if it is no longer claimed at ``fired``."""

    def due_advance_many(self, queue: str, steps: Sequence[DueStep]) -> list[bool]:
        """``due_advance`` for each of ``steps`` (Redis: in one round trip), each its
        own compare-and-set; whether each advanced."""

    def due_position(self, queue: str, uid: str) -> DuePosition | None:
        """Where ``uid`` stands in ``queue`` (None if it is not in it)."""

    def due_unlock(self, queue: str, uid: str, now: float) -> bool:
        """Drop the claim on ``uid`` (due again at ``now``); False if it was not claimed."""

    def ticks_record(self, uid: str, ticks: Sequence[str], keep: int) -> None:
        """Record ``ticks`` among those trigger ``uid`` ran (the newest ``keep`` kept)."""

    def ticks_ran(self, uid: str, ticks: Sequence[str]) -> set[str]:
        """Which of ``ticks`` trigger ``uid`` recorded as run (``due_advance(ran=)``)."""

    def backfill_get(self, uid: str) -> dict[str, str] | None:
        """The backfill of trigger ``uid``, its fields (None if none)."""

    def backfill_put(self, uid: str, fields: Mapping[str, str], *, replace: bool = False) -> None:
        """Set fields of the backfill of ``uid`` (``replace``: drop the other fields)."""

    def backfill_delete(self, uid: str) -> None:
        """Forget the backfill of ``uid``."""


def schedule_sync(store: Store, flow: Flow) -> None:
    """After ``flow`` was deployed: bring its schedules' entries in the due queue in step
    (``executor/triggers/schedule.py`` ``sync``). Every store's ``deploy_flow`` and
    ``deploy_flow_source`` call it: every way to deploy (client, API, CLI, submit) goes
    through them."""
    from executor.triggers.schedule import sync

    sync(store, flow)


def schedule_deleted(store: Store, namespace: str, flow_id: str, revision: int) -> None:
    """After a flow was deleted (its last revision ``revision``): take its schedules out
    of the due queue, forget its triggers' state (``schedule.flow_deleted``)."""
    from executor.triggers.schedule import flow_deleted

    flow_deleted(store, namespace, flow_id, revision)
