"""Ostra's errors: one base class, a few families, structured fields.

::

    OstraError
    ├── ValidationFailed          (bad flow or inputs; ``problems`` lists every one with its path)
    │   ├── FlowValidationError
    │   └── InputValidationError
    ├── NotFoundError
    │   ├── FlowNotFound
    │   ├── ExecutionNotFound
    │   └── TaskRunNotFound
    ├── StateConflict             (the request does not fit the current state: HTTP 409)
    │   └── InvalidTransition     (the table forbids current -> proposed)
    ├── TemplateError             (a template failed to render)
    ├── TaskFailure               (raised by task types; ``retryable``)
    │   ├── AttemptTimeout
    │   └── TaskKilled            (the execution was killed while the attempt ran)
    ├── StoreError                (Redis unreachable or a script failed; wraps redis.RedisError)
    └── WaitTimeout               (``Client.wait`` gave up before the execution ended)

Third-party errors are translated at the boundary only (``executor/store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OstraError(Exception):
    """Base class for every error Ostra raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow or inputs: where (a dotted path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ValidationFailed(OstraError):
    """Something given by the user is invalid; nothing was stored."""

    what = "input"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"invalid {self.what} ({n} problem{'s' if n != 1 else ''}):\n{lines}")


class FlowValidationError(ValidationFailed):
    """The flow definition is invalid."""

    what = "flow"


class InputValidationError(ValidationFailed):
    """The execution inputs do not match the flow's input definitions."""

    what = "inputs"


class NotFoundError(OstraError):
    """Something asked for by id does not exist."""


class FlowNotFound(NotFoundError):
    def __init__(self, namespace: str, flow_id: str) -> None:
        self.namespace, self.flow_id = namespace, flow_id
        super().__init__(f"flow {namespace}.{flow_id} not found")


class ExecutionNotFound(NotFoundError):
    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(f"execution {execution_id} not found")


class TaskRunNotFound(NotFoundError):
    def __init__(self, execution_id: str, task_run_id: str) -> None:
        self.execution_id, self.task_run_id = execution_id, task_run_id
        super().__init__(f"task run {task_run_id} not found in execution {execution_id}")


class StateConflict(OstraError):
    """The request does not fit the current state of the execution."""


class InvalidTransition(StateConflict):
    """The transition table forbids moving from ``current`` to ``proposed``."""

    def __init__(self, current: Any, proposed: Any, ref: str = "") -> None:
        self.current, self.proposed, self.ref = current, proposed, ref
        super().__init__(f"cannot move {ref or 'run'} from {current} to {proposed}")


class TemplateError(OstraError):
    """A template could not be parsed or rendered."""

    def __init__(self, message: str, template: str = "") -> None:
        self.template = template
        super().__init__(message)


class TaskFailure(OstraError):
    """A task type says its attempt failed. ``retryable=False`` skips remaining retries."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class AttemptTimeout(TaskFailure):
    """The attempt ran past the task's ``timeout``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"attempt timed out after {seconds:g}s")


class TaskKilled(TaskFailure):
    """The attempt stopped because its execution is being killed."""

    def __init__(self, message: str = "killed") -> None:
        super().__init__(message, retryable=False)


class StoreError(OstraError):
    """Redis could not be reached, or a store operation failed."""


class WaitTimeout(OstraError):
    """The execution did not end within the time given to ``wait``."""

    def __init__(self, execution_id: str, seconds: float, state: Any) -> None:
        self.execution_id, self.seconds, self.state = execution_id, seconds, state
        super().__init__(f"execution {execution_id} still {state} after {seconds:g}s")
