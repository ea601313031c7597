"""Kestra's own trigger examples deploy unchanged, and what Kestra refuses in a trigger
is refused at deploy with a path.

Sources: the ``@Example`` blocks of ``core/src/main/java/io/kestra/plugin/core/trigger/
{Schedule,Flow,Webhook}.java`` (left out: Schedule's first, whose ``Commands`` task has
the deprecated ``runner: PROCESS`` Ostra's Commands does not take; its third, which has no
``type``; Flow's third, which needs the Slack plugin), ``AbstractTrigger.java`` /
``TriggerInterface.java`` (the common properties, the id pattern), ``Webhook.java``
(``@NotNull @Size(max = 256) key``) and ``validations/validator/WebhookValidator.java``
(no MultipleCondition).
"""

from __future__ import annotations

import pytest

from executor.errors import FlowValidationError
from executor.flow import Flow

SCHEDULE_HOURLY = """
id: scheduled_flow
namespace: company.team

tasks:
  - id: log_hello_world
    type: io.kestra.plugin.core.log.Log
    message: Hello World! 🚀

triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@hourly"
"""

SCHEDULE_STOP_AFTER = """
id: business_critical_flow
namespace: company.team

tasks:
  - id: important_task
    type: io.kestra.plugin.core.log.Log
    message: "if this run fails, disable the schedule until the issue is fixed"

triggers:
  - id: stop_after_failed
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    stopAfter:
      - FAILED
"""

FLOW_AFTER_EXTRACT = """
id: transform
namespace: company.team

inputs:
  - id: date
    type: STRING
    defaults: "2025-01-01"

variables:
  result: |
    Ingestion done in {{ trigger.executionId }}.
    Now transforming data up to {{ inputs.date }}

tasks:
  - id: run_transform
    type: io.kestra.plugin.core.debug.Return
    format: "{{ render(vars.result) }}"

  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ render(vars.result) }}"

triggers:
  - id: run_after_extract
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      date: "{{ trigger.outputs.date }}"
    preconditions:
      id: flows
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS]
"""

FLOW_DEADLINE = """
id: silver_layer
namespace: company.team

tasks:
  - id: transform_data
    type: io.kestra.plugin.core.log.Log
    message: deduplication, cleaning, and minor aggregations

triggers:
  - id: flow_trigger
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: bronze_layer
      timeWindow:
        type: DAILY_TIME_DEADLINE
        deadline: "09:00:00"
      flows:
        - namespace: company.team
          flowId: bronze_layer
          states: [SUCCESS]
"""

WEBHOOK = """
id: webhook_flow
namespace: company.team

tasks:
  - id: log_hello_world
    type: io.kestra.plugin.core.log.Log
    message: Hello World! 🚀

triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: 4wjtkzwVGBM9yKnjm3yv8r
"""

WEBHOOK_CONDITION = """
id: condition_based_webhook_flow
namespace: company.team

tasks:
  - id: log_hello_world
    type: io.kestra.plugin.core.log.Log
    message: Hello World! 🚀

triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: 4wjtkzwVGBM9yKnjm3yv8r
    conditions:
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{ trigger.body.hello == 'world' }}"
"""


@pytest.mark.parametrize(
    "source",
    [
        SCHEDULE_HOURLY,
        SCHEDULE_STOP_AFTER,
        FLOW_AFTER_EXTRACT,
        FLOW_DEADLINE,
        WEBHOOK,
        WEBHOOK_CONDITION,
    ],
    ids=[
        "schedule-hourly",
        "schedule-stopAfter",
        "flow-after-extract",
        "flow-deadline",
        "webhook",
        "webhook-condition",
    ],
)
def test_kestra_trigger_examples_deploy_unchanged(source: str) -> None:
    flow = Flow.from_yaml(source)
    assert flow.triggers and flow.triggers[0].type.startswith("io.kestra.plugin.core.trigger.")


