"""Slow functions for the Python Function task type in fault tests."""

from __future__ import annotations

import time
from typing import Any

from executor.context import RunContext


def sleep_then_succeed(ctx: RunContext, seconds: float = 3.0) -> dict[str, Any]:
    """Sleep ``seconds`` without checking for a kill, then succeed (reports its attempt)."""
    time.sleep(seconds)
    return {"attempt": ctx.attempt, "slept": seconds}
