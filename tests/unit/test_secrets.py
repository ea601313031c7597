"""Secret providers, Kestra's Base64 rules, masking, and SECRET input encryption."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.encryption import decrypt, encrypt, parse_key
from executor.errors import InputValidationError, SecretError, SecretNotFound, TemplateError
from executor.inputs import InputDef, resolve_inputs
from executor.pebble.runtime import RenderRuntime, using
from executor.secrets import (
    MASK,
    EnvSecretProvider,
    FileSecretProvider,
    Masker,
    SecretInputs,
    provider_from_settings,
    resolver,
)
from executor.settings import get_settings
from executor.templating import render

KEY_B64 = base64.b64encode(b"k" * 32).decode()


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment changes seen by get_settings() within the test."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


# --------------------------------------------------------------------------- env provider


def test_env_provider_decodes_base64_and_ignores_name_case() -> None:
    p = EnvSecretProvider({"SECRET_MY_SECRET": b64("s3cr3t"), "OTHER": b64("x")})
    assert p.get("my_secret") == "s3cr3t"
    assert p.get("MY_SECRET") == "s3cr3t"
    assert p.get("OTHER") is None  # only SECRET_* variables are secrets


def test_env_provider_lower_case_variable_name() -> None:
    # Kestra upper-cases the name after SECRET_ when it reads the environment.
    assert EnvSecretProvider({"SECRET_db_pass": b64("pw")}).get("DB_PASS") == "pw"


def test_env_provider_ignores_line_breaks_and_missing_padding() -> None:
    encoded = b64("a long secret value, long enough to wrap")
    wrapped = encoded[:20] + "\n" + encoded[20:40] + "\r\n" + encoded[40:]
    assert EnvSecretProvider({"SECRET_W": wrapped}).get("w") == (
        "a long secret value, long enough to wrap"
    )
    assert EnvSecretProvider({"SECRET_P": b64("ab").rstrip("=")}).get("p") == "ab"


def test_env_provider_multiline_value() -> None:
    assert EnvSecretProvider({"SECRET_M": b64("line1\nline2")}).get("m") == "line1\nline2"


def test_env_provider_refuses_invalid_base64_naming_the_variable() -> None:
    with pytest.raises(SecretError, match="SECRET_BAD is not valid Base64"):
        EnvSecretProvider({"SECRET_BAD": "not base64!"}).get("bad")


# --------------------------------------------------------------------------- file provider


def test_file_provider_reads_one_file_per_name(tmp_path: Path) -> None:
    (tmp_path / "API_TOKEN").write_text("tok-123\n")
    (tmp_path / "raw").write_text("no newline")
    p = FileSecretProvider(tmp_path)
    assert p.get("api_token") == "tok-123"
    assert p.get("RAW") == "no newline"
    assert p.get("missing") is None


def test_file_provider_never_follows_a_path_in_the_name(tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("nope")
    inner = tmp_path / "secrets"
    inner.mkdir()
    assert FileSecretProvider(inner).get("../outside") is None


def test_file_provider_without_directory(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="does not exist"):
        FileSecretProvider(tmp_path / "absent").get("x")


def test_provider_chosen_by_settings(settings_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "only_file").write_text("from-file")
    settings_env.setenv("SECRET_ONLY_ENV", b64("from-env"))
    settings_env.setenv("OSTRA_SECRETS", "env,file")
    settings_env.setenv("OSTRA_SECRETS_DIR", str(tmp_path))
    chain = provider_from_settings()
    assert chain.get("only_env") == "from-env"
    assert chain.get("only_file") == "from-file"
    assert provider_from_settings("file").get("only_env") is None


def test_file_provider_needs_its_directory(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("OSTRA_SECRETS_DIR", raising=False)
    with pytest.raises(SecretError, match="OSTRA_SECRETS_DIR is not set"):
        provider_from_settings("file")
    with pytest.raises(SecretError, match="unknown secret provider 'vault'"):
        provider_from_settings("vault")


# --------------------------------------------------------------------------- secret()


def test_secret_function_resolves_and_reports_the_value() -> None:
    seen: list[str] = []
    rt = RenderRuntime(
        secret=resolver(EnvSecretProvider({"SECRET_PW": b64("hunter2")})), on_secret=seen.append
    )
    with using(rt):
        assert render("pw={{ secret('pw') }}", {}) == "pw=hunter2"
    assert seen == ["hunter2"]


def test_unknown_secret_names_the_secret_and_the_provider() -> None:
    rt = RenderRuntime(secret=resolver(EnvSecretProvider({})))
    with using(rt), pytest.raises(TemplateError) as e:
        render("{{ secret('unknown_secret_key') }}", {})
    assert "Cannot find secret for key 'unknown_secret_key'" in str(e.value)
    assert "environment variables SECRET_*" in str(e.value)
    with pytest.raises(SecretNotFound):
        resolver(EnvSecretProvider({}))("x")


def test_secret_outside_a_worker_render_is_refused() -> None:
    with pytest.raises(TemplateError, match="can only be rendered by a worker"):
        render("{{ secret('pw') }}", {})


# --------------------------------------------------------------------------- masking


def test_masking_replaces_substrings_longest_first() -> None:
    m = Masker(["abc", "abcdef", ""])
    assert m.mask("x abcdef y abc z") == f"x {MASK} y {MASK} z"
    assert m.mask("nothing here") == "nothing here"
    assert m.mask_value({"k abc": ["abcdef", 3, {"n": "-abc-"}]}) == {
        f"k {MASK}": [MASK, 3, {"n": f"-{MASK}-"}]
    }


def test_masking_the_string_leaves_of_a_json_secret() -> None:
    m = Masker()
    m.add('{"user":"admin-x","pass":"p4ssw0rd","n":12345,"tag":"ab"}')
    assert m.mask("login admin-x / p4ssw0rd") == f"login {MASK} / {MASK}"
    assert m.mask("12345 ab") == "12345 ab"  # numbers and short leaves stay


def test_empty_masker_changes_nothing() -> None:
    m = Masker()
    assert not m
    assert m.mask("abc") == "abc"
    m.add("")
    assert not m


# --------------------------------------------------------------------------- encryption


def test_encryption_round_trip_with_a_random_iv() -> None:
    key = parse_key(KEY_B64)
    a, b = encrypt(key, "password"), encrypt(key, "password")
    assert a != b and "password" not in a
    assert decrypt(key, a) == decrypt(key, b) == "password"
    # Kestra's layout: Base64 of a 12-byte IV, the ciphertext, then a 16-byte tag.
    assert len(base64.b64decode(a)) == 12 + len("password") + 16


def test_decrypt_with_another_key_fails_clearly() -> None:
    sealed = encrypt(parse_key(KEY_B64), "password")
    other = parse_key(base64.b64encode(b"o" * 16).decode())
    with pytest.raises(SecretError, match="does not decrypt"):
        decrypt(other, sealed)


def test_bad_keys_are_refused() -> None:
    with pytest.raises(SecretError, match="16, 24 or 32 bytes, got 5"):
        parse_key(base64.b64encode(b"short").decode())
    with pytest.raises(SecretError, match="not valid Base64"):
        parse_key("%%%")


SECRET_DEF = InputDef.model_validate({"id": "password", "type": "SECRET"})
PLAIN_DEF = InputDef.model_validate({"id": "user", "type": "STRING"})


def test_secret_inputs_are_encrypted_when_resolved(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("OSTRA_ENCRYPTION_KEY", KEY_B64)
    values = resolve_inputs([SECRET_DEF, PLAIN_DEF], {"password": "hunter2", "user": "bob"})
    assert values["user"] == "bob"
    assert values["password"] != "hunter2"
    assert decrypt(parse_key(KEY_B64), values["password"]) == "hunter2"
    # An already encrypted value (a replay, a subflow given its parent's) is kept.
    again = resolve_inputs([SECRET_DEF], {"password": values["password"]})
    assert again["password"] == values["password"]
    # Checking only does not encrypt.
    assert resolve_inputs([SECRET_DEF], {"password": "x"}, seal=False) == {"password": "x"}


def test_secret_inputs_refused_without_a_key(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("OSTRA_ENCRYPTION_KEY", raising=False)
    with pytest.raises(InputValidationError) as e:
        resolve_inputs([SECRET_DEF, PLAIN_DEF], {"password": "hunter2", "user": "bob"})
    assert [p.path for p in e.value.problems] == ["inputs.password"]
    assert "OSTRA_ENCRYPTION_KEY" in str(e.value)
    assert "hunter2" not in str(e.value)
    # A flow whose SECRET input is not given needs no key.
    optional = InputDef.model_validate({"id": "p", "type": "SECRET", "required": False})
    assert resolve_inputs([optional], {}) == {"p": None}


def test_worker_view_of_inputs_decrypts_and_reports() -> None:
    key = parse_key(KEY_B64)
    seen: list[str] = []
    stored = {"password": encrypt(key, "hunter2"), "user": "bob", "tokens": [encrypt(key, "t1")]}
    view = SecretInputs(stored, frozenset({"password", "tokens"}), key, seen.append)
    assert render("{{ inputs.user }}:{{ inputs.password }}", {"inputs": view}) == "bob:hunter2"
    assert view["tokens"] == ["t1"]
    assert seen == ["hunter2", "t1"]
    no_key = SecretInputs(stored, frozenset({"password"}), None, seen.append)
    with pytest.raises(TemplateError, match="OSTRA_ENCRYPTION_KEY is not set on this worker"):
        render("{{ inputs.password }}", {"inputs": no_key})
