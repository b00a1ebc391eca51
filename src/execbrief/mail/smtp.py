"""The `smtp` transport: any SMTP server, SES's SMTP interface included.

Recipients are offered one by one before DATA, so a server that refuses any of them
gets nothing at all: a half-delivered brief could not be retried without sending it
twice to the recipients that did accept it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path

from execbrief.config import MailConfig
from execbrief.errors import ConfigError, RefusedError, SendError, SendInDoubt
from execbrief.mail.addresses import MAX_RECIPIENTS, check_allowed
from execbrief.mail.settings import MailSettings
from execbrief.models import OutgoingMessage

PASSWORD_VAR = "EXECBRIEF_SMTP_PASSWORD"  # noqa: S105 - the variable name, not a password
_LINE_END = re.compile(rb"\r?\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class SmtpTransport:
    """Send rendered messages over SMTP with STARTTLS, implicit TLS, or (loopback) none."""

    name = "smtp"
    delivers = True

    def __init__(
        self,
        config: MailConfig,
        environ: Mapping[str, str] = os.environ,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.smtp = config.smtp
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._password: str | None = None
        if self.smtp.username:
            self._password = environ.get(PASSWORD_VAR) or None
            if self._password is None:
                raise ConfigError(
                    f"mail.smtp.username is set but {PASSWORD_VAR} is not",
                    field="mail.smtp.username",
                    hint=f"export {PASSWORD_VAR} with the SMTP password"
                    " (for SES: the SMTP credentials, not the AWS secret key)",
                )
            if self.smtp.security == "none" and not _is_loopback(self.smtp.host):
                raise ConfigError(
                    f"refusing to send SMTP credentials unencrypted to {self.smtp.host}",
                    field="mail.smtp.security",
                    hint="use security: starttls (port 587) or tls (port 465)",
                )

    def preflight(self, messages: Sequence[OutgoingMessage]) -> None:
        """Refuse, before the first send, envelopes no message may have; no connection."""
        problems = [p for p in map(_envelope_problem, messages) if p]
        if problems:
            raise RefusedError("; ".join(problems), hint="split the persona's delivery list")
        recipients = {addr for m in messages for addr in m.envelope.recipients}
        check_allowed(recipients, self.config.allowed_recipient_domains)

    def send(self, message: OutgoingMessage) -> str:
        """Deliver message.raw to its envelope; return the server's final reply text."""
        try:
            self.preflight([message])
        except RefusedError as exc:
            raise SendError(exc.message, transport=self.name) from exc
        where = f"{self.smtp.host}:{self.smtp.port}"
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"cannot open SMTP to {where}: {_explain(exc)}", transport=self.name
            ) from exc
        try:
            reply = self._deliver(client, message)
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"SMTP to {where} failed for {message.persona}: {_explain(exc)}",
                transport=self.name,
            ) from exc
        finally:
            _close(client)
        return reply or message.envelope.message_id

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.smtp.host, self.smtp.port, self.smtp.timeout_seconds
        if self.smtp.security == "tls":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._ssl_context)
        client = smtplib.SMTP(host, port, timeout=timeout)
        if self.smtp.security == "starttls":
            try:
                client.ehlo()
                # Raises SMTPNotSupportedError when the server does not offer STARTTLS:
                # never fall back to sending in clear.
                client.starttls(context=self._ssl_context)
                client.ehlo()
            except (smtplib.SMTPException, OSError):
                client.close()
                raise
        return client

    def _deliver(self, client: smtplib.SMTP, message: OutgoingMessage) -> str:
        if self.smtp.username and self._password:
            client.login(self.smtp.username, self._password)
        client.ehlo_or_helo_if_needed()
        # SMTP requires CRLF line ends; bare LFs are refused by hardened servers.
        raw = _LINE_END.sub(b"\r\n", message.raw)
        options = [f"SIZE={len(raw)}"] if client.has_extn("size") else []
        code, reply = client.mail(message.envelope.sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, message.envelope.sender)
        for recipient in message.envelope.recipients:
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    client.rset()
                raise SendError(
                    f"SMTP server refused recipient {recipient} of {message.persona}:"
                    f" {code} {_text(reply)}; nothing was sent",
                    transport=self.name,
                    recipient=recipient,
                )
        code, reply = client.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        # From here on the server holds the message: when its answer is lost (a reset, a
        # hang) the brief may have been queued, so the outcome is unknown, not failed.
        try:
            client.send(_dot_stuffed(raw))
            code, reply = client.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            raise SendInDoubt(
                f"SMTP to {self.smtp.host}:{self.smtp.port} lost the answer after DATA for "
                f"{message.persona}: {_explain(exc)}",
                transport=self.name,
                check=f"look for Message-ID {message.envelope.message_id} in a recipient's "
                f"mailbox or in the mail log of {self.smtp.host}",
            ) from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return _text(reply)


def _dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload: leading dots doubled, ended by CRLF "." CRLF (RFC 5321 4.5.2)."""
    body = _LEADING_DOT.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _envelope_problem(message: OutgoingMessage) -> str | None:
    count = len(message.envelope.recipients)
    if count > MAX_RECIPIENTS:
        return (
            f"{message.persona}: {count} recipients, at most {MAX_RECIPIENTS} a message;"
            " nothing was sent"
        )
    return None


def _close(client: smtplib.SMTP) -> None:
    # By now the message was accepted or the error is already being raised; a failing
    # QUIT must not turn a delivered brief into a failed one.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()
    client.close()


def _explain(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "the server does not offer STARTTLS (security: starttls)"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def smtp_transport(settings: MailSettings, outbox: Path) -> SmtpTransport:
    return SmtpTransport(settings.mail)
