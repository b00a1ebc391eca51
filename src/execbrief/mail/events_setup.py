"""`execbrief events --setup`: the AWS resources SES event publishing needs, made idempotently.

The ordinary set-up: the configuration set the ses transport names on every send, an
event destination on it for send, delivery, bounce, complaint, reject and delivery-delay
events, an SNS topic it publishes to, an SQS queue subscribed to the topic (with a queue
policy letting only that topic send to it), and a dead-letter queue the queue hands a
message to after it was received a few times without being deleted. Each step first
looks for what exists; running it again creates nothing. These calls need more rights
than a scheduled run has: they are for an operator, once (docs/MAIL.md).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from execbrief.config import MailConfig
from execbrief.errors import ConfigError
from execbrief.mail.events import aws_client, aws_failed, events_queue

# SES v1 spells the types in lower camel case; these are the kinds execbrief records.
MATCHING_EVENT_TYPES = ["send", "delivery", "bounce", "complaint", "reject", "deliveryDelay"]
MAX_RECEIVES = 5  # then SQS moves an unmatched or malformed message to the dead letters
DLQ_SUFFIX = "-dead-letter"


class SetupStep(BaseModel):
    """One resource of the set-up and whether this run created it or found it."""

    resource: str
    name: str
    action: Literal["created", "found", "updated"]


def setup_events(mail: MailConfig, session: boto3.Session | None = None) -> list[SetupStep]:
    """Create whatever of the event publishing chain is missing; returns every step."""
    if not mail.configuration_set:
        raise ConfigError(
            "no SES configuration set is configured",
            field="mail.configuration_set",
            hint="set mail.configuration_set (e.g. execbrief) before `execbrief events --setup`",
        )
    queue = events_queue(mail)
    sesv2, ses = aws_client("sesv2", mail, session), aws_client("ses", mail, session)
    sns, sqs = aws_client("sns", mail, session), aws_client("sqs", mail, session)
    steps = [_configuration_set(sesv2, mail.configuration_set)]
    topic_arn, step = _topic(sns, queue)
    steps.append(step)
    dlq_url, step = _queue(sqs, queue + DLQ_SUFFIX, {})
    steps.append(step)
    redrive = {"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": MAX_RECEIVES}
    queue_url, step = _queue(sqs, queue, {"RedrivePolicy": json.dumps(redrive)})
    steps.append(step)
    queue_arn = _queue_arn(sqs, queue_url)
    steps.append(_queue_policy(sqs, queue_url, queue_arn, topic_arn))
    steps.append(_subscription(sns, topic_arn, queue_arn))
    steps.append(_event_destination(ses, mail.configuration_set, queue, topic_arn))
    return steps


def _call(client: Any, action: str, operation: str, **params: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = getattr(client, operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        raise aws_failed(action, exc) from exc
    return answer


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _configuration_set(sesv2: Any, name: str) -> SetupStep:
    try:
        sesv2.get_configuration_set(ConfigurationSetName=name)
        return SetupStep(resource="SES configuration set", name=name, action="found")
    except ClientError as exc:
        if _code(exc) != "NotFoundException":
            raise aws_failed("ses:GetConfigurationSet", exc) from exc
    except BotoCoreError as exc:
        raise aws_failed("ses:GetConfigurationSet", exc) from exc
    _call(
        sesv2, "ses:CreateConfigurationSet", "create_configuration_set", ConfigurationSetName=name
    )
    return SetupStep(resource="SES configuration set", name=name, action="created")


def _topic(sns: Any, name: str) -> tuple[str, SetupStep]:
    try:
        for page in sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if str(topic["TopicArn"]).rsplit(":", 1)[-1] == name:
                    found = str(topic["TopicArn"])
                    return found, SetupStep(resource="SNS topic", name=found, action="found")
    except (ClientError, BotoCoreError) as exc:
        raise aws_failed("sns:ListTopics", exc) from exc
    arn = str(_call(sns, "sns:CreateTopic", "create_topic", Name=name)["TopicArn"])
    return arn, SetupStep(resource="SNS topic", name=arn, action="created")


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, SetupStep]:
    resource = "SQS dead-letter queue" if name.endswith(DLQ_SUFFIX) else "SQS queue"
    try:
        url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return url, SetupStep(resource=resource, name=name, action="found")
    except ClientError as exc:
        if _code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise aws_failed("sqs:GetQueueUrl", exc) from exc
    except BotoCoreError as exc:
        raise aws_failed("sqs:GetQueueUrl", exc) from exc
    answer = _call(sqs, "sqs:CreateQueue", "create_queue", QueueName=name, Attributes=attributes)
    return str(answer["QueueUrl"]), SetupStep(resource=resource, name=name, action="created")


def _queue_arn(sqs: Any, url: str) -> str:
    answer = _call(
        sqs,
        "sqs:GetQueueAttributes",
        "get_queue_attributes",
        QueueUrl=url,
        AttributeNames=["QueueArn"],
    )
    return str(answer["Attributes"]["QueueArn"])


def queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """The queue policy: only the events topic may send to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "execbrief-events-from-sns",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }


