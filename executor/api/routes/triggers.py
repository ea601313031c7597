"""``/api/v1/[{tenant}/]triggers``: seeing and controlling triggers, as Kestra's
``TriggerController``.

- ``GET /triggers/search?namespace=&flowId=&page=&size=``: ``{results: [{abstractTrigger,
  triggerContext}], total}`` (the trigger as written in the flow, its ``Trigger`` state);
- ``GET /triggers/{namespace}/{flowId}``: ``{results: [Trigger], total}``;
- ``PUT /triggers`` with a ``Trigger`` body: ``disabled`` enables or disables it (a
  schedule enabled again applies ``recoverMissedSchedules``); a ``backfill`` (``start``,
  ``end``, ``inputs``, ``labels``; Ostra also reads ``rerun`` and ``rate``) starts one
  (409 while one runs; one with a ``status``, as this API shows them, is ignored);
- ``PUT /triggers/backfill/pause`` and ``/unpause``, ``POST /triggers/backfill/delete``
  (cancels it), each with a ``Trigger`` body naming it;
- ``POST /triggers/{namespace}/{flowId}/{triggerId}/unlock``: drop a process's claim
  (409 if it is not locked);
- ``POST /triggers/set-disabled/by-triggers``: ``{triggers: [...], disabled}`` ->
  ``{count}``.

A ``Trigger`` is ``{namespace, flowId, triggerId, date, nextExecutionDate, backfill,
stopAfter, disabled, executionId, updatedDate, evaluateRunningDate, ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from executor import bounds
from executor.api.schemas import error_responses
from executor.api.service import ApiDep
from executor.errors import InputValidationError, NotFoundError, Problem, StateConflict

router = APIRouter(tags=["triggers"])

_IDS = {
    "namespace": {"type": "string"},
    "flowId": {"type": "string"},
    "triggerId": {"type": "string"},
}
_BACKFILL = {
    "type": "object",
    "required": ["start"],
    "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "inputs": {"type": "object"},
        "labels": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "value"],
                "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
            },
        },
        "rerun": {"type": "boolean"},
        "rate": {"type": "number", "exclusiveMinimum": 0},
    },
}
_TRIGGER = {
    "type": "object",
    "required": list(_IDS),
    "properties": {
        **_IDS,
        "disabled": {"type": "boolean"},
        "backfill": {"anyOf": [_BACKFILL, {"type": "null"}]},
    },
}
_REF = {"type": "object", "required": list(_IDS), "properties": _IDS}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _json(request: Request) -> Any:
    try:
        return bounds.loads(await request.body())
    except ValueError as exc:  # TooDeep, NotUnicode and JSONDecodeError are ValueErrors
        raise InputValidationError([Problem("body", f"not valid JSON: {exc}")]) from None


async def _body(request: Request) -> dict[str, Any]:
    body = await _json(request)
    if not isinstance(body, dict):
        raise InputValidationError([Problem("body", "a JSON object is expected")])
    _check_ids(body, "")
    if "disabled" in body and not isinstance(body["disabled"], bool):
        raise InputValidationError([Problem("disabled", "true or false expected")])
    if body.get("backfill") is not None:  # null: none (as the list shows a trigger)
        if not isinstance(body["backfill"], dict):
            raise InputValidationError([Problem("backfill", "an object is expected")])
        _backfill_args(body["backfill"])  # checked before anything is read or stored
    return body


def _check_ids(body: dict[str, Any], where: str) -> None:
    missing = [k for k in _IDS if not isinstance(body.get(k), str)]
    if missing:
        raise InputValidationError([Problem(where + k, "required (a string)") for k in missing])


def _page(entries: list[Any], page: int, size: int) -> list[Any]:
    page, size = max(page, 1), max(size, 0)
    return entries[(page - 1) * size : page * size]


def _ids(body: dict[str, Any]) -> tuple[str, str, str]:
    return body["namespace"], body["flowId"], body["triggerId"]


@router.get("/triggers/search", summary="Search for triggers")
async def search_triggers(
    api: ApiDep,
    page: int = 1,
    size: int = 10,
    namespace: str | None = None,
    flowId: str | None = None,
) -> JSONResponse:
    def work() -> dict[str, Any]:
        from executor.triggers import control

        client = api.client
        items = control.listed(client.store, namespace, flowId)
        chunk = _page(items, page, size)
        lease = client.settings.schedule_lease
        entries = control.triggers(client.store, lease=lease, items=chunk) if chunk else []
        results = [
            {"abstractTrigger": t.model_dump(by_alias=True), "triggerContext": e}
            for (_, t), e in zip(chunk, entries, strict=True)
        ]
        return {"results": results, "total": len(items)}

    return JSONResponse(await run_in_threadpool(work))


@router.get("/triggers/{namespace}/{flowId}", summary="Get all triggers for a flow")
async def flow_triggers(
    api: ApiDep,
    namespace: str,
    flowId: str,
    page: int = 1,
    size: int = 10,
) -> JSONResponse:
    def work() -> dict[str, Any]:
        from executor.triggers import control

        client = api.client
        items = control.listed(client.store, namespace, flowId)
        chunk = _page(items, page, size)
        lease = client.settings.schedule_lease
        entries = control.triggers(client.store, lease=lease, items=chunk) if chunk else []
        return {"results": entries, "total": len(items)}

    return JSONResponse(await run_in_threadpool(work))


@router.put(
    "/triggers",
    summary="Update a trigger",
    responses=error_responses(404, 409),
    openapi_extra=_json_body(_TRIGGER),
)
async def update_trigger(api: ApiDep, request: Request) -> JSONResponse:
    body = await _body(request)

    def work() -> dict[str, Any]:
        client = api.client
        ids = _ids(body)
        current = client.trigger(*ids)
        fill = body.get("backfill")
        # A backfill as this API shows it (with its ``status``) is an echo of the current
        # one, not a new one: a client sending the trigger back to disable it starts
        # nothing. A new one while one runs is a 409.
        if isinstance(fill, dict) and "status" not in fill:
            client.backfill(*ids, **_backfill_args(fill))
        if isinstance(body.get("disabled"), bool) and body["disabled"] != current["disabled"]:
            client.set_trigger_disabled(*ids, body["disabled"])
        return client.trigger(*ids)

    return JSONResponse(await run_in_threadpool(work))


def _backfill_args(fill: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``Client.backfill`` from a ``backfill`` body (Kestra's
    ``Backfill``: ``start``, ``end`` (default: now), ``inputs``, ``labels`` as a list of
    ``{key, value}`` or a map; Ostra's ``rerun`` and ``rate``)."""
    problems = []
    start, end = fill.get("start"), fill.get("end")
    if not isinstance(start, str):
        problems.append(Problem("backfill.start", "required (ISO-8601)"))
    if end is not None and not isinstance(end, str):
        problems.append(Problem("backfill.end", "ISO-8601 expected"))
    inputs = fill.get("inputs", {})
    if not isinstance(inputs, dict):
        problems.append(Problem("backfill.inputs", "an object is expected"))
    raw = fill.get("labels", [])
    labels: dict[str, str] = {}
    if isinstance(raw, list) and all(
        isinstance(x, dict) and isinstance(x.get("key"), str) and isinstance(x.get("value"), str)
        for x in raw
    ):
        labels = {x["key"]: x["value"] for x in raw}
    else:
        problems.append(Problem("backfill.labels", "a list of {key, value} texts is expected"))
    rate = fill.get("rate")
    if "rate" in fill and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0
    ):
        problems.append(Problem("backfill.rate", "a number > 0 is expected"))
    if not isinstance(fill.get("rerun", False), bool):
        problems.append(Problem("backfill.rerun", "true or false expected"))
    if problems:
        raise InputValidationError(problems)
    try:
        from executor.engine.schedule import parse_date

        parse_date(str(start))
        if end is not None:
            parse_date(str(end))
    except ValueError as exc:
        raise InputValidationError([Problem("backfill", f"not an ISO-8601 date: {exc}")]) from None
    return {
        "start": start,
        "end": end if isinstance(end, str) else _now_iso(),
        "inputs": inputs or None,
        "labels": labels or None,
        "rerun": bool(fill.get("rerun", False)),
        "rate": float(rate) if rate is not None else None,
    }


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


