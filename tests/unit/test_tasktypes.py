"""Built-in task types: property models, registry lookup, and runners called directly."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from types import FrameType
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from executor.builtin_types import (
    CommandsProperties,
    FailProperties,
    FunctionProperties,
    LogProperties,
    OutputValuesProperties,
    ReturnProperties,
    ScriptProperties,
    SleepProperties,
)
from executor.catalog import lookup
from executor.context import RunContext
from executor.errors import AttemptTimeout, TaskFailure, TaskKilled
from executor.settings import get_settings
from workers.tasktypes import core, python, scripts

# -- helpers ----------------------------------------------------------------------------


def make_ctx(**kwargs: Any) -> RunContext:
    return RunContext(execution_id="e1", task_run_id="tr1", task_id="t1", **kwargs)


def messages(ctx: RunContext, level: str | None = None) -> list[str]:
    return [e.message for e in ctx.logs if level is None or e.level == level]


def props(model: type[BaseModel], **values: Any) -> Any:
    return model.model_validate(values)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (zombies are waiting for init)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def printed_pids(ctx: RunContext) -> list[int]:
    return [int(m.group(1)) for line in messages(ctx) if (m := re.match(r"^pid=(\d+)$", line))]


def assert_gone(pids: list[int], within: float = 3.0) -> None:
    assert pids, "the script printed no pid"
    give_up = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "processes outlived the task"


# A shell whose foreground and background processes both outlive any test.
LONG_GROUP = ['sleep 30 & echo "pid=$!"', 'echo "pid=$$"', "sleep 30"]

# -- registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Log", "io.kestra.plugin.core.log.Log"),
        ("io.kestra.plugin.core.log.Log", "io.kestra.plugin.core.log.Log"),
        ("Return", "io.kestra.plugin.core.debug.Return"),
        ("OutputValues", "io.kestra.plugin.core.output.OutputValues"),
        ("Fail", "io.kestra.plugin.core.execution.Fail"),
        ("Sleep", "io.kestra.plugin.core.flow.Sleep"),
        ("Commands", "io.kestra.plugin.scripts.shell.Commands"),
        ("Shell", "io.kestra.plugin.scripts.shell.Commands"),
        ("Script", "io.kestra.plugin.scripts.python.Script"),
        ("PythonScript", "io.kestra.plugin.scripts.python.Script"),
        ("Python", "io.ostra.plugin.python.Function"),
        ("io.ostra.plugin.python.Function", "io.ostra.plugin.python.Function"),
    ],
)
def test_lookup_resolves_aliases_and_canonical_names(name: str, canonical: str) -> None:
    tt = lookup(name)
    assert tt is not None
    assert tt.name == canonical
    assert isinstance(tt.runner, str)
    assert tt.runner.startswith("workers.tasktypes.")
    assert callable(tt.resolve_runner())


def test_lookup_unknown_type() -> None:
    assert lookup("io.kestra.plugin.core.NoSuchThing") is None


def test_runner_strings_point_at_the_runners() -> None:
    expected = {
        "Log": core.log,
        "Return": core.return_,
        "OutputValues": core.output_values,
        "Fail": core.fail,
        "Sleep": core.sleep,
        "Commands": scripts.commands,
        "Script": scripts.script,
        "Python": python.function,
    }
    for name, fn in expected.items():
        tt = lookup(name)
        assert tt is not None
        assert tt.resolve_runner() is fn


# -- property models --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (LogProperties, {}),
        (ReturnProperties, {}),
        (OutputValuesProperties, {}),
        (SleepProperties, {}),
        (CommandsProperties, {}),
        (CommandsProperties, {"commands": []}),
        (ScriptProperties, {}),
        (FunctionProperties, {}),
    ],
)
def test_missing_required_properties_are_rejected(
    model: type[BaseModel], values: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(values)


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (LogProperties, {"message": "hi", "colour": "red"}),
        (FailProperties, {"message": "use errorMessage"}),
        (CommandsProperties, {"commands": ["true"], "script": "x"}),
        (FunctionProperties, {"function": "a:b", "args": [1]}),
    ],
)
def test_unknown_properties_are_rejected(model: type[BaseModel], values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(values)


def test_camel_case_names_and_defaults() -> None:
    p = props(
        CommandsProperties,
        commands=["true"],
        failFast=False,
        beforeCommands=["x"],
        env={"PORT": 8080, "DEBUG": True},
    )
    assert p.fail_fast is False
    assert p.before_commands == ["x"]
    assert p.env == {"PORT": "8080", "DEBUG": "true"}
    assert props(CommandsProperties, commands=["true"]).interpreter == ["/bin/sh", "-c"]
    assert props(FailProperties).error_message == "Task failure"
    assert props(FailProperties, errorMessage="boom").error_message == "boom"
    assert props(LogProperties, message="m").level == "INFO"
    assert props(LogProperties, message="m", level="warning").level == "WARN"
    assert props(ScriptProperties, script="1", interpreter="python3").interpreter == ["python3"]
    assert props(SleepProperties, duration="PT1.5S").duration == timedelta(seconds=1.5)


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        props(LogProperties, message="m", level="LOUD")
    with pytest.raises(ValidationError):
        props(SleepProperties, duration="-PT1S")
    with pytest.raises(ValidationError, match="package.module:callable"):
        props(FunctionProperties, function="not a function")


# -- core types -------------------------------------------------------------------------


def test_log_messages_at_level() -> None:
    ctx = make_ctx()
    assert core.log(props(LogProperties, message="one"), ctx) is None
    assert core.log(props(LogProperties, message=["two", "three"], level="ERROR"), ctx) is None
    assert [(e.level, e.message) for e in ctx.logs] == [
        ("INFO", "one"),
        ("ERROR", "two"),
        ("ERROR", "three"),
    ]


def test_return_output_values_and_fail() -> None:
    ctx = make_ctx()
    assert core.return_(props(ReturnProperties, format="hi"), ctx) == {"value": "hi"}
    values = {"a": 1, "b": [1, 2]}
    assert core.output_values(props(OutputValuesProperties, values=values), ctx) == {
        "values": values
    }
    with pytest.raises(TaskFailure, match="^boom$") as info:
        core.fail(props(FailProperties, errorMessage="boom"), ctx)
    assert info.value.retryable
    with pytest.raises(TaskFailure, match="Task failure"):
        core.fail(props(FailProperties), ctx)


def test_sleep_waits_for_duration() -> None:
    start = time.monotonic()
    assert core.sleep(props(SleepProperties, duration="PT0.2S"), make_ctx()) is None
    assert 0.2 <= time.monotonic() - start < 1.0


def test_sleep_stops_when_killed() -> None:
    start = time.monotonic()
    ctx = make_ctx(is_killed=lambda: time.monotonic() > start + 0.2)
    with pytest.raises(TaskKilled):
        core.sleep(props(SleepProperties, duration="PT30S"), ctx)
    assert time.monotonic() - start < 1.0


def test_sleep_stops_at_deadline() -> None:
    start = time.monotonic()
    ctx = make_ctx(timeout=0.2, deadline=start + 0.2)
    with pytest.raises(AttemptTimeout) as info:
        core.sleep(props(SleepProperties, duration="PT30S"), ctx)
    assert info.value.seconds == 0.2
    assert time.monotonic() - start < 1.0


# -- Commands ---------------------------------------------------------------------------


def run_commands(ctx: RunContext, *commands: str, **values: Any) -> Any:
    return scripts.commands(props(CommandsProperties, commands=list(commands), **values), ctx)


def test_commands_outputs_logs_and_metrics() -> None:
    ctx = make_ctx()
    out = run_commands(
        ctx,
        "echo hello",
        "echo oops >&2",
        """echo '::{"outputs": {"a": 1, "b": "x"}}::'""",
        """echo '::{"outputs": {"b": "y"}}::'""",
        """echo '::{"metrics": [{"name": "rows", "type": "counter", "value": 3,"""
        """ "tags": {"table": "t"}}, {"name": "load", "type": "timer", "value": 1.5}]}::'""",
        "echo '::not json::'",
    )
    assert out == {"exitCode": 0, "vars": {"a": 1, "b": "y"}}
    assert messages(ctx, "INFO") == ["hello", "::not json::"]
    assert messages(ctx, "WARN") == ["oops"]
    metrics = {m.name: m for m in ctx.metrics}
    assert metrics["rows"].type == "counter"
    assert metrics["rows"].value == 3.0
    assert metrics["rows"].tags == {"table": "t"}
    assert metrics["load"].type == "timer"
    assert metrics["load"].value == 1500.0  # seconds in the protocol, milliseconds stored