def _queue_policy(sqs: Any, url: str, queue_arn: str, topic_arn: str) -> SetupStep:
    answer = _call(
        sqs,
        "sqs:GetQueueAttributes",
        "get_queue_attributes",
        QueueUrl=url,
        AttributeNames=["Policy"],
    )
    wanted = queue_policy(queue_arn, topic_arn)
    current = answer.get("Attributes", {}).get("Policy")
    if current and json.loads(current) == wanted:
        return SetupStep(resource="SQS queue policy", name=queue_arn, action="found")
    _call(
        sqs,
        "sqs:SetQueueAttributes",
        "set_queue_attributes",
        QueueUrl=url,
        Attributes={"Policy": json.dumps(wanted)},
    )
    action: Literal["created", "updated"] = "updated" if current else "created"
    return SetupStep(resource="SQS queue policy", name=queue_arn, action=action)


def _subscription(sns: Any, topic_arn: str, queue_arn: str) -> SetupStep:
    try:
        pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        for page in pages:
            for sub in page.get("Subscriptions", []):
                if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue_arn:
                    return SetupStep(
                        resource="SNS subscription",
                        name=str(sub["SubscriptionArn"]),
                        action="found",
                    )
    except (ClientError, BotoCoreError) as exc:
        raise aws_failed("sns:ListSubscriptionsByTopic", exc) from exc
    answer = _call(
        sns,
        "sns:Subscribe",
        "subscribe",
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        ReturnSubscriptionArn=True,
    )
    return SetupStep(
        resource="SNS subscription", name=str(answer["SubscriptionArn"]), action="created"
    )


def _event_destination(ses: Any, configuration_set: str, name: str, topic_arn: str) -> SetupStep:
    # SES v1 and v2 address the same configuration sets; the event destination goes
    # through v1 because moto, the server the tests run against, implements only v1's.
    # Named like the queue, so workspaces sharing a configuration set each add their own.
    answer = _call(
        ses,
        "ses:DescribeConfigurationSet",
        "describe_configuration_set",
        ConfigurationSetName=configuration_set,
        ConfigurationSetAttributeNames=["eventDestinations"],
    )
    label = f"{configuration_set}/{name}"
    for destination in answer.get("EventDestinations") or []:
        if destination and destination.get("Name") == name:
            return SetupStep(resource="SES event destination", name=label, action="found")
    _call(
        ses,
        "ses:CreateConfigurationSetEventDestination",
        "create_configuration_set_event_destination",
        ConfigurationSetName=configuration_set,
        EventDestination={
            "Name": name,
            "Enabled": True,
            "MatchingEventTypes": MATCHING_EVENT_TYPES,
            "SNSDestination": {"TopicARN": topic_arn},
        },
    )
    return SetupStep(resource="SES event destination", name=label, action="created")
