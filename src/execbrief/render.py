"""The render stage: report.json -> report.md, report.html, report.txt, message.eml.

Model-written text is untrusted: Jinja2 autoescapes it, and section Markdown is turned
into HTML then sanitized, so nothing in evidence or answers can add script, forms,
remote images or headers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

import css_inline
import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from execbrief.citations import Citations
from execbrief.diff import changes_in_lens, summarise_changes
from execbrief.files import write_atomic
from execbrief.mail.addresses import check_header_value
from execbrief.mail.recipients import PersonaAddresses
from execbrief.models import (
    Bundle,
    BundleDiff,
    Envelope,
    GroundingWarning,
    Manifest,
    Persona,
    PersonaRun,
    Provenance,
    Report,
    WarningKind,
)
from execbrief.runs import RunFolder
from execbrief.subject import render_subject
from execbrief.templates import environment

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "code", "pre", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td", "h3", "h4", "h5", "hr", "a", "del",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
# @media rules (dark mode) cannot be inlined: they stay in a <style> block; nothing remote
# is ever fetched while rendering.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def markdown_to_safe_html(text: str) -> Markup:
    """Render untrusted Markdown to HTML that keeps only harmless formatting and links."""
    html = _markdown.render(text)
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - sanitized by nh3 just above


# Markdown viewers render raw HTML and follow any link: the draft gets the HTML's rules.
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_RAW_TAG = re.compile(r"<(?=/?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|[!?])")
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[^)]*)?\)")
_SAFE_LINK_SCHEMES = frozenset({"https", "mailto"})


def markdown_to_safe_markdown(text: str) -> str:
    """Markdown no viewer turns into active content: raw HTML shown as text, links only
    to https, mailto or a relative path, and no remote image (nothing is fetched)."""
    pieces: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        pieces += [_safe_prose(text[last : span.start()]), span.group(0)]
        last = span.end()
    pieces.append(_safe_prose(text[last:]))
    return "".join(pieces)


def _safe_prose(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        image, label, target = match.groups()
        scheme = target.split(":", 1)[0].lower() if ":" in target else ""
        if scheme and (image or scheme not in _SAFE_LINK_SCHEMES):
            return label
        return match.group(0)

    return _LINK.sub(link, _RAW_TAG.sub("&lt;", text))


@dataclass(frozen=True)
class RenderedSection:
    id: str
    title: str
    markdown: str
    html: Markup


def _provenance(outcome: PersonaRun) -> str:
    if outcome.provider == "offline":
        written = "Written without a model by the offline provider, from the evidence alone."
    else:
        written = f"Written by {outcome.model or 'an unknown model'} via {outcome.provider}."
    if outcome.provenance is Provenance.EDITED:
        return f"Edited by hand after this: {written} Checked again against the evidence."
    return written


UNVERIFIED = "[unverified]"
_FIELD = re.compile(
    r"^(?:(?P<list>findings|kpis|recommendations|sections)\[(?P<index>\d+)\]\.)?(?P<name>\w+)$"
)
_UNMARKED = {WarningKind.UNCITED, WarningKind.MISSING_SECTION}


def mark_ungrounded(report: Report, warnings: list[GroundingWarning]) -> Report:
    """The report with the words of each grounding warning (a number, a contradicting
    phrase, an unknown id) followed by a marker, so a reviewer sees it where it stands,
    in every format."""
    data = report.model_dump()
    for warning in warnings:
        match = _FIELD.match(warning.where)
        if warning.kind in _UNMARKED or not warning.text or not match:
            continue
        holder = data if not match["list"] else data[match["list"]][int(match["index"])]
        value = holder.get(match["name"])
        if isinstance(value, str):
            marked = re.escape(f" {UNVERIFIED}")
            pattern = re.compile(rf"(?<![\w$.,]){re.escape(warning.text)}(?![\w])(?!{marked})")
            holder[match["name"]] = pattern.sub(lambda m: f"{m.group(0)} {UNVERIFIED}", value)
    return Report.model_validate(data)


@dataclass(frozen=True)
class RenderContext:
    """What every persona of one render shares; render_persona reads it, never changes it.

    With `since`, briefs end with what changed in their lens since that earlier run;
    with `bundle`, they resolve citations to endnotes and carry the charts their lens
    calls for (inline images in the mail).
    """

    run: RunFolder
    manifest: Manifest
    now: datetime
    since: BundleDiff | None = None
    bundle: Bundle | None = None


@dataclass(frozen=True)
class RenderedPersona:
    """What rendering one persona produced, for the caller to record in the manifest."""

    envelope: Envelope
    report_sha256: str


def render_persona(
    ctx: RenderContext, persona: Persona, addresses: PersonaAddresses
) -> RenderedPersona:
    """Write the drafts and message.eml of one persona, to the addresses given; return its
    envelope and the digest of the report.json they were rendered from."""
    run, manifest, now = ctx.run, ctx.manifest, ctx.now
    since, bundle = ctx.since, ctx.bundle
    report_bytes = run.report_path(persona.id).read_bytes()
    outcome = manifest.personas.get(persona.id) or PersonaRun(
        persona=persona.id, title=persona.title
    )
    report = mark_ungrounded(run.read_report(persona.id), outcome.warnings)
    titles = {s.id: s.title for s in persona.sections}
    sections = [
        RenderedSection(
            s.id,
            titles.get(s.id, s.id.replace("_", " ").title()),
            s.markdown,
            markdown_to_safe_html(s.markdown),
        )
        for s in report.sections
    ]
    date = now.strftime("%Y-%m-%d")
    citations = Citations(report, bundle.fact_index() if bundle is not None else {})
    since_lens = summarise_changes(changes_in_lens(since, persona.evidence) if since else [])
    context: dict[str, Any] = {
        "persona": persona,
        "report": report,
        "sections": sections,
        "warnings": outcome.warnings,
        "omitted": outcome.omitted_facts,
        "portfolio": manifest.portfolio,
        "run_id": run.run_id,
        "date": date,
        "digest": manifest.bundle_digest,
        "provenance": _provenance(outcome),
        "offline": outcome.provider == "offline",
        "edited": outcome.provenance is Provenance.EDITED,
        "since": since,
        "since_changes": since_lens.shown,
        "since_summary": since_lens,
        "cite": citations.cite,
        "endnotes": citations.notes,
    }
    sender, to, cc, bcc = addresses.sender, addresses.to, addresses.cc, addresses.bcc
    domain = sender.split("@")[1]
    # matplotlib takes a third of a second to import: only rendering pays for it
    from execbrief.charts import charts_for

    charts = charts_for(persona, bundle) if bundle is not None else []
    chart_cids = {
        c.name: make_msgid(idstring=f"{persona.id}.{c.name}", domain=domain)[1:-1] for c in charts
    }
    env = environment()

    def draw(template: str, chart_src: dict[str, str]) -> str:
        figures = [{"title": c.title, "src": chart_src[c.name]} for c in charts]
        return env.get_template(template).render(context, charts=figures)

    local_src = {c.name: f"charts/{c.name}.png" for c in charts}
    markdown = markdown_to_safe_markdown(draw("report.md.j2", local_src))
    text = env.get_template("report.txt.j2").render(context)
    html = _INLINER.inline(draw("report.html.j2", local_src))
    mail_html = _INLINER.inline(
        draw("report.html.j2", {n: f"cid:{c}" for n, c in chart_cids.items()})
    )
    subject = render_subject(
        persona.deliver.subject,
        {
            "portfolio": manifest.portfolio,
            "persona": persona,
            "run_id": run.run_id,
            "date": date,
            "report": report,
        },
    )
    message_id = make_msgid(idstring=f"{run.run_id}.{persona.id}", domain=domain)
    message = _mime_message(sender, to, cc, subject, now, message_id, text, mail_html)
    html_part = message.get_body(("html",))
    for chart in charts:
        assert html_part is not None  # _mime_message always adds the HTML alternative
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{chart_cids[chart.name]}>",
            filename=f"{chart.name}.png",
            disposition="inline",
        )
    message["X-Execbrief-Run"] = run.run_id
    message["X-Execbrief-Persona"] = persona.id

    folder = run.persona_dir(persona.id)
    write_atomic(folder / "report.md", markdown)
    write_atomic(folder / "report.txt", text)
    write_atomic(folder / "report.html", html)
    write_atomic(folder / "message.eml", message.as_bytes())
    for chart in charts:
        write_atomic(folder / "charts" / f"{chart.name}.png", chart.png)
    envelope = Envelope(
        sender=sender,
        recipients=list(dict.fromkeys(to + cc + bcc)),
        message_id=message_id,
        origins=addresses.origins,
    )
    write_atomic(folder / "envelope.json", envelope.model_dump_json(indent=2))
    return RenderedPersona(envelope, hashlib.sha256(report_bytes).hexdigest())


def _mime_message(
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str,
    now: datetime,
    message_id: str,
    text: str,
    html: str,
) -> EmailMessage:
    for name, value in (("Subject", subject), ("From", sender)):
        check_header_value(name, value)
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message
