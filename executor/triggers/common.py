"""The properties every trigger kind has (Kestra's ``AbstractTrigger`` and
``TriggerInterface``), checked once here when a flow is deployed.

``id`` (``^[a-zA-Z0-9][a-zA-Z0-9_-]*``), ``description`` (text), ``disabled``,
``logToFile`` and ``allowConcurrent`` (booleans), ``labels`` (a map, or a list of
``{key, value}``; no ``system.`` key, as Kestra's ``@NoSystemLabelValidation``),
``stopAfter`` (a list of state names), ``conditions`` (a list of ``{type, ...}``),
``logLevel``/``minLogLevel`` (a log level) and ``workerGroup`` (``{key, fallback}``).
Each kind's own checker (``executor.triggers.types``) adds its properties' checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from executor.errors import Problem
from executor.flow import ID_RE
from executor.state import StateType

#: Kestra's ``org.slf4j.event.Level`` names.
LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def label_problems(value: Any, path: str) -> list[Problem]:
    """A trigger's ``labels``: a map of text, or a list of ``{key, value}``."""
    items: list[tuple[Any, Any, str]]
    if isinstance(value, Mapping):
        items = [(k, v, f"{path}.{k}") for k, v in value.items()]
    elif isinstance(value, list):
        items = []
        for i, lb in enumerate(value):
            if not isinstance(lb, Mapping) or not isinstance(lb.get("key"), str):
                return [Problem(f"{path}[{i}]", "a label must be {key, value}")]
            items.append((lb["key"], lb.get("value"), f"{path}[{i}]"))
    else:
        return [Problem(path, "must be a map of labels or a list of {key, value}")]
    problems = []
    for key, val, where in items:
        if not isinstance(key, str) or not key:
            problems.append(Problem(where, f"invalid label key {key!r}"))
        elif key.startswith("system."):
            problems.append(Problem(where, "labels starting with 'system.' are reserved"))
        elif isinstance(val, Mapping | list) or val is None:
            problems.append(Problem(where, "a label value must be text"))
    return problems


def common_problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """The problems of the properties every trigger has, at ``path`` (``triggers[0]``)."""
    problems: list[Problem] = []
    tid = entry.get("id")
    if isinstance(tid, str) and tid and not ID_RE.match(tid):
        problems.append(
            Problem(f"{path}.id", f"invalid id {tid!r}: use letters, digits, '_' and '-'")
        )
    if entry.get("description") is not None and not isinstance(entry["description"], str):
        problems.append(Problem(f"{path}.description", "must be text"))
    for prop in ("disabled", "logToFile", "allowConcurrent"):
        if prop in entry and not _is_bool(entry[prop]):
            problems.append(
                Problem(f"{path}.{prop}", f"must be true or false, got {entry[prop]!r}")
            )
    if entry.get("labels") is not None:
        problems += label_problems(entry["labels"], f"{path}.labels")
    stop = entry.get("stopAfter")
    if stop is not None:
        names = {s.value for s in StateType}
        if not isinstance(stop, list):
            problems.append(Problem(f"{path}.stopAfter", "must be a list of state names"))
        else:
            for i, name in enumerate(stop):
                if name not in names:
                    problems.append(Problem(f"{path}.stopAfter[{i}]", f"unknown state {name!r}"))
    conditions = entry.get("conditions")
    if conditions is not None:
        if not isinstance(conditions, list):
            problems.append(Problem(f"{path}.conditions", "must be a list of {type, ...}"))
        else:
            for i, cond in enumerate(conditions):
                if not isinstance(cond, Mapping) or not isinstance(cond.get("type"), str):
                    problems.append(
                        Problem(f"{path}.conditions[{i}]", "a condition needs a 'type'")
                    )
    for prop in ("logLevel", "minLogLevel"):
        level = entry.get(prop)
        if level is not None and level not in LOG_LEVELS:
            problems.append(
                Problem(
                    f"{path}.{prop}", f"unknown level {level!r}: one of {', '.join(LOG_LEVELS)}"
                )
            )
    group = entry.get("workerGroup")
    if group is not None and (
        not isinstance(group, Mapping) or not isinstance(group.get("key", ""), str)
    ):
        problems.append(Problem(f"{path}.workerGroup", "must be {key, fallback}"))
    return problems
