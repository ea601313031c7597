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


def lookup(type_name: str) -> TaskType | None:
    """The task type for a name or alias, or None if unknown."""
    canonical = _ALIASES.get(type_name)
    if canonical is None:
        load_user_types()
        canonical = _ALIASES.get(type_name)
    return _REGISTRY.get(canonical) if canonical else None
