"""The code audit's secret scan and file hygiene, on git repositories built in tmp_path."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.collectors.code_audit.collector import (
    DEFAULT_MAX_FILE_BYTES,
    CodeAuditCollector,
    audit_paths,
    audit_repo,
    match_entity,
)
from execbrief.config import CollectContext, Sources, WorkspaceConfig
from execbrief.errors import ConfigError
from execbrief.models import CollectResult, Entity, Fact, Severity
from tests.fixtures_repos import Keys, commit_all, git, init_repo, write

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
SECRETS = frozenset({"secrets"})
ENGINES = ["re", "hyperscan"]


def secret_facts(result: CollectResult, kind: str = "secret.hardcoded") -> list[Fact]:
    return [f for f in result.facts if f.kind == kind]


def located(result: CollectResult, kind: str = "secret.hardcoded") -> set[tuple[str, int | None]]:
    return {(f.source.path or "", f.source.line) for f in secret_facts(result, kind)}


def scan(
    repo: Path, engine: str = "auto", max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> CollectResult:
    return audit_repo(repo, SECRETS, NOW, None, max_file_bytes, engine=engine)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Both prefilters must find the same secrets; hyperscan is skipped where absent."""
    if request.param == "hyperscan":
        pytest.importorskip("hyperscan")
    return str(request.param)


def test_tracked_secret_is_critical_and_also_in_history(tmp_path: Path, engine: str) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().stripe_live()
    write(repo, "app/pay.py", f'import stripe\n\nstripe.api_key = "{key}"\n')
    commit_all(repo)

    [fact] = secret_facts(scan(repo, engine))

    assert (fact.source.path, fact.source.line, fact.source.section) == (
        "app/pay.py",
        3,
        "stripe_live_secret",
    )
    assert fact.severity is Severity.CRITICAL
    assert "File tracked by git: yes" in fact.detail
    assert "Value also in git history: yes" in fact.detail
    assert f"{key[:8]}…{key[-4:]}" in fact.detail
    assert fact.metrics == {"tracked": 1.0, "in_history": 1.0}


