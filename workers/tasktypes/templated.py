"""Runner of ``io.kestra.plugin.core.templating.TemplatedTask``.

As Kestra's ``TemplatedTask.java``: the rendered ``spec`` is read as the YAML of a task;
it must be a runnable task (not a flowable, not another TemplatedTask), and it runs as
this task: its properties are validated by its type and its outputs are this task's.
Its own ``id``, ``retry``, ``timeout``... are ignored (this task's apply). The spec is
rendered once, with the task run's context; what it yields is not rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from executor.builtin_types import TemplatedTaskProperties
from executor.catalog import lookup
from executor.context import RunContext
from executor.errors import TaskFailure
from executor.flow import COMMON_PROPERTIES, load_yaml
from executor.tasktypes import text_fields

TEMPLATED_TASK = "io.kestra.plugin.core.templating.TemplatedTask"


def templated_task(props: TemplatedTaskProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Run the task ``spec`` describes; its outputs are returned."""
    try:
        spec = load_yaml(props.spec)
    except yaml.YAMLError as exc:
        raise TaskFailure(f"spec is not valid YAML: {exc}", retryable=False) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise TaskFailure("spec must be a mapping with a 'type'", retryable=False)
    tt = lookup(spec["type"])
    if tt is None:
        raise TaskFailure(f"spec: unknown task type {spec['type']!r}", retryable=False)
    if tt.name == TEMPLATED_TASK:
        raise TaskFailure(
            f"the templated task cannot be of type {TEMPLATED_TASK!r}", retryable=False
        )
    if tt.flowable or tt.runner is None:
        raise TaskFailure(
            f"the templated task must be a runnable task, {tt.name!r} is not", retryable=False
        )
    raw = {k: v for k, v in spec.items() if k not in COMMON_PROPERTIES}
    try:
        inner = tt.properties.model_validate(text_fields(tt.properties, raw))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TaskFailure(f"spec: invalid properties: {problems}", retryable=False) from None
    return tt.resolve_runner()(inner, ctx)
