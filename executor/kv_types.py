"""Kestra's KV task types (``io.kestra.plugin.core.kv``): Set, Get, Delete and GetKeys.

They reach the namespace KV store through ``ctx.store`` (the worker's store); the
namespace defaults to the flow's, as Kestra's ``{{ flow.namespace }}`` default does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from executor.builtin_types import CamelProperties
from executor.context import RunContext
from executor.errors import TaskFailure
from executor.kv import KVType, TypedValue, check_namespace, coerce, encode
from executor.tasktypes import TaskType, register

if TYPE_CHECKING:
    from executor.store.base import Store


class SetProperties(CamelProperties):
    """``io.kestra.plugin.core.kv.Set``: store ``value`` under ``key``."""

    key: str
    value: Any
    namespace: str | None = None
    overwrite: bool = True
    ttl: timedelta | None = None
    kv_type: KVType | None = None


class GetProperties(CamelProperties):
    """``io.kestra.plugin.core.kv.Get``: output the value of ``key`` as ``value``."""

    key: str
    namespace: str | None = None
    error_on_missing: bool = False


class DeleteProperties(CamelProperties):
    """``io.kestra.plugin.core.kv.Delete``: delete ``key``; output ``deleted``."""

    key: str
    namespace: str | None = None
    error_on_missing: bool = False


class GetKeysProperties(CamelProperties):
    """``io.kestra.plugin.core.kv.GetKeys``: output the live keys (starting with
    ``prefix``) as ``keys``."""

    prefix: str | None = None
    namespace: str | None = None


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


_KV = "io.kestra.plugin.core.kv"
for _name, _props, _runner, _doc in (
    ("Set", SetProperties, "set_", "Store `value` under `key` (`kvType`, `ttl`, `overwrite`)."),
    ("Get", GetProperties, "get", "Output the value of `key` as `value`."),
    ("Delete", DeleteProperties, "delete", "Delete `key`; output `deleted`."),
    ("GetKeys", GetKeysProperties, "get_keys", "Output the keys (with `prefix`) as `keys`."),
):
    register(
        TaskType(
            name=f"{_KV}.{_name}",
            aliases=(f"kv.{_name}",),
            properties=_props,
            runner=f"executor.kv_types:{_runner}",
            doc=_doc,
        )
    )
