"""The error hierarchy: each error says who must act and carries what they need to."""

from __future__ import annotations

from pathlib import Path

from execbrief.models import Usage


class ExecbriefError(Exception):
    """Base for every error the CLI turns into one line and an exit code."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(ExecbriefError):
    """Bad input: a workspace file, a persona, a flag. Nothing was done."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field

    def location(self) -> str:
        """`file:line (field)` as far as it is known."""
        where = self.path or ""
        if self.path and self.line:
            where = f"{self.path}:{self.line}"
        if self.field:
            where = f"{where} ({self.field})" if where else self.field
        return where

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


class RefusedError(ExecbriefError):
    """An action the user asked for that would be unsafe, e.g. sending a draft twice."""


class CollectorError(ExecbriefError):
    """A collector could not read a source; the bundle stage records it as a Gap."""

    exit_code = 1

    def __init__(self, message: str, *, collector: str, source: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.collector = collector
        self.source = source


class ProviderError(ExecbriefError):
    """A model call failed after the retry policy gave up.

    `usage`, `cost_usd` and `attempts` count every call of this persona's generation so
    far, paid answers before the failure included, so a failure never hides what it cost.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        attempts: int = 1,
        hint: str | None = None,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
        last_answer: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.provider = provider
        self.status = status
        self.attempts = attempts
        self.usage = usage or Usage()
        self.cost_usd = cost_usd
        self.last_answer = last_answer

    def add_spend(self, usage: Usage, cost_usd: float, attempts: int, answer: str) -> None:
        """Count calls that were paid for before this one failed."""
        self.usage = self.usage + usage
        self.cost_usd = round(self.cost_usd + cost_usd, 6)
        self.attempts += attempts
        self.last_answer = self.last_answer or answer


class ReportInvalid(ExecbriefError):
    """The model's answer did not fit the Report schema, even after one re-ask.

    Both answers were paid for: `usage`, `cost_usd` and `attempts` count them, and
    `last_answer` keeps the text that failed, for a reviewer to see why.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        persona: str,
        errors: list[str],
        usage: Usage | None = None,
        cost_usd: float = 0.0,
        attempts: int = 0,
        last_answer: str | None = None,
    ) -> None:
        super().__init__(message)
        self.persona = persona
        self.errors = errors
        self.usage = usage or Usage()
        self.cost_usd = cost_usd
        self.attempts = attempts
        self.last_answer = last_answer


class SendError(ExecbriefError):
    """A transport could not deliver a message; recorded in the ledger, retryable."""

    exit_code = 1

    def __init__(self, message: str, *, transport: str, recipient: str | None = None) -> None:
        super().__init__(message)
        self.transport = transport
        self.recipient = recipient


class SendInDoubt(SendError):
    """The message was handed over, then the connection was lost before the answer: it may
    or may not have been delivered, so it must not be retried on its own."""

    def __init__(
        self,
        message: str,
        *,
        transport: str,
        message_id: str | None = None,
        check: str,
    ) -> None:
        super().__init__(message, transport=transport)
        self.message_id = message_id
        self.check = check  # how to find out: an id to look up, or the mailbox to look in


class AwsCallError(ExecbriefError):
    """An AWS call outside a collector failed (e.g. reading the events queue)."""

    exit_code = 1

    def __init__(self, message: str, *, action: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.action = action
