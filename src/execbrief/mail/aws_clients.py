"""boto3 clients for the mail side (SES, the events' SNS and SQS, the DynamoDB send
ledger), built one way."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, NoRegionError

from execbrief.errors import ConfigError


def mail_client(
    session: boto3.Session,
    service: str,
    region: str | None,
    *,
    purpose: str,
    config: Config | None = None,
    field: str = "mail.region",
) -> Any:
    """A client in the mail region; endpoint_url is left alone so AWS_ENDPOINT_URL and the
    profile's endpoint settings apply. A missing region or profile is a ConfigError."""
    try:
        return session.client(service, region_name=region, config=config)
    except NoRegionError as exc:
        variables = "SES_REGION / AWS_REGION" if field == "mail.region" else "AWS_REGION"
        raise ConfigError(
            f"no AWS region for {purpose}",
            field=field,
            hint=f"set {field}, or {variables} in the environment",
        ) from exc
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot set up the {service} client: {exc}",
            hint="check AWS_PROFILE, AWS_ENDPOINT_URL and the AWS config files",
        ) from exc
