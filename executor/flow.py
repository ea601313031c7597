"""Flows: Kestra's YAML format (core subset), validated as a whole.

``Flow.from_yaml(text_or_path)`` and ``Flow(...)`` build the same model. Validation
collects every problem with its path (``tasks[1].retry.interval: ...``) and raises one
``FlowValidationError``; nothing is stored for an invalid flow.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from executor import bounds
from executor.catalog import lookup
from executor.durations import Duration, DurationError, parse_duration
from executor.errors import FlowValidationError, Problem
from executor.flowables import DAG, SWITCH, child_lists, dag_problems
from executor.inputs import InputDef, input_def_problems
from executor.models import OstraModel
from executor.tasktypes import TaskType
from executor.templating import check_syntax, contains_template, to_text

ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
#: The longest ``workerGroup``.
MAX_WORKER_GROUP = 64
#: A ``workerGroup`` is a Celery queue, so the name of a Redis list (kombu's): letters,
#: digits, ``_``, ``-`` and ``.``, starting with a letter or digit (no ``:``, spaces or
#: braces, so it can never name one of Ostra's keys, ``ostra:...``, or a hash tag).
WORKER_GROUP_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_WORKER_GROUP - 1}}}$")
#: Keys kombu's Redis transport keeps beside the queues (not lists): never a queue name.
RESERVED_WORKER_GROUPS = frozenset({"unacked", "unacked_index", "unacked_mutex"})
NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

#: Properties every task accepts, whatever its type (Kestra's ``Task``).
COMMON_PROPERTIES = frozenset(
    {
        "id",
        "type",
        "description",
        "retry",
        "timeout",
        "allowFailure",
        "allowWarning",
        "runIf",
        "disabled",
        "workerGroup",
        "logLevel",
    }
)
#: Branches of a flow, in the order they run.
BRANCHES = ("tasks", "errors", "finally")


MAX_YAML_ALIASES = 100
#: The deepest nesting of a flow (its YAML, or the data it is built from).
MAX_YAML_DEPTH = bounds.MAX_YAML_DEPTH
#: Scalar keys read as their text (the merge key ``<<`` keeps its meaning).
_TEXT_KEY_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "null", "timestamp")
)


class YamlTooDeep(yaml.YAMLError):
    """A YAML document nests deeper than ``MAX_YAML_DEPTH`` (aliases counted as copies)."""

    def __init__(self, limit: int, line: int) -> None:
        self.limit, self.line = limit, line
        super().__init__(f"the YAML is nested more than {limit} levels deep (line {line})")


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false (PyYAML's 1.1 also reads yes/no/on/off); a
    bounded number of aliases (nested aliases expand exponentially: "billion laughs");
    a bounded nesting (PyYAML's composer recurses once per level: 20,000 ``[`` would end
    in a ``RecursionError``), an alias counting as deep as the node it stands for."""

    _aliases = 0
    _depth = 0
    _heights: dict[int, int]

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not hasattr(self, "_heights"):
            self._heights = {}
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases")
            target = self.anchors.get(event.anchor)
            if target is not None and self._depth + self._heights.get(id(target), 0) > (
                MAX_YAML_DEPTH
            ):
                raise YamlTooDeep(MAX_YAML_DEPTH, _line(event))
            return super().compose_node(parent, index)
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YamlTooDeep(MAX_YAML_DEPTH, _line(event))
        try:
            node: Any = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [n for pair in node.value for n in pair]
        )
        self._heights[id(node)] = 1 + max(
            (self._heights.get(id(c), 0) for c in children), default=0
        )
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # Kestra (Jackson) reads every mapping key as text: `1:` is "1", `true:` is
        # "true" (and the two stay apart, where Python would fold 1 and True together).
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag in _TEXT_KEY_TAGS:
                    key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep=deep)


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with YAML 1.2 booleans (``off`` stays a string), at most
    ``MAX_YAML_DEPTH`` levels deep (``YamlTooDeep``) and ``MAX_YAML_ALIASES`` aliases."""
    data = yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass
    if "\\" in text:  # only an escape ("\\ud800") can make a lone surrogate
        try:
            bounds.check_unicode(data)
        except bounds.NotUnicode as exc:
            raise yaml.YAMLError(str(exc)) from None
    return data


def compose_yaml(text: str) -> Any:
    """The node graph of YAML text (``yaml.compose``), with the bounds of ``load_yaml``."""
    return yaml.compose(text, Loader=_Yaml12Loader)


# ---------------------------------------------------------------- retry policies


class _Retry(OstraModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int | None = Field(default=None, ge=1, validation_alias="maxAttempts")
    max_duration: timedelta | None = None
    warning_on_retry: bool = False
    #: ``RETRY_FAILED_TASK``: a new attempt of the failed task run, in the same execution;
    #: ``CREATE_NEW_EXECUTION``: the execution ends RETRIED and a new one runs the flow
    #: again (Kestra's ``AbstractRetry.Behavior``).
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] = "RETRY_FAILED_TASK"

    @model_validator(mode="before")
    @classmethod
    def _old_name(cls, data: Any) -> Any:
        # Kestra renamed maxAttempt -> maxAttempts; both are accepted.
        if isinstance(data, dict) and "maxAttempt" in data and "maxAttempts" not in data:
            data = {**data, "maxAttempts": data["maxAttempt"]}
            del data["maxAttempt"]
        return data

    @model_validator(mode="after")
    def _bounded(self) -> _Retry:
        if self.max_attempts is None and self.max_duration is None:
            raise ValueError("retry needs maxAttempts or maxDuration")
        return self

    @property
    def new_execution(self) -> bool:
        """True if a retry is a new execution (``behavior: CREATE_NEW_EXECUTION``)."""
        return self.behavior == "CREATE_NEW_EXECUTION"

    def base_delay(self, attempts_made: int) -> timedelta:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_delay(self, attempts_made: int, elapsed: timedelta) -> timedelta | None:
        """The wait before attempt ``attempts_made + 1``, or None if no retry is left.

        ``maxAttempts`` counts the first run; ``maxDuration`` bounds the time from the
        first attempt's start to the start of the next one. With ``CREATE_NEW_EXECUTION``
        the attempts are the executions (``metadata.attemptNumber``) and the time runs
        from the first execution's creation (Kestra's ``ExecutionService.nextRetryDate``).
        """
        if self.max_attempts is not None and attempts_made >= self.max_attempts:
            return None
        delay = self.base_delay(attempts_made)
        if self.max_duration is not None and elapsed + delay > self.max_duration:
            return None
        return delay


class ConstantRetry(_Retry):
    """The same ``interval`` before every retry."""

    type: Literal["constant"]
    interval: timedelta

    def base_delay(self, attempts_made: int) -> timedelta:
        return self.interval


class ExponentialRetry(_Retry):
    """``interval × delayFactor^(n−1)`` before retry n, capped by ``maxInterval``."""

    type: Literal["exponential"]
    interval: timedelta
    max_interval: timedelta
    delay_factor: float = Field(default=2.0, gt=0)

    def base_delay(self, attempts_made: int) -> timedelta:
        raw = self.interval.total_seconds() * self.delay_factor ** max(0, attempts_made - 1)
        return timedelta(seconds=min(raw, self.max_interval.total_seconds()))


class RandomRetry(_Retry):
    """A uniformly random delay between ``minInterval`` and ``maxInterval``."""

    type: Literal["random"]
    min_interval: timedelta
    max_interval: timedelta

    def base_delay(self, attempts_made: int) -> timedelta:
        lo, hi = self.min_interval.total_seconds(), self.max_interval.total_seconds()
        return timedelta(seconds=random.uniform(lo, max(lo, hi)))


RetryPolicy = Annotated[ConstantRetry | ExponentialRetry | RandomRetry, Field(discriminator="type")]


#: The duration properties of a retry policy, read with ``parse_duration``.
_RETRY_DURATIONS = ("interval", "maxInterval", "minInterval", "maxDuration")


def _retry_durations(retry: Any) -> Any:
    """A raw retry policy with its durations parsed as Java's ``Duration.parse`` reads
    them (``pt5s``, ``PT0.5S``), so that every duration goes through one parser."""
    if not isinstance(retry, dict):
        return retry
    out = dict(retry)
    for key in _RETRY_DURATIONS:
        for name in (key, _snake(key)):
            if isinstance(out.get(name), str):
                try:
                    out[name] = parse_duration(out[name])
                except DurationError:
                    pass  # left as is: the policy's own validation reports it, with its path
    return out


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), name)


# ---------------------------------------------------------------- tasks and flows


class TaskDef(OstraModel):
    """One task of a flow: the common properties plus the type's own (in ``properties``)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    description: str | None = None
    retry: RetryPolicy | None = None
    timeout: Duration | None = None
    allow_failure: bool = False
    allow_warning: bool = False
    run_if: str | None = None
    disabled: bool = False
    worker_group: str | None = None
    log_level: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        # YAML puts type-specific properties beside the common ones; keep them apart.
        if isinstance(data, dict) and "retry" in data:
            data = {**data, "retry": _retry_durations(data["retry"])}
        if isinstance(data, dict) and "properties" not in data:
            common = {
                k: v
                for k, v in data.items()
                if k in COMMON_PROPERTIES
                or k in {"allow_failure", "allow_warning", "run_if", "worker_group"}
            }
            rest = {k: v for k, v in data.items() if k not in common}
            return {**common, "properties": rest}
        return data

    @property
    def task_type(self) -> TaskType:
        tt = lookup(self.type)
        if tt is None:  # validated at load, so only a registry change gets here
            raise LookupError(f"unknown task type {self.type}")
        return tt

    def to_dict(self) -> dict[str, Any]:
        """The task as Kestra's YAML shape (properties inline, camelCase)."""
        out = self.model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude={"properties"}
        )
        out.update(self.properties)
        return out