def test_commands_non_zero_exit_fails_after_logging() -> None:
    ctx = make_ctx()
    with pytest.raises(TaskFailure, match="command exited with code 3"):
        run_commands(ctx, "echo before", "exit 3")
    assert messages(ctx) == ["before"]


def test_commands_fail_fast() -> None:
    ctx = make_ctx()
    with pytest.raises(TaskFailure, match="code 1"):
        run_commands(ctx, "false", "echo after")
    assert "after" not in messages(ctx)
    ctx = make_ctx()
    assert run_commands(ctx, "false", "echo after", failFast=False)["exitCode"] == 0
    assert messages(ctx) == ["after"]


def test_commands_before_commands_and_workdir() -> None:
    ctx = make_ctx()
    run_commands(ctx, 'echo "$X"', "pwd", "touch made-here", beforeCommands=["X=prepared"])
    assert messages(ctx)[0] == "prepared"
    workdir = messages(ctx)[1]
    assert os.path.basename(workdir).startswith("ostra-task-")
    assert not os.path.exists(workdir)


def test_commands_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSTRA_REDIS_URL", "redis://secret")
    monkeypatch.setenv("MY_API_TOKEN", "t0k3n")
    monkeypatch.setenv("db_password", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.setenv("KEEP_ME", "kept")
    monkeypatch.setenv("PASS_ME", "passed")
    monkeypatch.setenv("SECRET_PASS_ME_TOO", "c2VjcmV0")
    monkeypatch.setenv("OSTRA_TASK_ENV", "PASS_*,SECRET_*,OSTRA_*")
    get_settings.cache_clear()
    ctx = make_ctx()
    names = [
        "OSTRA_REDIS_URL",
        "MY_API_TOKEN",
        "db_password",
        "AWS_SECRET_ACCESS_KEY",
        "KEEP_ME",
        "PASS_ME",
        "SECRET_PASS_ME_TOO",
        "OSTRA_TASK_ENV",
        "GREETING",
    ]
    try:
        run_commands(ctx, *[f'echo "{n}=${{{n}:-unset}}"' for n in names], env={"GREETING": "hi"})
    finally:
        monkeypatch.delenv("OSTRA_TASK_ENV")
        get_settings.cache_clear()
    assert messages(ctx) == [
        "OSTRA_REDIS_URL=unset",
        "MY_API_TOKEN=unset",
        "db_password=unset",
        "AWS_SECRET_ACCESS_KEY=unset",
        "KEEP_ME=unset",  # only the allowlist and OSTRA_TASK_ENV are passed on
        "PASS_ME=passed",
        "SECRET_PASS_ME_TOO=unset",  # never, even when OSTRA_TASK_ENV names it
        "OSTRA_TASK_ENV=unset",
        "GREETING=hi",
    ]


def test_commands_timeout_kills_the_process_group() -> None:
    start = time.monotonic()
    ctx = make_ctx(timeout=0.5, deadline=start + 0.5)
    with pytest.raises(AttemptTimeout):
        run_commands(ctx, *LONG_GROUP)
    assert time.monotonic() - start < 4.0
    pids = printed_pids(ctx)
    assert len(pids) == 2
    assert_gone(pids)


def test_commands_kill_stops_the_process_group() -> None:
    start = time.monotonic()
    ctx = make_ctx(is_killed=lambda: time.monotonic() > start + 0.4)
    with pytest.raises(TaskKilled):
        run_commands(ctx, *LONG_GROUP)
    assert time.monotonic() - start < 4.0
    assert_gone(printed_pids(ctx))


def test_commands_background_children_do_not_outlive_the_task() -> None:
    ctx = make_ctx()
    start = time.monotonic()
    out = run_commands(ctx, 'sleep 30 & echo "pid=$!"', "echo done")
    assert out["exitCode"] == 0
    assert time.monotonic() - start < 4.0
    assert_gone(printed_pids(ctx))


@pytest.fixture
def alarm_timeout() -> Iterator[None]:
    """Raise AttemptTimeout from SIGALRM after 0.5 s, as the worker does; restores the
    previous handler and timer (pytest-timeout uses them)."""

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise AttemptTimeout(0.5)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if previous_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)


