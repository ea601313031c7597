"""Pebble's expression syntax on Jinja2: a lexer and parser extension, and their runtime.

Why extend Jinja2 rather than write a Pebble engine: the sandbox (attribute checks,
immutable containers, the size and time hooks of :mod:`executor.templating`), the
statement tags (``{% if %}``, ``{% for %}``, ``{% set %}``, macros) and the compiler to
Python are Jinja2's and are kept; only *expressions* differ. So this module

* adds Pebble's operator tokens to Jinja2's lexer (``??``, ``???``, ``?``, ``..``);
* replaces Jinja2's expression parser with Pebble's precedence climbing
  (``ExpressionParser.java``), producing Jinja2 nodes plus a few of its own, with
  Pebble's precedences (``CoreExtension.java``; Kestra's ``Extension.java`` for ``??``)::

      or 10 · and 15 · is, is not, contains 20 · ==, !=, equals, <, >, <=, >= 30 ·
      +, - 40 · *, /, % 60 · | (filter) 100 · ~ 110 · .., ??, ??? 120 ·
      unary not, -, + 500 · then a ternary ``a ? b : c`` over the whole expression

  (so ``not a == b`` is ``(not a) == b``, ``'a' ~ 'b' | upper`` is ``AB`` and
  ``1 + 2 is odd`` is true, as in Pebble). Jinja2-only syntax that Pebble has no meaning
  for keeps working: ``x if c else y``, ``in``, ``//``, ``**``;
* compiles its nodes to calls of :data:`RUNTIME` (``environment.pebble``), whose
  methods give Pebble's semantics: ``??`` (right side when the left is undefined or
  null, Kestra's ``NullCoalescingExpression``), ``???`` (undefined only,
  ``UndefinedCoalescingExpression``), ``contains``, ``equals``, ``..`` ranges, booleans
  from ``and``/``or``, ``is defined`` that never fails, strict tests (``null``,
  ``empty``, ``json``, ``even``, ``odd``, ``map``, ``iterable``) and Pebble's ``loop``
  (``loop.index`` from 0, ``loop.revindex`` down to 0, ``first``, ``last``, ``length``).

Both sides of a ternary, of ``??`` and of ``and``/``or`` are lazy: the branch not taken
is never evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import UndefinedError
from jinja2.lexer import TOKEN_OPERATOR, Lexer, operator_re, operators
from jinja2.parser import Parser
from jinja2.runtime import LoopContext, Undefined

from executor.errors import TemplateError
from executor.pebble import budget

__all__ = [
    "RUNTIME",
    "PebbleCodeGenerator",
    "PebbleLexer",
    "PebbleLoop",
    "PebbleParser",
    "TESTS",
]

# --------------------------------------------------------------------------- lexer

#: Operators Pebble has and Jinja2 does not, and the token types they become.
_EXTRA_OPERATORS = {"???": "undefcoalesce", "??": "nullcoalesce", "?": "question", "..": "range"}
_ALL_OPERATORS = sorted([*operators, *_EXTRA_OPERATORS], key=lambda x: -len(x))
_PEBBLE_OPERATOR_RE = re.compile(f"({'|'.join(re.escape(x) for x in _ALL_OPERATORS)})")


class PebbleLexer(Lexer):
    """Jinja2's lexer, also knowing ``??``, ``???``, ``?`` and ``..``."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        for state, rules in self.rules.items():
            self.rules[state] = [
                r._replace(pattern=_PEBBLE_OPERATOR_RE) if r.pattern is operator_re else r
                for r in rules
            ]

    def wrap(self, stream: Iterable[tuple[int, str, str]], name: Any = None, filename: Any = None):  # type: ignore[no-untyped-def]
        """Give Pebble's operators their own token types, then wrap as Jinja2 does."""

        def retyped() -> Iterator[tuple[int, str, str]]:
            for lineno, token, value in stream:
                if token == TOKEN_OPERATOR and value in _EXTRA_OPERATORS:
                    token = _EXTRA_OPERATORS[value]
                yield lineno, token, value

        return super().wrap(retyped(), name, filename)


# --------------------------------------------------------------------------- nodes

