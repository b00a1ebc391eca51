"""The `ses` transport: raw MIME through SES v2, paced to the account's own send rate.

Before the first message leaves, `preflight` checks what SES would otherwise reject one
message at a time: the From identity, a sandboxed account's unverified recipients,
recipient counts and sizes. Throttling is retried here with backoff; everything else
SES refuses becomes a SendError for the ledger.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as NoConnectionError,
)
from pydantic import BaseModel, Field
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from execbrief.config import MailConfig
from execbrief.errors import ConfigError, RefusedError, SendError, SendInDoubt
from execbrief.mail.addresses import MAX_RECIPIENTS, check_allowed, recipient_domain
from execbrief.mail.aws_clients import mail_client
from execbrief.mail.settings import MailSettings
from execbrief.models import OutgoingMessage

# SES v2 accepts up to 40 MB per message after base64 encoding.
MAX_ENCODED_BYTES = 40 * 1024 * 1024
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})
# The mailbox simulator accepts mail even from a sandboxed account.
SIMULATOR_DOMAIN = "simulator.amazonses.com"
# The sandbox rate; used only when the account lets us read neither quota API.
FALLBACK_SEND_RATE = 1.0
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class SesAccount(BaseModel):
    """What the account says about itself: how fast it may send and whether it is sandboxed."""

    region: str
    max_send_rate: float = Field(gt=0, description="Recipients per second SES accepts.")
    production: bool | None = Field(
        description="False in the sandbox; None when ses:GetAccount could not be read."
    )
    sending_enabled: bool = True
    quota_from: Literal["get_account", "get_send_quota", "fallback"]


class Pacer:
    """Spaces sends so that recipients per second stay within a rate, without fixed sleeps."""

    def __init__(
        self, rate: float, sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        self.rate = rate
        self._sleep = sleep
        self._clock = clock
        self._next_free: float | None = None

    def wait(self, recipients: int) -> None:
        """Block until a message to this many recipients may go, then book its share."""
        now = self._clock()
        if self._next_free is not None and self._next_free > now:
            self._sleep(self._next_free - now)
            now = self._next_free
        # SES counts every recipient of a message against the send rate.
        self._next_free = now + recipients / self.rate


class SesTransport:
    """Send rendered messages through SES v2 `send_email` with raw content."""

    name = "ses"
    delivers = True
    max_message_bytes = MAX_ENCODED_BYTES * 3 // 4

    def __init__(
        self,
        config: MailConfig,
        session: boto3.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = 6,
    ) -> None:
        self.config = config
        try:
            self._session = session or boto3.Session()
        except BotoCoreError as exc:
            raise ConfigError(
                f"cannot set up AWS for the ses transport: {exc}",
                hint="check AWS_PROFILE and the AWS config files",
            ) from exc
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._client = self._make_client("sesv2")
        self._region: str = self._client.meta.region_name
        self._account: SesAccount | None = None
        self._pacer: Pacer | None = None
        self._verified: dict[str, bool] = {}

    # --- checks before anything is sent ---------------------------------------------

    def preflight(self, messages: Sequence[OutgoingMessage]) -> SesAccount:
        """Refuse, before the first send, what SES would refuse: nothing is sent here."""
        account = self.account()
        if not account.sending_enabled:
            raise RefusedError(
                f"sending is paused for this SES account in {self._region}; nothing was sent",
                hint="check the account's status in the SES console (Account dashboard)",
            )
        problems = [p for p in map(_envelope_problem, messages) if p]
        if problems:
            raise RefusedError(
                "; ".join(problems),
                hint="split a persona's delivery list, or shrink the charts in its brief",
            )
        recipients = {addr for m in messages for addr in m.envelope.recipients}
        check_allowed(recipients, self.config.allowed_recipient_domains)
        self._check_senders({m.envelope.sender for m in messages})
        if account.production is False:
            self._check_sandbox_recipients(recipients)
        return account

    def account(self) -> SesAccount:
        """The account's send rate and sandbox status, read once per transport."""
        if self._account is None:
            self._account = self._read_account()
        return self._account

    def _read_account(self) -> SesAccount:
        try:
            answer = self._client.get_account()
        except (ClientError, BotoCoreError):
            # GetAccount is v2-only and often missing from least-privilege policies;
            # the v1 quota still gives the rate, only the sandbox status stays unknown.
            return self._read_v1_quota()
        quota = answer.get("SendQuota", {})
        return SesAccount(
            region=self._region,
            max_send_rate=quota.get("MaxSendRate") or FALLBACK_SEND_RATE,
            production=bool(answer.get("ProductionAccessEnabled")),
            sending_enabled=bool(answer.get("SendingEnabled", True)),
            quota_from="get_account",
        )

    def _read_v1_quota(self) -> SesAccount:
        try:
            quota = self._make_client("ses").get_send_quota()
        except (ClientError, BotoCoreError):
            return SesAccount(
                region=self._region,
                max_send_rate=FALLBACK_SEND_RATE,
                production=None,
                quota_from="fallback",
            )
        return SesAccount(
            region=self._region,
            max_send_rate=quota.get("MaxSendRate") or FALLBACK_SEND_RATE,
            production=None,
            quota_from="get_send_quota",
        )

    def _check_senders(self, senders: Iterable[str]) -> None:
        unverified = sorted(s for s in senders if not self._is_verified(s))
        if unverified:
            raise ConfigError(
                f"the From address {', '.join(unverified)} is not a verified SES identity"
                f" in {self._region}; nothing was sent",
                field="mail.from",
                hint=f"verify the address or its domain in SES ({self._region}), e.g."
                f" `aws sesv2 create-email-identity --email-identity {unverified[0]}`,"
                " or set mail.region to the region where it is verified",
            )

    def _check_sandbox_recipients(self, recipients: Iterable[str]) -> None:
        unverified = sorted(r for r in recipients if not self._is_verified(r))
        if unverified:
            raise RefusedError(
                f"the SES account in {self._region} is in the sandbox and these recipients"
                f" are not verified identities: {', '.join(unverified)}; nothing was sent",
                hint="verify each recipient in SES, or request production access"
                " (SES console: Account dashboard, Request production access)",
            )

    def _is_verified(self, address: str) -> bool:
        """Whether the address or its domain is an identity verified for sending."""
        domain = recipient_domain(address)
        if domain == SIMULATOR_DOMAIN:
            return True
        return self._identity_verified(address) or self._identity_verified(domain)

    def _identity_verified(self, identity: str) -> bool:
        key = identity.lower()
        if key not in self._verified:
            try:
                answer = self._client.get_email_identity(EmailIdentity=identity)
            except ClientError as exc:
                if _error_code(exc) != "NotFoundException":
                    raise ConfigError(
                        f"cannot check the SES identity {identity}: {_describe(exc)}",
                        field="mail.from",
                        hint="allow ses:GetEmailIdentity and ses:GetAccount for these credentials",
                    ) from exc
                answer = {}
            except BotoCoreError as exc:
                raise ConfigError(
                    f"cannot reach SES in {self._region}: {exc}",
                    hint="check AWS credentials, mail.region and AWS_ENDPOINT_URL",
                ) from exc
            self._verified[key] = bool(answer.get("VerifiedForSendingStatus")) or (
                answer.get("VerificationStatus") == "SUCCESS"
            )
        return self._verified[key]

    # --- sending --------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> str:
        """Send message.raw to its envelope; return SES's MessageId."""
        try:
            # Cheap after the caller's own preflight: account and identities are cached.
            self.preflight([message])
        except (ConfigError, RefusedError) as exc:
            raise SendError(exc.message, transport=self.name) from exc
        if self._pacer is None:
            self._pacer = Pacer(self.account().max_send_rate, self._sleep, self._clock)
        self._pacer.wait(len(message.envelope.recipients))
        retrying = Retrying(
            retry=retry_if_exception(_is_throttling),
            wait=wait_exponential_jitter(initial=1, max=30),
            stop=stop_after_attempt(self._max_attempts),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            answer = retrying(self._client.send_email, **self._request(message))
        except ClientError as exc:
            raise SendError(
                f"SES refused {message.persona}: {_describe(exc)}", transport=self.name
            ) from exc
        except NoConnectionError as exc:
            # no connection was made: SES never saw the request
            raise SendError(
                f"SES call failed for {message.persona}: {exc}", transport=self.name
            ) from exc
        except HTTPClientError as exc:
            # the request went out and the answer was lost (reset, read timeout): SES may
            # have accepted it, so retrying on our own could deliver the brief twice
            raise SendInDoubt(
                f"SES connection lost after the request for {message.persona} was sent: {exc}",
                transport=self.name,
                check=f"look for Message-ID {message.envelope.message_id} in the recipient's "
                "mailbox (or in SES event publishing, if the configuration set has it)",
            ) from exc
        except BotoCoreError as exc:
            raise SendError(
                f"SES call failed for {message.persona}: {exc}", transport=self.name
            ) from exc
        return str(answer["MessageId"])

    def _request(self, message: OutgoingMessage) -> dict[str, Any]:
        request: dict[str, Any] = {
            "FromEmailAddress": message.envelope.sender,
            # With raw content the Destination is the SMTP envelope: every To, Cc and Bcc
            # recipient goes here, while the headers (without Bcc) travel inside Raw.
            "Destination": {"ToAddresses": list(message.envelope.recipients)},
            "Content": {"Raw": {"Data": message.raw}},
            "EmailTags": [
                {"Name": "persona", "Value": tag_value(message.persona)},
                {"Name": "run", "Value": tag_value(message.run)},
            ],
        }
        if self.config.configuration_set:
            request["ConfigurationSetName"] = self.config.configuration_set
        return request

    def _make_client(self, service: str) -> Any:
        # Retries are ours (Throttling, with the injected sleep).
        return mail_client(
            self._session,
            service,
            self.config.region,
            purpose="the ses transport",
            config=Config(retries={"total_max_attempts": 1}),
        )


def tag_value(value: str) -> str:
    """A value SES accepts as a message tag: ASCII letters, digits, `_` and `-`."""
    return _TAG_UNSAFE.sub("_", value)[:256] or "_"


def _envelope_problem(message: OutgoingMessage) -> str | None:
    count = len(message.envelope.recipients)
    if count > MAX_RECIPIENTS:
        return (
            f"{message.persona}: {count} recipients, SES takes at most {MAX_RECIPIENTS}"
            " a message; nothing was sent"
        )
    encoded = (len(message.raw) + 2) // 3 * 4
    if encoded > MAX_ENCODED_BYTES:
        return (
            f"{message.persona}: message is {encoded} bytes after base64 encoding,"
            f" SES takes at most {MAX_ENCODED_BYTES}; nothing was sent"
        )
    return None


def _is_throttling(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and _error_code(exc) in THROTTLING_CODES


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")


def ses_transport(settings: MailSettings, outbox: Path) -> SesTransport:
    """The ses transport; an older setup's SES_ACCESS_KEY pair, if given, is its credential."""
    credentials = settings.ses_credentials
    if credentials is None:
        return SesTransport(settings.mail)
    try:
        session = boto3.Session(
            aws_access_key_id=credentials.access_key_id.get_secret_value(),
            aws_secret_access_key=credentials.secret_access_key.get_secret_value(),
        )
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot set up AWS with the keys from {credentials.origin}",
            hint="check SES_ACCESS_KEY and SES_SECRET_KEY",
        ) from exc
    return SesTransport(settings.mail, session=session)