class FlowOutput(OstraModel):
    """A flow output, rendered when the execution ends."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str = "STRING"
    value: Any = None
    description: str | None = None


class Concurrency(OstraModel):
    """At most ``limit`` executions of the flow run at once; the others are QUEUED (and
    start in order), CANCELLED or FAILED, as ``behavior`` says."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1)
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = "QUEUE"


class PluginDefault(OstraModel):
    """Kestra's ``pluginDefaults`` entry: ``values`` merged into every task (or trigger,
    or any plugin) whose type is ``type`` or starts with it; the plugin's own values win
    unless ``forced``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1)
    forced: bool = False
    values: dict[str, Any] = Field(default_factory=dict)


class Trigger(OstraModel):
    """A trigger of the flow: stored and shown (``id``, ``type`` and its own properties);
    the kinds Ostra runs are in ``executor.triggers`` (a type it does not know never
    fires)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str


@dataclass(frozen=True)
class Location:
    """Where a task sits: its flowable parent (None at the top level), the branch of it
    (``tasks``, ``errors``, ``finally``, ``then``, ``cases.<key>``...) and its index."""

    branch: str
    index: int
    parent: str | None = None


class Flow(OstraModel):
    """A flow definition. Built from YAML with ``Flow.from_yaml`` or directly in Python."""

    model_config = ConfigDict(extra="forbid")

    id: str
    namespace: str
    revision: int | None = None
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    inputs: list[InputDef] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskDef]
    errors: list[TaskDef] = Field(default_factory=list)
    finally_: list[TaskDef] = Field(default_factory=list, alias="finally")
    outputs: list[FlowOutput] = Field(default_factory=list)
    concurrency: Concurrency | None = None
    #: The retry of any failing task without one of its own or of a flowable ancestor.
    retry: RetryPolicy | None = None
    disabled: bool = False
    tenant_id: str | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    plugin_defaults: list[PluginDefault] = Field(default_factory=list)
    sla: list[dict[str, Any]] = Field(default_factory=list)
    #: Tasks run one after the other once the execution ended (Kestra's
    #: ``afterExecution``): they see its final state and cannot change it.
    after_execution: list[TaskDef] = Field(default_factory=list)
    #: The branches as written, before ``pluginDefaults`` were merged in (what is shown
    #: and stored: merging again on load gives the same tasks).
    source_branches: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)
    #: Problems Kestra would only find when rendering (template errors): the flow is
    #: accepted and the task run that renders the template fails with the error.
    warnings: list[str] = Field(default_factory=list, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _validate_all(cls, data: Any) -> Any:
        out, problems, warnings = _check(data)
        if problems or out is None:
            raise FlowValidationError(problems)
        out["warnings"] = [str(p) for p in warnings]
        if isinstance(out.get("labels"), list):
            out["labels"] = {lb["key"]: to_text(lb["value"]) for lb in out["labels"]}
        elif isinstance(out.get("labels"), dict):
            out["labels"] = {str(k): to_text(v) for k, v in out["labels"].items()}
        return out

    # -- construction

    @classmethod
    def from_yaml(cls, source: str | Path) -> Flow:
        """Parse and validate a flow from YAML text or a path to a YAML file."""
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
        ):
            source = Path(source).read_text()
        try:
            data = load_yaml(source)
        except YamlTooDeep as exc:
            raise FlowValidationError([Problem("", str(exc))]) from None
        except yaml.YAMLError as exc:
            raise FlowValidationError([Problem("", f"not valid YAML: {exc}")]) from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Flow:
        """Validate a flow given as plain data (as parsed from YAML or JSON)."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:  # only reachable for shapes flow_problems missed
            raise FlowValidationError(_pydantic_problems(exc, "")) from None

    def to_dict(self) -> dict[str, Any]:
        """The flow as Kestra's YAML shape."""
        out = self.model_dump(
            mode="json",
            by_alias=True,
            exclude_none=True,
            exclude={"tasks", "errors", "finally_", "revision", "after_execution"},
        )
        for key in (
            "labels",
            "inputs",
            "variables",
            "outputs",
            "concurrency",
            "triggers",
            "pluginDefaults",
            "sla",
        ):
            if not out.get(key):
                out.pop(key, None)
        if not self.disabled:
            out.pop("disabled", None)
        source = self.source_branches
        for branch in (*BRANCHES, "afterExecution"):
            if source is not None and branch in source:
                out[branch] = copy.deepcopy(source[branch])
                continue
            tasks = self.after_execution if branch == "afterExecution" else self.branch(branch)
            if tasks:
                out[branch] = [t.to_dict() for t in tasks]
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def digest(self) -> str:
        """A hash of the definition, to tell whether a deploy changes anything."""
        raw = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()

    # -- navigation

    def branch(self, name: str) -> list[TaskDef]:
        """The task list of branch ``tasks``, ``errors``, ``finally`` or
        ``afterExecution``."""
        if name == "afterExecution":
            return self.after_execution
        return {"tasks": self.tasks, "errors": self.errors, "finally": self.finally_}[name]

    def all_tasks(self) -> Iterator[tuple[Location, TaskDef]]:
        """Every task, nested ones included, with where it sits."""

        def walk(
            tasks: list[TaskDef], branch: str, parent: str | None
        ) -> Iterator[tuple[Location, TaskDef]]:
            for i, task in enumerate(tasks):
                yield Location(branch, i, parent), task
                tt = task.task_type
                if tt.flowable:
                    for name, raw in child_lists(tt.name, task.properties):
                        yield from walk([TaskDef.model_validate(r) for r in raw], name, task.id)

        for name in (*BRANCHES, "afterExecution"):
            yield from walk(self.branch(name), name, None)

    def _index(self) -> dict[str, tuple[Location, TaskDef]]:
        index = self.__dict__.get("_task_index")
        if index is None:
            index = {task.id: (loc, task) for loc, task in self.all_tasks()}
            self.__dict__["_task_index"] = index
        return index  # type: ignore[no-any-return]

    def locate(self, task_id: str) -> Location:
        """Where ``task_id`` sits in the flow (raises ``KeyError`` if it is not there)."""
        return self._index()[task_id][0]

    def task(self, task_id: str) -> TaskDef:
        """The task ``task_id``, at any depth (raises ``KeyError`` if it is not there)."""
        return self._index()[task_id][1]


