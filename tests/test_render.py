"""Rendering: sanitized model text, subjects, and the MIME message."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from execbrief.errors import ConfigError
from execbrief.models import (
    Finding,
    GroundingWarning,
    Kpi,
    KpiStatus,
    Report,
    Severity,
    WarningKind,
)
from execbrief.render import mark_ungrounded, markdown_to_safe_html, markdown_to_safe_markdown
from execbrief.subject import render_subject


class _Elements(HTMLParser):
    """Every element and attribute of a fragment, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def _elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    "markdown",
    [
        "hello <script>alert(1)</script>",
        '<img src="https://tracker.example.com/p.gif">',
        "[click](javascript:alert(1))",
        '<a href="https://example.com" onclick="steal()">x</a>',
        '<form action="https://example.com"><input name="pw"></form>',
        "![pixel](https://tracker.example.com/p.gif)",
        "[x](http://plain.example.com)",
    ],
)
def test_model_markdown_cannot_inject_active_content(markdown: str) -> None:
    found = _elements(markdown_to_safe_html(markdown))

    assert not {"script", "img", "form", "input", "iframe", "style"} & set(found.tags)
    assert not [name for name, _ in found.attributes if name.startswith("on")]
    assert not [v for n, v in found.attributes if n in {"href", "src"} and "https:" not in v]


@pytest.mark.parametrize(
    "markdown",
    [
        "hello <script>alert(1)</script>",
        '<img src="https://tracker.example.com/p.gif" onerror="steal()">',
        "[click](javascript:alert(1))",
        '<a href="https://example.com" onclick="steal()">x</a>',
        '<form action="https://example.com"><input name="pw"></form>',
        "![pixel](https://tracker.example.com/p.gif)",
        "[x](http://plain.example.com)",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ],
)
def test_the_markdown_draft_cannot_carry_active_content(markdown: str) -> None:
    # a viewer that renders raw HTML, as many Markdown previews do
    viewer = MarkdownIt("commonmark", {"html": True})
    found = _elements(viewer.render(markdown_to_safe_markdown(markdown)))

    assert found.tags == ["p"]
    assert found.attributes == []


def test_the_markdown_draft_keeps_code_spans_local_images_and_https_links() -> None:
    draft = "Use `<unit>_price`; ![chart](charts/burn.png) [docs](https://example.com) <unit>"

    assert markdown_to_safe_markdown(draft) == (
        "Use `<unit>_price`; ![chart](charts/burn.png) [docs](https://example.com) &lt;unit>"
    )


def test_markdown_formatting_and_https_links_survive() -> None:
    html = markdown_to_safe_html("**Burn** is [here](https://example.com/b)\n\n- one\n- two")

    assert "<strong>Burn</strong>" in html
    assert 'href="https://example.com/b"' in html
    assert "<li>one</li>" in html


def test_subject_template_is_sandboxed_and_folded_onto_one_line() -> None:
    subject = render_subject(
        "[{{ portfolio }}] {{ date }}: {{ headline }}",
        {"portfolio": "P", "date": "2026-11-25", "headline": "Cash\r\nBcc: evil@example.com"},
    )

    assert subject == "[P] 2026-11-25: Cash Bcc: evil@example.com"
    assert "\n" not in subject and "\r" not in subject


def test_every_kind_of_grounding_warning_is_marked_once_where_it_stands() -> None:
    report = Report(
        subject="Margin at 43.8%",
        summary="The site sits behind a WAF.",
        findings=[],
        kpis=[
            Kpi(
                name="Burn under $5K",
                value=None,
                unit="USD/month",
                target="not set",
                status=KpiStatus.MISSING,
                evidence=[],
            )
        ],
        recommendations=[],
        sections=[],
    )
    warnings = [
        GroundingWarning(kind=kind, where=where, detail="", text=text)
        for kind, where, text in [
            (WarningKind.OTHER_FACT, "subject", "43.8%"),
            (WarningKind.UNIT_MISMATCH, "subject", "43.8%"),
            (WarningKind.CONTRADICTION, "summary", "WAF"),
            (WarningKind.UNGROUNDED_NUMBER, "kpis[0].name", "$5K"),
        ]
    ]

    marked = mark_ungrounded(report, warnings)

    assert marked.subject == "Margin at 43.8% [unverified]"
    assert marked.summary == "The site sits behind a WAF [unverified]."
    assert marked.kpis[0].name == "Burn under $5K [unverified]"


def test_a_broken_subject_template_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="subject template"):
        render_subject("{{ report.subject", {})


def test_ungrounded_numbers_are_marked_where_they_stand() -> None:
    report = Report(
        subject="Burn at $7,400",
        summary="Revenue reached $12,345; burn is $7,400.",
        findings=[
            Finding(
                category="finance",
                severity=Severity.HIGH,
                title="Cash",
                description="We lost $12,345 and $12,3450 is not the same number.",
                impact="High.",
                evidence=["f_1"],
            )
        ],
        kpis=[],
        recommendations=[],
        sections=[],
    )
    warnings = [
        GroundingWarning(kind=WarningKind.UNGROUNDED_NUMBER, where=w, detail="", text="$12,345")
        for w in ("summary", "findings[0].description")
    ]

    marked = mark_ungrounded(report, warnings)

    assert marked.summary == "Revenue reached $12,345 [unverified]; burn is $7,400."
    assert marked.findings[0].description == (
        "We lost $12,345 [unverified] and $12,3450 is not the same number."
    )
    assert marked.subject == report.subject