async def _on_backfill(
    api: ApiDep, request: Request, action: Callable[[str, str, str], object]
) -> JSONResponse:
    """Apply ``action`` to the backfill of the trigger the body names; the trigger."""
    ids = _ids(await _body(request))
    await run_in_threadpool(action, *ids)
    return JSONResponse(await run_in_threadpool(api.client.trigger, *ids))


@router.put(
    "/triggers/backfill/pause",
    summary="Pause a backfill",
    responses=error_responses(404, 409),
    openapi_extra=_json_body(_REF),
)
async def pause_backfill(api: ApiDep, request: Request) -> JSONResponse:
    return await _on_backfill(api, request, api.client.pause_backfill)


@router.put(
    "/triggers/backfill/unpause",
    summary="Unpause a backfill",
    responses=error_responses(404, 409),
    openapi_extra=_json_body(_REF),
)
async def unpause_backfill(api: ApiDep, request: Request) -> JSONResponse:
    return await _on_backfill(api, request, api.client.resume_backfill)


@router.post(
    "/triggers/backfill/delete",
    summary="Delete a backfill",
    responses=error_responses(404, 409),
    openapi_extra=_json_body(_REF),
)
async def delete_backfill(api: ApiDep, request: Request) -> JSONResponse:
    return await _on_backfill(api, request, api.client.cancel_backfill)


@router.post(
    "/triggers/{namespace}/{flowId}/{triggerId}/unlock",
    summary="Unlock a trigger",
    responses=error_responses(404, 409),
)
async def unlock_trigger(
    api: ApiDep,
    namespace: str,
    flowId: str,
    triggerId: str,
) -> JSONResponse:
    entry = await run_in_threadpool(api.client.unlock_trigger, namespace, flowId, triggerId)
    return JSONResponse(entry)


@router.post(
    "/triggers/set-disabled/by-triggers",
    summary="Disable or enable triggers",
    openapi_extra=_json_body(
        {
            "type": "object",
            "required": ["triggers", "disabled"],
            "properties": {
                "triggers": {"type": "array", "items": _REF},
                "disabled": {"type": "boolean"},
            },
        }
    ),
)
async def set_disabled_by_triggers(api: ApiDep, request: Request) -> JSONResponse:
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("disabled"), bool):
        raise InputValidationError([Problem("disabled", "required (true or false)")])
    items = body.get("triggers")
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise InputValidationError([Problem("triggers", "a list of triggers is expected")])
    for i, item in enumerate(items):
        _check_ids(item, f"triggers[{i}].")

    def work() -> int:
        count = 0
        for item in items:
            try:
                api.client.set_trigger_disabled(
                    item["namespace"], item["flowId"], item["triggerId"], body["disabled"]
                )
            except (NotFoundError, StateConflict):
                continue  # as Kestra's bulk actions: skipped, not counted
            count += 1
        return count

    return JSONResponse({"count": await run_in_threadpool(work)})
