"""The flow page's triggers: each trigger's definition (id, type and what sets it off:
``cron``, ``key``, conditions...) and, once triggers run, what it did last.

``trigger_state`` is the one place that asks the store for a trigger's state; the
definitions come from the flow model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from executor.client import Client
from executor.flow import Flow
from executor.store.base import TriggerRef, TriggerState

#: the properties shown beside a trigger's id and type, when it has them
SHOWN = ("cron", "timezone", "key", "interval", "conditions", "preconditions", "disabled")


@dataclass
class TriggerRow:
    """One trigger of a flow as the page shows it."""

    id: str
    type: str
    properties: dict[str, Any]
    state: TriggerState | None


def trigger_state(client: Client, flow: Flow, trigger_id: str) -> TriggerState | None:
    """What the trigger did last (its last fire, its error), None if nothing is known."""
    get = getattr(client.store, "trigger_state", None)
    if get is None:
        return None
    state: TriggerState | None = get(TriggerRef(flow.namespace, flow.id, trigger_id))
    return state


def trigger_rows(client: Client, flow: Flow) -> list[TriggerRow]:
    """The flow's triggers with their state."""
    rows = []
    for trigger in flow.triggers:
        extra = trigger.model_dump(by_alias=True, exclude={"id", "type"}, exclude_none=True)
        shown = {k: v for k, v in extra.items() if k in SHOWN}
        rows.append(
            TriggerRow(trigger.id, trigger.type, shown, trigger_state(client, flow, trigger.id))
        )
    return rows
