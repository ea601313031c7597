"""Functions of the log-cap tests, called by the Python Function task type."""

from __future__ import annotations

from executor.context import RunContext


def chatty(ctx: RunContext, lines: int = 100_000, width: int = 1000) -> dict[str, int]:
    """Log ``lines`` lines of about ``width`` characters through the run context."""
    pad = "x" * width
    for i in range(lines):
        ctx.log(f"line {i:06d} {pad}")
    return {"logged": lines}
