"""Rendering ``{{ ... }}`` templates in flow properties, the way Kestra's Pebble does.

Jinja2 runs in an immutable sandbox with a few adjustments so that flows written
for Kestra render the same:

* printed dicts and lists are compact JSON (``{"a":1}``), booleans print ``true`` /
  ``false`` and ``None`` prints nothing;
* ``a.values`` on a mapping gives the item ``"values"``, not the ``dict.values`` method;
* an undefined variable or a missing key is an error that names it;
* each string is rendered once: a rendered value containing ``{{`` stays as it is;
* a string that is exactly one expression (``"{{ outputs.t1.rows }}"``) renders to
  the expression's native value (a list, an int...) in :func:`render_value`.

Expressions are Pebble's (:mod:`executor.pebble.syntax`: ``??``, ``???``, ``a ? b : c``,
``equals``, ``contains``, ``is null``/``defined``/``empty``/``json``/``even``/``odd``,
``..`` ranges, ``~``, Pebble's operator precedence and 0-based ``loop.index``).

Every render is bounded (:mod:`executor.pebble.budget`): a time budget
(``render_timeout``) checked at every attribute lookup, call, operator, loop iteration
and output chunk, and a size budget (``render_max_bytes``, by default
:data:`MAX_OUTPUT` characters) checked on what is built: strings and lists made by
``*``, ``+``, ``~``, string padding, ``replace``, ``join``, format widths, list and map
literals, filter results and the rendered output, before building them where the size
is known in advance. Going over either fails the render with a :class:`TemplateError`
naming the budget.

Context objects may be lazy ``Mapping`` implementations (reading Redis on
``__getitem__``): the context is only ever looked up key by key, never iterated.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes, pass_eval_context
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.compiler import Frame
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.filters import do_center, do_format, do_indent, do_replace, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing, object_type_repr

from executor.errors import OstraError, TemplateError
from executor.pebble import budget
from executor.pebble.syntax import RUNTIME, TESTS, PebbleCodeGenerator, PebbleLexer, PebbleParser

__all__ = [
    "MAX_OUTPUT",
    "check_syntax",
    "contains_template",
    "render",
    "render_value",
]

#: Default size budget: the largest string (or list) a template may build or render,
#: in characters (1 MiB); ``render_max_bytes`` (``OSTRA_RENDER_MAX_BYTES``) sets it.
MAX_OUTPUT = budget.DEFAULT_MAX_BYTES

_TEMPLATE_MARKERS = ("{{", "{%", "{#")
_SINGLE_EXPR_HINT = re.compile(r"\A\s*\{\{.*\}\}\s*\Z", re.DOTALL)
_DIGITS = re.compile(r"\d+")
_SNIPPET_LEN = 120


# --------------------------------------------------------------------------- helpers


def _check_len(n: int, what: str = "rendered value") -> None:
    budget.check_size(n, what)


def _check_sized(value: Any) -> Any:
    """Check a result against the size budget (see :func:`budget.check_value`)."""
    return budget.check_value(value, "rendered value")


def _check_format_widths(fmt: Any) -> None:
    """Refuse format strings with absurd widths/precisions such as ``%999999999d``."""
    if isinstance(fmt, str):
        for m in _DIGITS.finditer(fmt):
            _check_len(int(m.group()) if len(m.group()) <= 9 else 10**9, "formatted value")


def _plain(value: Any) -> Any:
    """Turn mappings, tuples and generators into plain dicts and lists (recursively)."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, naming what is missing
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        budget.check_deadline()
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | range | types.GeneratorType):
        budget.check_deadline()
        return [_plain(v) for v in value]
    return value


def _to_json(value: Any) -> str:
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False, default=str)


