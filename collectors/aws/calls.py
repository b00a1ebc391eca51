"""Calling AWS for the inventory: shared clients, paging, and failures turned into gaps.

Every call the inventory makes goes through `ServiceCalls`, which knows the IAM action
behind each operation, so a denied, opt-in, unreachable or unimplemented call becomes a
`SnapshotGap` that names what to grant or fix, and never an exception that could stop
the other services.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    UnknownEndpointError,
)

from .snapshot import Problem, SnapshotGap

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
Response = dict[str, Any]

# Adaptive mode adds client-side rate limiting on throttling to the standard retries.
# The attempt count and the endpoint are left to the standard settings (AWS_MAX_ATTEMPTS,
# AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>), so moto or LocalStack work unchanged.
BOTO_CONFIG = Config(
    retries={"mode": "adaptive"},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="execbrief-aws-inventory",
)

_ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "Forbidden",
    }
)
# Signature and token failures: the credentials themselves are wrong, not a permission.
_CREDENTIALS_REJECTED = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
_OPT_IN = frozenset({"OptInRequired", "SubscriptionRequiredException"})
# A disabled opt-in region rejects otherwise valid credentials with these codes.
_REGION_NOT_ENABLED = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"}
)
_UNSUPPORTED = frozenset(
    {"UnknownOperationException", "InvalidAction", "NotImplemented", "UnsupportedOperation"}
)

# Operations whose IAM action is not `<signing name>:<operation>`.
_S3_ACTIONS = {
    "ListBuckets": "s3:ListAllMyBuckets",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "GetBucketLogging": "s3:GetBucketLogging",
    "ListObjectsV2": "s3:ListBucket",
}
# S3 Control's account-level calls carry the account's name for the action.
_S3CONTROL_ACTIONS = {"GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock"}


def iam_action(service: str, signing_name: str, operation: str) -> str:
    """The IAM action behind one API operation, e.g. `ce:GetCostAndUsage`."""
    if service == "s3":
        return _S3_ACTIONS.get(operation, f"s3:{operation}")
    if service == "s3control":
        return _S3CONTROL_ACTIONS.get(operation, f"s3:{operation}")
    if signing_name == "apigateway":
        # API Gateway authorizes management calls by HTTP verb on the resource path.
        return "apigateway:GET"
    return f"{signing_name}:{operation}"


def classify(exc: BaseException) -> tuple[Problem, str]:
    """Sort a failed call into a problem kind, with a one-line message."""
    if isinstance(exc, ClientError):
        code, message = _error_parts(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        text = _one_line(f"{code}: {message}" if code else message or f"HTTP {status}")
        if code in _CREDENTIALS_REJECTED:
            return "credentials", text
        if code in _ACCESS_DENIED or status == 403:
            return "access_denied", text
        if code in _OPT_IN:
            return "opt_in_required", text
        if code in _REGION_NOT_ENABLED:
            return "region_not_enabled", text
        if code in _UNSUPPORTED or (status in (404, 501) and code in ("", str(status))):
            return "unsupported_operation", text
        return "error", text
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return "unreachable", _one_line(str(exc))
    if isinstance(exc, UnknownEndpointError | InvalidRegionError):
        return "region_not_enabled", _one_line(str(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound):
        return "credentials", _one_line(str(exc))
    if isinstance(exc, NotImplementedError):
        return "unsupported_operation", _one_line(str(exc))
    return "error", _one_line(f"{type(exc).__name__}: {exc}")


def _error_parts(exc: ClientError) -> tuple[str, str]:
    """Code and message; unwrapped when an endpoint sent an XML error body to a JSON
    client, which botocore then reports as code `403` with the body as message."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    inner = re.search(r"<Code>([^<]*)</Code>(?:\s*<Message>([^<]*)</Message>)?", message)
    if inner and (not code or code.isdigit()):
        return inner.group(1), inner.group(2) or ""
    return code, message


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_ACCOUNT_HOST = re.compile(r"^(\w+://)\d{12}\.")


def _drop_account_host(request: Any, **_: Any) -> None:
    request.url = _ACCOUNT_HOST.sub(r"\1", request.url)


def _overridden(service: str) -> bool:
    """An endpoint override (an emulator) is set for `service` through the environment."""
    variable = "AWS_ENDPOINT_URL_" + service.upper().replace("S3CONTROL", "S3_CONTROL")
    return bool(os.environ.get(variable) or os.environ.get("AWS_ENDPOINT_URL"))


class CallFailed(Exception):
    """A call failed and its gap is recorded; the reader gives up on what needed it."""


class ClientPool:
    """One client per service and region, shared by the reader threads.

    boto3 sessions are not thread-safe, clients are: clients are made under a lock.
    """

    def __init__(self, session: boto3.Session) -> None:
        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """The shared client for `service` in `region`."""
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                client = self._session.client(service, region_name=region, config=BOTO_CONFIG)
                if service == "s3control" and _overridden(service):
                    # S3 Control puts the account id in front of the host
                    # (`<account>.s3-control…`), which an override such as
                    # `http://127.0.0.1:5000` cannot resolve.
                    client.meta.events.register("before-send.s3-control", _drop_account_host)
                self._clients[key] = client
            return self._clients[key]


