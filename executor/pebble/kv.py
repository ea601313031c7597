"""``kv(key, namespace, errorOnMissing)``: a value of the namespace KV store (Kestra's
``KvFunction``): the flow's namespace by default; None for a missing key unless
``errorOnMissing`` is true."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from executor.errors import OstraError, TemplateError
from executor.kv import TypedValue
from executor.pebble import runtime
from executor.pebble.registry import pebble_function

_NO_KEY = object()


@pebble_function("kv")
@pass_context
def kv(
    context: Context,
    key: Any = _NO_KEY,
    namespace: str | None = None,
    errorOnMissing: bool | None = None,
) -> Any:
    """The value of ``key`` in the KV store of ``namespace`` (default: the flow's)."""
    if key is _NO_KEY:
        raise TemplateError("The 'kv' function expects an argument 'key'.")
    rt = runtime.current()
    if namespace is None:
        namespace = rt.namespace
        if namespace is None:
            flow = context.get("flow")
            namespace = flow.get("namespace") if isinstance(flow, dict) else None
    if rt.store is None or namespace is None:
        raise TemplateError("The 'kv' function needs the KV store, not available here.")
    try:
        record = rt.store.kv_get(str(namespace), str(key), tenant=rt.tenant)
    except OstraError as exc:
        raise TemplateError(str(exc).replace("\n", " ")) from None
    if record is None:
        if errorOnMissing is True:
            raise TemplateError(f"The key '{key}' does not exist in the namespace '{namespace}'.")
        return None
    return TypedValue.of(record).value