def _finalize(value: Any) -> Any:
    """Print values as Pebble does: JSON for collections, true/false, nothing for None."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple | range | types.GeneratorType):
        return _to_json(value)
    return value


def to_text(value: Any) -> str:
    """``value`` as a template prints it (JSON for collections, ``true``/``false``)."""
    return str(_finalize(value))


def _snippet(template: str) -> str:
    s = template.strip()
    return s if len(s) <= _SNIPPET_LEN else s[: _SNIPPET_LEN - 3] + "..."


# --------------------------------------------------------------------------- undefined


class _Undefined(StrictUndefined):
    """StrictUndefined with clearer messages for missing mapping keys."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        hint: str | None = self._undefined_hint
        if hint:
            return hint
        name, obj = self._undefined_name, self._undefined_obj
        if obj is missing:
            return f"{name!r} is not defined"
        if isinstance(obj, Mapping):
            msg = f"key {name!r} not found"
            if isinstance(obj, dict):
                keys = [repr(k) for k in list(obj)[:20]]
                more = ", ..." if len(obj) > 20 else ""
                msg += f" (available keys: {', '.join(keys)}{more})" if keys else " (empty)"
            return msg
        if not isinstance(name, str):
            return f"{object_type_repr(obj)} has no element {name!r}"
        return f"{object_type_repr(obj)!r} has no attribute {name!r}"


# --------------------------------------------------------------------------- environment


