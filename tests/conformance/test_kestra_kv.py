"""Kestra's KV store: the tasks of ``io.kestra.plugin.core.kv`` and the ``kv()`` function.

Each case is a flow in Kestra's YAML run on real workers through the ``run`` fixture.
"""

from __future__ import annotations

import uuid

from executor import Client
from executor.kv import KVType, encode
from executor.state import StateType


def _ns() -> str:
    return f"io.kestra.tests.kv{uuid.uuid4().hex[:8]}"


def test_kv_function_reads_a_json_value(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    # core/src/test/java/io/kestra/core/runners/pebble/functions/KvFunctionTest.java#get,
    # flow core/src/test/resources/flows/valids/kv.yaml
    ns = _ns()
    client.store.kv_set(ns, "my-key", KVType.JSON, encode({"field": "value"}))
    done = run(f"""
id: kv
namespace: {ns}
inputs:
  - id: namespace
    type: STRING
    required: false
    defaults: "{ns}"
  - id: errorOnMissing
    type: BOOLEAN
    required: false
    defaults: false
tasks:
  - id: get
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ kv('my-key').field }}}}"
  - id: getWithArgs
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ kv('my-key', inputs.namespace, inputs.errorOnMissing).field }}}}"
""")
    assert done.state.current == StateType.SUCCESS
    assert done.task_run("get").outputs["value"] == "value"
    assert done.task_run("getWithArgs").outputs["value"] == "value"


def test_kv_function_error_on_missing_fails_the_task(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    # KvFunctionTest.java#getKeyNotFound: a missing key prints as empty, and with
    # errorOnMissing the task run fails with Kestra's message
    ns = _ns()
    done = run(f"""
id: kv
namespace: {ns}
tasks:
  - id: get
    type: io.kestra.plugin.core.debug.Return
    format: "[{{{{ kv('my-key') }}}}]"
  - id: getWithArgs
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ kv('my-key', '{ns}', true).field }}}}"
""")
    assert done.state.current == StateType.FAILED
    # Kestra's flow is format "{{ kv('my-key') }}" giving "": here a lone null expression
    # is a null format (refused), so the null is printed inside brackets
    assert done.task_run("get").outputs["value"] == "[]"
    failed = done.task_run("getWithArgs")
    assert failed.state.current == StateType.FAILED
    messages = " ".join(e.message for e in client.logs(done.id) if e.task_run_id == failed.id)
    assert f"The key 'my-key' does not exist in the namespace '{ns}'." in messages


def test_set_get_getkeys_delete_round_trip(run) -> None:  # type: ignore[no-untyped-def]
    # plugin/core/kv/SetTest.java#typeSpecified, GetTest.java, GetKeysTest.java,
    # DeleteTest.java: typed values set, read back by Get and kv(), listed, deleted
    ns = _ns()
    done = run(f"""
id: kv_round_trip
namespace: {ns}
tasks:
  - id: set_number
    type: io.kestra.plugin.core.kv.Set
    key: my_number
    value: "123.45"
    kvType: NUMBER
  - id: set_bool
    type: io.kestra.plugin.core.kv.Set
    key: my_bool
    value: "true"
    kvType: BOOLEAN
  - id: set_json
    type: io.kestra.plugin.core.kv.Set
    key: other_json
    value: '[{{"some":"value"}},{{"another":"value"}}]'
    kvType: JSON
    ttl: PT5M
  - id: get_number
    type: io.kestra.plugin.core.kv.Get
    key: my_number
  - id: get_json
    type: io.kestra.plugin.core.kv.Get
    key: other_json
    namespace: {ns}
  - id: fn
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ kv('my_bool') }}}} {{{{ kv('other_json')[1].another }}}}"
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: my_
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: my_number
  - id: delete_again
    type: io.kestra.plugin.core.kv.Delete
    key: my_number
  - id: get_missing
    type: io.kestra.plugin.core.kv.Get
    key: my_number
""")
    assert done.state.current == StateType.SUCCESS, done
    assert done.task_run("get_number").outputs["value"] == 123.45
    assert done.task_run("get_json").outputs["value"] == [
        {"some": "value"},
        {"another": "value"},
    ]
    assert done.task_run("fn").outputs["value"] == "true value"
    assert sorted(done.task_run("keys").outputs["keys"]) == ["my_bool", "my_number"]
    assert done.task_run("delete").outputs["deleted"] is True
    assert done.task_run("delete_again").outputs["deleted"] is False
    assert done.task_run("get_missing").outputs.get("value") is None


def test_set_overwrite_false_fails_on_an_existing_key(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    # SetTest.java#shouldFailGivenExistingKeyAndOverwriteFalse
    ns = _ns()
    client.store.kv_set(ns, "test-key", KVType.STRING, encode("old"))
    done = run(f"""
id: kv_overwrite
namespace: {ns}
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: test-key
    value: new
    overwrite: false
""")
    assert done.state.current == StateType.FAILED
    messages = " ".join(e.message for e in client.logs(done.id))
    assert (
        "Cannot set value for key 'test-key'. Key already exists and `overwrite` is set to "
        "`false`." in messages
    )
    record = client.store.kv_get(ns, "test-key")
    assert record is not None and record.value == '"old"'


def test_get_and_delete_error_on_missing(run) -> None:  # type: ignore[no-untyped-def]
    # GetTest.java / DeleteTest.java: errorOnMissing fails with Kestra's message
    ns = _ns()
    done = run(f"""
id: kv_missing
namespace: {ns}
tasks:
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: absent
    errorOnMissing: true
""")
    assert done.state.current == StateType.FAILED
    done = run(f"""
id: kv_missing_delete
namespace: {ns}
tasks:
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: absent
    errorOnMissing: true
""")
    assert done.state.current == StateType.FAILED
