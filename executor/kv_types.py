"""Kestra's KV task types (``io.kestra.plugin.core.kv``): Set, Get, Delete and GetKeys.

Their property models and registration; the runners are in ``workers/tasktypes/kv.py``
(they reach the namespace KV store through ``ctx.store``; the namespace defaults to the
flow's, as Kestra's ``{{ flow.namespace }}`` default does).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from executor.builtin_types import CamelProperties
from executor.kv import KVType
from executor.tasktypes import TaskType, register


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
            runner=f"workers.tasktypes.kv:{_runner}",
            doc=_doc,
        )
    )
