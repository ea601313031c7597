"""``ostra flow ...``: deploy flow files, read deployed flows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from executor.cli.common import connect, error, load_flow
from executor.cli.output import err, out
from executor.errors import ValidationFailed
from executor.flow import Flow

flow_app = typer.Typer(no_args_is_help=True, help="Deploy and read flows.")


@flow_app.command("deploy")
def flow_deploy(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Flow YAML files.")],
) -> None:
    """Validate and store flows (all or none); print namespace.id and revision."""
    flows: list[Flow] = []
    bad = False
    for path in files:
        try:
            flows.append(load_flow(path))
        except ValidationFailed as exc:
            error(f"{path}: {exc}")
            bad = True
    if bad:
        raise typer.Exit(2)
    with connect() as client:
        for path, flow in zip(files, flows, strict=True):
            deployed = client.deploy(flow)
            out.print(
                f"{deployed.namespace}.{deployed.id} revision {deployed.revision} ({path})",
                soft_wrap=True,
            )
            for warning in flow.warnings:  # found when rendered, as Kestra does
                err.print(f"warning: {path}: {warning}", soft_wrap=True, markup=False)


@flow_app.command("get")
def flow_get(
    namespace: str,
    flow_id: Annotated[str, typer.Argument(metavar="ID")],
    revision: Annotated[int | None, typer.Option("--revision", "-r", min=1)] = None,
) -> None:
    """Print a deployed flow (its latest revision unless --revision) as YAML."""
    with connect() as client:
        flow = client.flow(namespace, flow_id, revision)
    sys.stdout.write(flow.to_yaml())


@flow_app.command("list")
def flow_list() -> None:
    """The deployed flows, one namespace.id a line."""
    with connect() as client:
        flows = client.store.list_flows()
    for namespace, flow_id in sorted(flows):
        out.print(f"{namespace}.{flow_id}", soft_wrap=True)
