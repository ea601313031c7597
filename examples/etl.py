"""The Python functions of ``examples/etl.yaml``: extract, transform, load.

Each is a plain function; the ``Python`` task type calls it with the task's ``kwargs``
(rendered first, so ``"{{ outputs.extract.rows }}"`` arrives as a list) and stores the
dict it returns as the task's outputs. A parameter named ``ctx`` receives the run context
(logs and metrics).
"""

from __future__ import annotations

from typing import Any

from executor.context import RunContext

_SOURCE = [
    {"city": "Lisbon", "temp_c": 21.5},
    {"city": "Oslo", "temp_c": 4.0},
    {"city": "Nairobi", "temp_c": 24.8},
    {"city": "Montreal", "temp_c": -3.2},
]


def extract(limit: int = 10) -> dict[str, Any]:
    """Read up to ``limit`` rows from the (in-memory) source."""
    rows = _SOURCE[:limit]
    return {"rows": rows, "count": len(rows)}


def transform(rows: list[dict[str, Any]], unit: str = "F") -> dict[str, Any]:
    """Convert temperatures to Fahrenheit (``unit: F``) or keep Celsius."""
    out = []
    for row in rows:
        temp = row["temp_c"] * 9 / 5 + 32 if unit == "F" else row["temp_c"]
        out.append({"city": row["city"], "temp": round(temp, 1), "unit": unit})
    return {"rows": out}


def load(rows: list[dict[str, Any]], table: str, ctx: RunContext) -> dict[str, Any]:
    """Load the rows (log them), count them in the ``rows.loaded`` metric."""
    for row in rows:
        ctx.log(f"{table}: {row['city']} {row['temp']}°{row['unit']}")
    ctx.counter("rows.loaded", len(rows), table=table)
    return {"table": table, "loaded": len(rows)}
