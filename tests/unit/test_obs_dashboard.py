"""The Grafana dashboard shipped in ``examples/grafana``: every series it queries is one
Ostra exposes, with the labels it groups by, so no panel stays empty for a typo."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from executor.observability import metrics  # noqa: F401  (registers Ostra's metrics)
from executor.observability.queues import QueueCollector, QueueStats

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "grafana" / "ostra-dashboard.json"
SERIES = re.compile(r"\b(ostra_[a-z_]+)\b")
GROUPED = re.compile(r"by \(([^)]*)\)")


def _exposed() -> dict[str, set[str]]:
    """Every sample name Ostra can expose, with the labels it carries."""
    names: dict[str, set[str]] = {}
    families = [f for f in REGISTRY.collect() if f.name.startswith("ostra_")]
    stats = [
        QueueStats("ostra", waiting=1, waiting_by_priority={"0": 1}, oldest_waiting_age_seconds=2.0)
    ]
    families += list(QueueCollector(lambda: stats).collect())
    for family in families:
        if family.type == "counter":
            suffixes = ["_total"]
        elif family.type == "histogram":
            suffixes = ["_bucket", "_sum", "_count"]
        else:
            suffixes = [""]
        labels: set[str] = set()
        for sample in family.samples:
            labels |= set(sample.labels)
        for suffix in suffixes:
            names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_every_queried_series_is_exposed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exposed = _exposed()
    exprs = _exprs(dashboard)
    assert exprs
    used = {name for expr in exprs for name in SERIES.findall(expr)}
    assert used - set(exposed) == set()
    # the queue depth an autoscaler reads is on the dashboard
    assert "ostra_queue_depth" in used


def test_every_panel_groups_by_labels_its_series_have() -> None:
    # Labelled metrics with no sample yet show no labels: they are read from the
    # metric's declaration instead.
    declared = {
        name: set(getattr(collector, "_labelnames", ()))
        for collector in list(REGISTRY._collector_to_names)
        for name in REGISTRY._collector_to_names[collector]
        if name.startswith("ostra_")
    }
    exposed = _exposed()
    for expr in _exprs(json.loads(DASHBOARD.read_text())):
        series = SERIES.findall(expr)
        labels = set().union(*(exposed[s] | declared.get(s, set()) for s in series))
        for group in GROUPED.findall(expr):
            wanted = {x.strip() for x in group.split(",") if x.strip()}
            assert wanted <= labels, (expr, wanted - labels)
