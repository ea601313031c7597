"""B-render: microseconds per template render, as a ratio against plain Jinja2.

Renders, in the same process and interleaved by repetition:

* **text**: ``Hello {{ inputs.name }} {{ outputs.t1.value | upper }}`` with
  :func:`executor.templating.render` (Pebble syntax, sandbox, time and size budget);
* **native**: the single expression ``{{ outputs.t1.rows }}`` with
  :func:`executor.templating.render_value` (its native value, a list);
* **baseline**: the same two templates with a plain Jinja2
  ``ImmutableSandboxedEnvironment`` (compiled once, ``render()``; the native case
  printed, since plain Jinja2 has no native render).

Reported: the median µs per render of each over reps, and the ratios ostra/baseline.
The benchmark reports; it does not assert.

Usage: ``python bench/render.py [--renders 20000] [--reps 5] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jinja2  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

from executor.templating import render, render_value  # noqa: E402

TEXT = "Hello {{ inputs.name }} {{ outputs.t1.value | upper }}"
NATIVE = "{{ outputs.t1.rows }}"
CONTEXT: dict[str, Any] = {
    "inputs": {"name": "Ada"},
    "outputs": {"t1": {"value": "done", "rows": [1, 2, 3]}},
}


def _us_per_call(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def measure(renders: int, reps: int) -> dict[str, Any]:
    """Run the interleaved repetitions and summarise them."""
    env = ImmutableSandboxedEnvironment()
    j_text, j_native = env.from_string(TEXT), env.from_string(NATIVE)
    assert render(TEXT, CONTEXT) == j_text.render(CONTEXT) == "Hello Ada DONE"
    assert render_value(NATIVE, CONTEXT) == [1, 2, 3]
    cases: dict[str, Callable[[], Any]] = {
        "ostra_text": lambda: render(TEXT, CONTEXT),
        "ostra_native": lambda: render_value(NATIVE, CONTEXT),
        "jinja_text": lambda: j_text.render(CONTEXT),
        "jinja_native": lambda: j_native.render(CONTEXT),
    }
    for fn in cases.values():  # warm-up
        _us_per_call(fn, max(1, renders // 10))
    runs: dict[str, list[float]] = {k: [] for k in cases}
    names = list(cases)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else reversed(names):
            runs[name].append(round(_us_per_call(cases[name], renders), 3))
    med = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    return {
        "renders": renders,
        "reps": reps,
        "us_per_render": med,
        "reps_us": runs,
        "ratio_text": round(med["ostra_text"] / med["jinja_text"], 3),
        "ratio_native": round(med["ostra_native"] / med["jinja_native"], 3),
        "env": {
            "python": platform.python_version(),
            "jinja2": jinja2.__version__,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
    }


def print_table(res: dict[str, Any]) -> None:
    """The human-readable report."""
    env = res["env"]
    print(f"B-render: {res['renders']} renders x {res['reps']} reps, interleaved")
    print(f"python {env['python']}  jinja2 {env['jinja2']}  cpus {env['cpu_count']}")
    print(f"{'us per render':<34}{'median':>8}   reps")
    for name, median in res["us_per_render"].items():
        reps = "  ".join(f"{x:8.2f}" for x in res["reps_us"][name])
        print(f"{name:<34}{median:8.2f}   {reps}")
    print(f"ratio text ostra/jinja2: {res['ratio_text']}")
    print(f"ratio native ostra/jinja2: {res['ratio_native']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--renders", type=int, default=20000, help="renders per rep and case")
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    res = measure(max(1, args.renders), max(1, args.reps))
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
