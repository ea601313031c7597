"""What a webhook call becomes in ``trigger.*`` (``executor.triggers.webhook``), as
Kestra's ``Webhook.evaluate`` builds it: ``tryMap``, then ``tryArray``, else the text;
headers and parameters as maps of lists; credentials masked."""

from __future__ import annotations

import pytest

from executor.encryption import MASK
from executor.errors import InputValidationError
from executor.flow import Flow
from executor.triggers.webhook import WebhookCall, match, parse_body, variables


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1, "b": true}', {"a": 1, "b": True}),
        (b"  [1, 2]", [1, 2]),
        (b"bla", "bla"),
        (b"", None),
        (b"42", "42"),  # JSON, but neither an object nor an array: text, as Kestra
        (b'"quoted"', '"quoted"'),
        (b"{not json", "{not json"),
        (b'{"s": "\\ud800"}', '{"s": "\\ud800"}'),  # a lone surrogate: kept as text
        (b"caf\xc3\xa9 \xff", "café \ufffd"),  # bytes that are not UTF-8 replaced
    ],
)
def test_body_is_object_array_or_text(raw: bytes, expected: object) -> None:
    assert parse_body(raw) == expected


def test_a_json_body_past_the_depth_bound_is_refused() -> None:
    with pytest.raises(InputValidationError, match="trigger.body: nested more than 100"):
        parse_body(b"[" * 101 + b"]" * 101)
    assert parse_body(b"[" * 100 + b"]" * 100) is not None


def test_headers_and_parameters_are_maps_of_lists_with_credentials_masked() -> None:
    call = WebhookCall(
        body=b"",
        headers=[
            ("Content-Type", "application/json"),
            ("X-Tag", "a"),
            ("x-tag", "b"),
            ("Authorization", "Bearer t0k"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("Cookie", "sid=1"),
            ("X-Api-Key", "k"),
            ("X-Auth-Token", "t"),
            ("X-Hub-Signature-256", "sha256=abc"),
        ],
        parameters=[("age", "12"), ("age", "13"), ("apiKey", "p"), ("password", "pw")],
    )
    out = variables(call)
    assert out["headers"] == {
        "content-type": ["application/json"],
        "x-tag": ["a", "b"],
        "authorization": [MASK],
        "proxy-authorization": [MASK],
        "cookie": [MASK],
        "x-api-key": [MASK],
        "x-auth-token": [MASK],
        "x-hub-signature-256": ["sha256=abc"],  # a MAC of the body, not a credential
    }
    assert out["parameters"] == {"age": ["12", "13"], "apiKey": [MASK], "password": [MASK]}


def _flow(*keys: str) -> Flow:
    triggers = "\n".join(
        f"  - {{id: h{i}, type: Webhook, key: {key!r}}}" for i, key in enumerate(keys)
    )
    return Flow.from_yaml(
        f"id: f\nnamespace: n\ntasks: [{{id: a, type: Log, message: hi}}]\ntriggers:\n{triggers}\n"
    )


def test_match_finds_the_webhook_by_its_rendered_trimmed_key() -> None:
    flow = _flow("first", " {{ flow.id }}-x ", "third")
    assert match(flow, "third").id == "h2"  # type: ignore[union-attr]
    assert match(flow, "f-x").id == "h1"  # type: ignore[union-attr]
    assert match(flow, "firs") is None
    assert match(flow, "first ") is None
    assert match(flow, "") is None
