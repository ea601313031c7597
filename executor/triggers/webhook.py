"""Kestra's ``Webhook`` trigger: an HTTP call to
``/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}`` starts an execution.

The execution's ``trigger.variables`` are Kestra's ``Webhook.Output``: ``body`` (the
request body parsed as a JSON object or array when it is one, else its text; null
without a body), ``headers`` and ``parameters`` (maps of lists, as Micronaut's
``asMap()``; header names lowercased, as HTTP/2 and ASGI give them). Header and
parameter values that carry credentials (``Authorization``, ``Cookie``, ``X-Api-Key``,
any name with ``token``, ``secret``, ``password``, ``api-key``, ``session`` or ``auth``)
are stored as ``******``: the call's credentials are not the flow's to keep.

The key may be a template (``{{ secret('HOOK_KEY') }}``, ``{{ flow.id }}``), rendered as
Kestra renders it (``runContext.render(key).trim()``) with the API process's secret
providers; a key that fails to render matches nothing. The given key is compared with
every webhook's in constant time (``hmac.compare_digest``), and an unknown flow, a flow
without a webhook and a wrong key get one answer (``WebhookNotFound``). With the key
right, a disabled flow or trigger is refused (``StateConflict``, 409 as Kestra's
``IllegalStateException``); ``Expression`` conditions that do not hold start nothing
(None: Kestra answers 204). The deploy-time checks of a Webhook entry are in
``executor.triggers.webhook_spec`` (pure, as every checker the flow model reaches).
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from executor.bounds import MAX_JSON_DEPTH, TooDeep, check_depth, check_unicode, loads
from executor.client import Client
from executor.encryption import MASK
from executor.errors import (
    FlowNotFound,
    InputValidationError,
    OstraError,
    Problem,
    StateConflict,
    TemplateError,
    WebhookNotFound,
)
from executor.flow import Flow, Trigger
from executor.ids import new_id
from executor.models import Execution, ExecutionTrigger, Label
from executor.pebble.budget import render_budget
from executor.pebble.runtime import RenderRuntime, using
from executor.render_context import envs, globals_
from executor.secrets import provider_from_settings, resolver
from executor.store.base import TriggerRef
from executor.templating import render
from executor.triggers import record
from executor.triggers.fire import fire
from executor.triggers.types import KINDS
from executor.triggers.webhook_spec import EXPRESSION_TYPES

#: Header (and query parameter) names whose values are credentials, stored masked.
SENSITIVE = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|x-api-key)$"
    r"|token|secret|passw|api[-_]?key|session|auth",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WebhookCall:
    """What an HTTP call to a webhook brought: the body as received, and the headers and
    query parameters in their order (a name may repeat)."""

    body: bytes
    headers: Sequence[tuple[str, str]] = ()
    parameters: Sequence[tuple[str, str]] = ()


def _as_map(pairs: Iterable[tuple[str, str]], lower: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        name = name.lower() if lower else name
        out.setdefault(name, []).append(MASK if SENSITIVE.search(name) else value)
    return out


def parse_body(raw: bytes) -> Any:
    """Kestra's ``tryMap``/``tryArray``/text: a JSON object or array as such, anything
    else as its text (None for no body). A JSON body past the bounds
    (``executor.bounds``) is refused (``InputValidationError``) rather than kept as text."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            value = loads(raw)
        except TooDeep as exc:
            raise InputValidationError([Problem("trigger.body", str(exc))]) from None
        except ValueError:  # not JSON, or a lone surrogate escape: the text it is
            return text
        if isinstance(value, dict | list):
            return value
    return text


def variables(call: WebhookCall) -> dict[str, Any]:
    """``trigger.body``, ``trigger.headers``, ``trigger.parameters`` of ``call``."""
    out = {
        "body": parse_body(call.body),
        "headers": _as_map(call.headers, lower=True),
        "parameters": _as_map(call.parameters, lower=False),
    }
    try:
        check_depth(out, MAX_JSON_DEPTH + 1)
        check_unicode(out)
    except ValueError as exc:
        raise InputValidationError([Problem("trigger", str(exc))]) from None
    return out


