"""The variables a template sees, with Kestra's names.

``inputs``, ``outputs.<taskId>.<key>``, ``taskrun`` (``id``, ``attemptsCount``, ``value``,
``parentId``), ``task`` (``id``, ``type``), ``execution`` (``id``, ``originalId``),
``flow`` (``id``, ``namespace``, ``revision``), ``labels`` and ``vars``. Outputs are
read lazily, one task run at a time, so rendering costs what the template uses, not
the size of the execution.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from executor.flow import Flow, TaskDef
from executor.store import RedisStore


class LazyOutputs(Mapping[str, Any]):
    """``outputs``: each task's outputs fetched from Redis on first use."""

    def __init__(self, store: RedisStore, eid: str) -> None:
        self._store, self._eid = store, eid
        self._cache: dict[str, dict[str, Any]] = {}

    def __getitem__(self, task_id: str) -> Any:
        if task_id not in self._cache:
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

    def __init__(self, store: RedisStore, eid: str, name: str) -> None:
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


def build_context(
    store: RedisStore,
    eid: str,
    flow: Flow,
    task: TaskDef,
    *,
    task_run_id: str,
    attempt: int = 1,
    value: str | None = None,
    parent_task_run_id: str | None = None,
) -> dict[str, Any]:
    """The render context of one attempt of a task run."""
    return {
        "inputs": LazyField(store, eid, "inputs"),
        "labels": LazyField(store, eid, "labels"),
        "outputs": LazyOutputs(store, eid),
        "vars": flow.variables,
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {"id": eid, "originalId": eid},
        "task": {"id": task.id, "type": task.type},
        "taskrun": {
            "id": task_run_id,
            "attemptsCount": attempt - 1,
            "value": value,
            "parentId": parent_task_run_id,
        },
    }
