"""boto3 clients for the mail side (SES, and the events' SNS and SQS), built one way."""

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
) -> Any:
    """A client in the mail region; endpoint_url is left alone so AWS_ENDPOINT_URL and the
    profile's endpoint settings apply. A missing region or profile is a ConfigError."""
    try:
        return session.client(service, region_name=region, config=config)
    except NoRegionError as exc:
        raise ConfigError(
            f"no AWS region for {purpose}",
            field="mail.region",
            hint="set mail.region, or SES_REGION / AWS_REGION in the environment",
        ) from exc
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot set up the {service} client: {exc}",
            hint="check AWS_PROFILE, AWS_ENDPOINT_URL and the AWS config files",
        ) from exc
