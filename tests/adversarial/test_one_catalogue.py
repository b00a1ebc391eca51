"""One catalogue, one mask: the code audit, the detector over free text, the last-line
mask and the AWS reader show every secret kind the same way (issue 11.2, 13.1)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.collectors.aws import resource_facts
from execbrief.collectors.code_audit import secrets_scan
from execbrief.collectors.code_audit.collector import audit_repo
from execbrief.models import CollectResult, Fact, Source
from execbrief.secrets import rules
from execbrief.secrets.detect import find_secrets
from execbrief.secrets.mask import mask, mask_fact, redact_text
from tests.adversarial.canaries import CANARIES, matched, written
from tests.fixtures_repos import commit_all, init_repo, write

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
# How each kind sits in a source file for the code audit.
_IN_CODE = {
    "aws_secret_access_key": 'aws_secret_access_key = "{v}"',
    "twilio_auth_token": 'twilio_auth_token = "{v}"',
    "generic_secret": 'api_token = "{v}"',
    "private_key": '"""\n-----BEGIN RSA PRIVATE KEY-----\n{v}\n-----END RSA PRIVATE KEY-----\n"""',
}
# Shapes with no literal to prefilter on are free-text rules only (see rules.match_text).
_TEXT_ONLY_KINDS = {"azure_storage_key", "url_password", "password"}


def test_there_is_one_mask_function() -> None:
    assert vars(secrets_scan)["mask"] is mask
    defined = [
        path.relative_to(ROOT).as_posix()
        for folder in ("src", "collectors")
        for path in (ROOT / folder).rglob("*.py")
        if "src/execbrief/collectors" not in path.as_posix()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name == "mask"
    ]
    assert defined == ["src/execbrief/secrets/mask.py"]


def test_the_aws_reader_uses_the_catalogues_secret_names() -> None:
    assert resource_facts.is_secret_name is rules.is_secret_name
    assert not hasattr(resource_facts, "_SECRET_NAME")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc9f2a", "sk_live_…9f2a"),
        ("0123456789abcdefghij", "0123…"),  # 20 characters: 12 would be over half
        ("hunter2hunter", "hunt…"),
        ("hunter22", "…"),
    ],
)
def test_mask_shows_eight_and_four_and_little_of_short_values(value: str, shown: str) -> None:
    assert mask(value) == shown


@pytest.mark.parametrize("kind", sorted(CANARIES))
def test_the_detector_and_the_last_line_mask_agree_on_every_kind(kind: str) -> None:
    value = CANARIES[kind]
    text = f"first line\n{written(kind)}\nlast line"

    hits = find_secrets(text)
    masked = redact_text(text)
    note = Fact.create(collector="x", kind="test.note", source=Source(path="p"), title=text)
    fact = mask_fact(note)

    assert [hit.rule.id for hit in hits] == [kind]
    assert hits[0].line == 2
    if kind != "private_key":
        assert hits[0].masked == mask(matched(kind))
        assert text[hits[0].offset :].startswith(matched(kind))
    for piece in [value, *value.split("\n")]:
        assert piece not in masked and piece not in fact.title
    assert hits[0].masked in masked and hits[0].masked in fact.title


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> CollectResult:
    repo = init_repo(tmp_path_factory.mktemp("catalogue") / "repo")
    for kind, value in CANARIES.items():
        line = _IN_CODE.get(kind, 'value = "{v}"').format(v=value)
        write(repo, f"app/{kind}.py", f"import os\n\n{line}\n")
    commit_all(repo)
    return audit_repo(repo, frozenset({"secrets"}), NOW, None)


@pytest.mark.parametrize("kind", sorted(set(CANARIES) - _TEXT_ONLY_KINDS))
def test_the_code_audit_finds_every_kind_and_masks_it_the_same_way(
    audited: CollectResult, kind: str
) -> None:
    [fact] = [
        f
        for f in audited.facts
        if f.kind == "secret.hardcoded" and f.source.path == f"app/{kind}.py"
    ]
    value = CANARIES[kind]
    assert fact.source.section == kind
    shown = mask(value[:64]) if kind == "private_key" else mask(matched(kind))
    assert shown in fact.detail
    assert value not in fact.model_dump_json()


def test_no_second_list_of_key_shapes_remains() -> None:
    source = (ROOT / "src/execbrief/secrets/mask.py").read_text()
    assert "_KEY_SHAPES" not in source and "re.compile" not in source
