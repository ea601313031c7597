"""Runners of the core task types: Log, Return, OutputValues, Fail and Sleep."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from executor.builtin_types import (
    FailProperties,
    LogProperties,
    OutputValuesProperties,
    ReturnProperties,
    SleepProperties,
)
from executor.context import RunContext
from executor.errors import AttemptTimeout, TaskFailure, TaskKilled

#: longest single sleep between kill and deadline checks, in seconds
SLEEP_SLICE = 0.1


def log(props: LogProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Log ``message`` (each item if a list) at ``level``. No outputs."""
    messages = [props.message] if isinstance(props.message, str) else props.message
    for message in messages:
        ctx.log(message, props.level)
    return None


def return_(props: ReturnProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Output ``{"value": format}``."""
    return {"value": props.format}


def output_values(props: OutputValuesProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Output ``{"values": values}``."""
    return {"values": props.values}


def fail(props: FailProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Raise ``TaskFailure(errorMessage)``."""
    raise TaskFailure(props.error_message)


def sleep(props: SleepProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Wait for ``duration``; stop early with TaskKilled or AttemptTimeout. No outputs."""
    end = time.monotonic() + props.duration.total_seconds()
    while True:
        if ctx.killed():
            raise TaskKilled()
        now = time.monotonic()
        if ctx.deadline is not None and now >= ctx.deadline:
            raise AttemptTimeout(_timeout_seconds(ctx))
        if now >= end:
            return None
        wake = min(end, now + SLEEP_SLICE)
        if ctx.deadline is not None:
            wake = min(wake, ctx.deadline)
        time.sleep(max(0.0, wake - now))


def _timeout_seconds(ctx: RunContext) -> float:
    return ctx.timeout if ctx.timeout is not None else 0.0
