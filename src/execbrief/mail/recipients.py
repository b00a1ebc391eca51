"""Who one persona's brief goes to, and where each address came from.

Precedence for To (docs/MAIL.md): the workspace's `recipients:` map, then a persona
file of the workspace's own, then SES_TO_ADDRESS and its older spellings, then the
shipped persona file. Cc comes from the map when it sets one, else the persona file; a
shipped file's Cc and Bcc apply only when its To does.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from execbrief.config import PersonaRecipients
from execbrief.errors import ConfigError, RefusedError
from execbrief.mail.addresses import is_reserved, validate_address
from execbrief.mail.settings import MailSettings
from execbrief.models import Envelope, Persona


class PersonaAddresses(BaseModel):
    """A persona's validated sender, To, Cc and Bcc (audit copy included), with origins."""

    persona: str
    sender: str
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    bcc_audit: str | None = None
    origins: dict[str, str] = Field(default_factory=dict, description="Address -> origin.")


def persona_addresses(
    persona: Persona,
    settings: MailSettings,
    recipients: dict[str, PersonaRecipients],
    *,
    shipped: bool,
) -> PersonaAddresses:
    """The persona's addresses after the workspace map, its own files and the SES_* list."""
    mail = settings.mail
    origins: dict[str, str] = {}
    if not mail.sender:
        raise ConfigError(
            "no sender address",
            field="mail.from",
            hint="set mail.from in execbrief.yaml, or SES_FROM_ADDRESS / SES_SENDER_EMAIL",
        )
    sender_origin = settings.origins.get("from", "execbrief.yaml mail.from")
    sender = _checked(mail.sender, sender_origin, origins)
    file_label = f"{'shipped' if shipped else 'workspace'} personas/{persona.id}.yaml"
    mapped = recipients.get(persona.id)
    from_file = False
    if mapped is not None and mapped.to:
        to_list, to_origin = mapped.to, f"execbrief.yaml recipients.{persona.id}.to"
    elif persona.deliver.to and not shipped:
        to_list, to_origin, from_file = persona.deliver.to, f"{file_label} deliver.to", True
    elif settings.default_to:
        to_list, to_origin = settings.default_to, settings.origins.get("default_to", "env")
    else:
        to_list, to_origin, from_file = persona.deliver.to, f"{file_label} deliver.to", True
    # A shipped file's lists are placeholders: once the workspace or SES_TO_ADDRESS
    # addresses the persona, its Cc and Bcc do not come along.
    file_lists = from_file or not shipped
    if not to_list:
        raise ConfigError(
            f"persona {persona.id!r} has no recipients",
            field=f"recipients.{persona.id}.to",
            hint=f"set recipients.{persona.id}.to in execbrief.yaml, or SES_TO_ADDRESS "
            "for every persona",
        )
    if mapped is not None and mapped.cc is not None:
        cc_list, cc_origin = mapped.cc, f"execbrief.yaml recipients.{persona.id}.cc"
    else:
        cc_list = persona.deliver.cc if file_lists else []
        cc_origin = f"{file_label} deliver.cc"
    bcc_list = persona.deliver.bcc if file_lists else []
    to = [_checked(a, to_origin, origins) for a in to_list]
    cc = [_checked(a, cc_origin, origins) for a in cc_list]
    bcc = [_checked(a, f"{file_label} deliver.bcc", origins) for a in bcc_list]
    audit = None
    if mail.bcc_audit:
        audit_origin = settings.origins.get("bcc_audit", "execbrief.yaml mail.bcc_audit")
        audit = _checked(mail.bcc_audit, audit_origin, origins)
        bcc.append(audit)
    return PersonaAddresses(
        persona=persona.id,
        sender=sender,
        to=to,
        cc=cc,
        bcc=list(dict.fromkeys(bcc)),
        bcc_audit=audit,
        origins=origins,
    )


def check_unknown_recipients(recipients: dict[str, PersonaRecipients], known: list[str]) -> None:
    """Refuse a `recipients:` entry for a persona the workspace does not have."""
    for persona_id in recipients:
        if persona_id not in known:
            raise ConfigError(
                f"recipients names unknown persona {persona_id!r}",
                field=f"recipients.{persona_id}",
                hint="known personas: " + ", ".join(known),
            )


def refuse_reserved(persona: str, envelope: Envelope) -> None:
    """Refuse a sender or recipient under a reserved domain, naming where it came from."""
    for addr in [envelope.sender, *envelope.recipients]:
        if is_reserved(addr):
            role = "sender" if addr == envelope.sender else "recipient"
            origin = envelope.origins.get(addr, "the rendered envelope")
            raise RefusedError(
                f"{persona}: {role} {addr} (from {origin}) is under a reserved domain "
                "that no real mailbox has; nothing was sent",
                hint="set real addresses (the recipients: map in execbrief.yaml, mail.from, "
                "or SES_TO_ADDRESS), render again, or use --transport file",
            )


def _checked(addr: str, origin: str, origins: dict[str, str]) -> str:
    valid = validate_address(addr, field=origin)
    origins.setdefault(valid, origin)
    return valid
