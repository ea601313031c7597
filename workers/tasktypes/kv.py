"""Runners of the KV task types (``executor/kv_types.py``): Set, Get, Delete, GetKeys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from executor.context import RunContext
from executor.errors import TaskFailure
from executor.kv import TypedValue, check_namespace, coerce, encode
from executor.kv_types import DeleteProperties, GetKeysProperties, GetProperties, SetProperties
from executor.store.base import Store


def _where(ctx: RunContext, namespace: str | None) -> tuple[Store, str]:
    if ctx.store is None:
        raise TaskFailure("the KV store is not available to this task run", retryable=False)
    return ctx.store, check_namespace(namespace or ctx.namespace)


def _missing(key: str, namespace: str) -> TaskFailure:
    return TaskFailure(
        f"No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` "
        "is set to true",
        retryable=False,
    )


def set_(props: SetProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Store the value (typed by ``kvType`` if given). No outputs."""
    store, namespace = _where(ctx, props.namespace)
    if ctx.holds_secret(props.key) or ctx.holds_secret(props.value):
        # KV values are stored and answered as they are: a secret would be in plaintext.
        shown = ctx.mask(props.key) if ctx.mask is not None else props.key
        raise TaskFailure(
            f"kv.Set of key {shown!r}: the key or "
            "value holds a secret or a SECRET input, which the KV store would keep in "
            "plaintext (read the secret where it is needed instead)",
            retryable=False,
        )
    kv_type, value = coerce(props.value, props.kv_type)
    ttl = props.ttl.total_seconds() if props.ttl is not None else None
    store.kv_set(
        namespace,
        props.key,
        kv_type,
        encode(value),
        ttl=ttl,
        overwrite=props.overwrite,
        tenant=ctx.tenant,
    )
    return None


def get(props: GetProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Output ``{"value": value}`` (None when missing, unless ``errorOnMissing``)."""
    store, namespace = _where(ctx, props.namespace)
    record = store.kv_get(namespace, props.key, tenant=ctx.tenant)
    if record is None and props.error_on_missing:
        raise _missing(props.key, namespace)
    return {"value": TypedValue.of(record).value if record is not None else None}


def delete(props: DeleteProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Output ``{"deleted": bool}``."""
    store, namespace = _where(ctx, props.namespace)
    deleted = store.kv_delete(namespace, props.key, tenant=ctx.tenant)
    if not deleted and props.error_on_missing:
        raise _missing(props.key, namespace)
    return {"deleted": deleted}


def get_keys(props: GetKeysProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Output ``{"keys": [...]}``."""
    store, namespace = _where(ctx, props.namespace)
    keys = [r.key for r in store.kv_list(namespace, tenant=ctx.tenant)]
    if props.prefix is not None:
        keys = [k for k in keys if k.startswith(props.prefix)]
    return {"keys": keys}
