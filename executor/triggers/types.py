"""The trigger types Ostra knows, by every name a flow may give them (Kestra's type,
its older alias, the short name), and how each is checked when a flow is deployed.

A flow's ``triggers`` entry of a known type is validated by its kind's checker (its
problems stop the deploy, as Kestra's validation does); an entry of an unknown type is
stored and shown, and never fires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from executor.errors import Problem

if TYPE_CHECKING:
    from executor.flow import Flow

#: Checks one ``triggers[i]`` entry (a mapping, ``id`` and ``type`` already checked);
#: ``path`` is where it sits (``triggers[0]``). Returns its problems.
Checker = Callable[[Mapping[str, Any], str], list[Problem]]


def _checkers() -> dict[str, Checker]:
    # Imported here: each kind's module imports the flow model, which imports this one.
    # Each checker module is pure (no store, no client): the engine reaches this one.
    from executor.engine import flow_conditions
    from executor.triggers import schedule_spec, webhook_spec

    checkers: dict[str, Checker] = {}
    checkers["schedule"] = schedule_spec.check
    checkers["webhook"] = webhook_spec.check
    checkers["flow"] = flow_conditions.check
    return checkers


def canonical(type_: str) -> str | None:
    """Kestra's full type name for any name of a known trigger type (None if unknown)."""
    for names in KINDS.values():
        if type_ in names:
            return names[0]
    return None


#: Every known kind: its names, Kestra's full one first.
KINDS: dict[str, tuple[str, ...]] = {
    "schedule": (
        "io.kestra.plugin.core.trigger.Schedule",
        "io.kestra.core.models.triggers.types.Schedule",
        "Schedule",
    ),
    "flow": (
        "io.kestra.plugin.core.trigger.Flow",
        "io.kestra.core.models.triggers.types.Flow",
        "Flow",
    ),
    "webhook": (
        "io.kestra.plugin.core.trigger.Webhook",
        "io.kestra.core.models.triggers.types.Webhook",
        "Webhook",
    ),
}


def listens(flow: Flow) -> bool:
    """Does ``flow`` have an enabled Flow trigger (the store keeps the set of such flows
    at deploy and delete: ends are only streamed while it is not empty)?"""
    from executor.engine.flow_conditions import flow_listens

    return flow_listens(flow, KINDS["flow"])


def listened_states(flow: Flow) -> frozenset[str]:
    """The states other than ends that the enabled Flow triggers of ``flow`` list (the
    store keeps, per such state, the flows listening to it: a move to it is streamed
    only while one does)."""
    from executor.engine import flow_conditions

    return flow_conditions.listened_states(flow, KINDS["flow"])


def kind_of(type_: str) -> str | None:
    """``schedule``, ``flow``, ``webhook`` (None for a type Ostra does not run)."""
    for kind, names in KINDS.items():
        if type_ in names:
            return kind
    return None


def trigger_problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """The problems of one ``triggers`` entry of a known kind (none for other types):
    the properties every trigger has (``executor.triggers.common``), then its kind's."""
    kind = kind_of(str(entry.get("type")))
    if kind is None:
        return []
    from executor.triggers.common import common_problems

    checker = _checkers().get(kind)
    return common_problems(entry, path) + (checker(entry, path) if checker else [])
