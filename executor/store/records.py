"""The stored record formats both stores share, written and read in one place.

A task run is a flat hash of strings (attempts as ``aN:*`` fields); a state history is
field ``h``: JSON entries joined by commas, as ``hist()``/``ahist()``/``happend()`` in
``_lib.lua`` write them; a step's state changes are one events entry, a JSON list of
``{k, tr, task, a, s, d}``. ``RedisStore`` keeps these records in Redis, ``MemoryStore``
in dicts; both read them back into models here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from executor.flow import Flow
from executor.models import (
    Execution,
    ExecutionMetadata,
    ExecutionTrigger,
    History,
    Label,
    State,
    StateEvent,
    TaskRun,
    TaskRunAttempt,
    WorkerWait,
)
from executor.state import StateType
from executor.store.base import NewRow, TriggerRef, TriggerState


def hist(state: str, date: str) -> str:
    """One history entry, as ``hist()`` in ``_lib.lua`` writes it."""
    return f'{{"state":"{state}","date":"{date}"}}'


def ahist(n: int | str, state: str, date: str) -> str:
    """One attempt history entry, as ``ahist()`` in ``_lib.lua`` writes it."""
    return f'{{"attempt":{n},"state":"{state}","date":"{date}"}}'


def happend(old: str | None, *entries: str) -> str:
    """History entries appended to a history field (``happend()`` in ``_lib.lua``)."""
    s = old or ""
    for entry in entries:
        s = entry if s == "" else f"{s},{entry}"
    return s


def history(raw: str | None) -> list[dict[str, Any]]:
    """The entries of a history field."""
    entries: list[dict[str, Any]] = json.loads(f"[{raw}]") if raw else []
    return entries


def state_of(entries: Iterable[Mapping[str, Any]]) -> State:
    """A ``State`` from history entries (CREATED with none)."""
    hist_ = [History(state=StateType(e["state"]), date=e["date"]) for e in entries]
    return State(current=hist_[-1].state if hist_ else StateType.CREATED, histories=hist_)


def task_run_of(eid: str, x: Mapping[str, str], h: Mapping[str, str]) -> TaskRun:
    """A task run from its hash ``h`` (``x``: its execution's hash), with its attempts."""
    entries = history(h.get("h"))
    n = int(h.get("attempts") or 0)
    attempts = [
        TaskRunAttempt(
            number=i,
            state=state_of(e for e in entries if e.get("attempt") == i),
            worker_id=h.get(f"a{i}:worker"),
            reason=h.get(f"a{i}:reason"),
        )
        for i in range(1, n + 1)
    ]
    return TaskRun(
        id=h["id"],
        execution_id=eid,
        namespace=x["namespace"],
        flow_id=x["flowId"],
        task_id=h["taskId"],
        parent_task_run_id=h.get("parentTaskRunId") or None,
        value=h.get("value") or None,
        attempts=attempts,
        iteration=int(h["iteration"]) if h.get("iteration") else None,
        outputs=json.loads(h["outputs"]) if h.get("outputs") else {},
        state=state_of(e for e in entries if "attempt" not in e),
        waiting_for_worker=_waiting(h, entries),
    )


def _waiting(h: Mapping[str, str], entries: list[dict[str, Any]]) -> WorkerWait | None:
    """Set by the reconciler (``resend.lua``: ``mw``, the group) when it found the task
    run's message still queued after the pending grace; dropped when an attempt starts."""
    group = h.get("mw")
    if not group:
        return None
    raw = h.get("ms") or next((e["date"] for e in entries if e.get("state") == "CREATED"), "")
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return WorkerWait(
        worker_group=group,
        since=since,
        seconds=round(max(0.0, (datetime.now(UTC) - since).total_seconds()), 3),
    )


def metadata_of(x: Mapping[str, str], started: datetime | None = None) -> ExecutionMetadata:
    """An execution's ``metadata`` from its hash (``attemptNumber``, ``originalCreated``;
    the first of a chain has neither: attempt 1, created when its state ``started``)."""
    created = x.get("originalCreated")
    return ExecutionMetadata(
        attempt_number=int(x.get("attemptNumber") or 1),
        original_created_date=datetime.fromtimestamp(float(created), UTC) if created else started,
    )


def origin_of(x: Mapping[str, str]) -> ExecutionTrigger | None:
    """The trigger that started an execution, from its hash (``trig``, JSON), if any."""
    raw = x.get("trig")
    return ExecutionTrigger.model_validate_json(raw) if raw else None


def retry_chain(x: Mapping[str, str], now: float) -> tuple[int, float]:
    """Where an execution stands in a chain of ``CREATE_NEW_EXECUTION`` retries, from its
    hash: its attempt number and when the chain's first execution was created (epoch
    seconds; ``now`` for a hash that has neither, such as none read at all)."""
    created = x.get("originalCreated") or x.get("created")
    return int(x.get("attemptNumber") or 1), float(created) if created else now


def created_execution(
    eid: str,
    flow: Flow,
    inputs: dict[str, Any],
    labels: list[Label],
    parent_id: str | None,
    original_id: str | None,
    fields: Mapping[str, str],
    copies: Iterable[Mapping[str, str]],
    first: Iterable[NewRow],
    date: str,
) -> Execution:
    """An execution as ``create_execution`` just stored it (``fields``: its hash), with
    the task runs a replay copied and its first task runs, all CREATED at ``date``."""
    created = [History(state=StateType.CREATED, date=date)]  # type: ignore[arg-type]
    return Execution(
        id=eid,
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=flow.revision or 1,
        state=State(current=StateType.CREATED, histories=created),
        inputs=inputs,
        labels=labels,
        variables=flow.variables,
        parent_id=parent_id,
        original_id=original_id or eid,
        metadata=metadata_of(fields, created[0].date),
        trigger=origin_of(fields),
        task_run_list=[task_run_of(eid, fields, c) for c in copies]
        + [
            TaskRun(
                id=row.id,
                execution_id=eid,
                namespace=flow.namespace,
                flow_id=flow.id,
                task_id=row.task_id,
                parent_task_run_id=row.parent_task_run_id,
                value=row.value,
                iteration=row.iteration,
                state=State(current=StateType.CREATED, histories=created),
            )
            for row in first
        ],
    )


def changes_of(
    eid: str, entry_id: str, changes: Iterable[Mapping[str, str]]
) -> list[tuple[str, StateEvent]]:
    """The state changes of one events entry, each with its own id ``ENTRY/i`` (reading
    resumes after any of them)."""
    return [
        (
            f"{entry_id}/{i}",
            StateEvent(
                execution_id=eid,
                state=StateType(d["s"]),
                date=d["d"],  # type: ignore[arg-type]
                task_run_id=d["tr"] or None,
                task_id=d["task"] or None,
                attempt=int(d["a"]) if d["a"] else None,
            ),
        )
        for i, d in enumerate(changes)
    ]


def trigger_state_of(ref: TriggerRef, h: Mapping[str, str]) -> TriggerState:
    """A trigger's state from its hash (``P:trig:*``, see ``keys.py``)."""
    known = {"type", "date", "eid", "fired", "error", "errorDate", "disabled"}
    return TriggerState(
        ref=ref,
        type=h.get("type", ""),
        date=float(h["date"]) if h.get("date") else None,
        execution_id=h.get("eid") or None,
        fired=int(h.get("fired") or 0),
        error=h.get("error") or None,
        error_date=float(h["errorDate"]) if h.get("errorDate") else None,
        disabled=h.get("disabled") == "1",
        extra={k: v for k, v in h.items() if k not in known},
    )
