"""Runner of the Python Function task type: call ``package.module:callable`` in-process.

Only modules allowed by ``OSTRA_PYTHON_MODULES`` are imported (see
:mod:`executor.python_modules`): the check comes before the import, the attribute path
may not reach into another module or a private name, and the callable must be defined
in an allowed module (``from os import getenv`` in an allowed module does not make
``getenv`` callable).
"""

from __future__ import annotations

import importlib
import inspect
import json
import types
from collections.abc import Callable, Mapping
from typing import Any

from executor.builtin_types import FunctionProperties
from executor.context import RunContext
from executor.errors import TaskFailure
from executor.python_modules import allowed, defining_module, refusal
from executor.settings import get_settings


def function(props: FunctionProperties, ctx: RunContext) -> Mapping[str, Any] | None:
    """Call ``function`` with ``kwargs`` (and ``ctx=`` if it takes a ``ctx`` parameter).

    A returned mapping is the outputs, None means no outputs, anything else is output as
    ``{"value": result}``. Outputs must be JSON-serializable.
    """
    fn = resolve(props.function, get_settings().python_module_patterns or ())
    kwargs = dict(props.kwargs)
    signature = _signature(fn)
    if signature is not None:
        if "ctx" not in kwargs and _takes_ctx(signature):
            kwargs["ctx"] = ctx
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            raise TaskFailure(
                f"cannot call {props.function} with kwargs {sorted(props.kwargs)}: {exc}",
                retryable=False,
            ) from exc
    result = fn(**kwargs)
    if result is None:
        return None
    outputs = dict(result) if isinstance(result, Mapping) else {"value": result}
    _check_json(outputs, props.function)
    return outputs


def resolve(spec: str, patterns: tuple[str, ...]) -> Callable[..., Any]:
    """The callable named ``package.module:attr.path`` of a module ``patterns`` allow;
    TaskFailure (not retryable) if it is not allowed, cannot be imported or found."""
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise TaskFailure(
            f"function {spec!r} must have the form 'package.module:callable'", retryable=False
        )
    reason = refusal(spec, patterns)
    if reason is not None:  # before anything is imported
        raise TaskFailure(reason, retryable=False)
    if any(part.startswith("_") for part in attr_path.split(".")):
        raise TaskFailure(
            f"function {spec!r} is not allowed: private names ('_...') cannot be called",
            retryable=False,
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise TaskFailure(
            f"cannot import module {module_name!r} of function {spec!r}: "
            f"{type(exc).__name__}: {exc}",
            retryable=False,
        ) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise TaskFailure(
                f"function {spec!r} not found: {part!r} is not an attribute of {obj!r}",
                retryable=False,
            ) from exc
        if isinstance(obj, types.ModuleType):
            raise TaskFailure(
                f"function {spec!r} is not allowed: {part!r} is a module (name it in the "
                "part before ':')",
                retryable=False,
            )
    if not callable(obj):
        raise TaskFailure(f"function {spec!r} is not callable", retryable=False)
    defined_in = defining_module(obj)
    if defined_in is None or not allowed(defined_in, patterns):
        raise TaskFailure(
            f"function {spec!r} is not allowed: it is defined in module {defined_in!r}, "
            "which OSTRA_PYTHON_MODULES does not list",
            retryable=False,
        )
    return obj  # type: ignore[no-any-return]


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return None


def _takes_ctx(signature: inspect.Signature) -> bool:
    param = signature.parameters.get("ctx")
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def _check_json(outputs: dict[Any, Any], spec: str) -> None:
    for key, value in outputs.items():
        if not isinstance(key, str):
            raise TaskFailure(
                f"function {spec!r} returned an output key that is not a string: {key!r}",
                retryable=False,
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TaskFailure(
                f"output {key!r} of function {spec!r} is not JSON-serializable: {exc}",
                retryable=False,
            ) from exc
