"""What a ``Webhook`` entry of a flow's ``triggers`` is (Kestra's ``Webhook.java``) and
how it is checked when the flow is deployed: ``key`` required, at most 256 characters
(``@NotNull @Size(max = 256)``); no ``MultipleCondition`` (``WebhookValidator``); the
conditions Ostra evaluates on a webhook (``Expression``). Pure: ``executor.triggers.types``
imports it for every deploy, the flow model (and so the engine) with it; what answers a
call is ``executor.triggers.webhook``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from executor.errors import Problem

#: Kestra's ``@Size(max = 256)`` on ``key``.
MAX_KEY = 256
#: Condition types a webhook evaluates (Kestra's ``Expression`` and its aliases).
EXPRESSION_TYPES = (
    "io.kestra.plugin.core.condition.Expression",
    "io.kestra.plugin.core.condition.ExpressionCondition",
    "io.kestra.core.models.conditions.types.VariableCondition",
    "Expression",
    "ExpressionCondition",
)
#: Kestra's ``WebhookValidator`` refuses these (a webhook has no upstream executions).
MULTIPLE_TYPES = (
    "io.kestra.plugin.core.condition.MultipleCondition",
    "io.kestra.core.models.conditions.types.MultipleCondition",
    "MultipleCondition",
)


def check(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Deploy-time problems of a ``Webhook`` entry (the common properties aside)."""
    problems: list[Problem] = []
    key = entry.get("key")
    if key is None:
        problems.append(Problem(f"{path}.key", "missing required property 'key'"))
    elif not isinstance(key, str) or not key.strip():
        problems.append(Problem(f"{path}.key", "must be a non-empty text"))
    elif len(key) > MAX_KEY:
        problems.append(Problem(f"{path}.key", f"must be at most {MAX_KEY} characters"))
    for i, cond in enumerate(entry.get("conditions") or []):
        if not isinstance(cond, Mapping):
            continue  # the common checks report it
        where = f"{path}.conditions[{i}]"
        ctype = cond.get("type")
        if ctype in MULTIPLE_TYPES:
            problems.append(
                Problem(
                    where,
                    "invalid webhook: conditions of type MultipleCondition are not supported",
                )
            )
        elif ctype in EXPRESSION_TYPES:
            if not isinstance(cond.get("expression"), str) or not cond["expression"]:
                problems.append(
                    Problem(f"{where}.expression", "missing required property 'expression'")
                )
        elif isinstance(ctype, str):
            problems.append(
                Problem(f"{where}.type", f"condition {ctype!r} is not supported on a Webhook yet")
            )
    return problems
