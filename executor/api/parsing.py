"""Reading what a request sends: a flow's YAML, input values (JSON or a form), labels.

Everything is checked before the Client is called: a refused request stores nothing.
Errors are Ostra's (``FlowValidationError``, ``InputValidationError``, ``BadRequest``,
``UnsupportedMediaType``); ``executor.api.problems`` says how each is answered.
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from executor import bounds
from executor.errors import (
    BadRequest,
    FlowValidationError,
    InputValidationError,
    Problem,
    UnsupportedMediaType,
)
from executor.flow import Flow, YamlTooDeep, compose_yaml

#: most nodes a flow's YAML may expand to (aliases included): refuses "billion laughs"
MAX_YAML_NODES = 100_000
#: the content types a flow's YAML may be sent as
YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/plain")


def yaml_nodes(text: str, limit: int = MAX_YAML_NODES) -> int:
    """How many nodes the YAML document expands to (aliases counted as copies).

    Raises FlowValidationError past ``limit`` or on recursive aliases: a small text with
    nested aliases ("billion laughs") would otherwise expand to billions of values when
    the flow is validated and stored.
    """
    try:
        root = compose_yaml(text)
    except YamlTooDeep as exc:
        raise FlowValidationError([Problem("", str(exc))]) from None
    except yaml.YAMLError as exc:
        raise FlowValidationError([Problem("", f"not valid YAML: {exc}")]) from None
    if root is None:
        return 0
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise FlowValidationError([Problem("", "recursive YAML aliases are not allowed")])
        visiting.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        visiting.discard(key)
        if total > limit:
            raise FlowValidationError(
                [Problem("", f"the YAML expands to more than {limit} values (too many aliases)")]
            )
        sizes[key] = total
        return total

    return size(root)


def parse_flow(text: str) -> Flow:
    """The flow of a request body's YAML (validated in full)."""
    yaml_nodes(text)
    return Flow.from_yaml(text if "\n" in text else text + "\n")  # never read as a path


def parse_labels(raw: list[str] | None) -> dict[str, str]:
    """Labels from ``labels=key:value`` query parameters."""
    labels: dict[str, str] = {}
    problems = []
    for item in raw or []:
        key, sep, value = item.partition(":")
        if not sep or not key:
            problems.append(Problem("labels", f"expected key:value, got {item!r}"))
        else:
            labels[key] = value
    if problems:
        raise InputValidationError(problems)
    return labels


def media_type(request: Request) -> str:
    """The request's content type, without parameters, lower case ("" if none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_inputs(request: Request) -> dict[str, Any]:
    """Inputs from a JSON object body (at most ``bounds.MAX_JSON_DEPTH`` levels deep),
    or form fields (multipart or urlencoded)."""
    media = media_type(request)
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form()
        except StarletteHTTPException as exc:  # malformed form data
            if exc.status_code != 400:
                raise
            raise BadRequest([Problem("body", f"invalid form data: {exc.detail}")]) from None
        try:
            values: dict[str, Any] = {}
            problems = []
            for key in form:
                items = form.getlist(key)
                if any(isinstance(v, UploadFile) for v in items):
                    problems.append(Problem(f"inputs.{key}", "file inputs are not supported"))
                    continue
                strs = [str(v) for v in items]
                values[key] = strs[0] if len(strs) == 1 else strs
            if problems:
                raise InputValidationError(problems)
            return values
        finally:
            await form.close()
    body = await request.body()
    if not body.strip():
        return {}
    if media not in ("application/json", "") and not media.endswith("+json"):
        raise UnsupportedMediaType(
            [
                Problem(
                    "body",
                    f"unsupported content type {media!r}: send JSON, "
                    "multipart/form-data or a urlencoded form",
                )
            ]
        )
    try:
        data = bounds.loads(body, bounds.MAX_JSON_DEPTH + 1)  # the object, then values
    except bounds.TooDeep:
        raise BadRequest(
            [
                Problem(
                    "body",
                    "the JSON body is nested too deep "
                    f"(input values nest at most {bounds.MAX_JSON_DEPTH} levels)",
                )
            ]
        ) from None
    except bounds.NotUnicode as exc:
        raise BadRequest([Problem("body", f"not valid Unicode: {exc}")]) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest([Problem("body", "not valid JSON")]) from None
    if not isinstance(data, dict):
        raise BadRequest([Problem("body", "expected a JSON object of input values")])
    return data


async def read_yaml(request: Request) -> str:
    """A flow's YAML text from the request body (not parsed yet: see ``parse_flow``)."""
    media = media_type(request)
    if media and media not in YAML_TYPES:
        raise UnsupportedMediaType(
            [
                Problem(
                    "body",
                    f"unsupported content type {media!r}: send the flow as application/x-yaml",
                )
            ]
        )
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FlowValidationError([Problem("", "the flow is not UTF-8 text")]) from None
    if not text.strip():
        raise FlowValidationError([Problem("", "the body is empty: send the flow's YAML")])
    return text
