"""The variables a template sees: Kestra's (``RunVariables.java``), whole.

``taskrun`` (``id``, ``startDate``, ``attemptsCount``, and ``parentId``, ``value``,
``iteration`` when set), ``execution`` (``id``, ``startDate``, ``originalId``,
``state``), ``flow`` (``id``, ``namespace``, ``revision``, ``tenantId`` when set), ``task`` (``id``,
``type``), ``parent``/``parents`` (the ancestors with a loop value or outputs, nearest
first), ``outputs.<taskId>.<key>``, ``inputs``, ``vars``, ``labels`` (a map; the
``system.`` labels under ``labels.system``), ``envs``, ``globals`` and
``tasks.<taskId>.state`` (by loop value for looped tasks). ``trigger`` holds the
variables of the trigger that started the execution (a Subflow's child has the
parent's ``executionId``, ``namespace``, ``flowId``, ``flowRevision``); it is empty for
an execution of a flow with triggers that a user asked for, and absent for one of a
flow without triggers that nothing started (looked up only if a template names it).

``envs`` are the environment variables named ``ENV_*`` (``OSTRA_ENV_PREFIX`` changes the
prefix), without it and lowercased, as Kestra's ``kestra.variables.env-vars-prefix``;
``globals`` come from ``OSTRA_GLOBALS`` (a JSON object) and ``OSTRA_GLOBALS_FILE`` (a
YAML or JSON file), as Kestra's ``kestra.variables.globals``.

Everything from the store is read lazily, one field or task run at a time, so rendering
costs what the template uses, not the size of the execution.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from executor.errors import ExecutionNotFound, TemplateError
from executor.flow import Flow, TaskDef
from executor.flowables import EACH_PARALLEL, EACH_SEQUENTIAL, FOREACH
from executor.store.base import Store
from executor.store.records import history

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


ENV_PREFIX_ENV = "OSTRA_ENV_PREFIX"
DEFAULT_ENV_PREFIX = "ENV_"
GLOBALS_ENV = "OSTRA_GLOBALS"
GLOBALS_FILE_ENV = "OSTRA_GLOBALS_FILE"
SYSTEM_PREFIX = "system."


class LazyMap(Mapping[str, Any]):
    """A mapping with some values computed on first use (absent keys stay absent: a
    loader returning None means the key is not there, as Kestra omits unset fields)."""

    def __init__(self, fixed: dict[str, Any], lazy: dict[str, Callable[[], Any]]) -> None:
        self._fixed = {k: v for k, v in fixed.items() if v is not None}
        self._lazy = lazy
        self._done: set[str] = set()

    def _get(self, key: str) -> Any:
        if key not in self._done and key in self._lazy:
            value = self._lazy[key]()
            if value is not None:
                self._fixed[key] = value
            self._done.add(key)
        return self._fixed[key]

    def __getitem__(self, key: str) -> Any:
        return self._get(key)

    def __iter__(self) -> Iterator[str]:
        for key in list(self._lazy):
            try:
                self._get(key)
            except KeyError:
                pass
        return iter(list(self._fixed))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Deferred(Mapping[str, Any]):
    """A mapping computed by ``load`` on first use (a context value that costs a read or
    a scan, which most templates never look at)."""

    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load_fn = load
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._load_fn()
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def lazy_field(store: Store, eid: str, name: str) -> Deferred:
    """A JSON field of the execution (``inputs``, ``labels``), read on first use."""

    def load() -> dict[str, Any]:
        try:
            raw = store.execution_field(eid, name)
        except ExecutionNotFound:
            raw = None
        if name == "labels":
            raw = labels_map(raw)
        return raw if isinstance(raw, dict) else {}

    return Deferred(load)


def trigger_variables(store: Store, eid: str) -> dict[str, Any] | None:
    """The variables of the trigger that started execution ``eid`` (its ``trig``
    field), None if nothing did."""
    try:
        raw = store.execution_field(eid, "trig")
    except ExecutionNotFound:
        return None
    variables = raw.get("variables") if isinstance(raw, dict) else None
    return variables if isinstance(variables, dict) else None


class RunContext(dict[str, Any]):
    """A render context that finds ``trigger`` on first use: one read of the execution's
    ``trig`` field, only by a template that names ``trigger``; absent (an undefined
    name, as in Kestra) when nothing started the execution (a user, the API)."""

    def __init__(self, data: Mapping[str, Any], store: Store, eid: str) -> None:
        super().__init__(data)
        self._store, self._eid = store, eid

    def __missing__(self, key: str) -> Any:
        variables = trigger_variables(self._store, self._eid) if key == "trigger" else None
        if variables is None:
            raise KeyError(key)
        self[key] = variables
        return variables


def labels_map(raw: Any) -> dict[str, Any]:
    """Labels as Kestra's context shows them: ``{key: value}``, the first of equal keys
    kept, and ``system.*`` labels under ``system`` (``labels.system.correlationId``)."""
    pairs: list[tuple[str, Any]]
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [
            (lb["key"], lb["value"])
            for lb in raw
            if isinstance(lb, dict) and lb.get("key") is not None and lb.get("value") is not None
        ]
    else:
        return {}
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key.startswith(SYSTEM_PREFIX):
            system = out.setdefault("system", {})
            if isinstance(system, dict):
                system.setdefault(key[len(SYSTEM_PREFIX) :], value)
        elif key not in out:
            out[key] = value
    return out


class LazyParents(Sequence[dict[str, Any]]):
    """``parents``: Kestra's ``Execution.parents``. The ancestors of this task run that
    have a loop value or outputs, nearest first, each ``{taskrun: {value}, outputs}``
    (with only what is set); read on first use."""

    def __init__(self, store: Store, eid: str, parent_task_run_id: str | None) -> None:
        self._store, self._eid, self._first = store, eid, parent_task_run_id
        self._rows: list[dict[str, Any]] | None = None

    def _load(self) -> list[dict[str, Any]]:
        if self._rows is None:
            rows: list[dict[str, Any]] = []
            parent_id = self._first
            depth = 0
            while parent_id and depth < 64:
                depth += 1
                row = self._store.task_run_row(self._eid, parent_id)
                if row is None:
                    break
                entry: dict[str, Any] = {}
                if row.value is not None:
                    entry["taskrun"] = {"value": row.value}
                raw = self._store.task_run_field(self._eid, row.id, "outputs")
                outputs = json.loads(raw) if raw else None
                if outputs:
                    entry["outputs"] = outputs
                if entry:
                    rows.append(entry)
                parent_id = row.parent_task_run_id
            self._rows = rows
        return self._rows

    def __getitem__(self, i: Any) -> Any:
        return self._load()[i]

    def __len__(self) -> int:
        return len(self._load())


class LazyParent(Mapping[str, Any]):
    """``parent``: the first of ``parents`` (``parent.taskrun.value``); absent if none."""

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


def task_states(store: Store, eid: str) -> dict[str, Any]:
    """``tasks``: each task's ``{state}``, or ``{value: {state}}`` for the task runs of
    a loop (Kestra's ``tasks.<taskId>.state``), from every task run of the execution."""
    data: dict[str, Any] = {}
    for row in store.task_run_rows(eid):
        state = row.state.value
        if row.value is None:
            data[row.task_id] = {"state": state}
        else:
            entry = data.setdefault(row.task_id, {})
            if isinstance(entry, dict):
                entry[row.value] = {"state": state}
    return data


def envs(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``envs``: the environment variables with the prefix (``OSTRA_ENV_PREFIX``, by
    default ``ENV_``), named without it and lowercased (``ENV_MY_VAR`` is ``envs.my_var``)."""
    environ = os.environ if environ is None else environ
    prefix = environ.get(ENV_PREFIX_ENV, DEFAULT_ENV_PREFIX)
    if not prefix:
        return {}
    return {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}


def globals_(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``globals``: ``OSTRA_GLOBALS_FILE`` (YAML or JSON) updated by ``OSTRA_GLOBALS`` (a JSON
    object). A configuration error raises ``ValueError`` naming the variable."""
    environ = os.environ if environ is None else environ
    return _globals(environ.get(GLOBALS_FILE_ENV, ""), environ.get(GLOBALS_ENV, ""))


@lru_cache(maxsize=8)
def _globals(path: str, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{GLOBALS_FILE_ENV}: cannot read {path}: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{GLOBALS_FILE_ENV}: {path} must hold a mapping")
        out.update(loaded or {})
    if text:
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{GLOBALS_ENV} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{GLOBALS_ENV} must be a JSON object")
        out.update(loaded)
    return out


def _first_date(raw: str | None) -> str | None:
    for entry in history(raw):
        if "attempt" not in entry:
            return str(entry["date"])
    return None


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
    """The render context of one attempt of a task run (of the execution itself, for
    flow outputs, when ``task`` is None and ``task_run_id`` is empty)."""
    parents = LazyParents(store, eid, parent_task_run_id)

    def execution_field(name: str) -> Callable[[], Any]:
        def load() -> Any:
            try:
                meta = store.execution_meta(eid)
            except ExecutionNotFound:
                return None
            if name == "startDate":
                return _first_date(meta.get("h"))
            return meta.get(name) or None

        return load

    try:
        configured = globals_()
    except ValueError as exc:  # a configuration error fails what renders, clearly
        raise TemplateError(str(exc)) from None
    values: dict[str, Any] = {
        "envs": Deferred(envs),
        "globals": configured,
        "flow": {
            k: v
            for k, v in (
                ("id", flow.id),
                ("namespace", flow.namespace),
                ("revision", flow.revision),
                ("tenantId", flow.tenant_id),
            )
            if v is not None
        },
        "vars": flow.variables,
        "parents": parents,
        "parent": LazyParent(parents),
        "execution": LazyMap(
            {"id": eid},
            {
                "startDate": execution_field("startDate"),
                "originalId": execution_field("originalId"),
                # Kestra's RunContextVariables: the execution's current state (its end
                # state for afterExecution tasks)
                "state": execution_field("state"),
            },
        ),
        "outputs": LazyOutputs(store, eid, flow),
        "tasks": Deferred(lambda: task_states(store, eid)),
        "inputs": lazy_field(store, eid, "inputs"),
        "labels": lazy_field(store, eid, "labels"),
    }
    # ``trigger`` is found on first use (RunContext): undefined when nothing started the
    # execution, whether or not its flow has ``triggers`` (Kestra's RunVariables).
    context = RunContext(values, store, eid)
    if task is not None:
        context["task"] = {"id": task.id, "type": task.type}
    if task_run_id:
        context["taskrun"] = LazyMap(
            {
                "id": task_run_id,
                "attemptsCount": attempt - 1,
                "parentId": parent_task_run_id,
                "value": value,
                "iteration": iteration,
            },
            {"startDate": lambda: _first_date(store.task_run_field(eid, task_run_id, "h"))},
        )
    return context
