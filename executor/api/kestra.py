"""The JSON of executions, logs, metrics and flows as Kestra's API writes it, the tenant
of Kestra's paths, and Kestra's ``filters[field][OPERATION]`` query parameters.

Ostra's models dump close to Kestra's shape already (camelCase, ``state.current`` and
``state.histories``); what Kestra's clients need on top is added here, at the edge, so
that the models stay what the engine and the in-process Client use:

- ``state.duration`` as an ISO-8601 duration (``PT1.5S``, Java's ``Duration.toString``),
- an execution's ``originalId``, ``deleted`` and ``metadata`` (``attemptNumber``: the
  stored one plus one per restart; ``originalCreatedDate``),
- a log entry's ``namespace``, ``flowId`` and ``attemptNumber`` (0 for the first attempt:
  Kestra's ``TaskRun.attemptNumber()`` is the number of attempts before the one logging),
- a metric entry's ``namespace`` and ``flowId``,
- a flow's ``disabled``, ``deleted`` and ``draft``, and its ``source``: the text it was deployed as.

Sources: Kestra's ``webserver/.../controllers/api/ExecutionController.java``,
``FlowController.java``, ``LogController.java``, ``MetricController.java`` and the
models of ``core/.../models/executions`` (``Execution``, ``ExecutionMetadata``,
``LogEntry``, ``MetricEntry``, ``TaskRun``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams

from executor.durations import format_duration
from executor.errors import BadRequest, NotFoundError, Problem
from executor.observability import tracing
from executor.state import StateType

#: the one tenant of Ostra (Kestra OSS's default tenant)
TENANT = "main"
#: ``filters[field][OPERATION]`` (Kestra's ``QueryFilter`` as query parameters)
FILTER_PARAM = re.compile(r"^filters\[(?P<field>[A-Za-z_]+)\]\[(?P<op>[A-Z_]+)\]$")


def check_tenant(tenant: str) -> None:
    """Raise a 404 ``NotFoundError`` unless ``tenant`` is Ostra's one tenant."""
    if tenant != TENANT:
        raise NotFoundError(
            f"tenant {tenant!r} not found: this server has the one tenant {TENANT!r}"
        )


def iso_duration(seconds: float | None) -> str | None:
    """``seconds`` as Java's ``Duration.toString`` writes it: ``PT0S``, ``PT0.25S``,
    ``PT1M5S``, ``PT2H``, ``PT26H0.5S``."""
    if seconds is None:
        return None
    return format_duration(Decimal(str(round(seconds, 9))))


def _state(state: dict[str, Any]) -> dict[str, Any]:
    state["duration"] = iso_duration(state.get("duration"))
    if state.get("endDate") is None:  # State.getEndDate is @JsonInclude(NON_EMPTY)
        state.pop("endDate", None)
    return state


def execution_json(data: dict[str, Any]) -> dict[str, Any]:
    """Kestra's Execution from Ostra's dump of one (``by_alias``, JSON mode); changed in
    place and returned."""
    _state(data["state"])
    for run in data.get("taskRunList") or []:
        _state(run["state"])
        for attempt in run.get("attempts") or []:
            _state(attempt["state"])
    data.setdefault("outputs", {})
    if not data.get("originalId"):
        data["originalId"] = data["id"]
    data["deleted"] = False
    histories = data["state"].get("histories") or []
    restarts = sum(1 for h in histories if h.get("state") == StateType.RESTARTED.value)
    # The stored metadata counts the executions of a CREATE_NEW_EXECUTION retry chain;
    # Kestra's restart adds one more attempt to it (ExecutionService.restart).
    metadata = data["metadata"]
    metadata["attemptNumber"] = int(metadata["attemptNumber"]) + restarts
    if tracing.ENABLED:
        # Kestra's Execution.traceParent: where to find the execution's trace.
        data["traceParent"] = tracing.traceparent(data["id"])
    return data


def log_json(entry: dict[str, Any], namespace: str, flow_id: str) -> dict[str, Any]:
    """Kestra's LogEntry from Ostra's dump of one."""
    attempt = entry.pop("attempt", None)
    return {
        "namespace": namespace,
        "flowId": flow_id,
        **entry,
        "attemptNumber": attempt - 1 if isinstance(attempt, int) else None,
    }


def metric_json(entry: dict[str, Any], namespace: str, flow_id: str) -> dict[str, Any]:
    """Kestra's MetricEntry from Ostra's dump of one."""
    return {"namespace": namespace, "flowId": flow_id, **entry}


def flow_json(data: dict[str, Any], revision: int, source: str) -> dict[str, Any]:
    """Kestra's FlowWithSource from a flow's ``to_dict``."""
    data["revision"] = revision
    data.setdefault("disabled", False)
    data["deleted"] = False
    data["draft"] = False  # Kestra's current API has draft revisions; Ostra has none
    data["source"] = source
    return data


def page_json(results: list[Any], total: int) -> dict[str, Any]:
    """Kestra's ``PagedResults``."""
    return {"results": results, "total": total}


def filters(
    params: QueryParams, allowed: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, str]]:
    """The ``filters[field][OPERATION]=value`` query parameters, as field -> (operation,
    value); ``allowed`` gives the operations each field takes. Anything else is refused
    (``BadRequest`` naming every one), not ignored: a search that silently
    dropped a filter would answer more than was asked."""
    found: dict[str, tuple[str, str]] = {}
    problems = []
    for key, value in params.multi_items():
        if not key.startswith("filters"):
            continue
        match = FILTER_PARAM.match(key)
        if match is None:
            problems.append(Problem(key, "expected filters[field][OPERATION]"))
            continue
        field, op = match["field"], match["op"]
        if field not in allowed:
            problems.append(
                Problem(key, f"filter on {field!r} is not supported (only {', '.join(allowed)})")
            )
        elif op not in allowed[field]:
            problems.append(
                Problem(
                    key,
                    f"operation {op} on {field!r} is not supported "
                    f"(only {', '.join(allowed[field])})",
                )
            )
        elif field in found:
            problems.append(Problem(key, f"{field!r} is filtered more than once"))
        else:
            found[field] = (op, value)
    if problems:
        raise BadRequest(problems)
    return found
