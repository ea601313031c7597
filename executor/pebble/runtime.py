"""What a render may reach besides its variables: set by the process that renders.

Templates are rendered in workers, in the executor steps, in the API process (at submit)
and in the reconciler. Functions such as ``secret()``, ``kv()`` or ``errorLogs()`` need
the store, the execution and the secret provider; the renderer's caller sets them for
the duration of a render with :func:`using`, and the functions read :func:`current`
(a context variable, so threads and asyncio tasks do not see each other's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from executor.store.base import Store

__all__ = ["RenderRuntime", "current", "using"]


@dataclass
class RenderRuntime:
    """The world of one render. Every field is optional: a render at deploy time has none."""

    store: Store | None = None
    tenant: str = "main"
    namespace: str | None = None
    flow_id: str | None = None
    execution_id: str | None = None
    task_run_id: str | None = None
    #: Resolves a secret's name to its value (``None`` when no provider is configured).
    secret: Callable[[str], str] | None = None
    #: Called with every secret value a render resolved, so that logs and outputs mask it.
    on_secret: Callable[[str], None] | None = None
    #: Free room for a feature's own needs, by name.
    extra: dict[str, Any] = field(default_factory=dict)


_CURRENT: ContextVar[RenderRuntime | None] = ContextVar("ostra_render_runtime", default=None)


def current() -> RenderRuntime:
    """The runtime of the render in progress (an empty one outside :func:`using`)."""
    return _CURRENT.get() or RenderRuntime()


@contextmanager
def using(runtime: RenderRuntime) -> Iterator[RenderRuntime]:
    """Make ``runtime`` the current one for the renders inside the block."""
    token = _CURRENT.set(runtime)
    try:
        yield runtime
    finally:
        _CURRENT.reset(token)
