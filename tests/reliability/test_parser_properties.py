"""Property tests: no input crashes the Markdown note reader, the ledger reader or the
secret detector, and none makes them exceed the limits (issue 13, property tests)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execbrief.bundle import collect_bundle
from execbrief.collectors.handoffs import HandoffsCollector
from execbrief.collectors.handoffs.markdown_notes import parse_note, split_front_matter
from execbrief.collectors.ledger import LedgerCollector
from execbrief.collectors.ledger.books import MAX_AMOUNT, BadRow, parse_amount, parse_day
from execbrief.config import LedgerSource, Limits, Sources, Workspace, WorkspaceConfig
from execbrief.models import Entity
from execbrief.secrets.detect import find_secrets
from execbrief.secrets.mask import redact_text

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
LIMITS = Limits(note_bytes=20_000, facts_per_source=40, bundle_bytes=60_000)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like notes: Markdown syntax, YAML markers, control characters, secrets.
_pieces = st.sampled_from(
    [
        "---\n",
        "# ",
        "## ",
        "### ",
        "- ",
        "- [ ] ",
        "* TODO ",
        "| a | b |\n",
        "|---|---|\n",
        "<!-- ",
        " -->",
        "```\n",
        "\n",
        "\r\n",
        "\x00",
        "\t",
        "&a ",
        "*a ",
        "[*a, *a]",
        "key: value\n",
        "entity: jada\n",
        "updated: 2026-13-40\n",
        "Blocker: ",
        "Risk: ",
        "$1,450",
        "37%",
        "sk_live_",
        "AKIA",
        "password=",
        "postgres://u:p@h/",
        "é",
        "\u202e",
    ]
)
_note_text = st.lists(st.one_of(_pieces, st.text(max_size=20)), max_size=80).map("".join)


def _workspace(root: Path, **sources: object) -> Workspace:
    config = WorkspaceConfig(
        portfolio="p",
        entities=[Entity(id="jada", name="JADA")],
        sources=Sources(**sources),
        limits=LIMITS,
    )
    return Workspace(root=root, config=config)


@SETTINGS
@given(_note_text)
def test_the_note_parser_takes_any_text(text: str) -> None:
    front, body = split_front_matter(text)
    note = parse_note(body)
    assert body.count("\n") == text.count("\n") or front is None
    assert all(section.line >= 1 for section in note.sections)


@SETTINGS
@given(st.one_of(_note_text, st.binary(max_size=400).map(lambda b: b.decode("latin-1"))))
def test_a_note_of_any_content_is_facts_and_gaps_within_the_limits(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "n.md").write_bytes(text.encode("utf-8", "surrogatepass"))
        workspace = _workspace(root, handoffs=["*.md"])

        bundle = collect_bundle(workspace, [HandoffsCollector()], NOW)

    assert not [run for run in bundle.collectors if not run.ok]
    assert len([f for f in bundle.facts if f.source.path == "n.md"]) <= LIMITS.facts_per_source
    assert sum(len(f.model_dump_json()) for f in bundle.facts) <= LIMITS.bundle_bytes
    assert "\x00" not in bundle.model_dump_json()


_cells = st.one_of(
    st.sampled_from(
        ["1e400", "NaN", "-inf", "(12.00)", "$1,450.00", "2026-10-01", "10/31/2026", "", "EUR"]
    ),
    st.text(max_size=12),
)


@SETTINGS
@given(st.lists(st.lists(_cells, min_size=1, max_size=7), max_size=30))
def test_a_ledger_of_any_rows_is_read_without_crashing(rows: list[list[str]]) -> None:
    lines = ["date,entity,category,amount,currency,memo"]
    lines += [",".join('"' + cell.replace('"', '""') + '"' for cell in row) for row in rows]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "ledger.csv").write_text(
            "\n".join(lines) + "\n", encoding="utf-8", errors="replace"
        )
        workspace = _workspace(
            root, ledger=LedgerSource(path=Path("ledger.csv"), rates={"EUR": 1.1})
        )

        bundle = collect_bundle(workspace, [LedgerCollector()], NOW)

    assert [run.ok for run in bundle.collectors] == [True]
    assert sum(len(f.model_dump_json()) for f in bundle.facts) <= LIMITS.bundle_bytes


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=40))
def test_amounts_and_dates_parse_or_are_a_bad_row(text: str) -> None:
    for parse in (parse_amount, parse_day):
        try:
            value = parse(text)
        except BadRow:
            continue
        if isinstance(value, Decimal):
            assert value.is_finite() and abs(value) < MAX_AMOUNT


@settings(max_examples=200, deadline=None, database=None)
@given(_note_text)
def test_the_detector_takes_any_text_and_the_mask_removes_what_it_finds(text: str) -> None:
    hits = find_secrets(text)
    masked = redact_text(text)
    for hit in hits:
        assert hit.line >= 1 and 0 <= hit.offset <= len(text)
        if len(hit.value) >= 8:
            assert hit.value not in masked
    assert masked.count("\n") == text.count("\n")
