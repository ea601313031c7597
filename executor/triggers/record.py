"""What each trigger did last: recorded errors (a trigger whose inputs are invalid, whose
condition fails to render...) so they show in ``ostra trigger list`` instead of firing
in a loop or failing silently. Fires are recorded by ``fire.fire``."""

from __future__ import annotations

import logging
import time

from executor.store.base import Store, TriggerRef

log = logging.getLogger(__name__)


def failed(store: Store, ref: TriggerRef, type_: str, error: str, now: float | None = None) -> None:
    """Record that trigger ``ref`` could not fire (``error`` says why) and log it."""
    log.warning("trigger %s.%s.%s: %s", ref.namespace, ref.flow_id, ref.trigger_id, error)
    store.trigger_failed(ref, type_, error, time.time() if now is None else now)
