"""A secret typed where its environment variable's name belongs (``password_env``, any
``*_env`` key) is refused when the config is loaded, and never repeated: not on the
terminal, not in the JSON logs, not in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from pipeline.config import parse_config
from tests.unit.cli_support import invoke

SECRETS = ["hunter2 S3cret!", "Passw0rd", "correcthorsebatterystaple", "p@ss:word/1",
           "12345678", "GOVWATCH-PASSWORD"]


def config_with(database: Path, password_env: str) -> str:
    return (f"database: '{database}'\n"
            "organizations:\n  - id: o\n    name: O\n    monitors:\n"
            "      - {id: m, kind: page, url: 'http://127.0.0.1:9/'}\n"
            "notifications:\n  email:\n    smtp:\n      host: 127.0.0.1\n"
            f"      username: govwatch\n      password_env: '{password_env}'\n"
            "    from: govwatch@example.org\n    to: [a@example.org]\n")


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("command", ["check-config", "run", "daemon"])
@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_a_secret_in_password_env_is_refused_and_never_shown(
    secret: str, command: str, log_format: str, tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    database = tmp_path / "gw.db"
    config.write_text(config_with(database, secret), encoding="utf-8")
    result = invoke("--log-format", log_format, "--config", str(config), command)
    assert result.exit_code == 2, result.output
    assert "notifications.email.smtp.password_env: must be the name of an environment " \
           "variable" in result.stderr
    assert f"{config}:12:" in result.stderr, "the line is named"
    assert "the value given is not shown" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert not database.exists(), "nothing ran, so nothing could store it"


def test_an_upper_case_variable_name_is_accepted() -> None:
    config = parse_config(config_with(Path("gw.db"), "GOVWATCH_SMTP_PASSWORD"))
    assert config.notifications.email is not None
    assert config.notifications.email.smtp.password_env == "GOVWATCH_SMTP_PASSWORD"


def test_a_non_string_secret_is_not_shown_either() -> None:
    text = config_with(Path("gw.db"), "x").replace("password_env: 'x'",
                                                   "password_env: [s3cr3tvalue]")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "password_env: must be the name" in str(caught.value)
    assert "s3cr3tvalue" not in str(caught.value)
