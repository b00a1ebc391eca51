"""Mail settings from the workspace config, completed by the SES_* variables of older setups.

An existing setup keeps its addresses in a dotenv file (such as a `repos.env`) and in the
environment. Only the handful of variables named here are read from either; the file may
hold credentials, so nothing else in it is kept, returned or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel, Field, SecretStr

from execbrief.config import MailConfig
from execbrief.errors import ConfigError
from execbrief.mail.addresses import check_header_value, validate_address

# Each setting's spellings, most specific first: the first one set wins (docs/MAIL.md).
FROM_VARS = ("SES_FROM_ADDRESS", "SES_SENDER_EMAIL")
BCC_VARS = ("SES_BCC_ADDRESS", "BCC_ADDRESS")
REGION_VARS = ("SES_REGION", "AWS_SES_REGION", "AWS_REGION")
TO_VARS = ("SES_TO_ADDRESS", "SES_RECIPIENTS", "RECIPIENT_EMAIL")
ACCESS_KEY_VAR, SECRET_KEY_VAR = "SES_ACCESS_KEY", "SES_SECRET_KEY"
KNOWN_VARS = FROM_VARS + BCC_VARS + REGION_VARS + TO_VARS + (ACCESS_KEY_VAR, SECRET_KEY_VAR)


class SesCredentials(BaseModel):
    """An older setup's SES-only key pair: handed to the SES client, never shown or written."""

    access_key_id: SecretStr
    secret_access_key: SecretStr
    origin: str = Field(description="Where the pair was read, e.g. `SES_ACCESS_KEY (repos.env)`.")


class MailSettings(BaseModel):
    """The mail config with its gaps filled, and where each filled value came from."""

    mail: MailConfig
    default_to: list[str] = Field(
        default_factory=list, description="Recipients from SES_TO_ADDRESS, for setups without."
    )
    origins: dict[str, str] = Field(
        default_factory=dict,
        description="Setting -> the variable and place it was read from, e.g. `SES_REGION (env)`.",
    )
    ses_credentials: SesCredentials | None = Field(
        None, exclude=True, repr=False, description="SES_ACCESS_KEY/SES_SECRET_KEY, if set."
    )


def resolve_mail_settings(
    config: MailConfig, root: Path, environ: Mapping[str, str]
) -> MailSettings:
    """Fill the settings config leaves empty: config, then environment, then env_file."""
    env_file = _env_file_values(config.env_file, root) if config.env_file else {}
    sources = (("env", environ), (_file_label(config.env_file), env_file))
    origins: dict[str, str] = {}

    def lookup(setting: str, names: tuple[str, ...]) -> str | None:
        # The more specific variable wins over the generic one (SES_REGION over
        # AWS_REGION); for one variable, the process environment wins over the file.
        for name in names:
            for label, values in sources:
                value = (values.get(name) or "").strip()
                if value:
                    origins[setting] = f"{name} ({label})"
                    return value
        return None

    sender = config.sender or lookup("from", FROM_VARS)
    bcc_audit = config.bcc_audit or lookup("bcc_audit", BCC_VARS)
    region = config.region or lookup("region", REGION_VARS)
    raw_to = lookup("default_to", TO_VARS) or ""

    mail = config.model_copy(
        update={
            "sender": _address(sender, "from", origins) if sender else None,
            "bcc_audit": _address(bcc_audit, "bcc_audit", origins) if bcc_audit else None,
            "region": region,
        }
    )
    parts = [part.strip() for part in raw_to.split(",")]
    default_to = [_address(part, "default_to", origins) for part in parts if part]
    return MailSettings(
        mail=mail,
        default_to=default_to,
        origins={k: v for k, v in origins.items() if not k.startswith("ses_")},
        ses_credentials=_credentials(lookup, origins),
    )


def _credentials(
    lookup: Callable[[str, tuple[str, ...]], str | None], origins: dict[str, str]
) -> SesCredentials | None:
    key_id = lookup("ses_access_key", (ACCESS_KEY_VAR,))
    secret = lookup("ses_secret_key", (SECRET_KEY_VAR,))
    if key_id is None and secret is None:
        return None
    if key_id is None or secret is None:
        have, missing = (
            (ACCESS_KEY_VAR, SECRET_KEY_VAR) if key_id else (SECRET_KEY_VAR, ACCESS_KEY_VAR)
        )
        raise ConfigError(
            f"{have} is set but {missing} is not",
            field=origins.get("ses_access_key") or origins.get("ses_secret_key"),
            hint=f"set both {ACCESS_KEY_VAR} and {SECRET_KEY_VAR}, or neither (then the AWS "
            "credential chain is used)",
        )
    return SesCredentials(
        access_key_id=SecretStr(key_id),
        secret_access_key=SecretStr(secret),
        origin=origins["ses_access_key"],
    )


def _env_file_values(env_file: Path, root: Path) -> dict[str, str]:
    path = env_file.expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise ConfigError(
            "mail.env_file not found",
            path=path,
            field="mail.env_file",
            hint="fix the path (relative to the workspace folder) or remove mail.env_file",
        )
    try:
        # interpolate=False: a `${...}` in the file must not pull in this process's
        # environment, and values are taken literally as the old setup wrote them.
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read mail.env_file: {exc}", path=path) from exc
    return {name: value for name, value in values.items() if name in KNOWN_VARS and value}


def _file_label(env_file: Path | None) -> str:
    return str(env_file) if env_file else "env_file"


def _address(value: str, setting: str, origins: Mapping[str, str]) -> str:
    check_header_value(setting, value)
    return validate_address(value, field=origins.get(setting, f"mail.{setting}"))
