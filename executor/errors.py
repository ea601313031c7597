"""Ostra's errors: one base class, a few families, structured fields.

::

    OstraError
    ├── ValidationFailed          (bad flow or inputs; ``problems`` lists every one with its path)
    │   ├── FlowValidationError
    │   └── InputValidationError
    ├── NotFoundError
    │   ├── FlowNotFound
    │   ├── ExecutionNotFound
    │   ├── TaskRunNotFound
    │   └── KVNotFound            (no such key in a namespace's KV store)
    ├── StateConflict             (the request does not fit the current state: HTTP 409)
    │   ├── InvalidTransition     (the table forbids current -> proposed)
    │   ├── KVConflict            (a KV key exists and ``overwrite`` is false)
    │   └── QueueKeyConflict      (a task run's queue key holds a Redis value, not a list)
    ├── TemplateError             (a template failed to render)
    │   └── SecretError           (a secret or SECRET input could not be read or decrypted)
    │       └── SecretNotFound    (no provider has the secret; names it and the provider)
    ├── TaskFailure               (raised by task types; ``retryable``)
    │   ├── AttemptTimeout
    │   └── TaskKilled            (the execution was killed while the attempt ran)
    ├── StoreError                (Redis unreachable or a script failed; wraps redis.RedisError)
    │   ├── StoreUnavailable      (Redis could not be reached: worth trying again later)
    │   └── ApiUnavailable        (the REST API cannot be reached, or it cannot reach Redis)
    ├── SettingsError             (an invalid ``OSTRA_*`` setting, or a file it names unreadable)
    ├── WaitTimeout               (``Client.wait`` gave up before the execution ended)
    └── ApiError                  (an HTTP request refused by the REST API; ``status``)
        ├── Unauthorized          (401: no or a wrong bearer token)
        ├── PayloadTooLarge       (413: the request body is over the limit)
        │   └── BodyTooLarge      (the API refusing one, with its ``limit``)
        ├── TooManyFollowers      (503: the API has as many follow streams open as it serves)
        └── BadRequest            (422: a malformed body; ``errors`` lists every problem)
            └── UnsupportedMediaType  (415: a body of a content type the route does not read)

Third-party errors are translated at the boundary only (``executor/store``, and the HTTP
client ``executor/api/http_client.py``). Which HTTP status and problem+json body each error
is answered with is decided in one place, ``executor/api/problems.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class QueueNameError(ValidationFailed):
    """A queue (worker group) asked for is not a valid queue name."""

    what = "queue"


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


class KVNotFound(NotFoundError):
    """No value for ``key`` in the KV store of ``namespace`` (Kestra's message)."""

    def __init__(self, namespace: str, key: str) -> None:
        self.namespace, self.key = namespace, key
        super().__init__(f"No value found for key '{key}' in namespace '{namespace}'")


class StateConflict(OstraError):
    """The request does not fit the current state of the execution."""


class InvalidTransition(StateConflict):
    """The transition table forbids moving from ``current`` to ``proposed``."""

    def __init__(self, current: Any, proposed: Any, ref: str = "", why: str = "") -> None:
        self.current, self.proposed, self.ref = current, proposed, ref
        message = f"cannot move {ref or 'run'} from {current} to {proposed}"
        super().__init__(f"{message}: {why}" if why else message)


class KVConflict(StateConflict):
    """A KV key exists already and ``overwrite`` is false (Kestra's message)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"Cannot set value for key '{key}'. Key already exists and `overwrite` is set "
            "to `false`."
        )


class QueueKeyConflict(StateConflict):
    """The Redis key of a task run's queue (its ``workerGroup``) holds a value of another
    type than a list, so no message can be pushed there; nothing was written."""

    def __init__(self, queue: str, kind: str) -> None:
        self.queue, self.kind = queue, kind
        super().__init__(
            f"cannot send a task run to queue {queue!r}: that Redis key holds a {kind}, not "
            "a list (a Celery queue); use another workerGroup or remove the key"
        )


class TemplateError(OstraError):
    """A template could not be parsed or rendered."""

    def __init__(self, message: str, template: str = "") -> None:
        self.template = template
        super().__init__(message)


class SecretError(TemplateError):
    """A secret (or a SECRET input) could not be resolved, read or decrypted."""


class SecretNotFound(SecretError):
    """No configured provider has the secret ``name``."""

    def __init__(self, name: str, provider: str) -> None:
        self.name, self.provider = name, provider
        super().__init__(f"Cannot find secret for key {name!r} (provider: {provider}).")


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


class StoreUnavailable(StoreError):
    """Redis could not be reached (refused, reset, timed out, still loading its data): the
    same call may succeed once it is back, unlike a refused or failed script."""


class SettingsError(OstraError):
    """An ``OSTRA_*`` setting is invalid (or a file it names cannot be read)."""


class WaitTimeout(OstraError):
    """The execution did not end within the time given to ``wait``."""

    def __init__(self, execution_id: str, seconds: float, state: Any) -> None:
        self.execution_id, self.seconds, self.state = execution_id, seconds, state
        super().__init__(f"execution {execution_id} still {state} after {seconds:g}s")


class ApiUnavailable(StoreError):
    """The REST API cannot be reached, or it answered that it cannot reach Redis (503).

    A ``StoreError``: over HTTP it stands for what an unreachable Redis is in process.
    """


class ApiError(OstraError):
    """A request to the REST API refused with an HTTP ``status``.

    The HTTP client raises it for a status no other Ostra error stands for (the answered
    problem+json body in ``problem``); the API raises the subclasses itself while reading a
    request, and answers them with their status.

    Attributes:
        status: the HTTP status (``default_status`` of the class unless given).
        problem: the problem+json body answered (empty when raised by the API itself).
        detail: what went wrong, without the status.
    """

    default_status = 500

    def __init__(
        self,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        self.status = self.default_status if status is None else status
        self.problem: dict[str, Any] = dict(problem or {})
        self.detail = str(message or self.problem.get("detail") or self.problem.get("title") or "")
        prefix = f"HTTP {self.status}"
        super().__init__(f"{prefix}: {self.detail}" if self.detail else prefix)


class Unauthorized(ApiError):
    """401: no bearer token, or one the server does not accept (set ``token`` or
    ``OSTRA_API_TOKEN``)."""

    default_status = 401


class PayloadTooLarge(ApiError):
    """413: the request body is over the server's limit (``OSTRA_API_MAX_BODY``)."""

    default_status = 413


class BodyTooLarge(PayloadTooLarge):
    """The API refuses a request body over ``limit`` bytes (answered 413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(message=f"the request body is over the limit of {limit} bytes")


class TooManyFollowers(ApiError):
    """503: the API process has ``limit`` follow streams open already
    (``OSTRA_API_MAX_FOLLOWERS``); try again later."""

    default_status = 503

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            message=f"this server has {limit} follow streams open, its limit "
            "(OSTRA_API_MAX_FOLLOWERS); try again later"
        )


class BadRequest(ApiError):
    """The request is malformed in a way FastAPI does not see (answered 422): a body that
    is not JSON, not an object, or not valid form data.

    Attributes:
        errors: every problem found, each with its path (``body``, ``inputs.x``).
    """

    default_status = 422

    def __init__(self, errors: list[Problem], status: int | None = None) -> None:
        self.errors = list(errors)
        super().__init__(status, message="; ".join(str(e) for e in self.errors))


class UnsupportedMediaType(BadRequest):
    """The request body has a content type the route does not read (answered 415)."""

    default_status = 415


class WebhookNotFound(NotFoundError):
    """No webhook answers at this address: the flow is unknown, has no Webhook trigger,
    or the key is wrong (one answer for the three, so a caller learns nothing without the
    key)."""

    def __init__(self) -> None:
        super().__init__("Webhook not found")
