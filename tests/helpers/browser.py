"""What the browser tests of the web UI share: a real ``ostra server ...`` subprocess
(stopped by its PID), Debian's chromium driven by Playwright, and where screenshots go.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``.ci/run``
installs Debian's package); tests skip, saying so, only when that binary is absent.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, WORKER_ENV

#: Debian's chromium (``apt-get install chromium``)
CHROMIUM = Path(os.environ.get("OSTRA_TEST_CHROMIUM", "/usr/bin/chromium"))
#: the axe-core build the accessibility checks inject (tests/vendor/axe-core, MPL-2.0)
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server under test: no ``OSTRA_*`` of the caller, the test
    flows' functions allowed, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["OSTRA_PYTHON_MODULES"] = WORKER_ENV["OSTRA_PYTHON_MODULES"]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Server:
    """An ``ostra server ...`` subprocess with its log file, stopped by its PID."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str], url: str) -> None:
        self.log, self.url = log, url
        self.out = open(log, "w")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "executor.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"not healthy after {timeout}s:\n{self.text()}")

    def redis_url(self) -> str:
        """The embedded Redis of ``server standalone`` (from its log)."""
        found = re.search(r"standalone: redis pid \d+ on (redis://\S+)", self.text())
        assert found, self.text()
        return found.group(1).rstrip(",")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()


def artifacts_dir(fallback: Path) -> Path:
    """Where screenshots go: ``OSTRA_TEST_ARTIFACTS`` if set, else ``fallback``."""
    raw = os.environ.get("OSTRA_TEST_ARTIFACTS")
    path = Path(raw) / "ui" if raw else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path
