"""The budget of one render: a time limit and a size limit, checked while it renders.

A flow's templates are untrusted: ``{% for i in 1..100000 %}{% for j in 1..100000 %}``
would hold a worker (or the API process, or the reconciler) for hours, and
``{% set ns.l = [ns.l, ns.l] %}`` in a loop builds a value whose printed form doubles at
each step. So every render runs inside a :class:`Budget`:

* a **deadline** (``render_timeout`` seconds, ``OSTRA_RENDER_TIMEOUT``), checked by the
  sandbox at every attribute lookup, call, operator, loop iteration and output chunk;
* a **size limit** (``render_max_bytes``, ``OSTRA_RENDER_MAX_BYTES``, measured in
  characters of the printed form), checked on every string, list or map a template
  builds, *before* building it where the size can be known in advance (``'a' * n``).

Exceeding either fails the render with a :class:`~executor.errors.TemplateError` naming the
budget. Filter and function authors (``executor.pebble.*`` modules) call
:func:`check_deadline` in their own loops and :func:`check_size` before building something
whose size depends on the input::

    from executor.pebble.budget import check_deadline, check_size

    @pebble_filter("repeat")
    def repeat(value: str, n: int) -> str:
        check_size(len(value) * n, "repeat")
        return value * n

Nested renders (a ``render()`` function rendering a string inside a render) share the
outer render's budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from executor.errors import TemplateError
from executor.observability import metrics

_monotonic = time.monotonic

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "Budget",
    "BudgetExceeded",
    "SizedDict",
    "SizedList",
    "check_deadline",
    "check_size",
    "check_value",
    "current",
    "limits",
    "max_bytes",
    "render_budget",
]

#: Default time budget of a render, in seconds.
DEFAULT_TIMEOUT = 2.0
#: Default size budget of a render: the largest value it may build or print (1 MiB).
DEFAULT_MAX_BYTES = 1024 * 1024


class BudgetExceeded(TemplateError):
    """A render went over its time or size budget."""


@dataclass
class Budget:
    """The limits of one render and its deadline (monotonic clock seconds)."""

    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = _monotonic() + self.timeout

    def check_deadline(self) -> None:
        """Raise :class:`BudgetExceeded` once the deadline has passed."""
        if _monotonic() > self.deadline:
            metrics.count_budget_refusal("time")
            raise BudgetExceeded(
                f"template render exceeded its time budget of {self.timeout:g} s "
                "(render_timeout, OSTRA_RENDER_TIMEOUT)"
            )

    def check_size(self, n: int, what: str = "rendered value") -> None:
        """Raise :class:`BudgetExceeded` if ``n`` characters exceed the size budget."""
        if n > self.max_bytes:
            metrics.count_budget_refusal("size")
            raise BudgetExceeded(
                f"{what} too large: exceeds the size budget of {self.max_bytes} characters "
                "(render_max_bytes, OSTRA_RENDER_MAX_BYTES)"
            )


_CURRENT: ContextVar[Budget | None] = ContextVar("ostra_render_budget", default=None)
# Limits forced by `limits()` (tests, benchmarks); None reads the settings.
_FORCED: ContextVar[tuple[float, int] | None] = ContextVar("ostra_render_limits", default=None)
# A budget used outside any render (a filter called directly): never expires.
_UNBOUNDED_TIME = Budget(timeout=float("inf"), deadline=float("inf"))


def _configured() -> tuple[float, int]:
    forced = _FORCED.get()
    if forced is not None:
        return forced
    from executor.settings import get_settings

    s = get_settings()
    return s.render_timeout, s.render_max_bytes


def current() -> Budget:
    """The budget of the render in progress (outside a render: no deadline, default size)."""
    return _CURRENT.get() or _UNBOUNDED_TIME


class _RenderBudget:
    """The context manager of :func:`render_budget` (a class: it runs at every render,
    and a generator-based one costs more than the render of a short template)."""

    __slots__ = ("_token",)

    def __enter__(self) -> Budget:
        outer = _CURRENT.get()
        if outer is not None:
            self._token = None
            return outer
        timeout, size = _configured()
        budget = Budget(timeout=timeout, max_bytes=size)
        self._token = _CURRENT.set(budget)
        return budget

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


def render_budget() -> _RenderBudget:
    """Run a render inside a budget: a new one, or the enclosing render's if nested."""
    return _RenderBudget()