# ---------------------------------------------------------------- validation

_TOP_LEVEL = {
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "variables",
    "concurrency",
    "retry",
    "tasks",
    "errors",
    "finally",
    "outputs",
    "disabled",
    "tenantId",
    "triggers",
    "pluginDefaults",
    "taskDefaults",  # Kestra's deprecated name of pluginDefaults
    "sla",
    "afterExecution",
}
#: Branches of tasks validated as tasks (``afterExecution`` is stored, not run yet).
_TASK_BRANCHES = (*BRANCHES, "afterExecution")


# ---------------------------------------------------------------- normalization


def _merge(a: Any, b: Any) -> Any:
    """Kestra's ``MapUtils.merge``: ``b`` over ``a``, maps merged deeply, lists joined
    (``a``'s items first), a null never replacing a value."""
    if not isinstance(a, dict) or not a:
        return copy.deepcopy(b)
    if not isinstance(b, dict) or not b:
        return copy.deepcopy(a)
    out = copy.deepcopy(a)
    for key, value in b.items():
        original = out.get(key)
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(original, dict):
            out[key] = _merge(original, value)
        elif isinstance(value, list) and isinstance(original, list):
            out[key] = [*original, *copy.deepcopy(value)]
        else:
            out[key] = copy.deepcopy(value)
    return out