def webhooks(flow: Flow) -> list[Trigger]:
    """The flow's ``Webhook`` triggers."""
    names = KINDS["webhook"]
    return [t for t in flow.triggers if t.type in names]


def rendered_key(flow: Flow, trigger: Trigger) -> str | None:
    """The trigger's key as Kestra renders it (trimmed); None if it cannot be rendered."""
    key = getattr(trigger, "key", None)
    if not isinstance(key, str):
        return None
    if "{{" not in key and "{%" not in key:
        return key.strip()
    context = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "trigger": {"id": trigger.id, "type": trigger.type},
        "envs": envs(),
        "globals": globals_(),
    }
    runtime = RenderRuntime(
        namespace=flow.namespace, flow_id=flow.id, secret=resolver(provider_from_settings())
    )
    try:
        with using(runtime), render_budget():
            return render(key, context).strip()
    except (OstraError, ValueError):
        return None


def match(flow: Flow, given: str) -> Trigger | None:
    """The webhook of ``flow`` whose key is ``given`` (every key compared, in constant
    time each)."""
    found: Trigger | None = None
    raw = given.encode()
    for trigger in webhooks(flow):
        key = rendered_key(flow, trigger)
        if key is not None and hmac.compare_digest(key.encode(), raw) and found is None:
            found = trigger
    return found


def _conditions_hold(flow: Flow, trigger: Trigger, eid: str, trig: dict[str, Any]) -> bool:
    conditions = getattr(trigger, "conditions", None) or []
    if not conditions:
        return True
    context = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {"id": eid},
        "trigger": trig,
        "labels": dict(flow.labels),
        "vars": flow.variables,
        "envs": envs(),
        "globals": globals_(),
    }
    runtime = RenderRuntime(namespace=flow.namespace, flow_id=flow.id)
    for cond in conditions:
        if isinstance(cond, Mapping) and cond.get("type") in EXPRESSION_TYPES:
            try:
                with using(runtime), render_budget():
                    text = render(str(cond.get("expression", "")), context).strip()
            except TemplateError as exc:
                raise InputValidationError(
                    [Problem(f"triggers.{trigger.id}.conditions", str(exc))]
                ) from None
            if not text or text == "false":
                return False
    return True


def _labels(trigger: Trigger) -> list[Label]:
    given = getattr(trigger, "labels", None) or {}
    if isinstance(given, list):
        return [Label(key=str(lb["key"]), value=str(lb.get("value"))) for lb in given]
    return [Label(key=str(k), value=str(v)) for k, v in given.items()]


def receive(
    client: Client, namespace: str, flow_id: str, key: str, call: WebhookCall
) -> Execution | None:
    """Start an execution of ``namespace.flow_id`` for a call to its webhook ``key``;
    the execution as created, or None when the webhook's conditions do not hold.

    Raises ``WebhookNotFound`` (unknown flow, no webhook, wrong key: one answer),
    ``StateConflict`` (the flow or the trigger is disabled), ``InputValidationError``
    (a body past the bounds, or flow inputs without defaults: a webhook gives none).
    Nothing is stored unless an execution starts. Each call starts a new execution.
    """
    try:
        flow = client.flow(namespace, flow_id)
    except FlowNotFound:
        raise WebhookNotFound() from None
    trigger = match(flow, key)
    if trigger is None:
        raise WebhookNotFound()
    if flow.disabled:
        raise StateConflict("Cannot execute a disabled flow")
    ref = TriggerRef(flow.namespace, flow.id, trigger.id)
    state = client.store.trigger_state(ref)
    if getattr(trigger, "disabled", False) is True or (state is not None and state.disabled):
        raise StateConflict("Cannot execute a disabled trigger")
    trig = variables(call)
    eid = new_id()
    try:
        if not _conditions_hold(flow, trigger, eid, trig):
            return None
    except InputValidationError as exc:  # shown by the trigger's state, and answered 422
        record.failed(client.store, ref, trigger.type, str(exc.problems[0]))
        raise
    origin = ExecutionTrigger(id=trigger.id, type=trigger.type, variables=trig)
    return fire(
        client.orchestrator, flow, origin, eid=eid, labels=_labels(trigger), now=time.time()
    )