# Jinja2 forbids new node classes, so Pebble's operations are calls of a marker,
# ``ExtensionAttribute(_MARK, operation)``, which PebbleCodeGenerator compiles to
# ``environment.pebble.<operation>(...)`` (no template can produce such a node).
_MARK = "ostra.pebble"
#: Operations whose arguments are evaluated lazily (passed as lambdas).
_LAZY = frozenset({"null_coalesce", "undefined_coalesce", "defined"})


def _op(name: str, *args: nodes.Expr, lineno: int) -> nodes.Expr:
    """A node calling ``environment.pebble.<name>(*args)``."""
    attr = nodes.ExtensionAttribute(_MARK, name, lineno=lineno)
    return nodes.Call(attr, list(args), [], None, None, lineno=lineno)


def _pebble_op(node: nodes.Node) -> str | None:
    """The operation ``node`` stands for, if it is one of :func:`_op`'s."""
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.ExtensionAttribute):
        if node.node.identifier == _MARK:
            return str(node.node.name)
    return None


# --------------------------------------------------------------------------- parser


class _Op(NamedTuple):
    name: str
    precedence: int
    tokens: int  # how many tokens the operator spans ("is not", "not in")
    right_assoc: bool = False


_NAME_OPS = {
    "or": 10,
    "and": 15,
    "is": 20,
    "contains": 20,
    "in": 20,  # Jinja2's, kept
    "equals": 30,
}
_TYPE_OPS = {
    "eq": 30,
    "ne": 30,
    "gt": 30,
    "lt": 30,
    "gteq": 30,
    "lteq": 30,
    "add": 40,
    "sub": 40,
    "mul": 60,
    "div": 60,
    "mod": 60,
    "floordiv": 60,  # Jinja2's, kept
    "pow": 70,  # Jinja2's, kept (right-associative)
    "pipe": 100,
    "tilde": 110,
    "range": 120,
    "nullcoalesce": 120,
    "undefcoalesce": 120,
}
_UNARY_PRECEDENCE = 500
_COMPARE = {"gt", "lt", "gteq", "lteq"}
_ARITH = {
    "add": nodes.Add,
    "sub": nodes.Sub,
    "mul": nodes.Mul,
    "div": nodes.Div,
    "mod": nodes.Mod,
    "floordiv": nodes.FloorDiv,
    "pow": nodes.Pow,
}
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "TRUE": True,
    "True": True,
    "false": False,
    "FALSE": False,
    "False": False,
    "null": None,
    "NULL": None,
    "none": None,
    "NONE": None,
    "None": None,
}