def _defaults_by_type(defaults: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for d in defaults:
        by_type.setdefault(d["type"], []).append(d)
        # Kestra also files a default given under an alias under the type's own name.
        tt = lookup(d["type"])
        if tt is not None and tt.name != d["type"]:
            by_type.setdefault(tt.name, []).append(d)
    return by_type


def _apply_defaults(obj: Any, by_type: dict[str, list[dict[str, Any]]]) -> Any:
    """Kestra's ``PluginDefaultService.recursiveDefaults``: every mapping with a string
    ``type`` (tasks at any depth, triggers...) gets the defaults of its type or of a
    prefix of it; children are merged first."""
    if isinstance(obj, list):
        return [_apply_defaults(v, by_type) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _apply_defaults(v, by_type) for k, v in obj.items()}
    kind = out.get("type")
    if not isinstance(kind, str):
        return out
    tt = lookup(kind)
    names = {kind} | ({tt.name} if tt is not None else set())
    matching: dict[int, dict[str, Any]] = {}  # a default filed under two names once
    for key, entries in by_type.items():
        if any(n == key or n.startswith(key) for n in names):
            for d in entries:
                matching.setdefault(id(d), d)
    for d in matching.values():
        values = d.get("values") or {}
        out = _merge(out, values) if d.get("forced") else _merge(values, out)
    return out


def normalize(data: dict[str, Any]) -> dict[str, Any]:
    """A valid raw flow as Kestra reads it: ``pluginDefaults`` (and the deprecated
    ``taskDefaults``) merged into the plugins they name, ``Switch`` case keys as text,
    ``defaults: null`` dropped. The branches as written are kept in ``source_branches``."""
    out = dict(data)
    if "finally_" in out and "finally" not in out:
        out["finally"] = out.pop("finally_")
    if out.get("taskDefaults") and not out.get("pluginDefaults"):
        out["pluginDefaults"] = out["taskDefaults"]
    out.pop("taskDefaults", None)
    raw = out.get("pluginDefaults")
    defaults = [
        d
        for d in (raw if isinstance(raw, list) else [])
        if isinstance(d, dict)
        and isinstance(d.get("type"), str)
        and d["type"]
        and isinstance(d.get("values", {}), dict)
    ]
    # JSON-safe (a YAML date becomes its text), as the stores keep it
    out["source_branches"] = json.loads(
        json.dumps(
            {b: out[b] for b in _TASK_BRANCHES if isinstance(out.get(b), list) and out[b]},
            default=str,
        )
    )
    body = {k: v for k, v in out.items() if k not in {"pluginDefaults", "source_branches"}}
    if defaults:
        non_forced = _defaults_by_type([d for d in defaults if not d.get("forced")])
        # forced ones are applied last-declared first, so the first declared wins
        forced = _defaults_by_type([d for d in reversed(defaults) if d.get("forced")])
        body = _apply_defaults(body, non_forced) if non_forced else body
        body = _apply_defaults(body, forced) if forced else body
    for branch in _TASK_BRANCHES:
        if isinstance(body.get(branch), list):
            body[branch] = [_normalize_task(t) for t in body[branch]]
    out.update(body)
    return out


def _normalize_task(task: Any) -> Any:
    if not isinstance(task, dict):
        return task
    out = dict(task)
    tt = lookup(out["type"]) if isinstance(out.get("type"), str) else None
    if tt is not None and tt.name == SWITCH:
        if isinstance(out.get("cases"), dict):
            # Kestra reads case keys as strings: `1:` and `true:` are "1" and "true".
            out["cases"] = {_case_key(k): v for k, v in out["cases"].items()}
    if tt is not None and tt.flowable:
        for key in ("tasks", "then", "else", "defaults", "errors"):
            if key in out and out[key] is None:
                del out[key]  # `defaults: null` is no defaults
        for key in ("tasks", "then", "else", "defaults", "errors"):
            if isinstance(out.get(key), list):
                out[key] = [
                    _normalize_dag_entry(t)
                    if tt.name == DAG and key == "tasks"
                    else _normalize_task(t)
                    for t in out[key]
                ]
        if isinstance(out.get("cases"), dict):
            out["cases"] = {
                k: [_normalize_task(t) for t in v] if isinstance(v, list) else v
                for k, v in out["cases"].items()
            }
    return out


def _normalize_dag_entry(entry: Any) -> Any:
    if isinstance(entry, dict) and isinstance(entry.get("task"), dict):
        return {**entry, "task": _normalize_task(entry["task"])}
    return entry


def _case_key(key: Any) -> str:
    return "null" if key is None else to_text(key)


def _path(loc: tuple[Any, ...], prefix: str) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"constant", "exponential", "random", "function-after", "function-before"}:
            continue  # pydantic's union tags, not part of the user's document
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_problems(
    exc: ValidationError, prefix: str, *, skip_templates: bool = False
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        value = err.get("input")
        if skip_templates and isinstance(value, str) and contains_template(value):
            continue  # a dynamic property: checked after rendering, on the worker
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(Problem(_path(tuple(err["loc"]), prefix), msg))
    return problems


def _template_problems(value: Any, path: str) -> list[Problem]:
    if isinstance(value, str):
        if contains_template(value):
            error = check_syntax(value)
            if error:
                return [Problem(path, f"template syntax error: {error}")]
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _template_problems(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _template_problems(v, f"{path}[{i}]")]
    return []


class _FlowRetry(BaseModel):
    retry: RetryPolicy


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")
    retry: RetryPolicy | None = None
    timeout: Duration | None = None
    allowFailure: bool = False
    allowWarning: bool = False
    runIf: str | None = None
    disabled: bool = False
    workerGroup: str | None = None
    description: str | None = None
    logLevel: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, data: Any) -> Any:
        if isinstance(data, dict) and "retry" in data:
            return {**data, "retry": _retry_durations(data["retry"])}
        return data


