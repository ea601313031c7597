"""``/api/v1/[{tenant}/]namespaces/{namespace}/kv``: Kestra's KV store API (``KVController``).

- ``GET .../kv``: the live entries, ``[{key, creationDate, updateDate, expirationDate}]``;
- ``GET .../kv/{key}``: ``{type, value}``, 404 if missing or expired;
- ``PUT .../kv/{key}``: the body is the value as JSON (``"text"``, ``1``, ``true``, ``{}``) or a
  bare ISO date or date-time; a ``ttl`` header (ISO-8601 duration) makes it expire. Ostra
  also reads an ``overwrite: false`` header (409 if the key exists);
- ``DELETE .../kv/{key}``: ``true`` if it existed, else ``false``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from executor import bounds
from executor.api.schemas import error_responses
from executor.api.service import ApiDep
from executor.errors import Problem
from executor.kv import KVValidationError

router = APIRouter(tags=["kv"])

_BASE = "/namespaces/{namespace}/kv"
#: The PUT body: the value as JSON (or a bare ISO date or date-time).
_VALUE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def _parse_body(raw: bytes) -> Any:
    """The value of a PUT body, read as Kestra reads it (Ion: JSON, or a bare timestamp)."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        return bounds.loads(text)
    except bounds.TooDeep as exc:
        raise KVValidationError([Problem("value", f"the JSON value is {exc}")]) from None
    except bounds.NotUnicode as exc:
        raise KVValidationError([Problem("value", f"not valid Unicode: {exc}")]) from None
    except ValueError:
        pass
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise KVValidationError(
            [Problem("value", f"Invalid JSON value for: {text[:200]}")]
        ) from None


TtlHeader = Annotated[str | None, Header()]


# The tenant is checked by the app's tenant mount (Ostra has one, ``main``): the
# store's methods default to it.


@router.get(_BASE, summary="List all keys for a namespace")
async def list_kv(api: ApiDep, namespace: str) -> JSONResponse:
    entries = await run_in_threadpool(api.client.kv_list, namespace)
    return JSONResponse([e.model_dump(mode="json", by_alias=True) for e in entries])


@router.get(_BASE + "/{key}", summary="Get value for a key", responses=error_responses(404))
async def get_kv(api: ApiDep, namespace: str, key: str) -> JSONResponse:
    typed = await run_in_threadpool(api.client.kv_get, namespace, key)
    return JSONResponse(typed.model_dump(mode="json"))


@router.put(
    _BASE + "/{key}",
    summary="Put a key-value pair",
    openapi_extra=_VALUE_BODY,
    responses=error_responses(409, 413),
)
async def put_kv(
    request: Request,
    api: ApiDep,
    namespace: str,
    key: str,
    ttl: TtlHeader = None,
    overwrite: TtlHeader = None,
) -> JSONResponse:
    value = _parse_body(await request.body())
    no_overwrite = overwrite is not None and overwrite.strip().lower() == "false"
    await run_in_threadpool(
        lambda: api.client.kv_set(namespace, key, value, ttl=ttl, overwrite=not no_overwrite)
    )
    return JSONResponse(None)


@router.delete(_BASE + "/{key}", summary="Delete a key-value pair")
async def delete_kv(api: ApiDep, namespace: str, key: str) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(api.client.kv_delete, namespace, key))
