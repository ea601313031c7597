"""``ostra kv ...``: the namespace KV store (get, set, delete, list).

A value given without ``--type`` is read as Kestra's API reads a PUT body: JSON
(``'"text"'``, ``1``, ``true``, ``'{"a": 1}'``) or a bare ISO date or date-time; any other
text is a STRING.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from executor import bounds
from executor.cli.common import connect
from executor.cli.output import print_json
from executor.errors import Problem
from executor.kv import KVValidationError

kv_app = typer.Typer(no_args_is_help=True, help="Read and write the namespace KV store.")

TenantOpt = Annotated[str, typer.Option("--tenant", help="The tenant.")]


def _value(text: str) -> Any:
    try:
        return bounds.loads(text)
    except bounds.TooDeep as exc:
        raise KVValidationError([Problem("value", f"the JSON value is {exc}")]) from None
    except ValueError:
        pass
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return text


@kv_app.command("get")
def kv_get(namespace: str, key: str, tenant: TenantOpt = "main") -> None:
    """Print the value of KEY and its type as JSON ({"type": ..., "value": ...})."""
    with connect() as client:
        typed = client.kv_get(namespace, key, tenant=tenant)
    print_json(typed.model_dump(mode="json"))


@kv_app.command("set")
def kv_set(
    namespace: str,
    key: str,
    value: str,
    kv_type: Annotated[
        str | None,
        typer.Option(
            "--type", "-t", help="STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON."
        ),
    ] = None,
    ttl: Annotated[str | None, typer.Option("--ttl", help="Expire after (ISO-8601, PT5M).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite/--no-overwrite", help="Replace an existing key.")
    ] = True,
    tenant: TenantOpt = "main",
) -> None:
    """Store VALUE under KEY."""
    with connect() as client:
        client.kv_set(
            namespace,
            key,
            value if kv_type is not None else _value(value),
            kv_type=kv_type,
            ttl=ttl,
            overwrite=overwrite,
            tenant=tenant,
        )


@kv_app.command("delete")
def kv_delete(namespace: str, key: str, tenant: TenantOpt = "main") -> None:
    """Delete KEY; print true if it existed, else false (exit 1)."""
    with connect() as client:
        deleted = client.kv_delete(namespace, key, tenant=tenant)
    print_json(deleted)
    if not deleted:
        raise typer.Exit(1)


@kv_app.command("list")
def kv_list(namespace: str, tenant: TenantOpt = "main") -> None:
    """Print the live entries of NAMESPACE as JSON."""
    with connect() as client:
        entries = client.kv_list(namespace, tenant=tenant)
    print_json([e.model_dump(mode="json", by_alias=True) for e in entries])
