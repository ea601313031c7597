"""Built-in task types: their property models and where their runners live.

Property names are camelCase as in Kestra (``failFast``, ``errorMessage``); the snake_case
attribute names are accepted too. The common task properties (``id``, ``type``, ``retry``,
``timeout``...) are stripped by the caller before these models validate a task, so they
only describe what is specific to each type.

Runners are named by ``"module:function"`` strings: the executor validates flows with these
models and never imports worker code.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from executor.durations import Duration
from executor.tasktypes import Properties, TaskType, register

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]

FUNCTION_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class CamelProperties(Properties):
    """Base of the built-in models: camelCase names, snake_case accepted, extras forbidden."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def _env_values(value: Any) -> Any:
    """Environment values as strings: YAML gives ``PORT: 8080`` as an int."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for k, v in value.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float):
            out[k] = str(v)
        else:
            out[k] = v
    return out


#: environment variables of a script task; scalar values are turned into strings
EnvMap = Annotated[dict[str, str], BeforeValidator(_env_values)]


class LogProperties(CamelProperties):
    """``io.kestra.plugin.core.log.Log``: log one message or several."""

    message: str | list[str]
    level: LogLevel = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.upper()
            return "WARN" if value == "WARNING" else value
        return value


class EchoProperties(CamelProperties):
    """``io.kestra.plugin.core.debug.Echo`` (deprecated in Kestra for Log): log ``format``
    at ``level``. Run by Log's runner: ``message`` is ``format``."""

    format: str = Field(min_length=1)
    level: LogLevel = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return LogProperties._upper_level(value)

    @property
    def message(self) -> str:
        return self.format


class TemplatedTaskProperties(CamelProperties):
    """``io.kestra.plugin.core.templating.TemplatedTask``: ``spec``, rendered, is the YAML
    of a runnable task (its ``type`` and properties), run as this task."""

    spec: str = Field(min_length=1)


class ReturnProperties(CamelProperties):
    """``io.kestra.plugin.core.debug.Return``: output a (rendered) string as ``value``."""

    format: str


class OutputValuesProperties(CamelProperties):
    """``io.kestra.plugin.core.output.OutputValues``: output a map as ``values``."""

    values: dict[str, Any]


class FailProperties(CamelProperties):
    """``io.kestra.plugin.core.execution.Fail``: fail the task run with a message."""

    error_message: str = "Task failure"


class SleepProperties(CamelProperties):
    """``io.kestra.plugin.core.flow.Sleep``: wait for an ISO-8601 duration such as ``PT1S``."""

    duration: Duration

    @field_validator("duration")
    @classmethod
    def _non_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("duration must not be negative")
        return value


