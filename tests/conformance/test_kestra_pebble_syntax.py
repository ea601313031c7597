"""Kestra's expression syntax in flows: ``??``, ``???``, the ternary, ``contains``, ``..``.

Cases from Kestra's core/src/test/java/io/kestra/core/runners/pebble/expression/
(NullCoalescingExpressionTest, UndefinedCoalescingExpressionTest) and Pebble's operator
docs, run as flows on a real worker.
"""

from __future__ import annotations

from typing import Any

from executor import StateType


def test_coalescing_ternary_and_ranges_in_task_properties(run: Any) -> None:
    # NullCoalescingExpressionTest.firstDefined / nullOrUndefined,
    # UndefinedCoalescingExpressionTest.nullOrUndefined
    done = run("""
id: pebblesyntax
namespace: tests.conformance
inputs:
  - {id: name, type: STRING, required: false}
tasks:
  - id: t1
    type: Return
    format: "{{ inputs.name ?? 'anonymous' }}|{{ outputs.nope.value ?? 'none' }}"
  - id: t2
    type: Return
    format: "{{ inputs.name ??? 'undefined' }}|{{ missing ??? 'undefined' }}"
  - id: t3
    type: Return
    format: >-
      {{ outputs.t1.value contains 'anon' ? 'yes' : 'no' }}
      {% for i in 1..3 %}{{ loop.index }}{% endfor %}
      {{ [1, 2] contains 2 and 'a' ~ 'b' | upper equals 'AB' }}
""")
    assert done.state.current == StateType.SUCCESS
    values = {t.task_id: t.outputs["value"] for t in done.task_run_list}
    assert values["t1"] == "anonymous|none"
    assert values["t2"] == "|undefined"  # ??? keeps a null as null (prints nothing)
    assert values["t3"] == "yes 012 true"


def test_undefined_on_both_sides_fails_the_task(run: Any) -> None:
    # NullCoalescingExpressionTest: {{ missing ?? missing2 }} throws
    done = run("""
id: pebblesyntaxbad
namespace: tests.conformance
tasks:
  - {id: t, type: Return, format: "{{ missing ?? missing2 }}"}
""")
    assert done.state.current == StateType.FAILED
