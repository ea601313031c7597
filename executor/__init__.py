"""Ostra: Kestra-style workflow executions on Celery workers, with Redis as the state store.

The public API::

    from executor import Client, Flow, RunContext, StateType, task_type
"""

from importlib.metadata import PackageNotFoundError, version

try:
    #: The version, written once: in pyproject.toml.
    __version__ = version("ostra")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

from executor.client import Client
from executor.context import RunContext
from executor.errors import (
    ExecutionNotFound,
    FlowNotFound,
    FlowValidationError,
    InputValidationError,
    OstraError,
    StateConflict,
    TaskFailure,
    ValidationFailed,
    WaitTimeout,
)
from executor.flow import Flow, TaskDef
from executor.models import Execution, LogEntry, MetricEntry, State, StateEvent, TaskRun
from executor.state import StateType
from executor.tasktypes import task_type

__all__ = [
    "__version__",
    "Client",
    "Execution",
    "ExecutionNotFound",
    "Flow",
    "FlowNotFound",
    "FlowValidationError",
    "InputValidationError",
    "LogEntry",
    "MetricEntry",
    "OstraError",
    "RunContext",
    "State",
    "StateConflict",
    "StateEvent",
    "StateType",
    "TaskDef",
    "TaskFailure",
    "TaskRun",
    "ValidationFailed",
    "WaitTimeout",
    "task_type",
]