def worker_group_problem(value: Any, task_id: Any = None) -> str | None:
    """What is wrong with ``value`` as the ``workerGroup`` of task ``task_id`` (None if
    it is a valid one)."""
    if not isinstance(value, str):
        return None  # reported by the type check of the common properties
    of = f" of task {task_id!r}" if isinstance(task_id, str) else ""
    if not WORKER_GROUP_RE.fullmatch(value):
        return (
            f"invalid workerGroup {value!r}{of}: use at most {MAX_WORKER_GROUP} letters, "
            "digits, '_', '-' and '.', starting with a letter or digit (it names a Celery "
            "queue, a Redis key)"
        )
    if value in RESERVED_WORKER_GROUPS:
        return f"invalid workerGroup {value!r}{of}: the name of a key of Celery's broker"
    return None


def _worker_group_problems(task: dict[str, Any], path: str) -> list[Problem]:
    message = worker_group_problem(
        task.get("workerGroup", task.get("worker_group")), task.get("id")
    )
    return [] if message is None else [Problem(f"{path}.workerGroup", message)]


def _task_problems(
    task: Any, path: str, seen: dict[str, str], warnings: list[Problem]
) -> list[Problem]:
    if not isinstance(task, dict):
        return [Problem(path, "a task must be a mapping with at least id and type")]
    problems: list[Problem] = []
    task_id = task.get("id")
    if task_id is None:
        problems.append(Problem(f"{path}.id", "missing required property 'id'"))
    elif not isinstance(task_id, str) or not ID_RE.match(task_id):
        problems.append(
            Problem(
                f"{path}.id",
                f"invalid id {task_id!r}: use letters, digits, "
                "'_' and '-' (not starting with '_' or '-')",
            )
        )
    elif task_id in seen:
        problems.append(
            Problem(f"{path}.id", f"duplicate task id {task_id!r} (also at {seen[task_id]})")
        )
    else:
        seen[task_id] = path
    type_name = task.get("type")
    if type_name is None:
        problems.append(Problem(f"{path}.type", "missing required property 'type'"))
        return problems
    tt = lookup(type_name) if isinstance(type_name, str) else None
    if tt is None:
        problems.append(Problem(f"{path}.type", f"unknown task type {type_name!r}"))
        return problems
    try:
        _Common.model_validate(task)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, path)
    problems += _worker_group_problems(task, path)
    props = {k: v for k, v in task.items() if k not in COMMON_PROPERTIES}
    try:
        tt.properties.model_validate(props)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, path, skip_templates=True)
    warnings += _template_problems(task.get("runIf"), f"{path}.runIf")
    if tt.flowable:
        lists = child_lists(tt.name, props)
        nested = {k for k, _ in lists} | {"cases"}
        warnings += _template_problems({k: v for k, v in props.items() if k not in nested}, path)
        for branch, items in lists:
            for i, child in enumerate(items):
                child_path = (
                    f"{path}.tasks[{i}].task"
                    if tt.name == DAG and branch == "tasks"
                    else f"{path}.{branch}[{i}]"
                )
                problems += _task_problems(child, child_path, seen, warnings)
        if tt.name == DAG:
            problems += [Problem(f"{path}.{p}", m) for p, m in dag_problems(props)]
    else:
        warnings += _template_problems(props, path)
    return problems