def _problems(trigger: str) -> list[str]:
    source = f"""
id: f
namespace: company.team
tasks:
  - id: a
    type: Log
    message: hi
triggers:
{trigger}
"""
    with pytest.raises(FlowValidationError) as info:
        Flow.from_yaml(source)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        # TriggerInterface: @Pattern("^[a-zA-Z0-9][a-zA-Z0-9_-]*")
        (
            "  - {id: _hook, type: Webhook, key: k}",
            "triggers[0].id: invalid id '_hook'",
        ),
        # Webhook: @NotNull key
        ("  - {id: hook, type: Webhook}", "triggers[0].key: missing required property 'key'"),
        # Webhook: @Size(max = 256) key
        (
            f"  - {{id: hook, type: Webhook, key: {'k' * 257}}}",
            "triggers[0].key: must be at most 256 characters",
        ),
        # WebhookValidator: no MultipleCondition
        (
            "  - {id: hook, type: Webhook, key: k, conditions: [{type: MultipleCondition}]}",
            "triggers[0].conditions[0]: invalid webhook: conditions of type MultipleCondition",
        ),
        # AbstractTrigger: boolean disabled
        (
            "  - {id: hook, type: Webhook, key: k, disabled: maybe}",
            "triggers[0].disabled: must be true or false, got 'maybe'",
        ),
        # AbstractTrigger: List<State.Type> stopAfter
        (
            "  - {id: s, type: Schedule, cron: '@daily', stopAfter: [FAILD]}",
            "triggers[0].stopAfter[0]: unknown state 'FAILD'",
        ),
        (
            "  - {id: s, type: Schedule, cron: '@daily', stopAfter: FAILED}",
            "triggers[0].stopAfter: must be a list of state names",
        ),
        # AbstractTrigger: labels, @NoSystemLabelValidation
        (
            "  - {id: s, type: Schedule, cron: '@daily', labels: {system.backfill: 'true'}}",
            "triggers[0].labels.system.backfill: labels starting with 'system.' are reserved",
        ),
        (
            "  - {id: s, type: Schedule, cron: '@daily', labels: [{value: x}]}",
            "triggers[0].labels[0]: a label must be {key, value}",
        ),
        (
            "  - {id: s, type: Schedule, cron: '@daily', labels: oops}",
            "triggers[0].labels: must be a map of labels or a list of {key, value}",
        ),
        # AbstractTrigger: List<Condition> conditions, each typed
        (
            "  - {id: f, type: Flow, conditions: [{namespace: x}]}",
            "triggers[0].conditions[0]: a condition needs a 'type'",
        ),
        # AbstractTrigger: org.slf4j.event.Level logLevel
        (
            "  - {id: f, type: Flow, logLevel: LOUD}",
            "triggers[0].logLevel: unknown level 'LOUD'",
        ),
        (
            "  - {id: f, type: Flow, description: [a]}",
            "triggers[0].description: must be text",
        ),
        (
            "  - {id: f, type: Flow, allowConcurrent: 'yes'}",
            "triggers[0].allowConcurrent: must be true or false",
        ),
    ],
)
def test_bad_trigger_properties_fail_the_deploy_with_their_path(
    trigger: str, expected: str
) -> None:
    problems = _problems(trigger)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_trigger_of_an_unknown_type_is_not_checked() -> None:
    """Kestra's other trigger plugins (polling, realtime) are stored as written."""
    flow = Flow.from_yaml(
        """
id: f
namespace: company.team
tasks: [{id: a, type: Log, message: hi}]
triggers:
  - {id: poll, type: io.kestra.plugin.aws.s3.Trigger, interval: PT1M, disabled: sometimes}
"""
    )
    assert flow.triggers[0].id == "poll"


def test_every_problem_of_a_trigger_is_listed_at_once() -> None:
    problems = _problems(
        "  - {id: 'a b', type: Webhook, disabled: 1, stopAfter: [X], labels: {system.k: v}}"
    )
    assert len(problems) >= 5, problems
