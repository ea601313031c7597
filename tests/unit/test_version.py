"""The version is written once (pyproject.toml) and shown the same everywhere."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

import executor
from executor.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_everywhere() -> None:
    written = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert executor.__version__ == written
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"ostra {written}"
    from executor.api.app import create_app

    assert create_app(client=object(), token="t").version == written  # type: ignore[arg-type]