class PebbleParser(Parser):
    """Jinja2's statement parser with Pebble's expression grammar."""

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        """An expression, a Pebble ternary ``a ? b : c`` included.

        ``with_condexpr`` keeps its Jinja2 meaning for Jinja2's inline ``x if c else y``
        (off where ``if`` is part of the statement, as in ``{% for x in y if c %}``).
        """
        lineno = self.stream.current.lineno
        expr = self._binary(0)
        if self.stream.current.type == "question":
            next(self.stream)
            yes = self.parse_expression()
            self.stream.expect("colon")
            no = self.parse_expression()
            expr = nodes.CondExpr(expr, yes, no, lineno=lineno)
        if with_condexpr:
            while self.stream.skip_if("name:if"):
                test = self._binary(0)
                other = self.parse_expression() if self.stream.skip_if("name:else") else None
                expr = nodes.CondExpr(test, expr, other, lineno=lineno)
        return expr

    def parse_for(self) -> nodes.For:
        """``{% for %}`` iterating the Pebble way, within the render's deadline."""
        node = super().parse_for()
        node.iter = _op("iterate", node.iter, lineno=node.iter.lineno)  # type: ignore[arg-type]
        return node

    def parse_list(self) -> nodes.List:
        node = super().parse_list()
        return _op("built", node, lineno=node.lineno)  # type: ignore[return-value]

    def parse_dict(self) -> nodes.Dict:
        node = super().parse_dict()
        return _op("built", node, lineno=node.lineno)  # type: ignore[return-value]

    # ---- precedence climbing, after Pebble's ExpressionParser.parseExpression

    def _peek_op(self) -> _Op | None:
        tok = self.stream.current
        if tok.type == "name":
            if tok.value == "not" and self.stream.look().test("name:in"):
                return _Op("notin", 20, 2)
            if tok.value == "is" and self.stream.look().test("name:not"):
                return _Op("isnot", 20, 2)
            prec = _NAME_OPS.get(tok.value)
            return _Op(tok.value, prec, 1) if prec is not None else None
        prec = _TYPE_OPS.get(tok.type)
        if prec is None:
            return None
        return _Op(tok.type, prec, 1, right_assoc=tok.type == "pow")

    def _binary(self, min_precedence: int) -> nodes.Expr:
        tok = self.stream.current
        lineno = tok.lineno
        expr: nodes.Expr
        if tok.test("name:not"):
            next(self.stream)
            expr = nodes.Not(self._binary(_UNARY_PRECEDENCE), lineno=lineno)
        elif tok.type == "sub":
            next(self.stream)
            expr = nodes.Neg(self._binary(_UNARY_PRECEDENCE), lineno=lineno)
        elif tok.type == "add":
            next(self.stream)
            expr = nodes.Pos(self._binary(_UNARY_PRECEDENCE), lineno=lineno)
        else:
            expr = self._primary()

        while True:
            op = self._peek_op()
            if op is None or op.precedence < min_precedence:
                break
            lineno = self.stream.current.lineno
            for _ in range(op.tokens):
                next(self.stream)
            if op.name == "pipe":
                expr = self._filter(expr)
                continue
            if op.name in ("is", "isnot"):
                expr = self._test(expr, negated=op.name == "isnot")
                continue
            right = self._binary(op.precedence if op.right_assoc else op.precedence + 1)
            expr = self._combine(op.name, expr, right, lineno)
        return expr

    def _primary(self) -> nodes.Expr:
        tok = self.stream.current
        if tok.type == "name" and tok.value in _CONSTANTS:
            next(self.stream)
            node: nodes.Expr = nodes.Const(_CONSTANTS[tok.value], lineno=tok.lineno)
        else:
            node = self.parse_primary()
        return self.parse_postfix(node)

    def _combine(self, name: str, left: nodes.Expr, right: nodes.Expr, lineno: int) -> nodes.Expr:
        if name in _ARITH:
            return _ARITH[name](left, right, lineno=lineno)  # type: ignore[no-any-return]
        if name == "or":
            return _op("boolean", nodes.Or(left, right, lineno=lineno), lineno=lineno)
        if name == "and":
            return _op("boolean", nodes.And(left, right, lineno=lineno), lineno=lineno)
        if name in ("eq", "equals", "ne"):
            eq = _op("equals", left, right, lineno=lineno)
            return nodes.Not(eq, lineno=lineno) if name == "ne" else eq
        if name in _COMPARE or name in ("in", "notin"):
            return nodes.Compare(left, [nodes.Operand(name, right)], lineno=lineno)
        if name == "contains":
            return _op("contains", left, right, lineno=lineno)
        if name == "tilde":
            parts = [*left.nodes] if isinstance(left, nodes.Concat) else [left]
            return nodes.Concat([*parts, right], lineno=lineno)
        if name == "range":
            return _op("range", left, right, lineno=lineno)
        if name in ("nullcoalesce", "undefcoalesce"):
            which = "undefined_coalesce" if name == "undefcoalesce" else "null_coalesce"
            return _op(which, left, right, lineno=lineno)
        self.fail(f"unknown operator {name!r}", lineno)  # pragma: no cover - table-driven

    def _filter(self, node: nodes.Expr) -> nodes.Expr:
        token = self.stream.expect("name")
        if self.stream.current.type == "lparen":
            args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
        else:
            args, kwargs, dyn_args, dyn_kwargs = [], [], None, None
        f = nodes.Filter(node, token.value, args, kwargs, dyn_args, dyn_kwargs, lineno=token.lineno)
        return _op("built", f, lineno=token.lineno)

    def _test(self, node: nodes.Expr, negated: bool) -> nodes.Expr:
        token = self.stream.expect("name")
        if self.stream.current.type == "lparen":
            args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
        else:
            args, kwargs, dyn_args, dyn_kwargs = [], [], None, None
        test: nodes.Expr
        if token.value == "defined" and not args:
            test = _op("defined", node, lineno=token.lineno)
        else:
            test = nodes.Test(
                node, token.value, args, kwargs, dyn_args, dyn_kwargs, lineno=token.lineno
            )
        return nodes.Not(test, lineno=token.lineno) if negated else test