class _CodeGenerator(PebbleCodeGenerator):
    """Routes ``~`` (string concatenation) through a size check, and folds only
    literal text and constants at compile time (no Python-style printing of
    folded expressions, no compile-time evaluation that would skip the checks)."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData | nodes.Const):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


_AMPLIFYING_STR_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class _Layered(Mapping[str, Any]):
    """The user's context, then the environment's globals; looked up key by key only."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Mapping[str, Any]) -> None:
        self._ctx = ctx

    def __getitem__(self, key: str) -> Any:
        try:
            return self._ctx[key]
        except KeyError:
            return _env.globals[key]

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:  # only for {% include %}-like uses; loads all
        yield from self._ctx
        yield from (k for k in _env.globals if k not in self._ctx)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Context(Context):
    """Looks a name up with a single ``__getitem__`` (no ``in`` check first)."""

    def resolve_or_missing(self, key: str) -> Any:
        if key in self.vars:
            return self.vars[key]
        try:
            return self.parent[key]
        except KeyError:
            return missing


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox: Pebble's syntax, key-first attribute access, bounded operations."""

    code_generator_class = _CodeGenerator
    context_class = _Context
    # Every arithmetic operator goes through call_binop, which checks the deadline.
    intercepted_binops = frozenset({"*", "+", "**", "%", "-", "/", "//"})
    intercepted_unops = frozenset({"-", "+"})
    #: What the compiled Pebble syntax calls (``environment.pebble.<operation>``).
    pebble = RUNTIME

    @property
    def lexer(self) -> PebbleLexer:  # type: ignore[override]
        """Jinja2's lexer plus Pebble's operators (one per environment)."""
        lexer: PebbleLexer | None = self.__dict__.get("_pebble_lexer")
        if lexer is None:
            lexer = PebbleLexer(self)
            self.__dict__["_pebble_lexer"] = lexer
        return lexer

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return PebbleParser(self, source, name, filename).parse()

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``a.b`` on a mapping reads the key ``b`` first, then falls back to attributes."""
        budget.check_deadline()
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``a[b]``, within the render's deadline."""
        budget.check_deadline()
        return super().getitem(obj, argument)

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        """Unary ``-`` and ``+``, within the render's deadline."""
        budget.check_deadline()
        return super().call_unop(context, operator, arg)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Check the size of ``*``, ``+``, ``**`` and ``%`` results before computing them."""
        budget.check_deadline()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int):
                    _check_len(len(seq) * max(n, 0))
            if isinstance(left, int) and isinstance(right, int):
                _check_len((left.bit_length() + right.bit_length()) // 8, "number")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _check_len(len(left) + len(right))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                _check_len(right * left.bit_length() // 8, "number")
        elif operator == "%":
            _check_format_widths(left)
        return _check_sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Pre-check str methods that can amplify their input; check any result's size."""
        budget.check_deadline()
        f_self = getattr(__obj, "__self__", None)
        if isinstance(f_self, str) and isinstance(__obj, types.BuiltinMethodType):
            name = __obj.__name__
            if name in _AMPLIFYING_STR_METHODS:
                for a in (*args, *kwargs.values()):
                    if isinstance(a, int):
                        n = a * (f_self.count("\t") + 1) if name == "expandtabs" else a
                        _check_len(n)
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                hits = f_self.count(old) if old else len(f_self) + 1
                _check_len(len(f_self) + hits * len(new))
            elif name == "join" and args and isinstance(args[0], list | tuple):
                parts = args[0]
                total = sum(len(p) for p in parts if isinstance(p, str))
                _check_len(total + len(f_self) * max(len(parts) - 1, 0))
        return _check_sized(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` in templates: refuse absurd field widths."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _check_format_widths(value.__self__)
        inner = wrapped

        def checked(*args: Any, **kwargs: Any) -> str:
            return str(_check_sized(inner(*args, **kwargs)))

        return checked

    def checked_concat(self, parts: Iterable[Any]) -> str:
        """The ``~`` operator, bounded in size; operands print as with ``{{ }}``."""
        budget.check_deadline()
        strs = [str(_finalize(p)) for p in parts]
        _check_len(sum(len(s) for s in strs))
        return "".join(strs)


# ---- bounded versions of filters that can amplify their input


def _f_center(value: Any, width: int = 80) -> str:
    _check_len(width if isinstance(width, int) else 0)
    return do_center(value, width)


def _f_indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    w = width if isinstance(width, int) else len(str(width))
    _check_len(len(str(s)) + w * (str(s).count("\n") + 1))
    return do_indent(s, width, first, blank)


@pass_eval_context
def _f_replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, o, n = str(s), str(old), str(new)
    hits = text.count(o) if o else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    _check_len(len(text) + hits * len(n))
    return do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def _f_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    rv = sync_do_join(eval_ctx, items, d, attribute)
    return str(_check_sized(rv))


def _f_format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_format_widths(value)
    return str(_check_sized(do_format(value, *args, **kwargs)))


def _f_from_json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        raise TemplateError(f"fromJson expects a string, got {type(value).__name__}")
    try:
        return json.loads(value)
    except ValueError as e:
        raise TemplateError(f"fromJson: invalid JSON: {e}") from None


_env = _Environment(
    undefined=_Undefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
    # No compile-time constant folding: it would bypass the size checks and print
    # constants Python's way (``'a' ~ true`` -> ``aTrue``).
    optimized=False,
)
_env.filters.update(
    {
        "json": _to_json,
        "toJson": _to_json,
        "fromJson": _f_from_json,
        "center": _f_center,
        "indent": _f_indent,
        "replace": _f_replace,
        "join": _f_join,
        "format": _f_format,
    }
)


def _install_pebble() -> None:
    """Install the filters, functions and tests of :mod:`executor.pebble.registry`."""
    import importlib

    from executor.pebble import registry

    for module in registry.MODULES:
        importlib.import_module(module)
    _env.tests.update(TESTS)
    _env.filters.update(registry.FILTERS)
    _env.globals.update(registry.FUNCTIONS)
    _env.tests.update(registry.TESTS)


_install_pebble()


# --------------------------------------------------------------------------- compiling


def _syntax_message(e: TemplateSyntaxError) -> str:
    return f"line {e.lineno}: {e.message}"


@lru_cache(maxsize=1024)
def _compile(source: str) -> Template:
    return _env.from_string(source)


@lru_cache(maxsize=1024)
def _compile_native(source: str) -> Template | None:
    """A template assigning the value of ``source``'s single expression to ``result``,
    or None when ``source`` is not exactly one ``{{ expression }}``."""
    if not _SINGLE_EXPR_HINT.match(source):
        return None
    ast = _env.parse(source)
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    exprs = [
        n
        for n in ast.body[0].nodes
        if not (isinstance(n, nodes.TemplateData) and not n.data.strip())
    ]
    if len(exprs) != 1 or isinstance(exprs[0], nodes.TemplateData):
        return None
    body = nodes.Template(
        [nodes.Assign(nodes.Name("result", "store", lineno=1), exprs[0], lineno=1)], lineno=1
    )
    body.set_environment(_env)
    return _env.from_string(body)


def _context(template: Template, context: Mapping[str, Any]) -> Context:
    # The mapping is used as is (Jinja's default copies it into a dict, which would
    # iterate, and load, a lazy context), and no ``globals`` are given: ``_Layered``
    # already falls back to them, and Jinja would list every global at every render.
    return template.environment.context_class(
        template.environment,
        _Layered(context),  # type: ignore[arg-type]
        template.name,
        template.blocks,
        globals=None,
    )


def _translate(e: Exception, template: str) -> TemplateError:
    where = f" in template {_snippet(template)!r}"
    if isinstance(e, TemplateSyntaxError):
        return TemplateError(f"template syntax error at {_syntax_message(e)}", template)
    if isinstance(e, UndefinedError):
        return TemplateError(f"undefined variable: {e.message}{where}", template)
    if isinstance(e, SecurityError):
        return TemplateError(f"not allowed: {e.message}{where}", template)
    if isinstance(e, JinjaTemplateError):
        return TemplateError(f"template error: {e.message}{where}", template)
    if isinstance(e, RecursionError | MemoryError):
        return TemplateError(f"template too complex{where}", template)
    return TemplateError(f"template error: {type(e).__name__}: {e}{where}", template)


def _reraise(e: Exception, template: str) -> TemplateError:
    if isinstance(e, TemplateError):
        # The same error, its class and fields kept (SecretNotFound.name...), naming
        # the template it came from.
        e.args = (f"{e} in template {_snippet(template)!r}", *e.args[1:])
        e.template = template
        return e
    return _translate(e, template)


# --------------------------------------------------------------------------- public API


def contains_template(s: str) -> bool:
    """True if ``s`` contains ``{{``, ``{%`` or ``{#`` (so it needs rendering)."""
    return any(m in s for m in _TEMPLATE_MARKERS)


def check_syntax(template: str) -> str | None:
    """Parse ``template`` without rendering it.

    Returns a readable message for a syntax error, like ``"line 2: unexpected '}'"``,
    or None when the template parses.
    """
    if not contains_template(template):
        return None
    try:
        _compile(template)
    except TemplateSyntaxError as e:
        return _syntax_message(e)
    except Exception as e:  # any other compile failure, made readable
        return f"template error: {e}"
    return None


def render(template: str, context: Mapping[str, Any]) -> str:
    """Render ``template`` once with ``context`` and return the text.

    Strings without template markers are returned as they are. Raises
    :class:`TemplateError` naming the undefined variable, the syntax error, the
    forbidden access or the time or size budget exceeded.
    """
    if not contains_template(template):
        return template
    with budget.render_budget():
        return _render_text(template, context)


def _render_text(template: str, context: Mapping[str, Any]) -> str:
    try:
        tmpl = _compile(template)
        out: list[str] = []
        size = 0
        b = budget.current()
        for chunk in tmpl.root_render_func(_context(tmpl, context)):
            b.check_deadline()
            size += len(chunk)
            b.check_size(size)
            out.append(chunk)
        return "".join(out)
    except OstraError as e:
        if isinstance(e, TemplateError):
            raise _reraise(e, template) from None
        raise
    except Exception as e:
        raise _translate(e, template) from None


def _render_native(template: str, context: Mapping[str, Any]) -> Any:
    """Render ``template``; a single ``{{ expr }}`` gives the expression's own value."""
    if not contains_template(template):
        return template
    try:
        native = _compile_native(template)
    except TemplateSyntaxError as e:
        raise _translate(e, template) from None
    if native is None:
        return _render_text(template, context)
    try:
        ctx = _context(native, context)
        for _ in native.root_render_func(ctx):
            pass
        value = _plain(ctx.vars["result"])
        if isinstance(value, str):
            _check_len(len(value))
        return value
    except OstraError as e:
        if isinstance(e, TemplateError):
            raise _reraise(e, template) from None
        raise
    except Exception as e:
        raise _translate(e, template) from None


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts, lists, tuples walked) once.

    A string that is exactly one expression, like ``"{{ outputs.t1.rows }}"``
    (surrounding whitespace allowed), becomes the expression's native value
    (list, dict, int, bool...); other strings become the rendered text. Rendered
    results are never rendered again. Dict keys that are templates are rendered
    to text. Other leaves are returned unchanged. The whole of ``value`` is rendered
    within one time budget.
    """
    with budget.render_budget():
        return _render_value(value, context)


def _render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_native(value, context)
    if isinstance(value, dict):
        return {
            (render(k, context) if isinstance(k, str) else k): _render_value(v, context)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_render_value(v, context) for v in value]
    if isinstance(value, tuple):
        return tuple(_render_value(v, context) for v in value)
    return value
