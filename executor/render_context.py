"""The variables a template sees, with Kestra's names.

``inputs``, ``outputs.<taskId>.<key>``, ``taskrun`` (``id``, ``attemptsCount``, ``value``,
``parentId``), ``task`` (``id``, ``type``), ``execution`` (``id``, ``originalId``),
``flow`` (``id``, ``namespace``, ``revision``), ``labels`` and ``vars``. Outputs are
read lazily, one task run at a time, so rendering costs what the template uses, not
the size of the execution.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from executor.flow import Flow, TaskDef
from executor.flowables import EACH_PARALLEL, EACH_SEQUENTIAL, FOREACH
from executor.store.base import Store

LOOPS = frozenset({FOREACH, EACH_SEQUENTIAL, EACH_PARALLEL})


def in_loop(flow: Flow, task_id: str) -> bool:
    """True if ``task_id`` runs once per loop value (it has a ForEach/Each* ancestor)."""
    parent = flow.locate(task_id).parent
    while parent is not None:
        if flow.task(parent).task_type.name in LOOPS:
            return True
        parent = flow.locate(parent).parent
    return False


class LoopOutputs(Mapping[str, Any]):
    """``outputs.<taskId>`` of a task inside a loop: its outputs by loop value."""

    def __init__(self, store: Store, eid: str, task_id: str) -> None:
        self._store, self._eid, self._task_id = store, eid, task_id
        self._cache: dict[str, dict[str, Any]] = {}

    def __getitem__(self, value: Any) -> Any:
        key = value if isinstance(value, str) else str(value)
        if key not in self._cache:
            found = self._store.task_run_outputs(self._eid, self._task_id, key)
            if found is None:
                raise KeyError(key)
            self._cache[key] = found
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)


class LazyOutputs(Mapping[str, Any]):
    """``outputs``: each task's outputs fetched from Redis on first use (by loop value for
    tasks inside loops: ``outputs.<taskId>[<value>].<key>``)."""

    def __init__(self, store: Store, eid: str, flow: Flow) -> None:
        self._store, self._eid, self._flow = store, eid, flow
        self._cache: dict[str, Any] = {}

    def __getitem__(self, task_id: str) -> Any:
        if task_id not in self._cache:
            try:
                looped = in_loop(self._flow, task_id)
            except KeyError:
                raise KeyError(task_id) from None
            if looped:
                self._cache[task_id] = LoopOutputs(self._store, self._eid, task_id)
            else:
                found = self._store.task_run_outputs(self._eid, task_id)
                if found is None:
                    raise KeyError(task_id)
                self._cache[task_id] = found
        return self._cache[task_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)


class LazyField(Mapping[str, Any]):
    """A JSON field of the execution (``inputs``, ``labels``), read on first use."""

    def __init__(self, store: Store, eid: str, name: str) -> None:
        self._store, self._eid, self._name = store, eid, name
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            raw = self._store.execution_field(self._eid, self._name)
            if self._name == "labels" and isinstance(raw, list):
                raw = {lb["key"]: lb["value"] for lb in raw}
            self._data = raw
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


class LazyParents(Sequence[dict[str, Any]]):
    """``parents``: the flowable task runs above this one, nearest first, read on use."""

    def __init__(self, store: Store, eid: str, parent_task_run_id: str | None) -> None:
        self._store, self._eid, self._first = store, eid, parent_task_run_id
        self._rows: list[dict[str, Any]] | None = None

    def _load(self) -> list[dict[str, Any]]:
        if self._rows is None:
            rows: list[dict[str, Any]] = []
            parent_id = self._first
            while parent_id and len(rows) < 16:
                row = self._store.task_run_row(self._eid, parent_id)
                if row is None:
                    break
                rows.append(
                    {
                        "taskrun": {"id": row.id, "value": row.value, "iteration": row.iteration},
                        "task": {"id": row.task_id},
                    }
                )
                parent_id = row.parent_task_run_id
            self._rows = rows
        return self._rows

    def __getitem__(self, i: Any) -> Any:
        return self._load()[i]

    def __len__(self) -> int:
        return len(self._load())


class LazyParent(Mapping[str, Any]):
    """``parent``: the nearest flowable task run above this one (``parent.taskrun.value``)."""

    def __init__(self, parents: LazyParents) -> None:
        self._parents = parents

    def __getitem__(self, key: str) -> Any:
        if not len(self._parents):
            raise KeyError(key)
        return self._parents[0][key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parents[0] if len(self._parents) else {})

    def __len__(self) -> int:
        return len(self._parents[0]) if len(self._parents) else 0


def build_context(
    store: Store,
    eid: str,
    flow: Flow,
    task: TaskDef | None,
    *,
    task_run_id: str,
    attempt: int = 1,
    value: str | None = None,
    parent_task_run_id: str | None = None,
    iteration: int | None = None,
) -> dict[str, Any]:
    """The render context of one attempt of a task run."""
    parents = LazyParents(store, eid, parent_task_run_id)
    return {
        "parent": LazyParent(parents),
        "parents": parents,
        "inputs": LazyField(store, eid, "inputs"),
        "labels": LazyField(store, eid, "labels"),
        "outputs": LazyOutputs(store, eid, flow),
        "vars": flow.variables,
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {"id": eid, "originalId": eid},
        "task": {"id": task.id, "type": task.type} if task else {},
        "taskrun": {
            "id": task_run_id,
            "attemptsCount": attempt - 1,
            "value": value,
            "parentId": parent_task_run_id,
            "iteration": iteration,
        },
    }