def flow_problems(data: Any) -> list[Problem]:
    """Every problem with a raw flow document, each with its path; empty if valid."""
    return _check(data)[1]


def flow_warnings(data: Any) -> list[Problem]:
    """What Kestra only finds when it renders (template syntax errors), with paths: the
    flow is accepted, the task run rendering such a template fails."""
    return _check(data)[2]


def _after_execution_problems(task: Any, where: str) -> list[Problem]:
    """What Ostra cannot run yet in ``afterExecution``: it runs there only tasks a worker
    runs (Kestra also runs flowables, Pause, Subflow and ``runIf`` there)."""
    from executor.engine.flowables import started_by_executor

    if not isinstance(task, dict):
        return []
    try:
        td = TaskDef.model_validate(task)
    except (ValidationError, ValueError):
        return []  # reported with the task's own problems
    if started_by_executor(td):
        return [
            Problem(
                f"{where}.type",
                f"{td.type} in afterExecution is not supported yet: only tasks a worker "
                "runs (not flowables, Pause or Subflow)",
            )
        ]
    if td.run_if is not None:
        return [Problem(f"{where}.runIf", "runIf in afterExecution is not supported yet")]
    return []


def _check(data: Any) -> tuple[dict[str, Any] | None, list[Problem], list[Problem]]:
    """The normalized flow (None if it cannot be built), its problems and warnings."""
    if not isinstance(data, dict):
        return None, [Problem("", "a flow must be a mapping with id, namespace and tasks")], []
    try:
        bounds.check_depth(data, MAX_YAML_DEPTH)
    except bounds.TooDeep as exc:
        return None, [Problem(exc.path, f"the flow is {exc}")], []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for key in data:
        if key not in _TOP_LEVEL and key != "finally_":
            problems.append(Problem(str(key), f"unknown flow property {key!r}"))
    for key, regex, what in (
        ("id", ID_RE, "letters, digits, '_' and '-'"),
        ("namespace", NAMESPACE_RE, "lowercase letters, digits, '.', '_', '-'"),
    ):
        value = data.get(key)
        if value is None:
            problems.append(Problem(key, f"missing required property {key!r}"))
        elif not isinstance(value, str) or not regex.match(value):
            problems.append(Problem(key, f"invalid {key} {value!r}: use {what}"))
    for key in ("pluginDefaults", "taskDefaults"):
        problems += _plugin_default_problems(data.get(key), key)
    for key in ("triggers", "sla"):
        problems += _plugin_list_problems(data.get(key), key)
    if data.get("tenantId") is not None and not isinstance(data["tenantId"], str):
        problems.append(Problem("tenantId", "must be a string"))
    for branch in _TASK_BRANCHES:
        items = data.get(branch if branch in data or branch != "finally" else "finally_")
        if items is not None and not isinstance(items, list):
            problems.append(Problem(branch, "must be a list of tasks"))
    data = normalize(data)
    seen: dict[str, str] = {}
    tasks = data.get("tasks")
    if not tasks:
        problems.append(Problem("tasks", "a flow needs at least one task"))
    for branch in _TASK_BRANCHES:
        items = data.get(branch)
        for i, task in enumerate(items if isinstance(items, list) else []):
            problems += _task_problems(task, f"{branch}[{i}]", seen, warnings)
    after = data.get("afterExecution")
    if not problems and isinstance(after, list):
        for i, task in enumerate(after):
            problems += _after_execution_problems(task, f"afterExecution[{i}]")
    if data.get("inputs") is not None:
        problems += input_def_problems(data["inputs"], "inputs")
    for key, kind in (("variables", dict), ("labels", (dict, list))):
        if data.get(key) is not None and not isinstance(data[key], kind):
            what = "mapping" if kind is dict else "mapping or list"
            problems.append(Problem(key, f"must be a {what}"))
    if isinstance(data.get("labels"), list):
        for i, lb in enumerate(data["labels"]):
            if not isinstance(lb, dict) or not isinstance(lb.get("key"), str) or "value" not in lb:
                problems.append(Problem(f"labels[{i}]", "a label must be {key, value}"))
    if isinstance(data.get("variables"), dict):
        warnings += _template_problems(data["variables"], "variables")
    if data.get("concurrency") is not None:
        try:
            Concurrency.model_validate(data["concurrency"])
        except ValidationError as exc:
            problems += _pydantic_problems(exc, "concurrency")
    if data.get("retry") is not None:
        try:
            _FlowRetry.model_validate({"retry": data["retry"]})
        except ValidationError as exc:
            problems += _pydantic_problems(exc, "")
    outputs = data.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            problems.append(Problem("outputs", "must be a list of {id, type, value}"))
        else:
            for i, out in enumerate(outputs):
                try:
                    FlowOutput.model_validate(out)
                except ValidationError as exc:
                    problems += _pydantic_problems(exc, f"outputs[{i}]")
                if isinstance(out, dict):
                    warnings += _template_problems(out.get("value"), f"outputs[{i}].value")
    return (None if problems else data), problems, warnings