def test_untracked_secret_is_reported_one_step_lower(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    commit_all(repo, "empty")
    write(repo, "scratch.py", f'KEY = "{Keys().stripe_live()}"\n')

    [fact] = secret_facts(scan(repo))

    assert fact.severity is Severity.HIGH
    assert "File tracked by git: no" in fact.detail
    assert "Value also in git history: no" in fact.detail


def test_secret_only_in_history_becomes_in_history_fact(tmp_path: Path, engine: str) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().aws_key_id()
    write(repo, "deploy/settings.py", f'REGION = "us-west-2"\nAWS_KEY = "{key}"\n')
    added = commit_all(repo, "add settings")
    write(repo, "deploy/settings.py", 'REGION = "us-west-2"\nAWS_KEY = os.environ["AWS_KEY"]\n')
    commit_all(repo, "read the key from the environment")

    result = scan(repo, engine)

    assert secret_facts(result) == []
    [fact] = secret_facts(result, "secret.in_history")
    assert (fact.source.path, fact.source.line) == ("deploy/settings.py", 2)
    assert fact.severity is Severity.CRITICAL
    assert added[:10] in fact.detail
    assert key not in fact.model_dump_json()


def test_gitignored_file_is_not_read(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    write(repo, ".gitignore", "local.env\nsecrets/\n")
    write(repo, "local.env", f"STRIPE_KEY={Keys(1).stripe_live()}\n")
    write(repo, "secrets/key.py", f'KEY = "{Keys(2).stripe_live()}"\n')
    write(repo, "app.py", "print('hello')\n")
    commit_all(repo)

    assert secret_facts(scan(repo)) == []


def test_binary_files_are_skipped(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().stripe_live().encode()
    write(repo, "assets/blob.dat", b"\x00\x01" + key + b"\x00")
    write(repo, "assets/logo.png", key)
    commit_all(repo)

    assert secret_facts(scan(repo)) == []


def test_vendored_folders_are_skipped(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    write(
        repo, "node_modules/stripe-mock/index.js", f'module.exports = "{Keys(1).stripe_live()}";\n'
    )
    write(repo, "vendor/lib/keys.py", f'KEY = "{Keys(2).stripe_live()}"\n')
    commit_all(repo)

    assert secret_facts(scan(repo)) == []


def test_placeholders_hashes_uuids_and_integrity_are_not_secrets(
    tmp_path: Path, engine: str
) -> None:
    keys = Keys()
    repo = init_repo(tmp_path / "shop")
    uuid = "-".join(keys.hex(n) for n in (8, 4, 4, 4, 12))
    write(
        repo,
        "settings.py",
        "\n".join(
            [
                'STRIPE_KEY = "' + "sk_" + 'live_xxx"',
                'STRIPE_KEY_2 = "' + "sk_" + 'live_xxxxxxxxxxxxxxxxxxxxxxxx"',
                'api_key = "<your-api-key>"',
                'AWS_KEY = "' + "AK" + 'IAIOSFODNN7EXAMPLE"',
                'db_password = "changeme"',
                'client_secret = "your-secret-here"',
                'jwt.decode(token, KEY, verify=False)", "verify=False"',
                f'PRICE_TABLE_COMMIT = "{keys.hex(40)}"',
                f'cache_token_sha = "{keys.hex(40)}"',
                f'request_token = "{uuid}"',
                'db_password = os.environ["DB_PASSWORD"]',
                'secret_name = "prod/stripe/secret-key"',
                'token_url = "https://auth.example.com/oauth/token"',
                'password_field = "password_confirmation"',
            ]
        )
        + "\n",
    )
    write(
        repo,
        "web/package-lock.json",
        json.dumps({"packages": {"x": {"integrity": "sha512-" + keys.random(86) + "=="}}}),
    )
    write(repo, "web/app.js", "const token = process.env.GITHUB_TOKEN;\n")
    commit_all(repo)

    assert secret_facts(scan(repo, engine)) == []


@pytest.mark.parametrize(
    ("rule", "rel", "text"),
    [
        ("stripe_test_secret", "a.py", lambda k: f'stripe.api_key = "{k.stripe_test()}"'),
        ("stripe_restricted_key", "a.js", lambda k: f'const key = "{k.stripe_restricted()}";'),
        ("aws_access_key_id", "a.py", lambda k: f'key_id = "{k.aws_key_id()}"'),
        ("aws_secret_access_key", "a.py", lambda k: f'aws_secret_access_key = "{k.aws_secret()}"'),
        ("slack_token", "a.yml", lambda k: f'slack: "{k.slack()}"'),
        ("twilio_api_key", "a.py", lambda k: f'twilio = "{k.twilio_key()}"'),
        ("sendgrid_api_key", "a.env", lambda k: f"SENDGRID_API_KEY={k.sendgrid()}"),
        ("google_api_key", "a.js", lambda k: f'const maps = "{k.google()}";'),
        ("github_token", "a.sh", lambda k: f'export GH="{k.github()}"'),
        ("github_token", "a.py", lambda k: f'PAT = "{k.github_pat()}"'),
        ("jwt_secret", "a.py", lambda k: 'JWT_SECRET = "' + "supersecret" + '-signing"'),
        (
            "jwt_secret",
            "a.py",
            lambda k: 'token = jwt.encode({"sub": 1, "exp": 2}, "s3cr3t' + '-Value", "HS256")',
        ),
        ("generic_secret", "a.py", lambda k: f'db_password = "{k.random(24)}"'),
        ("generic_secret", "a.yaml", lambda k: f"  api_token: {k.random(30)}"),
        ("generic_secret", "a.py", lambda k: f'pw = os.getenv("DB_PASSWORD", "{k.random(20)}")'),
    ],
)
def test_each_rule_is_found_on_its_line(
    tmp_path: Path, engine: str, rule: str, rel: str, text: object
) -> None:
    repo = init_repo(tmp_path / "shop")
    assert callable(text)
    write(repo, rel, f"# config\n\n{text(Keys())}\n")
    commit_all(repo)

    facts = secret_facts(scan(repo, engine))

    assert [(f.source.section, f.source.path, f.source.line) for f in facts] == [(rule, rel, 3)]


def test_aws_secret_beside_its_key_id_is_found(tmp_path: Path, engine: str) -> None:
    keys = Keys()
    repo = init_repo(tmp_path / "shop")
    write(repo, "creds.csv", f"id,secret\n{keys.aws_key_id()},{keys.aws_secret()}\n")
    commit_all(repo)

    facts = secret_facts(scan(repo, engine))

    assert {(f.source.section, f.source.line) for f in facts} == {
        ("aws_access_key_id", 2),
        ("aws_secret_access_key", 2),
    }


def test_private_key_is_found_at_its_header(tmp_path: Path, engine: str) -> None:
    repo = init_repo(tmp_path / "shop")
    header = "-----BEGIN RSA " + "PRIVATE KEY-----"
    footer = "-----END RSA " + "PRIVATE KEY-----"
    write(repo, "deploy/id_rsa", "\n".join([header, *Keys().pem_body(), footer]) + "\n")
    write(repo, "docs/keys.md", f"Paste the key after `{header}`.\n")
    commit_all(repo)

    facts = secret_facts(scan(repo, engine))

    assert [(f.source.path, f.source.line, f.source.section) for f in facts] == [
        ("deploy/id_rsa", 1, "private_key")
    ]


def test_implicitly_concatenated_python_key_is_found(tmp_path: Path, engine: str) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().stripe_live()
    write(
        repo,
        "lambda_function.py",
        f'import stripe\n\nSTRIPE_SECRET_KEY = ("{key[:8]}"\n                     "{key[8:]}")\n'
        'label = " ".join(["a", "b"])\n',
    )
    commit_all(repo)

    [fact] = secret_facts(scan(repo, engine))

    assert (fact.source.path, fact.source.line) == ("lambda_function.py", 3)
    assert "Value also in git history: yes" in fact.detail
    assert f"{key[:8]}…{key[-4:]}" in fact.detail


def test_raw_values_never_leave_the_collector(tmp_path: Path) -> None:
    keys = Keys()
    repo = init_repo(tmp_path / "shop")
    live, gone, jwt_secret = keys.stripe_live(), keys.sendgrid(), keys.random(28)
    write(
        repo, "pay.py", f'KEY = ("{live[:8]}"\n       "{live[8:]}")\nJWT_SECRET = "{jwt_secret}"\n'
    )
    write(repo, "mail.env", f"SENDGRID_API_KEY={gone}\n")
    commit_all(repo)
    write(repo, "mail.env", "SENDGRID_API_KEY=\n")
    commit_all(repo)
    write(repo, "broken.py", f'def f(:\n    return "{live}"\n')

    result = audit_repo(repo, frozenset({"secrets", "env", "python", "endpoints"}), NOW, None)
    dumped = result.model_dump_json()

    assert {f.kind for f in result.facts} >= {"secret.hardcoded", "secret.in_history"}
    for raw in (live, gone, jwt_secret):
        assert raw not in dumped
        assert base64.b64encode(raw.encode()).decode() not in dumped
        assert raw[8:-4] not in dumped


def test_missing_repository_is_a_gap(tmp_path: Path) -> None:
    result = audit_paths([tmp_path / "nowhere"], None, NOW)

    assert result.facts == []
    [gap] = result.gaps
    assert gap.source == "nowhere"
    assert "not found" in gap.reason


def test_symlink_loop_is_a_gap_not_a_crash(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    write(repo, "app.py", f'KEY = "{Keys().stripe_live()}"\n')
    (repo / "self").symlink_to("self")
    (repo / "sub").mkdir()
    (repo / "sub" / "up").symlink_to("..", target_is_directory=True)

    result = scan(repo)

    assert len(secret_facts(result)) == 1
    assert {g.source for g in result.gaps} == {"shop/self", "shop/sub/up"}
    assert all("symlink loop" in g.reason for g in result.gaps)


def test_symlink_loop_outside_git_is_a_gap_too(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, "app.py", "x = 1\n")
    (folder / "loop").symlink_to("loop")

    result = scan(folder)

    assert [(g.source, "symlink loop" in g.reason) for g in result.gaps] == [("plain/loop", True)]


def test_unreadable_file_is_a_gap(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, "ok.py", f'KEY = "{Keys().stripe_live()}"\n')
    locked = write(folder, "locked.py", "x = 1\n")
    locked.chmod(0)
    cmd = [
        sys.executable,
        "-m",
        "execbrief",
        "audit",
        "--json",
        "--checks",
        "secrets",
        str(folder),
    ]
    if os.geteuid() == 0:
        # root reads anything; without these capabilities it meets the mode bits like anyone
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("needs setpriv to drop root's file capabilities")
        drop = "-dac_override,-dac_read_search"
        cmd = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", *cmd]

    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)

    facts = [Fact.model_validate(f) for f in json.loads(proc.stdout)]
    assert proc.returncode == 1  # the live key is a critical finding
    assert [f.source.path for f in facts] == ["ok.py"]
    assert "gap: plain/locked.py: cannot read: Permission denied" in proc.stderr


def test_non_utf8_file_is_scanned_as_bytes_and_noted(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().stripe_live()
    write(repo, "legacy.js", "// caf\xe9\n".encode("latin-1") + f'var k = "{key}";\n'.encode())
    write(repo, "legacy.py", "# caf\xe9\nx = 1\n".encode("latin-1"))
    write(repo, "menu.py", 'DISH = "caf\xe9"\n'.encode("latin-1"))
    commit_all(repo)

    result = audit_repo(repo, frozenset({"secrets", "python", "endpoints"}), NOW, None)

    assert located(result) == {("legacy.js", 2)}
    assert [f for f in result.facts if f.kind == "code.syntax_error"] == []
    reasons = {g.source: g.reason for g in result.gaps}
    assert reasons == {
        "shop": "2 file(s) not UTF-8; read with replacement characters where text was needed: "
        "legacy.js, legacy.py",
        "shop/menu.py": "Python file is not UTF-8 and declares no encoding",
    }


def test_files_over_the_size_cap_are_skipped_with_one_gap(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    write(repo, "big.py", "x = 1\n" * 400 + f'KEY = "{Keys().stripe_live()}"\n')
    write(repo, "small.py", "y = 2\n")
    commit_all(repo)

    result = scan(repo, max_file_bytes=1000)

    assert secret_facts(result) == []
    [gap] = result.gaps
    assert gap.source == "shop/big.py"
    assert "larger than 1,000 bytes" in gap.reason


def test_plain_folder_is_walked_without_git(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, "app.py", f'KEY = "{Keys().stripe_live()}"\n')

    [fact] = secret_facts(scan(folder))

    assert "not a git repository" in fact.detail
    assert fact.metrics == {}


def test_folder_ignored_by_an_enclosing_repo_is_walked(tmp_path: Path) -> None:
    outer = init_repo(tmp_path / "outer")
    write(outer, ".gitignore", "scratch/\n")
    commit_all(outer)
    write(outer, "scratch/app.py", f'KEY = "{Keys().stripe_live()}"\n')

    result = scan(outer / "scratch")

    assert located(result) == {("app.py", 1)}
    assert [g.reason for g in result.gaps] == [
        "ignored by the enclosing git repository; walked the folder"
    ]


def test_collector_audits_workspace_repos_and_attributes_entities(tmp_path: Path) -> None:
    for name in ("queenofsandiego-app", "misc-tools"):
        repo = init_repo(tmp_path / "repos" / name)
        write(repo, "app.py", f'KEY = "{Keys(len(name)).stripe_live()}"\n')
        commit_all(repo)
    config = WorkspaceConfig(
        portfolio="Example",
        entities=[Entity(id="queenofsandiego", name="QueenofSanDiego", aliases=["qosd"])],
        sources=Sources(repos=["repos/*", "missing/*"]),
    )
    collector = CodeAuditCollector(checks={"secrets"})

    result = collector.collect(CollectContext(root=tmp_path, config=config, now=NOW))

    assert collector.name == "code_audit"
    assert {(f.source.resource, f.entity) for f in result.facts} == {
        ("queenofsandiego-app", "queenofsandiego"),
        ("misc-tools", None),
    }
    assert [g.source for g in result.gaps] == ["missing/*"]


@pytest.mark.parametrize(
    ("folder", "entity"),
    [
        ("queenofsandiego-app", "queenofsandiego"),
        ("jada-forms", "jada"),
        ("quickdumpnow-site", "quickdumpnow"),
        ("51st-street-rental", "rental_51st"),
        ("yacht_delivery_ops", "expert_yacht_delivery"),
        ("jadaforms", None),
        ("tools", None),
    ],
)
def test_repo_folder_names_map_to_entities(folder: str, entity: str | None) -> None:
    entities = [
        Entity(id="jada", name="JADA", aliases=["jada charters"]),
        Entity(id="queenofsandiego", name="QueenofSanDiego", aliases=["queen of san diego"]),
        Entity(id="quickdumpnow", name="QuickDumpNow", aliases=["quick dump now", "qdn"]),
        Entity(id="rental_51st", name="3028 51st St rental", aliases=["51st street rental"]),
        Entity(
            id="expert_yacht_delivery", name="Expert Yacht Delivery", aliases=["yacht delivery"]
        ),
    ]

    assert match_entity(folder, entities) == entity


def test_unknown_check_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown check 'secretz'"):
        CodeAuditCollector(checks={"secretz"})


def test_module_run_of_audit_prints_facts_as_json(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().stripe_live()
    write(repo, "app.py", f'KEY = "{key}"\n')
    commit_all(repo)
    cmd = [sys.executable, "-m", "execbrief", "audit", "--checks", "secrets", "--json"]

    proc = subprocess.run([*cmd, str(repo)], capture_output=True, text=True, check=False)

    facts = [Fact.model_validate(f) for f in json.loads(proc.stdout)]
    assert [(f.kind, f.source.path, f.source.line) for f in facts] == [
        ("secret.hardcoded", "app.py", 1)
    ]
    assert key not in proc.stdout + proc.stderr


def test_history_lines_follow_later_edits(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "shop")
    key = Keys().github()
    write(repo, "ci.sh", "set -e\necho start\n")
    commit_all(repo)
    write(repo, "ci.sh", f"set -e\necho start\nexport GH_TOKEN={key}\necho done\n")
    commit_all(repo)
    git(repo, "rm", "-q", "ci.sh")
    commit_all(repo, "drop script")

    [fact] = secret_facts(scan(repo), "secret.in_history")

    assert (fact.source.path, fact.source.line) == ("ci.sh", 3)
