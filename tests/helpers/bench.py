"""Run a benchmark script (``bench/*.py``) with ``--json``, as the smoke tests do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: float) -> dict[str, Any]:
    """Run ``bench/<script>`` with ``args`` and ``--json`` from the repository root; assert
    it exited 0 (showing the end of its stderr if not) and return the JSON it printed."""
    proc = subprocess.run(
        [sys.executable, f"bench/{script}", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
