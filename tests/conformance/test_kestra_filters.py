"""Kestra's filters and functions end to end: flows in Kestra's YAML, run on real workers."""

from __future__ import annotations

from executor import StateType


def test_filters_in_a_flow(run) -> None:  # type: ignore[no-untyped-def]
    # Expectations from Kestra's filter tests (core/src/test/java/io/kestra/core/runners/
    # pebble/filters/: JqFilterTest, ChunkFilterTest, DateFilterTest, SubstringFilterTest,
    # ReplaceFilterTest) and basic.md's table of filters.
    done = run(
        """
id: kestra_filters
namespace: conformance
inputs:
  - id: payload
    type: JSON
    defaults: '{"users": [{"name": "ada", "age": 36}, {"name": "alan", "age": 41}]}'
  - id: when
    type: STRING
    defaults: "2013-09-08T16:19:12.123456+01:00"
tasks:
  - id: pick
    type: io.kestra.plugin.core.output.OutputValues
    values:
      names: "{{ inputs.payload | jq('.users[].name') }}"
      oldest: "{{ inputs.payload | jq('.users | max_by(.age) | .name') | first | capitalize }}"
      chunks: "{{ inputs.payload.users | chunk(1) | length }}"
  - id: shape
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {{ outputs.pick.values.names | join(', ') | upper }}
      | {{ inputs.when | date("yyyy-MM-dd HH:mm", timeZone="Europe/Paris") }}
      | {{ inputs.when | dateAdd(-1, 'DAYS', format='iso_local_date', timeZone='Europe/Paris') }}
      | {{ 'file.tar.gz' | substringAfter('.') }}
      | {{ outputs.pick.values.oldest | replace({'A': '4'}) }}
      | {{ inputs.when | timestamp }}
      | {{ outputs.pick.values.chunks }}
"""
    )
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("pick").outputs["values"]["names"] == ["ada", "alan"]
    assert done.task_run("pick").outputs["values"]["chunks"] == 2
    assert done.task_run("shape").outputs["value"] == (
        "ADA, ALAN | 2013-09-08 17:19 | 2013-09-07 | tar.gz | 4lan | 1378653552 | 2"
    )


def test_a_filter_error_fails_the_task(run, client) -> None:  # type: ignore[no-untyped-def]
    # ChunkFilter: "'chunk' filter can only be applied to List" fails the render, so the task
    done = run(
        """
id: kestra_filters_error
namespace: conformance
tasks:
  - id: bad
    type: io.kestra.plugin.core.debug.Return
    format: "{{ 'abc' | chunk(2) }}"
"""
    )
    assert done.state.current == StateType.FAILED
    assert done.task_run("bad").state.current == StateType.FAILED
    errors = [log.message for log in client.logs(done.id) if log.level == "ERROR"]
    assert any("chunk: expects a list, got string" in m for m in errors), errors


def test_current_each_output_in_a_loop(run) -> None:  # type: ignore[no-untyped-def]
    # Kestra's docs for currentEachOutput(): a sibling's outputs for the current value of a
    # ForEach (CurrentEachOutputFunction)
    done = run(
        """
id: kestra_current_each_output
namespace: conformance
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: first
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value | upper }}1"
      - id: second
        type: io.kestra.plugin.core.debug.Return
        format: "{{ currentEachOutput(outputs.first).value }}-{{ range(1, 2) | join('') }}"
"""
    )
    assert done.state.current == StateType.SUCCESS
    seconds = sorted(t.outputs["value"] for t in done.task_run_list if t.task_id == "second")
    assert seconds == ["A1-12", "B1-12"]


def test_print_context_in_a_task(run) -> None:  # type: ignore[no-untyped-def]
    # FetchContextFunction: printContext() is the map of the render's variables
    done = run(
        """
id: kestra_print_context
namespace: conformance
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: ctx
    type: io.kestra.plugin.core.output.OutputValues
    values:
      context: "{{ printContext() }}"
"""
    )
    assert done.state.current == StateType.SUCCESS
    context = done.task_run("ctx").outputs["values"]["context"]
    assert context["flow"]["id"] == "kestra_print_context"
    assert context["task"]["id"] == "ctx"
    # (outputs are listed only once read: render_context.LazyOutputs iterates its cache)
    assert "outputs" in context and "taskrun" in context
