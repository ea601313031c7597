"""Filters, functions and tests by Kestra's names, registered by the modules that implement them.

:mod:`executor.templating` installs every entry into its sandboxed environment when it is
first imported, after importing :data:`MODULES`, so a module only needs to decorate its
callables::

    from executor.pebble.registry import pebble_filter

    @pebble_filter("abbreviate")
    def abbreviate(value: str, length: int) -> str: ...

A callable that needs the render's variables takes Jinja2's ``pass_context`` decorator as
usual; one that needs the store or the execution reads :func:`executor.pebble.runtime.current`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "FILTERS",
    "FUNCTIONS",
    "MODULES",
    "TESTS",
    "pebble_filter",
    "pebble_function",
    "pebble_test",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Filter name -> callable (``{{ value | name(args) }}``).
FILTERS: dict[str, Callable[..., Any]] = {}
#: Function name -> callable (``{{ name(args) }}``).
FUNCTIONS: dict[str, Callable[..., Any]] = {}
#: Test name -> callable (``{{ value is name }}``).
TESTS: dict[str, Callable[..., Any]] = {}

#: Modules imported (for their registrations) before the environment is built.
MODULES: list[str] = [
    *(f"executor.pebble.{m}" for m in ("dates", "filters", "functions")),
    "executor.secrets",
]


def _register(table: dict[str, Callable[..., Any]], names: tuple[str, ...]) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        for name in names:
            if name in table and table[name] is not fn:
                raise ValueError(f"{name!r} is registered twice")
            table[name] = fn
        return fn

    return deco


def pebble_filter(*names: str) -> Callable[[F], F]:
    """Register a filter under each of ``names``."""
    return _register(FILTERS, names)


def pebble_function(*names: str) -> Callable[[F], F]:
    """Register a function under each of ``names``."""
    return _register(FUNCTIONS, names)


def pebble_test(*names: str) -> Callable[[F], F]:
    """Register a test (``is name``) under each of ``names``."""
    return _register(TESTS, names)