@contextmanager
def limits(timeout: float | None = None, max_bytes: int | None = None) -> Iterator[None]:
    """Renders started inside the block use these limits instead of the settings'."""
    t, m = _configured()
    token = _FORCED.set((t if timeout is None else timeout, m if max_bytes is None else max_bytes))
    try:
        yield
    finally:
        _FORCED.reset(token)


def check_deadline() -> None:
    """Fail the render in progress if its time budget is spent."""
    budget = _CURRENT.get()
    if budget is not None and _monotonic() > budget.deadline:
        budget.check_deadline()


def check_size(n: int, what: str = "rendered value") -> None:
    """Fail the render in progress if ``n`` characters exceed its size budget."""
    current().check_size(n, what)


def max_bytes() -> int:
    """The size budget of the render in progress, in characters."""
    budget = _CURRENT.get()
    return budget.max_bytes if budget is not None else _configured()[1]


# --------------------------------------------------------------------------- sized values


class SizedList(list[Any]):
    """A list a template built, carrying the size of its printed form (``.printed``)."""

    __slots__ = ("printed",)
    printed: int


class SizedDict(dict[Any, Any]):
    """A map a template built, carrying the size of its printed form (``.printed``)."""

    __slots__ = ("printed",)
    printed: int


def _estimate(value: Any, limit: int) -> int:
    """Characters of ``value``'s printed form (JSON), counted only up to ``limit``.

    Lists and maps a template built carry their size, so a value made of shared parts
    (``[l, l]``) costs the sum of its parts' sizes without walking them again. Other
    mappings (lazy, Redis-backed contexts) are not walked: they count as one character.
    """
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, SizedList | SizedDict):
        return value.printed
    if value is None or isinstance(value, bool | int | float):
        return 5
    if isinstance(value, bytes):
        return len(value) + 2
    if isinstance(value, list | tuple | set | frozenset):
        total = 2
        for v in value:
            total += _estimate(v, limit) + 1
            if total > limit:
                return total
        return total
    if isinstance(value, dict):
        total = 2
        for k, v in value.items():
            total += _estimate(k, limit) + _estimate(v, limit) + 2
            if total > limit:
                return total
        return total
    if isinstance(value, range):
        return 2 + len(value) * 2
    if isinstance(value, Mapping):
        return 1
    return 1


def check_value(value: Any, what: str = "value") -> Any:
    """Check that ``value`` (a result a template built) fits the size budget.

    Returns it, with built lists and dicts turned into :class:`SizedList` /
    :class:`SizedDict` so that later checks of values containing them cost nothing.
    """
    if isinstance(value, str):
        current().check_size(len(value), what)
        return value
    if type(value) is list or type(value) is dict:
        budget = current()
        size = _estimate(value, budget.max_bytes)
        budget.check_size(size, what)
        sized: SizedList | SizedDict = SizedList(value) if type(value) is list else SizedDict(value)
        sized.printed = size
        return sized
    if isinstance(value, tuple | bytes | range):
        budget = current()
        budget.check_size(_estimate(value, budget.max_bytes), what)
    return value


def remaining() -> float | None:
    """Seconds left in the render in progress (None outside a render: no deadline)."""
    budget = _CURRENT.get()
    if budget is None or budget.deadline == float("inf"):
        return None
    left = budget.deadline - _monotonic()
    if left <= 0:
        budget.check_deadline()  # raises
    return left


def time_budget_exceeded() -> BudgetExceeded:
    """The error of a render whose time budget ran out inside a call that could not
    check it itself (a regular expression, a jq program)."""
    budget = _CURRENT.get()
    timeout = budget.timeout if budget is not None else 0.0
    metrics.count_budget_refusal("time")
    return BudgetExceeded(
        f"template render exceeded its time budget of {timeout:g} s "
        "(render_timeout, OSTRA_RENDER_TIMEOUT)"
    )
