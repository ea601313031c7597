"""Prometheus's multiprocess directory of a worker, prepared before anything counts.

``prometheus-client`` chooses how it stores values when it is first imported: in
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) each process of the prefork pool
writes its own memory-mapped files, which the worker's main process adds up when
scraped. So this module is the first thing ``workers`` imports, and uses the standard
library only (if ``prometheus-client`` was imported already, its value class is
switched). It acts only when the worker serves metrics (``OSTRA_METRICS_PORT``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

#: Where this worker's processes write their values (set by ``prepare``).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def wanted() -> bool:
    """Whether this worker serves metrics (``OSTRA_METRICS_PORT`` set, metrics not off)."""
    off = os.environ.get("OSTRA_METRICS", "1").strip().lower() in {"0", "false", "no", "off"}
    return bool(os.environ.get("OSTRA_METRICS_PORT", "").strip()) and not off


def prepare() -> str | None:
    """Give this worker a private (0700), empty multiprocess directory, inherited by its
    pool processes; returns it (None when the worker serves no metrics).

    A directory named by the operator in ``PROMETHEUS_MULTIPROC_DIR`` is used and emptied
    of the values of an earlier run; otherwise a fresh one is made (and removed at exit,
    ``remove``). A directory inherited from a parent worker process is kept as it is.
    """
    if not wanted():
        return None
    if os.environ.get("OSTRA_METRICS_DIR_OWNER") not in (None, str(os.getpid())):
        return os.environ.get(MULTIPROC_ENV)  # a child of the worker: the same directory
    path = os.environ.get(MULTIPROC_ENV, "").strip()
    if path:
        os.makedirs(path, mode=0o700, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.unlink(os.path.join(path, name))
    else:
        path = tempfile.mkdtemp(prefix="ostra-metrics-")  # 0700
        os.environ["OSTRA_METRICS_DIR_MADE"] = "1"
    os.environ[MULTIPROC_ENV] = path
    os.environ["OSTRA_METRICS_DIR_OWNER"] = str(os.getpid())
    values: Any = sys.modules.get("prometheus_client.values")
    if values is not None:
        # Imported already (celery's command plugins import flower, which imports it):
        # metrics made from now on (all of Ostra's) take the multiprocess value class.
        values.ValueClass = values.get_value_class()
    return path


def remove() -> None:
    """Remove the directory ``prepare`` made (in the process that made it)."""
    if os.environ.get("OSTRA_METRICS_DIR_OWNER") != str(os.getpid()):
        return
    if os.environ.get("OSTRA_METRICS_DIR_MADE") == "1":
        shutil.rmtree(os.environ.get(MULTIPROC_ENV, ""), ignore_errors=True)
