"""Python Function task bodies of the lease fault tests (``tests/faults/test_lease_*.py``):
each leaves a trace in a file, so a test sees what ran, and how often, on any worker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from executor.context import RunContext


def _note(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def run_once(ctx: RunContext, path: str, seconds: float = 4.0) -> dict[str, Any]:
    """Note that an attempt started, sleep ``seconds`` (never checking for a kill)."""
    _note(path, f"start {ctx.attempt}")
    time.sleep(seconds)
    return {"attempt": ctx.attempt}


def tick(ctx: RunContext, path: str, seconds: float = 60.0) -> dict[str, Any]:
    """Attempt 1 notes a tick every 0.1 s for ``seconds`` (never checking for a kill),
    then ``done``; later attempts note ``done`` at once."""
    if ctx.attempt == 1:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            _note(path, "1 tick")
            time.sleep(0.1)
    _note(path, f"{ctx.attempt} done")
    return {"attempt": ctx.attempt}


def end_on_go(ctx: RunContext, path: str) -> dict[str, Any]:
    """Note ``<path>.started``, wait for ``<path>.go`` to exist, note ``<path>.returned``
    and return: the test decides when the attempt ends (with Redis stopped)."""
    _note(path + ".started", str(ctx.attempt))
    while not Path(path + ".go").exists():
        time.sleep(0.05)
    _note(path + ".returned", str(ctx.attempt))
    return {"attempt": ctx.attempt}