# --------------------------------------------------------------------------- compiler


class PebbleCodeGenerator(CodeGenerator):
    """Compiles the operations of :class:`PebbleParser` to calls of ``environment.pebble``."""

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        name = _pebble_op(node)
        if name is None:
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        lazy = name in _LAZY
        self.write(f"environment.pebble.{name}(")
        for i, arg in enumerate(node.args):
            if i:
                self.write(", ")
            self.write("(lambda: " if lazy else "(")
            self.visit(arg, frame)
            self.write(")")
        self.write(")")

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        super().visit_Template(node, frame)
        # Loops get Pebble's loop variable (the module's functions read this global).
        self.writeline("LoopContext = environment.pebble.loop_class")


# --------------------------------------------------------------------------- runtime


def _fail_if_undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple | range):
        return "list"
    return type(value).__name__


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _MapEntry(dict[str, Any]):
    """What ``{% for e in map %}`` gives in Pebble: ``e.key`` and ``e.value``."""


class PebbleLoop(LoopContext):
    """Pebble's ``loop``: ``index`` counts from 0 and ``revindex`` down to 0.

    ``first``, ``last`` and ``length`` are Jinja2's (the same as Pebble's); Jinja2's
    ``index0`` and ``revindex0`` stay available.
    """

    @property
    def index(self) -> int:  # type: ignore[override]
        """The 0-based index of the current item (Pebble's ``loop.index``)."""
        return self.index0

    @property
    def revindex(self) -> int:  # type: ignore[override]
        """How many items come after the current one (Pebble's ``loop.revindex``)."""
        return self.length - self.index0 - 1

    @property
    def revindex0(self) -> int:  # type: ignore[override]
        """The same as :attr:`revindex` (Jinja2's name for it)."""
        return self.length - self.index0 - 1


class _Iterated:
    """A loop's iterable: Pebble's iteration (maps give entries, null gives nothing),
    with the render's deadline checked at every item."""

    __slots__ = ("_items",)

    def __init__(self, value: Any) -> None:
        if value is None:
            value = ()
        elif isinstance(value, Mapping):
            value = [_MapEntry(key=k, value=value[k]) for k in value]
        self._items = value

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        b = budget.current()
        for item in self._items:
            b.check_deadline()
            yield item


class _Runtime:
    """The operations Pebble's syntax compiles to (``environment.pebble.<name>``)."""

    loop_class = PebbleLoop

    @staticmethod
    def null_coalesce(left: Callable[[], Any], right: Callable[[], Any]) -> Any:
        """``left ?? right``: ``right`` when ``left`` is undefined (anywhere in it) or null."""
        try:
            value = left()
        except UndefinedError:
            return right()
        if value is None or isinstance(value, Undefined):
            return right()
        return value

    @staticmethod
    def undefined_coalesce(left: Callable[[], Any], right: Callable[[], Any]) -> Any:
        """``left ??? right``: ``right`` only when ``left`` is undefined; null stays null."""
        try:
            value = left()
        except UndefinedError:
            return right()
        if isinstance(value, Undefined):
            return right()
        return value

    @staticmethod
    def defined(value: Callable[[], Any]) -> bool:
        """``x is defined``: false when ``x`` is undefined or null (Pebble's DefinedTest)."""
        try:
            v = value()
        except UndefinedError:
            return False
        return not (v is None or isinstance(v, Undefined))

    @staticmethod
    def equals(left: Any, right: Any) -> bool:
        """Pebble's ``==``: numbers by value, a boolean equals only a boolean."""
        _fail_if_undefined(left)
        _fail_if_undefined(right)
        if isinstance(left, bool) != isinstance(right, bool):
            return False
        return bool(left == right)

    @staticmethod
    def contains(left: Any, right: Any) -> bool:
        """Pebble's ``contains``: an item (or all items of a list) in a list, a key in a
        map, a substring in a string; false on null."""
        _fail_if_undefined(left)
        _fail_if_undefined(right)
        if left is None:
            return False
        if isinstance(left, Mapping):
            try:
                return right in left
            except TypeError:  # an unhashable key is in no map
                return False
        if isinstance(left, list | tuple | set | frozenset | range):
            if isinstance(right, list | tuple | set | frozenset | range):
                return all(_Runtime._has(left, r) for r in right)
            return _Runtime._has(left, right)
        if isinstance(left, str):
            return _text(right) in left
        raise TemplateError(
            f"contains can only be used on lists, maps and strings, got {_type_name(left)}"
        )

    @staticmethod
    def _has(items: Iterable[Any], x: Any) -> bool:
        return any(_Runtime.equals(i, x) for i in items)

    @staticmethod
    def range(left: Any, right: Any) -> Any:
        """``a .. b``: the numbers (or single characters) from ``a`` to ``b`` inclusive."""
        _fail_if_undefined(left)
        _fail_if_undefined(right)
        if isinstance(left, int | float) and isinstance(right, int | float):
            if isinstance(left, bool) or isinstance(right, bool):
                raise TemplateError("range (..) needs numbers or single characters, got booleans")
            r = range(int(left), int(right) + 1)
            budget.check_size(len(r) * 2, f"range {int(left)}..{int(right)}")
            return r
        if isinstance(left, str) and isinstance(right, str):
            if len(left) != 1 or len(right) != 1:
                raise TemplateError(
                    f"range (..) of strings needs single characters, got {left!r} and {right!r}"
                )
            return [chr(c) for c in range(ord(left), ord(right) + 1)]
        raise TemplateError(
            "range (..) needs numbers or single characters, "
            f"got {_type_name(left)} and {_type_name(right)}"
        )

    @staticmethod
    def boolean(value: Any) -> bool:
        """The value of ``and`` / ``or``: a boolean, as in Pebble."""
        return bool(value)

    @staticmethod
    def iterate(value: Any) -> Any:
        """The iterable of a ``{% for %}``."""
        _fail_if_undefined(value)
        return _Iterated(value)

    @staticmethod
    def built(value: Any) -> Any:
        """A list, map or filter result a template built: within the size budget."""
        budget.check_deadline()
        return budget.check_value(value)


