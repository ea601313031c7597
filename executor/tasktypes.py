"""The registry of task types: names, aliases, property models and runners.

A task type is a pydantic model of its properties plus a plain function
``run(props, ctx) -> outputs | None`` that a worker calls. The executor validates flows
with the property models and never imports worker code: built-in runners are named by
``"module:function"`` strings that only workers import.

Register your own with the decorator, in a module listed in ``OSTRA_TASK_MODULES``
(comma-separated, imported by clients and workers alike) or under the
``ostra.task_types`` entry-point group of an installed package::

    from pydantic import BaseModel
    from executor import task_type

    class Hello(BaseModel):
        name: str

    @task_type("acme.greetings.Hello", aliases=["Hello"], properties=Hello)
    def hello(props: Hello, ctx):
        return {"greeting": f"hello {props.name}"}
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

Runner = Callable[..., Mapping[str, Any] | None]

ENTRY_POINT_GROUP = "ostra.task_types"
MODULES_ENV = "OSTRA_TASK_MODULES"


class Properties(BaseModel):
    """Base for property models: unknown properties are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass
class TaskType:
    """A registered task type."""

    name: str
    properties: type[BaseModel]
    runner: Runner | str | None = None
    aliases: tuple[str, ...] = ()
    flowable: bool = False
    #: property names holding nested task lists (flowables)
    children: tuple[str, ...] = ()
    doc: str = ""
    _resolved: Runner | None = field(default=None, repr=False)

    def resolve_runner(self) -> Runner:
        """The runner function, importing it on first use (workers only)."""
        if self._resolved is None:
            if self.runner is None:
                raise LookupError(f"task type {self.name} has no runner")
            if isinstance(self.runner, str):
                module, _, attr = self.runner.partition(":")
                self._resolved = getattr(importlib.import_module(module), attr)
            else:
                self._resolved = self.runner
        return self._resolved


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, UnionType):
        return get_args(annotation)
    return (annotation,)


def _accepts(arg: Any, value: Any) -> bool:
    """True if ``value`` already has the shape of the non-text type ``arg``."""
    origin = get_origin(arg) or arg
    if arg is Any:
        return True
    if not isinstance(origin, type):
        return False
    if isinstance(value, bool) and origin is not bool:
        return False
    if origin is float and isinstance(value, int):
        return True
    return isinstance(value, origin)


def _as_text(annotation: Any, value: Any) -> Any:
    """``value`` printed as text where ``annotation`` wants text and takes nothing else
    of its type (a ``str | list[str]`` keeps a list, printing its non-text items)."""
    if value is None or isinstance(value, str):
        return value
    args = _union_args(annotation)
    if str not in args:
        return value
    from executor.templating import to_text

    for arg in args:
        if arg in (str, type(None)):
            continue
        if _accepts(arg, value):
            if get_origin(arg) is list and isinstance(value, list):
                (item,) = get_args(arg) or (Any,)
                return [_as_text(item, v) for v in value]
            return value
    return to_text(value)


def text_fields(model: type[BaseModel], data: Any) -> Any:
    """Rendered properties, with values of text properties printed as text.

    A property that is exactly ``{{ expr }}`` renders to the expression's own value (a
    number, a list) so that typed properties get typed values; a property declared as
    text gets it printed as Pebble would (``3``, ``true``, JSON for maps and lists), as
    Kestra types a rendered ``String`` property: never a validation error.
    """
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name, info in model.model_fields.items():
        for key in {name, info.alias or name}:
            if key in out:
                out[key] = _as_text(info.annotation, out[key])
    return out


_REGISTRY: dict[str, TaskType] = {}
_ALIASES: dict[str, str] = {}
_entry_points_loaded = False


def register(tt: TaskType) -> TaskType:
    """Add ``tt`` to the registry under its name and aliases (replacing earlier ones)."""
    _REGISTRY[tt.name] = tt
    _ALIASES[tt.name] = tt.name
    for alias in tt.aliases:
        _ALIASES[alias] = tt.name
    return tt


def task_type(
    name: str,
    *,
    properties: type[BaseModel],
    aliases: list[str] | tuple[str, ...] = (),
) -> Callable[[Runner], Runner]:
    """Decorator registering a function as the runner of task type ``name``."""

    def wrap(fn: Runner) -> Runner:
        register(
            TaskType(
                name=name,
                properties=properties,
                runner=fn,
                aliases=tuple(aliases),
                doc=(fn.__doc__ or "").strip(),
            )
        )
        return fn

    return wrap


def load_user_types() -> None:
    """Import the users' task type modules (entry points, ``OSTRA_TASK_MODULES``), once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    # Importing a module runs its @task_type decorators.
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
    for module in filter(None, (m.strip() for m in os.environ.get(MODULES_ENV, "").split(","))):
        importlib.import_module(module)