@pytest.mark.usefixtures("alarm_timeout")
def test_async_timeout_from_signal_handler_kills_the_process_group() -> None:
    ctx = make_ctx()
    with pytest.raises(AttemptTimeout):
        run_commands(ctx, *LONG_GROUP)
    assert_gone(printed_pids(ctx))


def test_commands_missing_interpreter_fails() -> None:
    with pytest.raises(TaskFailure, match="cannot start") as info:
        run_commands(make_ctx(), "true", interpreter=["/no/such/shell", "-c"])
    assert not info.value.retryable


# -- Script -----------------------------------------------------------------------------


SCRIPT = """
import json, os, sys
print("hello from", os.path.basename(sys.executable))
print("warning!", file=sys.stderr)
print("::" + json.dumps({"outputs": {"total": 6, "env": os.environ.get("GREETING")}}) + "::")
print("::" + json.dumps({"metrics": [{"name": "n", "type": "counter", "value": 2}]}) + "::")
"""


def test_script_runs_inline_python() -> None:
    ctx = make_ctx()
    out = scripts.script(props(ScriptProperties, script=SCRIPT, env={"GREETING": "hi"}), ctx)
    assert out == {"exitCode": 0, "vars": {"total": 6, "env": "hi"}}
    # the worker's Python, or python3 on PATH when the task user cannot run it
    python = scripts.default_python(scripts.task_user(), os.environ.get("PATH"))
    assert messages(ctx, "INFO") == [f"hello from {os.path.basename(python)}"]
    assert messages(ctx, "WARN") == ["warning!"]
    assert [(m.name, m.value) for m in ctx.metrics] == [("n", 2.0)]


