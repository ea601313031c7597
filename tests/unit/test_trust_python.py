"""OSTRA_PYTHON_MODULES: what a Python task may call, and what ``ostra run`` allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from executor.cli.run import local_python_modules
from executor.errors import SettingsError, TaskFailure
from executor.python_modules import allowed, directory_patterns
from executor.settings import Settings, get_settings
from workers.tasktypes.python import resolve


@pytest.mark.parametrize(
    ("module", "patterns", "expected"),
    [
        ("myco.tasks.etl", ("myco.tasks.*",), True),
        ("myco.tasks.etl.sub", ("myco.tasks.*",), True),  # * crosses dots
        ("myco.tasks", ("myco.tasks.*",), False),
        ("myco.taskset", ("myco.tasks.*",), False),
        ("etl", ("etl",), True),
        ("etl2", ("etl",), False),
        ("ETL", ("etl",), False),
        ("os", (), False),
        ("os", ("*",), True),
    ],
)
def test_patterns(module: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert allowed(module, patterns) is expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("os:getenv", "module 'os' is not listed in OSTRA_PYTHON_MODULES (tests.helpers.*)"),
        ("subprocess:run", "module 'subprocess' is not listed"),
        ("tests.helpers.trust_funcs:getenv", "defined in module 'os'"),
        ("tests.helpers.funcs:_private", "private names"),
        ("tests.helpers.funcs:__builtins__.get", "private names"),
        ("tests.helpers.secret_env:base64.b64decode", "'base64' is a module"),
    ],
)
def test_resolve_refuses(spec: str, message: str) -> None:
    with pytest.raises(TaskFailure) as info:
        resolve(spec, ("tests.helpers.*",))
    assert message in str(info.value) and spec in str(info.value)
    assert not info.value.retryable


def test_resolve_refuses_everything_when_unset() -> None:
    with pytest.raises(TaskFailure, match="unset: no module is allowed"):
        resolve("tests.helpers.funcs:greet", ())


def test_resolve_allows_listed_functions_and_class_attributes() -> None:
    assert resolve("tests.helpers.funcs:greet", ("tests.helpers.*",))("x") == "hello x"
    assert resolve("tests.helpers.funcs:Namespace.double", ("tests.helpers.funcs",))(x=2) == 4


def test_ostra_run_allows_the_flow_directory(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    assert directory_patterns(root / "examples", [root]) == ["examples", "examples.*"]
    (tmp_path / "etl.py").write_text("")
    (tmp_path / "os.py").write_text("")  # a standard library name allows nothing
    (tmp_path / "_hidden.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "data").mkdir()  # not a package
    assert directory_patterns(tmp_path, [tmp_path]) == ["etl", "pkg", "pkg.*"]
    assert directory_patterns(tmp_path, [root]) == []  # not reachable from the path
    flow = tmp_path / "flow.yaml"
    assert local_python_modules(flow, ("myco.*",)) == "myco.*"  # cwd is not tmp_path


def test_invalid_patterns_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSTRA_PYTHON_MODULES", "good.*, bad pattern")
    get_settings.cache_clear()
    try:
        with pytest.raises(
            SettingsError, match="OSTRA_PYTHON_MODULES: invalid pattern 'bad pattern'"
        ):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert Settings(python_modules=" a.* ,, b ").python_module_patterns == ("a.*", "b")
    assert Settings(python_modules="").python_module_patterns == ()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OSTRA_PYTHON_MODULES", raising=False)
        assert Settings().python_module_patterns is None  # unset: deploy cannot check