class ServiceCalls:
    """Calls to one service in one region, recording each kind of failure once as a gap."""

    def __init__(self, pool: ClientPool, service: str, region: str, scope: str) -> None:
        self._pool = pool
        self.service = service
        self.region = region
        self.scope = scope
        self.gaps: list[SnapshotGap] = []
        # Readers fan out over resources, so gaps may be recorded from several threads.
        self._lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        """Where this service's calls go: AWS, or an override such as an emulator's."""
        return str(self._pool.client(self.service, self.region).meta.endpoint_url)

    def call(
        self, operation: str, *, absent: frozenset[str] = frozenset(), **params: Any
    ) -> Response:
        """One call; an error code in `absent` means "not configured" and returns {}."""
        try:
            client = self._pool.client(self.service, self.region)
            response: Response = getattr(client, operation)(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in absent:
                return {}
            raise self._failed(operation, exc, params) from exc
        except (BotoCoreError, NotImplementedError) as exc:
            raise self._failed(operation, exc, params) from exc
        response.pop("ResponseMetadata", None)
        return response

    def pages(
        self, operation: str, *, token: tuple[str, str] | None = None, **params: Any
    ) -> Iterator[Response]:
        """Every page of a listing: botocore's paginator, or `token` (request, response key)
        for the few operations botocore has no paginator for."""
        try:
            client = self._pool.client(self.service, self.region)
            if token is None:
                yield from client.get_paginator(operation).paginate(**params)
                return
        except (BotoCoreError, ClientError, NotImplementedError) as exc:
            raise self._failed(operation, exc, params) from exc
        request_key, response_key = token
        previous = None
        while True:
            page = self.call(operation, **params)
            yield page
            marker = page.get(response_key)
            # Some services repeat the last marker instead of dropping it.
            if not marker or marker == previous:
                return
            previous = marker
            params = {**params, request_key: marker}

    def attempt(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """Run one part of a read; None when a call in it failed (its gap is recorded)."""
        try:
            return read(*args, **kwargs)
        except CallFailed:
            return None

    def _failed(self, operation: str, exc: BaseException, params: dict[str, Any]) -> CallFailed:
        self.record(operation, exc, resource=_resource_of(params))
        return CallFailed(operation)

    def record(self, operation: str, exc: BaseException, resource: str | None = None) -> None:
        """Note a failure as a gap; the same action failing the same way only counts up."""
        problem, message = classify(exc)
        action = self._action(operation)
        with self._lock:
            for index, gap in enumerate(self.gaps):
                if gap.action == action and gap.problem == problem:
                    self.gaps[index] = gap.model_copy(update={"count": gap.count + 1})
                    return
            self.gaps.append(
                SnapshotGap(
                    service=self.service,
                    region=self.scope,
                    action=action,
                    problem=problem,
                    message=message,
                    resource=resource,
                )
            )

    def _action(self, operation: str) -> str:
        try:
            meta = self._pool.client(self.service, self.region).meta
            name = meta.method_to_api_mapping[operation]
            signing = meta.service_model.signing_name
        except (BotoCoreError, KeyError):
            name = "".join(word.capitalize() for word in operation.split("_"))
            signing = _SIGNING_NAMES.get(self.service, self.service)
        return iam_action(self.service, signing, name)


_SIGNING_NAMES = {"sesv2": "ses", "apigatewayv2": "apigateway", "s3control": "s3"}
_RESOURCE_PARAMS = (
    "Bucket",
    "FunctionName",
    "TableName",
    "ApiId",
    "restApiId",
    "Resource",
    "LayerName",
    "Id",
    "HostedZoneId",
    "EmailIdentity",
    "DomainName",
    "BackupPlanId",
)

# Per-resource reads inside one task; with the task pool this bounds the calls in flight.
RESOURCE_WORKERS = 6


def fan_out(read: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`read` applied to every item on a small thread pool, results in the items' order."""
    listed = list(items)
    if len(listed) <= 1:
        return [read(item) for item in listed]
    with ThreadPoolExecutor(max_workers=RESOURCE_WORKERS) as executor:
        return list(executor.map(read, listed))


def _resource_of(params: dict[str, Any]) -> str | None:
    for key in _RESOURCE_PARAMS:
        if isinstance(params.get(key), str):
            return str(params[key])
    return None


class CallScope:
    """The calls of one inventory task in one region; a task may use several services."""

    def __init__(self, pool: ClientPool, region: str, scope: str, account_id: str) -> None:
        self._pool = pool
        self.region = region
        self.scope = scope
        self.account_id = account_id
        self._services: dict[str, ServiceCalls] = {}

    def __call__(self, service: str) -> ServiceCalls:
        """The calls to `service` within this task."""
        if service not in self._services:
            self._services[service] = ServiceCalls(self._pool, service, self.region, self.scope)
        return self._services[service]

    @property
    def gaps(self) -> list[SnapshotGap]:
        return [gap for calls in self._services.values() for gap in calls.gaps]
