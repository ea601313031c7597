"""The README's flows and tables match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from executor import Flow
from executor.catalog import lookup
from executor.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_readme_flow_examples_are_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.DOTALL)
    flows = [b for b in blocks if "tasks:" in b]
    assert flows
    for block in flows:
        Flow.from_yaml(block)


def test_readme_task_type_table_names_registered_types() -> None:
    rows = re.findall(r"^\| `([\w.]+)` \| ([^|]*) \|", README, re.MULTILINE)
    names = [(name, alias) for name, alias in rows if name.startswith("io.")]
    assert len(names) >= 8
    for name, aliases in names:
        tt = lookup(name)
        assert tt is not None, name
        for alias in re.findall(r"`(\w+)`", aliases):
            assert lookup(alias) is tt, alias


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`OSTRA_{name.upper()}`" in README
