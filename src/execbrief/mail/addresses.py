"""Address and header hygiene shared by every transport and by the mail settings."""

from __future__ import annotations

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

from execbrief.errors import ConfigError, RefusedError

# SES refuses a message with more recipients than this, and the SMTP transport keeps the
# same rule so that switching transports never changes which briefs can go out.
MAX_RECIPIENTS = 50


def validate_address(addr: str, *, field: str | None = None) -> str:
    """The address in normalized ASCII form, or ConfigError naming it."""
    try:
        # SES and most relays cannot carry SMTPUTF8 local parts, so refuse them here
        # rather than after half of a run has gone out.
        checked = validate_email(addr, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ConfigError(
            f"not a valid email address: {addr!r} ({exc})",
            field=field,
            hint="use a bare address such as reports@example.com, without a display name",
        ) from exc
    return checked.ascii_email or checked.normalized


def check_header_value(name: str, value: str) -> None:
    """Refuse a header value with a line break, which would let it add headers of its own."""
    if "\r" in value or "\n" in value:
        raise ConfigError(
            f"the {name} header may not contain a line break: {value!r}",
            field=name,
            hint="remove CR and LF characters from the value",
        )


def recipient_domain(addr: str) -> str:
    """The lower-cased domain of a validated address."""
    return addr.rpartition("@")[2].lower()


def check_allowed(recipients: Iterable[str], allowed_domains: Iterable[str]) -> None:
    """Refuse recipients outside allowed_domains; an empty allow-list allows everyone."""
    allowed = {domain.lower().strip() for domain in allowed_domains}
    if not allowed:
        return
    refused = sorted({addr for addr in recipients if recipient_domain(addr) not in allowed})
    if refused:
        raise RefusedError(
            "recipients outside mail.allowed_recipient_domains: " + ", ".join(refused),
            hint="allowed domains: "
            + ", ".join(sorted(allowed))
            + "; add the domain there or remove the recipient from the persona",
        )


# RFC 2606 / RFC 6761 names that never reach a real mailbox: a brief addressed there
# through a real transport is a setup that still carries the shipped placeholders.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("test", "invalid", "example", "localhost")


def is_reserved(addr: str) -> bool:
    """True for an address under a reserved example domain or top-level name."""
    domain = recipient_domain(addr).rstrip(".")
    if domain.rpartition(".")[2] in RESERVED_TLDS or domain in RESERVED_TLDS:
        return True
    return any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS)