#: The runtime the compiled templates call, installed as ``environment.pebble``.
RUNTIME = _Runtime()


# --------------------------------------------------------------------------- tests


def _strict(fn: Callable[[Any], bool]) -> Callable[..., bool]:
    """A test that fails on an undefined value, as Pebble's tests do with strict variables."""

    def test(value: Any, *args: Any) -> bool:
        _fail_if_undefined(value)
        return fn(value, *args)

    test.__name__ = fn.__name__
    test.__doc__ = fn.__doc__
    return test


def _is_null(value: Any) -> bool:
    """``is null``."""
    return value is None


def _is_empty(value: Any) -> bool:
    """``is empty``: null, a blank string, an empty list or map (Pebble's EmptyTest)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, Mapping | list | tuple | set | frozenset | range):
        return len(value) == 0
    return False


def _is_json(value: Any) -> bool:
    """``is json``: a string that parses as JSON (Kestra's JsonTest)."""
    if not isinstance(value, str):
        raise TemplateError(f"the json test needs a string, got {_type_name(value)}")
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _parity(name: str, remainder: int) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        if value is None:
            raise TemplateError(f'can not pass null value to "{name}" test')
        if isinstance(value, bool) or not isinstance(value, int):
            raise TemplateError(f'the "{name}" test needs an integer, got {_type_name(value)}')
        return value % 2 == remainder

    test.__name__ = f"_is_{name}"
    test.__doc__ = f"``is {name}``."
    return test


def _is_map(value: Any) -> bool:
    """``is map``."""
    return isinstance(value, Mapping)


def _is_iterable(value: Any) -> bool:
    """``is iterable``: a list (not a string, not a map, as in Pebble)."""
    return isinstance(value, list | tuple | set | frozenset | range)


def _is_defined(value: Any) -> bool:
    """``defined`` as a test object (``select('defined')``); ``x is defined`` compiles to
    :meth:`_Runtime.defined`."""
    return not (value is None or isinstance(value, Undefined))


#: Pebble's tests, by name (installed into the environment; the registry's override them).
TESTS: dict[str, Callable[..., bool]] = {
    "null": _strict(_is_null),
    "empty": _strict(_is_empty),
    "json": _strict(_is_json),
    "even": _strict(_parity("even", 0)),
    "odd": _strict(_parity("odd", 1)),
    "map": _strict(_is_map),
    "iterable": _strict(_is_iterable),
    "defined": _is_defined,
}
