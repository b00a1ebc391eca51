"""The smtp transport against aiosmtpd on loopback: bytes, envelope, TLS, AUTH, refusals."""

from __future__ import annotations

import base64
import datetime
import email
import ipaddress
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from execbrief.config import MailConfig, SmtpConfig
from execbrief.errors import ConfigError, RefusedError, SendError
from execbrief.mail.smtp import PASSWORD_VAR, SmtpTransport
from execbrief.models import Envelope, OutgoingMessage

SENDER = "reports@example.com"
AUDIT = "audit@example.com"
USER = "briefs"
PASSWORD = "correct horse battery staple"
QUEUED = "2.0.0 Ok: queued as 4XyZ12"
Security = Literal["starttls", "tls", "none"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def build_message(
    persona: str,
    *,
    to: list[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (AUDIT,),
    line_ends: policy.Policy = policy.SMTP,
) -> OutgoingMessage:
    """A brief as render writes it: text and HTML alternatives, a chart inline, no Bcc header."""
    msg = EmailMessage()
    msg["Subject"] = f"{persona.upper()} brief: burn vs revenue"
    msg["From"] = SENDER
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(f"{persona} brief in plain text\n")
    msg.add_alternative('<p>Brief</p><img src="cid:chart@execbrief">', subtype="html")
    html = msg.get_body(("html",))
    assert html is not None
    html.add_related(PNG, "image", "png", cid="<chart@execbrief>")
    envelope = Envelope(sender=SENDER, recipients=[*to, *cc, *bcc], message_id=msg["Message-ID"])
    return OutgoingMessage(
        run="20261125T141500Z",
        persona=persona,
        raw=msg.as_bytes(policy=line_ends),
        envelope=envelope,
    )


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses chosen recipients."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return f"250 {QUEUED}"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    mailbox: Mailbox
    port: int

    def config(self, security: Security = "none", username: str | None = None) -> MailConfig:
        smtp = SmtpConfig(
            host="127.0.0.1",
            port=self.port,
            security=security,
            username=username,
            timeout_seconds=5,
        )
        return MailConfig(transport="smtp", smtp=smtp)


@contextmanager
def serve(mailbox: Mailbox, **options: Any) -> Iterator[Server]:
    """aiosmtpd on a free loopback port, for the length of the with-block."""
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox.authenticate,
        **options,
    )
    controller.start()
    try:
        yield Server(mailbox, port)
    finally:
        controller.stop()


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(Mailbox(), auth_require_tls=False) as running:
        yield running


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 and a client context that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Tls(server=server, client=client)


def parts(message: email.message.Message) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def test_received_bytes_parse_back_to_the_same_subject_parts_and_inline_image(
    server: Server,
) -> None:
    outgoing = build_message("cfo", to=["cfo@example.com"])

    SmtpTransport(server.config(), environ={}).send(outgoing)

    [received] = server.mailbox.received
    sent = email.message_from_bytes(outgoing.raw, policy=policy.default)
    got = email.message_from_bytes(received.content, policy=policy.default)
    assert got["Subject"] == sent["Subject"] == "CFO brief: burn vs revenue"
    assert (
        parts(got)
        == parts(sent)
        == [
            "multipart/alternative",
            "text/plain",
            "multipart/related",
            "text/html",
            "image/png",
        ]
    )
    image = next(p for p in got.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<chart@execbrief>"
    assert image.get_content() == PNG
    html = next(p for p in got.walk() if p.get_content_type() == "text/html")
    assert 'src="cid:chart@execbrief"' in html.get_content()


def test_bcc_recipient_is_in_rcpt_to_and_in_no_header(server: Server) -> None:
    outgoing = build_message("ceo", to=["ceo@example.com"], cc=["coo@example.com"])

    SmtpTransport(server.config(), environ={}).send(outgoing)

    [received] = server.mailbox.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["ceo@example.com", "coo@example.com", AUDIT]
    got = email.message_from_bytes(received.content, policy=policy.default)
    assert all(AUDIT not in str(value) for value in got.values())


def test_send_returns_the_servers_final_reply(server: Server) -> None:
    reply = SmtpTransport(server.config(), environ={}).send(
        build_message("cto", to=["cto@example.com"])
    )

    assert reply == QUEUED


def test_bare_line_feeds_go_out_as_crlf(server: Server) -> None:
    outgoing = build_message("cto", to=["cto@example.com"], line_ends=policy.default)
    assert b"\r\n" not in outgoing.raw

    SmtpTransport(server.config(), environ={}).send(outgoing)

    [received] = server.mailbox.received
    assert b"\r\n" in received.content
    assert b"\n" not in received.content.replace(b"\r\n", b"")


def test_login_uses_the_configured_user_and_the_password_from_environment(
    server: Server,
) -> None:
    config = server.config(username=USER)

    SmtpTransport(config, environ={PASSWORD_VAR: PASSWORD}).send(
        build_message("cfo", to=["cfo@example.com"])
    )

    assert [(user, password) for _, user, password in server.mailbox.logins] == [
        (USER.encode(), PASSWORD.encode())
    ]
    assert len(server.mailbox.received) == 1


def test_wrong_password_is_a_send_error_with_the_code(server: Server) -> None:
    smtp = SmtpTransport(server.config(username=USER), environ={PASSWORD_VAR: "wrong"})

    with pytest.raises(SendError, match="535"):
        smtp.send(build_message("cfo", to=["cfo@example.com"]))
    assert server.mailbox.received == []


def test_username_without_password_is_a_config_error() -> None:
    config = MailConfig(transport="smtp", smtp=SmtpConfig(host="127.0.0.1", username=USER))

    with pytest.raises(ConfigError, match=f"{PASSWORD_VAR} is not"):
        SmtpTransport(config, environ={})


def test_credentials_are_never_sent_unencrypted_to_a_remote_host() -> None:
    smtp = SmtpConfig(host="mail.example.com", port=25, security="none", username=USER)

    with pytest.raises(ConfigError, match=r"unencrypted to mail\.example\.com"):
        SmtpTransport(MailConfig(transport="smtp", smtp=smtp), environ={PASSWORD_VAR: PASSWORD})


def test_refused_recipient_is_a_send_error_and_nobody_gets_the_message(
    server: Server,
) -> None:
    server.mailbox.refuse.add("gone@example.com")
    outgoing = build_message("coo", to=["coo@example.com", "gone@example.com"])

    with pytest.raises(
        SendError, match=r"refused recipient gone@example\.com of coo: 550"
    ) as caught:
        SmtpTransport(server.config(), environ={}).send(outgoing)
    assert caught.value.recipient == "gone@example.com"
    assert caught.value.transport == "smtp"
    assert server.mailbox.received == []


def test_more_than_fifty_recipients_are_refused_before_connecting(server: Server) -> None:
    crowd = build_message("board", to=[f"member{i}@example.com" for i in range(50)])
    smtp = SmtpTransport(server.config(), environ={})

    with pytest.raises(RefusedError, match="board: 51 recipients, at most 50"):
        smtp.preflight([crowd])
    with pytest.raises(SendError, match="board: 51 recipients"):
        smtp.send(crowd)
    assert server.mailbox.received == []


def test_recipients_outside_allowed_domains_are_refused_before_connecting(
    server: Server,
) -> None:
    config = server.config().model_copy(update={"allowed_recipient_domains": ["example.com"]})
    stray = build_message("cfo", to=["cfo@example.com"], bcc=["copy@example.org"])
    smtp = SmtpTransport(config, environ={})

    with pytest.raises(RefusedError, match=r"allowed_recipient_domains: copy@example\.org"):
        smtp.preflight([stray])
    with pytest.raises(SendError, match=r"copy@example\.org"):
        smtp.send(stray)
    assert server.mailbox.received == []


def test_starttls_against_a_server_without_it_is_refused_not_sent_in_clear(
    server: Server,
) -> None:
    smtp = SmtpTransport(server.config(security="starttls"), environ={})

    with pytest.raises(SendError, match="does not offer STARTTLS"):
        smtp.send(build_message("cfo", to=["cfo@example.com"]))
    assert server.mailbox.received == []


def test_starttls_upgrades_before_login_and_delivers(tls: Tls) -> None:
    with serve(Mailbox(), tls_context=tls.server, require_starttls=True) as server:
        config = server.config(security="starttls", username=USER)
        smtp = SmtpTransport(config, environ={PASSWORD_VAR: PASSWORD}, ssl_context=tls.client)

        smtp.send(build_message("cfo", to=["cfo@example.com"]))

        assert len(server.mailbox.logins) == 1
        assert len(server.mailbox.received) == 1


def test_implicit_tls_delivers(tls: Tls) -> None:
    with serve(Mailbox(), ssl_context=tls.server) as server:
        smtp = SmtpTransport(server.config(security="tls"), environ={}, ssl_context=tls.client)

        smtp.send(build_message("cfo", to=["cfo@example.com"]))

        assert len(server.mailbox.received) == 1


def test_untrusted_certificate_is_a_send_error(tls: Tls) -> None:
    with serve(Mailbox(), ssl_context=tls.server) as server:
        smtp = SmtpTransport(server.config(security="tls"), environ={})

        with pytest.raises(SendError, match=r"cannot open SMTP.*CERTIFICATE_VERIFY_FAILED"):
            smtp.send(build_message("cfo", to=["cfo@example.com"]))
        assert server.mailbox.received == []


def test_unreachable_server_is_a_send_error() -> None:
    config = MailConfig(
        transport="smtp",
        smtp=SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout_seconds=2),
    )

    with pytest.raises(SendError, match=r"cannot open SMTP to 127\.0\.0\.1"):
        SmtpTransport(config, environ={}).send(build_message("cfo", to=["cfo@example.com"]))
