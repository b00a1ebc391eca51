"""Charts: drawn from facts, embedded inline in the message and beside the drafts."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from execbrief.charts import aws_cost_chart, burn_chart
from execbrief.models import Fact, Source
from tests.conftest import Cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cost(month: str, lambda_usd: float, s3_usd: float) -> Fact:
    return Fact.create(
        collector="aws_inventory",
        kind="aws.cost.monthly",
        source=Source(resource="cost-explorer:1", section=month),
        title=f"AWS cost {month}",
        metrics={"total_usd": lambda_usd + s3_usd, "aws_lambda_usd": lambda_usd, "s3_usd": s3_usd},
        tags=["cost"],
    )


def test_cost_chart_is_a_deterministic_png_citing_its_facts() -> None:
    facts = [_cost("2026-09", 20, 10), _cost("2026-08", 18, 9)]

    chart = aws_cost_chart(facts)
    again = aws_cost_chart(list(reversed(facts)))

    assert chart is not None and again is not None
    assert chart.png.startswith(PNG_MAGIC)
    assert chart.png == again.png
    assert sorted(chart.evidence) == sorted(f.id for f in facts)


def test_no_facts_no_chart() -> None:
    assert aws_cost_chart([]) is None
    assert burn_chart([]) is None


def test_cfo_message_carries_inline_charts_that_its_html_references(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    cfo = example_workspace.parent.parent / "outputs" / "latest" / "cfo"

    message = message_from_bytes((cfo / "message.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    assert html is not None
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert images, "the CFO brief should carry the burn chart"
    body = html.get_content()
    for image in images:
        assert f"cid:{image['Content-ID'].strip('<>')}" in body
        assert image.get_content().startswith(PNG_MAGIC)
    # The example's entities sell different units, so its portfolio has no break-even line.
    assert "![Revenue and expenses](charts/burn.png)" in (cfo / "report.md").read_text()
    assert (cfo / "charts" / "burn.png").read_bytes().startswith(PNG_MAGIC)
    assert 'src="charts/burn.png"' in (cfo / "report.html").read_text()


def test_email_html_has_inline_styles_and_keeps_the_dark_mode_rules(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    cto = example_workspace.parent.parent / "outputs" / "latest" / "cto"

    message = message_from_bytes((cto / "message.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert '<td class="head" style="' in html  # inlined for clients that drop <style>
    assert "@media (prefers-color-scheme: dark)" in html
    assert 'width="600"' in html
