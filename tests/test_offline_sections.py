"""The offline email-campaign and security-gaps sections on small hand-made facts: their
structure, what each row cites, and what they say when the evidence is silent."""

from __future__ import annotations

from datetime import UTC, datetime

from execbrief.llm.offline import build_offline_report
from execbrief.llm.offline_sections import system_of
from execbrief.models import (
    Delivery,
    EvidenceSelector,
    Fact,
    Persona,
    PersonaSection,
    SectionLayout,
    Severity,
    Source,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ARN = "arn:aws:lambda:us-west-2:123456789012:function:bookings"


def _fact(kind: str, title: str, source: Source, **fields: object) -> Fact:
    return Fact.create(
        collector="test", kind=kind, source=source, title=title, observed_at=NOW, **fields
    )


def _persona(layout: SectionLayout, section_kinds: list[str]) -> Persona:
    return Persona(
        id="lens",
        title="Lens",
        audience="The owner.",
        lens="What to do.",
        priorities=["first things first"],
        evidence=EvidenceSelector(),
        sections=[
            PersonaSection(
                id="part",
                title="Part",
                guidance="Be brief.",
                layout=layout,
                evidence=EvidenceSelector(kinds=section_kinds),
            )
        ],
        deliver=Delivery(to=["owner@example.com"], subject="{{ persona.title }}"),
    )


def _section(persona: Persona, facts: list[Fact]) -> str:
    return build_offline_report(persona, facts).sections[0].markdown


MARKETING = _fact(
    "handoff.section",
    "Boats handoff: Marketing",
    Source(path="handoffs/boats.md", line=3, section="Marketing"),
    entity="boats",
    metrics={"email_list": 1200.0},
    detail=(
        "- Email list: **1,200** contacts from past guests.\n"
        "- Modelled email blast: 1,200 x 2% = 24 inquiries.\n"
        "- Instagram: posting weekly."
    ),
)
SANDBOX = _fact(
    "aws.ses.sandbox",
    "SES in us-west-2 is in the sandbox",
    Source(resource="arn:aws:ses:us-west-2:123456789012:account"),
    severity=Severity.MEDIUM,
)
SEND = _fact(
    "handoff.todo",
    "TODO: send the spring newsletter to the list.",
    Source(path="handoffs/boats.md", line=9, section="Open Items"),
    entity="boats",
    severity=Severity.LOW,
)
EMAIL_KINDS = ["handoff.*", "aws.ses.*"]


def test_an_email_campaign_has_audience_channel_a_gated_sequence_and_the_notes_model() -> None:
    text = _section(_persona(SectionLayout.EMAIL_CAMPAIGN, EMAIL_KINDS), [MARKETING, SANDBOX, SEND])

    audience, channel, sequence, model = text.split("\n\n**")
    assert f"- **Boats**: Email list: 1,200 contacts from past guests. `{MARKETING.id}`" in audience
    assert "Consent: not stated in the evidence, so confirming it is step 1" in audience
    assert "Instagram" not in text
    assert f"| sandbox | SES in us-west-2 is in the sandbox | `{SANDBOX.id}` |" in channel
    rows = [line for line in sequence.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[2] for row in rows[1:]] == [
        "by day 7",
        "by day 14",
        "by day 30",
        "by day 60",
    ]
    assert rows[1].startswith("| 1 | Confirm the list's consent")
    gate = "Request SES production access: SES in us-west-2 is in the sandbox | by day 14"
    assert f"{gate} | `{SANDBOX.id}`" in rows[2]
    assert f"Do: send the spring newsletter to the list. | by day 30 | `{SEND.id}`" in rows[3]
    assert rows[4].startswith("| 4 | Measure:")
    assert f"Modelled email blast: 1,200 x 2% = 24 inquiries. `{MARKETING.id}`" in model


def test_without_a_send_todo_or_ses_facts_the_campaign_says_what_it_does_not_know() -> None:
    consent = _fact(
        "handoff.decision",
        "Decision: only mail contacts who opted in at booking.",
        Source(path="handoffs/boats.md", line=12, section="Decisions"),
        entity="boats",
    )

    text = _section(_persona(SectionLayout.EMAIL_CAMPAIGN, EMAIL_KINDS), [MARKETING, consent])

    assert f"- Consent: only mail contacts who opted in at booking. `{consent.id}`" in text
    assert "Confirm the list's consent" not in text
    assert "No SES fact in the evidence: sending readiness unknown." in text
    assert (
        f"| 1 | Send the first campaign to the email list (1,200) | by day 30 | `{MARKETING.id}` |"
        in text
    )


def test_security_gaps_are_grouped_by_system_worst_first_one_row_per_kind() -> None:
    def route(name: str, line: int) -> Fact:
        return _fact(
            "auth.endpoint_unauthenticated",
            f"Route {name} has no auth check",
            Source(path="app.py", line=line, resource="shop-app"),
            entity="shop",
            severity=Severity.HIGH,
        )

    key = _fact(
        "secret.hardcoded",
        "Stripe live secret key in app.py:3",
        Source(path="app.py", line=3, resource="shop-app"),
        entity="shop",
        severity=Severity.CRITICAL,
    )
    env = _fact(
        "aws.lambda.secret_env_name",
        "Lambda bookings keeps a secret in environment variable STRIPE_KEY",
        Source(resource=ARN, section="env:STRIPE_KEY"),
        entity="shop",
        severity=Severity.HIGH,
    )
    routes = [route("pay", 20), route("refund", 40)]
    persona = _persona(SectionLayout.SECURITY_GAPS, ["secret.*", "auth.*", "aws.*"])

    text = _section(persona, [env, *routes, key])

    repo, lam = text.split("\n\n**")[:2]
    assert repo.startswith("**repository shop-app** (shop)")
    assert lam.startswith("Lambda bookings** (shop)")
    assert (
        "| Rotate the key and move it to a secret store | critical | Stripe live secret key in "
        f"app.py:3 | app.py:3 | developer (contractor) | `{key.id}` |"
    ) in repo
    assert (
        "| Put authentication in front of it | high | Route pay has no auth check (2 alike) | "
        f"app.py:20, app.py:40 | developer (contractor) | `{routes[0].id}` `{routes[1].id}` |"
    ) in repo
    assert repo.index("critical") < repo.index("Route pay")
    assert f"| Move it to Secrets Manager | high | {env.title} | env:STRIPE_KEY |" in lam


def test_systems_are_named_from_arns_and_repositories() -> None:
    def named(source: Source) -> str:
        return system_of(_fact("aws.x", "t", source))

    assert named(Source(resource=ARN)) == "Lambda bookings"
    assert named(Source(resource="arn:aws:s3:::site-bucket")) == "S3 bucket site-bucket"
    assert named(Source(resource="arn:aws:apigateway:us-west-2::/apis/abc/routes/r1")) == (
        "API Gateway abc"
    )
    assert named(Source(resource="arn:aws:cloudfront::1:distribution/E1")) == "CloudFront E1"
    assert named(Source(resource="arn:aws:iam::1:root")) == "IAM root"
    assert named(Source(path="Code.gs", resource="forms")) == "repository forms"
    assert named(Source(path="notes/a.md")) == "notes"
