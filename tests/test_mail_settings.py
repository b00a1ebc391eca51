"""Mail settings: config first, then the environment, then the old setup's env file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from execbrief.config import MailConfig
from execbrief.errors import ConfigError
from execbrief.mail.settings import MailSettings, resolve_mail_settings

REPOS_ENV = """\
# an existing setup's file: credentials sit beside the addresses
AWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE12
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
SES_FROM_ADDRESS=reports@example.com
SES_TO_ADDRESS=ceo@example.com, cfo@example.com,
SES_BCC_ADDRESS=audit@example.com
SES_REGION=us-west-2
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "repos.env").write_text(REPOS_ENV)
    return tmp_path


def test_env_file_fills_empty_settings(workspace: Path) -> None:
    config = MailConfig(transport="ses", env_file=Path("repos.env"))

    settings = resolve_mail_settings(config, workspace, environ={})

    assert settings == MailSettings(
        mail=config.model_copy(
            update={
                "sender": "reports@example.com",
                "bcc_audit": "audit@example.com",
                "region": "us-west-2",
            }
        ),
        default_to=["ceo@example.com", "cfo@example.com"],
        origins={
            "from": "SES_FROM_ADDRESS (repos.env)",
            "bcc_audit": "SES_BCC_ADDRESS (repos.env)",
            "region": "SES_REGION (repos.env)",
            "default_to": "SES_TO_ADDRESS (repos.env)",
        },
    )


def test_other_variables_of_the_env_file_are_never_returned(workspace: Path) -> None:
    config = MailConfig(env_file=Path("repos.env"))

    dumped = resolve_mail_settings(config, workspace, environ={}).model_dump_json()

    assert "AKIAEXAMPLE" not in dumped
    assert "wJalrXUtnFEMI" not in dumped


def test_env_file_is_not_loaded_into_the_process_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SES_FROM_ADDRESS", raising=False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)

    resolve_mail_settings(MailConfig(env_file=Path("repos.env")), workspace, environ={})

    assert "SES_FROM_ADDRESS" not in os.environ
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_process_environment_wins_over_env_file(workspace: Path) -> None:
    environ = {"SES_FROM_ADDRESS": "ops@example.org", "SES_TO_ADDRESS": "board@example.org"}

    settings = resolve_mail_settings(
        MailConfig(env_file=Path("repos.env")), workspace, environ=environ
    )

    assert settings.mail.sender == "ops@example.org"
    assert settings.default_to == ["board@example.org"]
    assert settings.mail.bcc_audit == "audit@example.com"
    assert settings.origins["from"] == "SES_FROM_ADDRESS (env)"


def test_config_wins_over_environment_and_env_file(workspace: Path) -> None:
    config = MailConfig.model_validate(
        {
            "from": "briefs@example.net",
            "bcc_audit": "records@example.net",
            "region": "eu-west-1",
            "env_file": "repos.env",
        }
    )
    environ = {"SES_FROM_ADDRESS": "ops@example.org", "SES_REGION": "us-east-1"}

    settings = resolve_mail_settings(config, workspace, environ=environ)

    assert settings.mail.sender == "briefs@example.net"
    assert settings.mail.bcc_audit == "records@example.net"
    assert settings.mail.region == "eu-west-1"
    assert "from" not in settings.origins


def test_ses_region_wins_over_aws_region(tmp_path: Path) -> None:
    (tmp_path / "ses.env").write_text("SES_REGION=us-west-2\n")
    config = MailConfig(env_file=Path("ses.env"))

    settings = resolve_mail_settings(config, tmp_path, environ={"AWS_REGION": "us-east-1"})

    assert settings.mail.region == "us-west-2"


def test_aws_region_fills_region_without_ses_region(tmp_path: Path) -> None:
    settings = resolve_mail_settings(MailConfig(), tmp_path, environ={"AWS_REGION": "ap-south-1"})

    assert settings.mail.region == "ap-south-1"
    assert settings.origins == {"region": "AWS_REGION (env)"}


def test_without_env_file_or_variables_nothing_is_filled(tmp_path: Path) -> None:
    config = MailConfig()

    assert resolve_mail_settings(config, tmp_path, environ={}) == MailSettings(mail=config)


def test_absolute_env_file_path_is_used_as_is(tmp_path: Path, workspace: Path) -> None:
    config = MailConfig(env_file=workspace / "repos.env")

    settings = resolve_mail_settings(config, tmp_path / "elsewhere", environ={})

    assert settings.mail.sender == "reports@example.com"


def test_missing_env_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    config = MailConfig(env_file=Path("missing/repos.env"))

    with pytest.raises(ConfigError, match=r"mail\.env_file not found") as caught:
        resolve_mail_settings(config, tmp_path, environ={})
    assert caught.value.path == str(tmp_path / "missing" / "repos.env")


def test_bad_address_in_env_file_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "repos.env").write_text("SES_BCC_ADDRESS=audit-at-example.com\n")
    config = MailConfig(env_file=Path("repos.env"))

    with pytest.raises(ConfigError, match=r"audit-at-example\.com") as caught:
        resolve_mail_settings(config, tmp_path, environ={})
    assert caught.value.field == "SES_BCC_ADDRESS (repos.env)"


def test_header_injection_through_environment_is_refused(tmp_path: Path) -> None:
    environ = {"SES_FROM_ADDRESS": "reports@example.com\r\nBcc: spy@evil.example"}

    with pytest.raises(ConfigError, match="may not contain a line break"):
        resolve_mail_settings(MailConfig(), tmp_path, environ=environ)


def test_older_spellings_fill_the_same_settings_and_the_first_spelling_wins(
    tmp_path: Path,
) -> None:
    (tmp_path / "repos.env").write_text(
        "SES_SENDER_EMAIL=old@corp.dev\nSES_RECIPIENTS=a@corp.dev,b@corp.dev\n"
        "RECIPIENT_EMAIL=ignored@corp.dev\nBCC_ADDRESS=audit@corp.dev\nAWS_SES_REGION=eu-west-1\n"
    )
    environ = {"AWS_REGION": "us-east-1", "SES_FROM_ADDRESS": "new@corp.dev"}

    settings = resolve_mail_settings(MailConfig(env_file=Path("repos.env")), tmp_path, environ)

    assert settings.mail.sender == "new@corp.dev"
    assert settings.default_to == ["a@corp.dev", "b@corp.dev"]
    assert settings.mail.bcc_audit == "audit@corp.dev"
    assert settings.mail.region == "eu-west-1"  # AWS_SES_REGION outranks AWS_REGION
    assert settings.origins == {
        "from": "SES_FROM_ADDRESS (env)",
        "default_to": "SES_RECIPIENTS (repos.env)",
        "bcc_audit": "BCC_ADDRESS (repos.env)",
        "region": "AWS_SES_REGION (repos.env)",
    }


def test_ses_only_keys_are_kept_as_secrets_and_never_dumped(tmp_path: Path) -> None:
    (tmp_path / "repos.env").write_text("SES_ACCESS_KEY=AKIAQQQ\nSES_SECRET_KEY=s3cr3tvalue\n")

    settings = resolve_mail_settings(MailConfig(env_file=Path("repos.env")), tmp_path, {})

    assert settings.ses_credentials is not None
    assert settings.ses_credentials.secret_access_key.get_secret_value() == "s3cr3tvalue"
    for shown in (settings.model_dump_json(), repr(settings), str(settings)):
        assert "s3cr3tvalue" not in shown and "AKIAQQQ" not in shown
