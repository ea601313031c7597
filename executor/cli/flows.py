"""``ostra flow ...``: deploy flow files, read deployed flows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from executor.cli.common import JsonOption, connect, error, load_flow, store_of
from executor.cli.output import err, out, print_json
from executor.errors import ValidationFailed
from executor.flow import Flow

flow_app = typer.Typer(no_args_is_help=True, help="Deploy and read flows.")


@flow_app.command("deploy")
def flow_deploy(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Flow YAML files.")],
    as_json: JsonOption = False,
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
    done: list[dict[str, object]] = []
    with connect() as client:
        for path, flow in zip(files, flows, strict=True):
            deployed = client.deploy(flow)
            done.append(
                {
                    "file": str(path),
                    "namespace": deployed.namespace,
                    "id": deployed.id,
                    "revision": deployed.revision,
                    "warnings": list(flow.warnings),
                }
            )
            if not as_json:
                out.print(
                    f"{deployed.namespace}.{deployed.id} revision {deployed.revision} ({path})",
                    soft_wrap=True,
                )
            for warning in flow.warnings:  # found when rendered, as Kestra does
                err.print(f"warning: {path}: {warning}", soft_wrap=True, markup=False)
    if as_json:
        print_json(done)


@flow_app.command("validate")
def flow_validate(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Flow YAML files.")],
    as_json: JsonOption = False,
) -> None:
    """Check flow files without storing anything: every problem (exit 2 if any) and
    every warning (templates that will fail when rendered), per file."""
    report: list[dict[str, object]] = []
    bad = False
    for path in files:
        entry: dict[str, object] = {"file": str(path), "valid": True, "problems": []}
        try:
            flow = load_flow(path)
        except ValidationFailed as exc:
            bad = True
            entry["valid"] = False
            entry["problems"] = [{"path": p.path, "message": p.message} for p in exc.problems]
            entry["warnings"] = []
            if not as_json:
                error(f"{path}: {exc}")
        else:
            entry.update(namespace=flow.namespace, id=flow.id, warnings=list(flow.warnings))
            if not as_json:
                out.print(f"ok: {path} ({flow.namespace}.{flow.id})", soft_wrap=True)
                for warning in flow.warnings:
                    err.print(f"warning: {path}: {warning}", soft_wrap=True, markup=False)
        report.append(entry)
    if as_json:
        print_json(report)
    if bad:
        raise typer.Exit(2)


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
def flow_list(as_json: JsonOption = False) -> None:
    """The deployed flows, one namespace.id a line."""
    with connect() as client:
        flows = store_of(client, "ostra flow list").list_flows()
    if as_json:
        print_json([{"namespace": ns, "id": fid} for ns, fid in sorted(flows)])
        return
    for namespace, flow_id in sorted(flows):
        out.print(f"{namespace}.{flow_id}", soft_wrap=True)