class PauseProperties(CamelProperties):
    """``io.kestra.plugin.core.flow.Pause``: pause the execution until it is resumed, or
    for ``pauseDuration`` (``delay``, its deprecated name), after which ``behavior`` says
    how the Pause task run ends; with only a ``timeout``, it ends FAILED when that
    passes (``timeout`` is the common task property). Its ``tasks`` (deprecated in
    Kestra, still run) run once it is resumed."""

    pause_duration: timedelta | str | None = None
    delay: timedelta | str | None = None
    behavior: Literal["RESUME", "WARN", "FAIL", "CANCEL"] = "RESUME"
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("behavior", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class ExitProperties(CamelProperties):
    """``io.kestra.plugin.core.execution.Exit``: end the execution in ``state`` (Kestra's
    ``ExitState``; ``CANCELLED`` is accepted for ``CANCELED``)."""

    state: Literal["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"] = "SUCCESS"

    @field_validator("state", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.upper()
            return "CANCELED" if value == "CANCELLED" else value
        return value


class LabelsProperties(CamelProperties):
    """``io.kestra.plugin.core.execution.Labels``: add labels to the running execution,
    as a map, a list of ``{key, value}``, or a string rendering to a JSON map."""

    labels: dict[str, Any] | list[dict[str, Any]] | str


class CommandsProperties(CamelProperties):
    """``io.kestra.plugin.scripts.shell.Commands``: run shell commands in a subprocess."""

    commands: list[str] = Field(min_length=1)
    env: EnvMap = Field(default_factory=dict)
    interpreter: list[str] = Field(default_factory=lambda: ["/bin/sh", "-c"], min_length=1)
    fail_fast: bool = True
    before_commands: list[str] = Field(default_factory=list)


class ScriptProperties(CamelProperties):
    """``io.kestra.plugin.scripts.python.Script``: run inline Python code in a subprocess.

    ``interpreter`` defaults to the worker's own Python (``sys.executable``), resolved when
    the task runs.
    """

    script: str
    env: EnvMap = Field(default_factory=dict)
    interpreter: list[str] | None = None
    before_commands: list[str] = Field(default_factory=list)

    @field_validator("interpreter", mode="before")
    @classmethod
    def _interpreter_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class FunctionProperties(CamelProperties):
    """``io.ostra.plugin.python.Function``: call ``package.module:callable`` on the worker."""

    function: str
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("function")
    @classmethod
    def _function_form(cls, value: str) -> str:
        if not FUNCTION_PATTERN.match(value):
            raise ValueError(
                f"function must have the form 'package.module:callable', got {value!r}"
            )
        return value


_RUNNERS = "workers.tasktypes"

register(
    TaskType(
        name="io.kestra.plugin.core.log.Log",
        aliases=("Log",),
        properties=LogProperties,
        runner=f"{_RUNNERS}.core:log",
        doc="Log a message (or each of a list of messages) at a level. No outputs.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.debug.Return",
        aliases=("Return",),
        properties=ReturnProperties,
        runner=f"{_RUNNERS}.core:return_",
        doc="Output the rendered `format` as `value`.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.debug.Echo",
        aliases=("Echo",),
        properties=EchoProperties,
        runner=f"{_RUNNERS}.core:log",
        doc="Log `format` at `level` (Kestra's deprecated Log). No outputs.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.templating.TemplatedTask",
        aliases=("TemplatedTask",),
        properties=TemplatedTaskProperties,
        runner=f"{_RUNNERS}.templated:templated_task",
        doc="Render `spec` into the YAML of a runnable task (`type` and its properties) "
        "and run it as this task; its outputs are this task's.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.output.OutputValues",
        aliases=("OutputValues",),
        properties=OutputValuesProperties,
        runner=f"{_RUNNERS}.core:output_values",
        doc="Output the map `values` as `values`.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.execution.Fail",
        aliases=("Fail",),
        properties=FailProperties,
        runner=f"{_RUNNERS}.core:fail",
        doc="Fail the task run with `errorMessage`.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.flow.Sleep",
        aliases=("Sleep",),
        properties=SleepProperties,
        runner=f"{_RUNNERS}.core:sleep",
        doc="Wait for `duration` (ISO-8601, e.g. PT1S). No outputs.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.scripts.shell.Commands",
        aliases=("Commands", "Shell"),
        properties=CommandsProperties,
        runner=f"{_RUNNERS}.scripts:commands",
        doc="Run shell commands in a subprocess. Outputs `exitCode` and `vars` "
        '(from `::{"outputs": {...}}::` lines).',
    )
)
register(
    TaskType(
        name="io.kestra.plugin.scripts.python.Script",
        aliases=("Script", "PythonScript"),
        properties=ScriptProperties,
        runner=f"{_RUNNERS}.scripts:script",
        doc="Run inline Python code in a subprocess. Outputs `exitCode` and `vars`.",
    )
)
register(
    TaskType(
        name="io.ostra.plugin.python.Function",
        aliases=("Python",),
        properties=FunctionProperties,
        runner=f"{_RUNNERS}.python:function",
        doc="Call a Python function on the worker with `kwargs`; its returned dict is the outputs.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.flow.Pause",
        aliases=("Pause",),
        properties=PauseProperties,
        flowable=True,  # run by the orchestrator, never sent to a worker
        children=("tasks", "errors"),
        doc="Pause the execution; resume by hand, or after `pauseDuration` (`delay`) with "
        "`behavior` (RESUME, WARN, FAIL, CANCEL); with only `timeout`, FAILED when it "
        "passes. `tasks` run once it is resumed.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.execution.Exit",
        aliases=("Exit",),
        properties=ExitProperties,
        flowable=True,  # run by the orchestrator, never sent to a worker
        doc="End the execution in `state` (SUCCESS, WARNING, KILLED, FAILED, CANCELED); "
        "nothing after it runs. With KILLED, running task runs are killed.",
    )
)
register(
    TaskType(
        name="io.kestra.plugin.core.execution.Labels",
        aliases=("Labels",),
        properties=LabelsProperties,
        flowable=True,  # run by the orchestrator, never sent to a worker
        doc="Add `labels` (a map or a list of {key, value}) to the running execution; "
        "`system.` labels are refused.",
    )
)