def test_script_before_commands_and_failure() -> None:
    ctx = make_ctx()
    p = props(
        ScriptProperties,
        script="import sys; print('ran'); sys.exit(4)",
        beforeCommands=["echo prepared"],
    )
    with pytest.raises(TaskFailure, match="code 4"):
        scripts.script(p, ctx)
    assert messages(ctx) == ["prepared", "ran"]


# -- Python function --------------------------------------------------------------------


def run_function(ctx: RunContext, function: str, **kwargs: Any) -> Any:
    return python.function(props(FunctionProperties, function=function, kwargs=kwargs), ctx)


def test_function_with_ctx_and_kwargs() -> None:
    ctx = make_ctx(attempt=2)
    assert run_function(ctx, "tests.helpers.funcs:add", a=2, b=3) == {"sum": 5, "attempt": 2}
    assert messages(ctx) == ["adding 2 and 3"]
    assert [(m.name, m.value, m.tags) for m in ctx.metrics] == [("additions", 1.0, {"kind": "int"})]


def test_function_results() -> None:
    ctx = make_ctx()
    assert run_function(ctx, "tests.helpers.funcs:greet", name="bob") == {"value": "hello bob"}
    assert run_function(ctx, "tests.helpers.funcs:nothing") is None
    assert run_function(ctx, "tests.helpers.funcs:Namespace.double", x=4) == {"value": 8}


@pytest.mark.parametrize(
    ("function", "kwargs", "message"),
    [
        ("tests.helpers.no_such_module:add", {}, "cannot import module"),
        ("tests.helpers.funcs:no_such_function", {}, "not found"),
        ("tests.helpers.funcs:greet", {"nom": "bob"}, "cannot call"),
    ],
)
def test_function_errors_are_not_retryable(
    function: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskFailure, match=message) as info:
        run_function(make_ctx(), function, **kwargs)
    assert function in str(info.value)
    assert not info.value.retryable


def test_function_outputs_must_be_json() -> None:
    with pytest.raises(TaskFailure, match="output 'bad'.*not JSON-serializable"):
        run_function(make_ctx(), "tests.helpers.funcs:not_serializable")
