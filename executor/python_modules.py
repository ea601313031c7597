"""Which modules ``Python`` (Function) tasks may call: ``OSTRA_PYTHON_MODULES``.

A flow author who could name any ``module:function`` could run ``os:getenv`` on a worker
and read its Redis password; so only the modules the operator lists are allowed, as
comma-separated fnmatch patterns (``myco.tasks.*``, ``etl``). ``*`` matches dots too, so
``myco.*`` allows every module below ``myco`` (not ``myco`` itself).

Workers always check, before importing anything. A deploying process (the API, the
client, ``ostra flow deploy``) checks too when the setting is set in its environment,
so a refused function is a deploy error rather than a failed task run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from executor.errors import FlowValidationError, Problem

if TYPE_CHECKING:
    from executor.flow import Flow, TaskDef

SETTING = "OSTRA_PYTHON_MODULES"
FUNCTION_TYPE = "io.ostra.plugin.python.Function"


def allowed(module: str, patterns: Iterable[str]) -> bool:
    """True when ``module`` matches one of ``patterns`` (case-sensitive fnmatch)."""
    return any(fnmatchcase(module, p) for p in patterns)


def refusal(spec: str, patterns: tuple[str, ...]) -> str | None:
    """Why ``spec`` (``module:callable``) may not be called, or None when it may."""
    module = spec.partition(":")[0]
    if allowed(module, patterns):
        return None
    shown = ",".join(patterns) if patterns else "unset: no module is allowed"
    return (
        f"function {spec!r} is not allowed: module {module!r} is not listed in {SETTING} ({shown})"
    )


def check_flow(flow: Flow, patterns: tuple[str, ...]) -> None:
    """Raise FlowValidationError naming every ``Python`` task of ``flow`` whose function
    is not allowed by ``patterns``."""
    problems = [
        Problem(f"{path}.function", reason)
        for path, task in _tasks(flow)
        if task.task_type.name == FUNCTION_TYPE
        and isinstance(spec := task.properties.get("function"), str)
        and (reason := refusal(spec, patterns)) is not None
    ]
    if problems:
        raise FlowValidationError(problems)


def _tasks(flow: Flow) -> Iterator[tuple[str, TaskDef]]:
    from executor.flow import BRANCHES, TaskDef
    from executor.flowables import child_lists

    def walk(tasks: list[TaskDef], path: str) -> Iterator[tuple[str, TaskDef]]:
        for i, task in enumerate(tasks):
            here = f"{path}[{i}]"
            yield here, task
            tt = task.task_type
            if tt.flowable:
                for name, raw in child_lists(tt.name, task.properties):
                    yield from walk([TaskDef.model_validate(r) for r in raw], f"{here}.{name}")

    for name in (*BRANCHES, "afterExecution"):
        yield from walk(flow.branch(name), name)


def directory_patterns(directory: Path, path_entries: Iterable[Path]) -> list[str]:
    """The modules found in ``directory`` as patterns, for ``ostra run``'s local worker.

    Each of ``path_entries`` (the local worker's path: the current directory) that holds
    ``directory`` gives its dotted name: ``examples`` and ``examples.*`` for
    ``./examples``; when ``directory`` is the entry itself, its ``*.py`` files and
    packages (``etl``, ``pkg``, ``pkg.*``). Standard library names and private names
    (``_x``) are left out, so a stray ``os.py`` allows nothing.
    """
    directory = directory.resolve()
    reserved = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)
    patterns: list[str] = []
    for base in path_entries:
        try:
            parts = directory.relative_to(base.resolve()).parts
        except ValueError:
            continue
        if parts:
            if all(p.isidentifier() for p in parts) and parts[0] not in reserved:
                prefix = ".".join(parts)
                patterns += [prefix, f"{prefix}.*"]
            continue
        for entry in sorted(directory.iterdir()):
            is_module = entry.is_file() and entry.suffix == ".py"
            name = entry.stem if is_module else entry.name
            if not name.isidentifier() or name.startswith("_") or name in reserved:
                continue
            if is_module:
                patterns.append(name)
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                patterns += [name, f"{name}.*"]
    return list(dict.fromkeys(patterns))


def defining_module(obj: Any) -> str | None:
    """The module a callable says it was defined in (``__module__``), if any."""
    module = getattr(obj, "__module__", None)
    return module if isinstance(module, str) else None
