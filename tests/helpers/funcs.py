"""Functions called by the Python Function task type in tests."""

from __future__ import annotations

from typing import Any

from executor.context import RunContext


def add(a: int, b: int, ctx: RunContext) -> dict[str, Any]:
    """Add two numbers, logging and counting through the run context."""
    ctx.log(f"adding {a} and {b}")
    ctx.counter("additions", 1, kind="int")
    return {"sum": a + b, "attempt": ctx.attempt}


def greet(name: str) -> str:
    """Return a greeting (a non-dict result)."""
    return f"hello {name}"


def nothing() -> None:
    """Return nothing."""


def not_serializable() -> dict[str, Any]:
    """Return an output JSON cannot encode."""
    return {"ok": 1, "bad": object()}


class Namespace:
    """Holds a nested callable, for dotted attribute paths."""

    @staticmethod
    def double(x: int) -> int:
        """Twice ``x``."""
        return 2 * x


def flaky(ctx: RunContext, fail_times: int = 2) -> dict[str, Any]:
    """Fail on the first ``fail_times`` attempts, then succeed."""
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


def slow_first(ctx: RunContext, seconds: float = 60) -> dict[str, Any]:
    """Hang on the first attempt (to be killed there); succeed at once on later ones."""
    import time

    if ctx.attempt == 1:
        time.sleep(seconds)
    return {"attempt": ctx.attempt}


def busy(seconds: float = 60) -> dict[str, Any]:
    """Spin without ever checking for a kill (it must be interrupted)."""
    import time

    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return {"spins": n}
