"""The ses transport against moto's SES: envelopes, tags, identities, sandbox, pacing, retries."""

from __future__ import annotations

import base64
import email
import itertools
from collections.abc import Iterator, Mapping, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import RawMessage, ses_backends

from execbrief.config import MailConfig
from execbrief.errors import ConfigError, RefusedError, SendError
from execbrief.mail.ses import SesTransport, tag_value
from execbrief.models import Envelope, OutgoingMessage

REGION = "us-west-2"
SENDER = "reports@example.com"
AUDIT = "audit@example.com"
RUN = "20261125T141500Z"
PERSONAS = ["ceo", "cfo", "cto", "coo", "cmo", "clo", "ciso", "board"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def build_message(
    persona: str, *, to: list[str], bcc: Sequence[str] = (AUDIT,), sender: str = SENDER
) -> OutgoingMessage:
    """A brief as render writes it: text and HTML alternatives, a chart inline, no Bcc header."""
    msg = EmailMessage()
    msg["Subject"] = f"{persona.upper()} brief: week 47"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(f"{persona} brief in plain text")
    msg.add_alternative('<p>Brief</p><img src="cid:chart@execbrief">', subtype="html")
    html = msg.get_body(("html",))
    assert html is not None
    html.add_related(PNG, "image", "png", cid="<chart@execbrief>")
    envelope = Envelope(sender=sender, recipients=[*to, *bcc], message_id=msg["Message-ID"])
    return OutgoingMessage(
        run=RUN, persona=persona, raw=msg.as_bytes(policy=policy.SMTP), envelope=envelope
    )


class FakeClock:
    """A monotonic clock that only moves when the transport sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def answer(status: int, body: Mapping[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """What a botocore before-call hook returns to stand in for SES's HTTP answer."""
    return AWSResponse("https://email.example", status, {}, None), dict(body)


def error_answer(status: int, code: str) -> tuple[AWSResponse, dict[str, Any]]:
    return answer(status, {"Error": {"Code": code, "Message": f"{code} from test"}})


def set_account(session: boto3.Session, *, production: bool, rate: float = 14.0) -> None:
    """Stand in for GetAccount, which moto does not implement in-process."""
    body = {
        "ProductionAccessEnabled": production,
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": rate, "SentLast24Hours": 0.0},
    }
    session.events.register(
        "before-call.sesv2.GetAccount", lambda **_: answer(200, body), unique_id="account"
    )


def sent() -> list[RawMessage]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def session(aws: None) -> boto3.Session:
    session = boto3.Session(region_name=REGION)
    session.client("ses").verify_email_identity(EmailAddress=SENDER)
    return session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def transport(
    session: boto3.Session, clock: FakeClock, config: MailConfig | None = None
) -> SesTransport:
    config = config or MailConfig(transport="ses", region=REGION)
    return SesTransport(config, session=session, sleep=clock.sleep, clock=clock)


def test_eight_briefs_go_out_with_the_audit_copy_in_every_envelope_and_no_header(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    messages = [build_message(p, to=[f"{p}@example.com"]) for p in PERSONAS]
    ses = transport(session, clock)

    ses.preflight(messages)
    ids = [ses.send(m) for m in messages]

    delivered = sent()
    assert ids == [m.id for m in delivered]
    assert len(set(ids)) == 8
    for message, record in zip(messages, delivered, strict=True):
        assert record.source == SENDER
        assert AUDIT in record.destinations
        assert f"{message.persona}@example.com" in record.destinations
        parsed = email.message_from_string(record.raw_data, policy=policy.default)
        assert all(AUDIT not in str(value) for value in parsed.values())
        assert AUDIT not in record.raw_data
        assert parsed["Subject"] == f"{message.persona.upper()} brief: week 47"


def test_persona_and_run_tags_and_configuration_set_go_with_each_message(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    requests: list[dict[str, Any]] = []
    session.events.register(
        "before-parameter-build.sesv2.SendEmail",
        lambda params, **_: requests.append(dict(params)),
    )
    config = MailConfig(transport="ses", region=REGION, configuration_set="briefs")

    transport(session, clock, config).send(build_message("cfo", to=["cfo@example.com"]))

    assert len(requests) == 1
    assert requests[0]["EmailTags"] == [
        {"Name": "persona", "Value": "cfo"},
        {"Name": "run", "Value": RUN},
    ]
    assert requests[0]["ConfigurationSetName"] == "briefs"
    assert requests[0]["Destination"] == {"ToAddresses": ["cfo@example.com", AUDIT]}


def test_configuration_set_is_left_out_when_not_configured(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    requests: list[dict[str, Any]] = []
    session.events.register(
        "before-parameter-build.sesv2.SendEmail",
        lambda params, **_: requests.append(dict(params)),
    )

    transport(session, clock).send(build_message("cto", to=["cto@example.com"]))

    assert "ConfigurationSetName" not in requests[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("cfo", "cfo"), ("run 2026/11/25.1", "run_2026_11_25_1"), ("", "_"), ("x" * 300, "x" * 256)],
)
def test_tag_values_keep_to_the_characters_ses_allows(value: str, expected: str) -> None:
    assert tag_value(value) == expected


def test_unverified_from_is_refused_before_anything_is_sent(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    message = build_message("cfo", to=["cfo@example.com"], sender="ceo@unverified.example.org")

    with pytest.raises(ConfigError, match=r"ceo@unverified\.example\.org is not a verified SES"):
        transport(session, clock).preflight([message])
    assert sent() == []


def test_send_without_preflight_still_refuses_an_unverified_from(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    message = build_message("cfo", to=["cfo@example.com"], sender="ceo@unverified.example.org")

    with pytest.raises(SendError, match="not a verified SES identity"):
        transport(session, clock).send(message)
    assert sent() == []


def test_from_is_verified_through_its_domain(aws: None, clock: FakeClock) -> None:
    session = boto3.Session(region_name=REGION)
    session.client("ses").verify_domain_identity(Domain="briefs.example.net")
    set_account(session, production=True)
    message = build_message("cfo", to=["cfo@example.com"], sender="cfo-brief@briefs.example.net")

    transport(session, clock).send(message)

    assert [m.source for m in sent()] == ["cfo-brief@briefs.example.net"]


def test_sandbox_with_unverified_recipients_is_refused_before_the_first_send(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=False)
    session.client("ses").verify_email_identity(EmailAddress=AUDIT)
    session.client("ses").verify_email_identity(EmailAddress="ceo@example.com")
    messages = [
        build_message("ceo", to=["ceo@example.com"]),
        build_message("cfo", to=["cfo@example.com"]),
        build_message("cto", to=["cto@example.net"]),
    ]

    with pytest.raises(
        RefusedError, match=r"in the sandbox .* cfo@example\.com, cto@example\.net; nothing"
    ):
        transport(session, clock).preflight(messages)
    assert sent() == []


def test_sandbox_sends_to_verified_recipients_and_the_mailbox_simulator(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=False)
    session.client("sesv2").create_email_identity(EmailIdentity="example.net")
    messages = [
        build_message("ceo", to=["ceo@example.net"], bcc=["success@simulator.amazonses.com"])
    ]
    ses = transport(session, clock)

    assert ses.preflight(messages).production is False
    ses.send(messages[0])

    assert len(sent()) == 1


def test_pacing_follows_the_accounts_max_send_rate(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True, rate=2.0)
    send_times: list[float] = []
    session.events.register("before-call.sesv2.SendEmail", lambda **_: send_times.append(clock.now))
    ses = transport(session, clock)

    for persona in PERSONAS:
        ses.send(build_message(persona, to=[f"{persona}@example.com"]))

    # Two recipients a message (To and the audit Bcc) at two recipients a second.
    gaps = [later - earlier for earlier, later in itertools.pairwise(send_times)]
    assert gaps == [1.0] * 7
    assert clock.sleeps == [1.0] * 7


def test_pacing_does_not_sleep_when_time_has_already_passed(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True, rate=1.0)
    ses = transport(session, clock)

    ses.send(build_message("ceo", to=["ceo@example.com"]))
    clock.now += 5
    ses.send(build_message("cfo", to=["cfo@example.com"]))

    assert clock.sleeps == []


def test_pacing_falls_back_to_the_v1_send_quota_without_get_account(
    session: boto3.Session, clock: FakeClock
) -> None:
    session.events.register(
        "before-call.sesv2.GetAccount", lambda **_: error_answer(403, "AccessDeniedException")
    )
    ses = transport(session, clock)

    account = ses.preflight([build_message("ceo", to=["ceo@example.com"])])
    for persona in ("ceo", "cfo", "cto"):
        ses.send(build_message(persona, to=[f"{persona}@example.com"]))

    assert (account.quota_from, account.max_send_rate, account.production) == (
        "get_send_quota",
        1.0,
        None,
    )
    assert clock.sleeps == [2.0, 2.0]


def test_throttling_is_retried_with_backoff(session: boto3.Session, clock: FakeClock) -> None:
    set_account(session, production=True)
    refusals = iter(
        [error_answer(429, "TooManyRequestsException"), error_answer(400, "Throttling")]
    )
    session.events.register("before-call.sesv2.SendEmail", lambda **_: next(refusals, None))

    message_id = transport(session, clock).send(build_message("cfo", to=["cfo@example.com"]))

    assert [m.id for m in sent()] == [message_id]
    assert len(clock.sleeps) == 2
    assert all(pause > 0 for pause in clock.sleeps)


def test_throttling_gives_up_as_a_send_error(session: boto3.Session, clock: FakeClock) -> None:
    set_account(session, production=True)
    session.events.register(
        "before-call.sesv2.SendEmail", lambda **_: error_answer(429, "TooManyRequestsException")
    )
    config = MailConfig(transport="ses", region=REGION)
    ses = SesTransport(config, session=session, sleep=clock.sleep, clock=clock, max_attempts=3)

    with pytest.raises(SendError, match="SES refused cfo: TooManyRequestsException"):
        ses.send(build_message("cfo", to=["cfo@example.com"]))
    assert len(clock.sleeps) == 2


def test_rejection_is_a_send_error_and_not_retried(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    calls: list[int] = []

    def reject(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        calls.append(1)
        return error_answer(400, "MessageRejected")

    session.events.register("before-call.sesv2.SendEmail", reject)

    with pytest.raises(SendError, match="MessageRejected") as caught:
        transport(session, clock).send(build_message("cfo", to=["cfo@example.com"]))
    assert caught.value.transport == "ses"
    assert calls == [1]


def test_more_than_fifty_recipients_are_refused_before_sending(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    crowd = build_message("board", to=[f"member{i}@example.com" for i in range(50)])
    ses = transport(session, clock)

    with pytest.raises(RefusedError, match="board: 51 recipients, SES takes at most 50"):
        ses.preflight([build_message("cfo", to=["cfo@example.com"]), crowd])
    with pytest.raises(SendError, match="board: 51 recipients"):
        ses.send(crowd)
    assert sent() == []


def test_message_over_the_ses_size_limit_is_refused_before_sending(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    small = build_message("cfo", to=["cfo@example.com"])
    huge = small.model_copy(update={"raw": small.raw + b"x" * SesTransport.max_message_bytes})

    with pytest.raises(RefusedError, match=r"cfo: message is \d+ bytes after base64 encoding"):
        transport(session, clock).preflight([huge])
    assert sent() == []


def test_recipients_outside_allowed_domains_are_refused_before_sending(
    session: boto3.Session, clock: FakeClock
) -> None:
    set_account(session, production=True)
    config = MailConfig(transport="ses", region=REGION, allowed_recipient_domains=["example.com"])
    ses = transport(session, clock, config)
    stray = build_message("cfo", to=["cfo@example.com", "cfo@gmail.com"])

    with pytest.raises(RefusedError, match=r"allowed_recipient_domains: cfo@gmail\.com"):
        ses.preflight([build_message("ceo", to=["ceo@example.com"]), stray])
    with pytest.raises(SendError, match=r"cfo@gmail\.com"):
        ses.send(stray)
    assert sent() == []


def test_a_missing_region_is_a_config_error(aws: None) -> None:
    with pytest.raises(ConfigError, match="no AWS region for the ses transport"):
        SesTransport(MailConfig(transport="ses"), session=boto3.Session())


def test_an_unknown_aws_profile_is_a_config_error(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")

    with pytest.raises(ConfigError, match="no-such-profile"):
        SesTransport(MailConfig(transport="ses", region=REGION))


def test_aws_endpoint_url_reaches_a_real_moto_server(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        session = boto3.Session(region_name=REGION)
        session.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        ses = transport(session, clock)

        account = ses.preflight([build_message("cfo", to=["cfo@example.com"])])
        message_id = ses.send(build_message("cfo", to=["cfo@example.com"]))

        # moto's server answers GetAccount with 404, so the v1 quota paces the sends.
        assert account.quota_from == "get_send_quota"
        assert [m.id for m in sent()] == [message_id]
    finally:
        server.stop()
