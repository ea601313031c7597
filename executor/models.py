"""Pydantic models of executions, task runs, attempts, metrics and logs.

JSON uses Kestra's shape and camelCase names; Python attributes are snake_case.
``execution.model_dump(mode="json", by_alias=True)`` is exactly what the API returns.
Flow definitions live in ``executor/flow.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.alias_generators import to_camel

from executor.state import StateType


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class OstraModel(BaseModel):
    """Base: camelCase JSON, snake_case attributes, either accepted on input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class History(OstraModel):
    """One entry of a state history: the state entered and when."""

    state: StateType
    date: datetime


class State(OstraModel):
    """A current state and the dated history of every state entered (Kestra's ``State``)."""

    current: StateType = StateType.CREATED
    histories: list[History] = Field(default_factory=list)

    @classmethod
    def of(cls, *entries: tuple[StateType, datetime]) -> State:
        hist = [History(state=s, date=d) for s, d in entries]
        return cls(current=hist[-1].state if hist else StateType.CREATED, histories=hist)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start_date(self) -> datetime | None:
        return self.histories[0].date if self.histories else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end_date(self) -> datetime | None:
        if self.histories and (self.current.is_terminated() or self.current == StateType.PAUSED):
            return self.histories[-1].date
        return None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration(self) -> float | None:
        """Seconds from the first state to the end (or to now while not ended)."""
        if not self.histories:
            return None
        end = self.end_date or utcnow()
        return (end - self.histories[0].date).total_seconds()

    def with_state(self, state: StateType, date: datetime | None = None) -> State:
        """A copy with ``state`` appended; the same state again is a no-op."""
        if state == self.current and self.histories:
            return self
        hist = [*self.histories, History(state=state, date=date or utcnow())]
        return State(current=state, histories=hist)


class TaskRunAttempt(OstraModel):
    """One try of a task run: its own states, the worker that ran it, and why it ended."""

    number: int
    state: State
    worker_id: str | None = None
    reason: str | None = None


class WorkerWait(OstraModel):
    """A task run no worker has taken for longer than ``OSTRA_PENDING_GRACE``, its
    message still in its worker group's queue (no worker consumes that queue, or all
    are busy): ``workerGroup`` (the queue), ``since`` (when the message was queued) and
    ``seconds`` (how long it has waited, when read). Not in Kestra's ``TaskRun``."""

    worker_group: str
    since: datetime
    seconds: float


class TaskRun(OstraModel):
    """A task of the flow, run within one execution (Kestra's ``TaskRun``);
    ``waitingForWorker`` (Ostra's) is set while its message waits for a worker."""

    id: str
    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None
    attempts: list[TaskRunAttempt] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    state: State = Field(default_factory=State)
    waiting_for_worker: WorkerWait | None = None

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)


class Label(OstraModel):
    key: str
    value: str


class ExecutionMetadata(OstraModel):
    """Which execution of a chain of flow-level retries this is (Kestra's
    ``ExecutionMetadata``): ``attemptNumber`` 1 for the first, + 1 for each new execution
    a ``CREATE_NEW_EXECUTION`` retry made; ``originalCreatedDate`` when the first was
    created (``maxDuration`` counts from it)."""

    attempt_number: int = 1
    original_created_date: datetime | None = None


class ExecutionTrigger(OstraModel):
    """What started an execution by itself (Kestra's ``ExecutionTrigger``): the flow's
    trigger ``id`` and ``type``, and the ``variables`` templates read as ``trigger.*``
    (a schedule's ``date``/``next``/``previous``, a webhook's ``body``/``headers``, the
    ended execution of a Flow trigger)."""

    id: str
    type: str
    variables: dict[str, Any] = Field(default_factory=dict)


class Execution(OstraModel):
    """One run of a flow: its inputs, task runs, outputs and states."""

    id: str
    namespace: str
    flow_id: str
    flow_revision: int = 1
    state: State = Field(default_factory=State)
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    labels: list[Label] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    parent_id: str | None = None
    original_id: str | None = None
    metadata: ExecutionMetadata = Field(default_factory=ExecutionMetadata)
    #: Set when a trigger of the flow started it (None for an execution asked for).
    trigger: ExecutionTrigger | None = None
    task_run_list: list[TaskRun] = Field(default_factory=list)

    def task_runs(self, task_id: str) -> list[TaskRun]:
        """The task runs of ``task_id``, in creation order."""
        return [tr for tr in self.task_run_list if tr.task_id == task_id]

    def task_run(self, task_id: str) -> TaskRun:
        """The single task run of ``task_id`` (raises ``KeyError`` if there is none)."""
        runs = self.task_runs(task_id)
        if not runs:
            raise KeyError(task_id)
        return runs[0]


class ExecutionPage(OstraModel):
    """One page of a search, newest first (Kestra's ``PagedResults``): the executions of
    the page and how many match in all."""

    results: list[Execution]
    total: int


class MetricEntry(OstraModel):
    """A counter or a timer emitted by a task run. Timers are stored in milliseconds
    in ``value`` as Kestra does; ``type`` tells which."""

    type: Literal["counter", "timer"]
    name: str
    value: float
    tags: dict[str, str] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=utcnow)
    execution_id: str | None = None
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None

    @property
    def duration(self) -> timedelta | None:
        return timedelta(milliseconds=self.value) if self.type == "timer" else None


class LogEntry(OstraModel):
    """One log line of a task run (or of the execution itself when ``task_run_id`` is None)."""

    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = "INFO"
    message: str
    timestamp: datetime = Field(default_factory=utcnow)
    execution_id: str | None = None
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None


class LogPage(OstraModel):
    """A page of an execution's log entries, in the order they were stored: the entries,
    how many match from the page's cursor on, and the cursor to read on from
    (``next_cursor``, a position in the execution's log: pass it back as ``cursor``)."""

    results: list[LogEntry]
    total: int
    next_cursor: int


class StateEvent(OstraModel):
    """A state change, as ``Client.follow`` yields it: of the execution (``task_run_id`` is
    None), of a task run, or of one attempt (``attempt`` set)."""

    execution_id: str
    state: StateType
    date: datetime
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None
