"""Citations a reader can follow: numbered endnotes with each fact's title and full source."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from execbrief.citations import Citations, full_source
from execbrief.models import Fact, Finding, Report, Severity, Source
from execbrief.runs import RunFolder
from tests.conftest import Cli


def _fact(fact_id: str, source: Source, title: str = "A fact") -> Fact:
    return Fact(
        id=fact_id, collector="code_audit", kind="secret.hardcoded", title=title, source=source
    )


def _report(*cited: list[str]) -> Report:
    findings = [
        Finding(
            category="c",
            severity=Severity.HIGH,
            title="t",
            description="d",
            impact="i",
            evidence=ids,
        )
        for ids in cited
    ]
    return Report(
        subject="s", summary="s", findings=findings, kpis=[], recommendations=[], sections=[]
    )


def test_the_full_source_names_the_repository_of_a_file() -> None:
    in_repo = Source(path="lambda/lambda_function.py", line=15, resource="queenofsandiego-app")
    note = Source(path="handoffs/jada.md", line=12, section="Open Items")
    arn = Source(resource="arn:aws:cloudfront::123:distribution/E1")

    assert full_source(_fact("f_1", in_repo)) == "queenofsandiego-app:lambda/lambda_function.py:15"
    assert full_source(_fact("f_2", note)) == "handoffs/jada.md:12 § Open Items"
    assert full_source(_fact("f_3", arn)) == "arn:aws:cloudfront::123:distribution/E1"


def test_facts_are_numbered_in_the_order_the_report_first_cites_them() -> None:
    facts = {f"f_{n}": _fact(f"f_{n}", Source(resource=f"r{n}"), f"Fact {n}") for n in (1, 2, 3)}

    citations = Citations(_report(["f_2", "f_1"], ["f_1", "f_3", "f_9"]), facts)

    assert [(n.number, n.fact_id, n.title) for n in citations.notes] == [
        (1, "f_2", "Fact 2"),
        (2, "f_1", "Fact 1"),
        (3, "f_3", "Fact 3"),
        (4, "f_9", "not in this run's evidence"),
    ]
    assert citations.cite(["f_3", "f_2"]) == "[1, 3]"
    assert citations.cite([]) == "[uncited]"


def _parts(run: RunFolder, persona: str) -> tuple[str, str]:
    raw = (run.persona_dir(persona) / "message.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_every_format_of_a_brief_resolves_its_citations_to_endnotes(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send", "-p", "cto").code == 0
    run = RunFolder((example_workspace.parent.parent / "outputs" / "latest").resolve())
    report = run.read_report("cto")
    facts = run.read_bundle().fact_index()
    first = facts[report.findings[0].evidence[0]]
    text, html = _parts(run, "cto")
    markdown = (run.persona_dir("cto") / "report.md").read_text()

    for body in (text, html, markdown):
        assert "Sources" in body or "SOURCES" in body
        assert first.title in body
        assert full_source(first) in body
    assert re.search(r"\[1(, \d+)*\]", text)
    assert f"[1] {first.title}: {full_source(first)}" in text
    assert not re.search(r"\[f_[0-9a-f]{12}", html)  # ids appear only beside their endnote
    secret = next(
        facts[i] for n in report.findings for i in n.evidence if facts[i].kind.startswith("secret")
    )
    assert secret.source.resource and f"{secret.source.resource}:{secret.source.path}" in text
