"""Every task type Ostra knows, by name or alias: the built-ins, the flowables, and the
ones users register (``OSTRA_TASK_MODULES`` and the ``ostra.task_types`` entry points).

The registry itself is ``executor/tasktypes.py``, which knows no task type: the modules
that define them (``builtin_types.py``, ``flowables.py``, users' modules) register into
it when imported, and this module imports them, so nothing imports in a circle.
"""

from __future__ import annotations

import executor.builtin_types
import executor.flowables
import executor.kv_types  # noqa: F401  (importing them registers their types)
from executor.tasktypes import _ALIASES, _REGISTRY, TaskType, load_user_types

#: The old names Kestra still accepts, exactly as its core task classes declare them
#: (``@Plugin(aliases = ...)``), for the types Ostra has.
KESTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "io.kestra.plugin.core.log.Log": ("io.kestra.core.tasks.log.Log",),
    "io.kestra.plugin.core.debug.Return": ("io.kestra.core.tasks.debugs.Return",),
    "io.kestra.plugin.core.debug.Echo": ("io.kestra.core.tasks.debugs.Echo",),
    "io.kestra.plugin.core.execution.Fail": ("io.kestra.core.tasks.executions.Fail",),
    "io.kestra.plugin.core.templating.TemplatedTask": (
        "io.kestra.core.tasks.templating.TemplatedTask",
    ),
    "io.kestra.plugin.core.flow.Pause": ("io.kestra.core.tasks.flows.Pause",),
    "io.kestra.plugin.core.flow.Sequential": ("io.kestra.core.tasks.flows.Sequential",),
    "io.kestra.plugin.core.flow.Parallel": ("io.kestra.core.tasks.flows.Parallel",),
    "io.kestra.plugin.core.flow.EachSequential": ("io.kestra.core.tasks.flows.EachSequential",),
    "io.kestra.plugin.core.flow.EachParallel": ("io.kestra.core.tasks.flows.EachParallel",),
    "io.kestra.plugin.core.flow.Switch": ("io.kestra.core.tasks.flows.Switch",),
    "io.kestra.plugin.core.flow.If": ("io.kestra.core.tasks.flows.If",),
    "io.kestra.plugin.core.flow.AllowFailure": ("io.kestra.core.tasks.flows.AllowFailure",),
    "io.kestra.plugin.core.flow.Dag": ("io.kestra.core.tasks.flows.Dag",),
    "io.kestra.plugin.core.flow.Subflow": (
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    ),
}


def _add_kestra_aliases() -> None:
    for name, aliases in KESTRA_ALIASES.items():
        tt = _REGISTRY.get(name)
        if tt is None:
            continue  # a type another module registers later (or not at all)
        tt.aliases = tuple(dict.fromkeys((*tt.aliases, *aliases)))
        for alias in aliases:
            _ALIASES.setdefault(alias, name)


_add_kestra_aliases()


def lookup(type_name: str) -> TaskType | None:
    """The task type for a name or alias, or None if unknown."""
    canonical = _ALIASES.get(type_name)
    if canonical is None:
        load_user_types()
        canonical = _ALIASES.get(type_name)
    return _REGISTRY.get(canonical) if canonical else None