def _plugin_default_problems(value: Any, key: str) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [Problem(key, "must be a list of {type, forced, values}")]
    problems: list[Problem] = []
    for i, entry in enumerate(value):
        try:
            PluginDefault.model_validate(entry)
        except ValidationError as exc:
            problems += _pydantic_problems(exc, f"{key}[{i}]")
    return problems


def _plugin_list_problems(value: Any, key: str) -> list[Problem]:
    """``triggers`` and ``sla``: validated loosely, a list of mappings with ``id`` and
    ``type`` (an SLA may be typed by ``type`` alone)."""
    if value is None:
        return []
    if not isinstance(value, list):
        return [Problem(key, "must be a list of {id, type, ...}")]
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for i, entry in enumerate(value):
        path = f"{key}[{i}]"
        if not isinstance(entry, dict):
            problems.append(Problem(path, "must be a mapping with id and type"))
            continue
        for prop in ("id", "type"):
            if not isinstance(entry.get(prop), str) or not entry[prop]:
                problems.append(Problem(f"{path}.{prop}", f"missing required property {prop!r}"))
        tid = entry.get("id")
        # Kestra checks trigger ids for duplicates, not SLA ids (its own
        # sla-execution-condition.yaml has two SLAs named "condition").
        if isinstance(tid, str) and key == "triggers":
            if tid in ids:
                problems.append(Problem(f"{path}.id", f"duplicate id {tid!r} in {key}"))
            ids[tid] = i
        if key == "triggers" and isinstance(entry.get("type"), str):
            from executor.triggers.types import trigger_problems

            problems += trigger_problems(entry, path)
        if key == "sla":
            from executor.engine.sla import sla_problems

            problems += [Problem(where, what) for where, what in sla_problems(entry, path)]
    return problems
