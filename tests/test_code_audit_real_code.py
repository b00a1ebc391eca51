"""The code audit on code shaped like real third-party packages: false alarms a reviewer
would dismiss, keys known only by how they are used, the worker split, the history
cursor and the result cache."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from execbrief.collectors.code_audit import collector
from execbrief.collectors.code_audit.audit_cache import AuditCache
from execbrief.collectors.code_audit.collector import CHECKS, audit_paths, audit_repo
from execbrief.models import CollectResult
from tests.conftest import Cli
from tests.fixtures_repos import Keys, commit_all, git, init_repo, write

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
SECRETS = frozenset({"secrets"})
STAND_IN = "sk_" + "live_xxx"

# Each file is the shape of a line that real packages hold and that is not a secret.
THIRD_PARTY = {
    "env_default.py": f'import os\nKEY = os.environ.get("STRIPE_SECRET_KEY", "{STAND_IN}")\n',
    "botocore_credentials.py": (
        "class EnvProvider:\n"
        "    ACCESS_KEY = 'AWS_ACCESS_KEY_ID'\n"
        "    SECRET_KEY = 'AWS_SECRET_ACCESS_KEY'\n"
        "    TOKENS = ['AWS_SECURITY_TOKEN', 'AWS_SESSION_TOKEN']\n\n\n"
        "class SharedCredentialProvider:\n"
        "    SECRET_KEY = 'aws_secret_access_key'\n\n\n"
        "class OriginalEC2Provider:\n"
        "    SECRET_KEY = 'AWSSecretKey'\n\n\n"
        "def load(environ):\n"
        "    return environ.get(EnvProvider.SECRET_KEY)\n"
    ),
    "regexes.py": (
        'token = r"[-!#$%&\'*+.^_`|~0-9a-zA-Z]+"\n'
        "secret = r'([a-z0-9]{64})'\n"
        'password_rule = r"^(?=^.{8,64}$)((?=.*\\d)(?=.*[A-Z])(?=.*[a-z]))"\n'
    ),
    "cors.py": 'ACL_CREDENTIALS = "Access-Control-Allow-Credentials"\n',
    "names.py": (
        'RESPONSE = {"SecretKey": "ABCSECRETKEY"}\n'
        'WaitForTaskToken = "waitForTaskToken"\n'
        'OIDS = {AttributeOID.CHALLENGE_PASSWORD: "challengePassword"}\n'
    ),
    "public.py": (
        "MANIFEST = '<assemblyIdentity publicKeyToken=\"1fc8b3b9a1e18e3b\" />'\n"
        f'REPLY = {{"VerificationToken": "{Keys(3).random(43)}="}}\n'
    ),
    "client.py": (
        "import hashlib\nimport hmac\nimport jwt\n\n\n"
        "class Signer:\n"
        "    def __init__(self, secret_key):\n"
        "        self.secret_key = secret_key\n\n"
        "    def sign(self, body):\n"
        "        return hmac.new(self.secret_key.encode(), body, hashlib.sha256)\n\n"
        "    def token(self, claims):\n"
        '        return jwt.encode(claims, self.secret_key, algorithm="HS256")\n'
    ),
    "placeholder_key.py": (
        "import hashlib\nimport hmac\n"
        'K = "changeme"\n'
        "def sign(body):\n"
        "    return hmac.new(K.encode(), body, hashlib.sha256)\n"
    ),
}


def secret_facts(result: CollectResult) -> list[tuple[str | None, int | None, str | None]]:
    return sorted(
        (f.source.path, f.source.line, f.source.section)
        for f in result.facts
        if f.kind.startswith("secret.")
    )


@pytest.mark.parametrize("rel", sorted(THIRD_PARTY))
def test_third_party_code_that_holds_no_secret_gives_no_finding(tmp_path: Path, rel: str) -> None:
    repo = init_repo(tmp_path / "site-packages-copy")
    write(repo, rel, THIRD_PARTY[rel])
    commit_all(repo)

    assert secret_facts(audit_repo(repo, SECRETS, NOW, None)) == []


def test_real_secrets_beside_the_look_alikes_are_still_found(tmp_path: Path) -> None:
    keys = Keys(5)
    live, password = keys.stripe_live(), keys.random(24)
    repo = init_repo(tmp_path / "shop")
    write(
        repo,
        "settings.py",
        f'import os\nSTRIPE = os.environ.get("STRIPE_SECRET_KEY", "{live}")\n'
        'JWT_SECRET = "supersecret-signing"\n'
        f'db_password = "{password}"\n',
    )
    commit_all(repo)

    assert secret_facts(audit_repo(repo, SECRETS, NOW, None)) == [
        ("settings.py", 2, "stripe_live_secret"),
        ("settings.py", 3, "jwt_secret"),
        ("settings.py", 4, "generic_secret"),
    ]


def test_a_literal_used_as_a_key_is_found_whatever_its_name(tmp_path: Path) -> None:
    keys = Keys(9)
    repo = init_repo(tmp_path / "api")
    write(
        repo,
        "sign.py",
        "import hashlib\nimport hmac\nimport jwt\nfrom itsdangerous import URLSafeSerializer\n"
        f'SIGNING = "{keys.random(24)}"\n'
        f'K = b"{keys.random(20)}"\n'
        "class Config:\n"
        f'    KEY2 = "{keys.random(18)}"\n'
        "def sign(body):\n"
        "    return hmac.new(SIGNING.encode(), body, hashlib.sha256).hexdigest()\n"
        "def token(claims):\n"
        '    return jwt.encode(claims, K, algorithm="HS256")\n'
        "def links():\n"
        "    return URLSafeSerializer(secret_key=Config.KEY2)\n",
    )
    commit_all(repo)

    assert secret_facts(audit_repo(repo, SECRETS, NOW, None)) == [
        ("sign.py", 5, "signing_key"),
        ("sign.py", 6, "jwt_secret"),
        ("sign.py", 8, "signing_key"),
    ]


def _portfolio(tmp_path: Path, count: int) -> list[Path]:
    repos = []
    for i in range(count):
        keys = Keys(20 + i)
        repo = init_repo(tmp_path / f"repo{i}")
        for n in range(6):
            write(repo, f"pkg/mod{n}.py", f'import requests\nKEY = "{keys.stripe_live()}"\n')
        write(repo, "handler.py", "def handler(event, context):\n    return event['body']\n")
        write(repo, "tests/test_x.py", "def test_x():\n    assert True\n")
        write(repo, "run.py", "import subprocess\nsubprocess.call(input(), shell=True)\n")
        commit_all(repo)
        write(repo, "pkg/mod0.py", "KEY = None\n")
        commit_all(repo, "drop a key")
        repos.append(repo)
    return repos


def _comparable(result: CollectResult) -> list[str]:
    return [f.model_dump_json(exclude={"observed_at"}) for f in result.facts] + [
        g.model_dump_json() for g in result.gaps
    ]


@pytest.mark.parametrize("spare", [1, 2])
def test_work_split_over_forked_workers_finds_what_one_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: int
) -> None:
    repos = _portfolio(tmp_path, 4)
    checks = set(CHECKS)
    monkeypatch.setattr(collector, "spare_cores", lambda: 0)
    alone = audit_paths(repos, checks, NOW)

    # chunks of one or two files dealt out in turn to two or three processes
    monkeypatch.setattr(collector, "spare_cores", lambda: spare)
    monkeypatch.setattr(collector, "PARALLEL_MIN_FILES", 2)
    by_files = [audit_repo(repo, frozenset(checks), NOW, None) for repo in repos]
    by_repos = audit_paths(repos, checks, NOW)

    assert any(f.kind == "secret.in_history" for f in alone.facts)
    assert any(f.kind == "code.bandit" for f in alone.facts)
    assert _comparable(by_repos) == _comparable(alone)
    merged = CollectResult(
        facts=[f for r in by_files for f in r.facts], gaps=[g for r in by_files for g in r.gaps]
    )
    assert _comparable(merged) == _comparable(alone)


@pytest.mark.slow
def test_history_positions_stay_exact_over_many_hits_in_one_commit(tmp_path: Path) -> None:
    keys = Keys(11)
    repo = init_repo(tmp_path / "big")
    lines = [f'TOKEN_{n} = "{keys.github()}"' if n % 3 == 0 else f"x{n} = {n}" for n in range(900)]
    write(repo, "keys.py", "\n".join(lines) + "\n")
    write(repo, "other.py", "\n".join(lines[::-1]) + "\n")
    commit_all(repo)
    git(repo, "rm", "-q", "keys.py", "other.py")
    commit_all(repo, "drop")

    result = audit_repo(repo, SECRETS, NOW, None)

    found = {(f.source.path, f.source.line) for f in result.facts if f.kind == "secret.in_history"}
    expected = {("keys.py", n + 1) for n in range(0, 900, 3)}
    expected |= {("other.py", 900 - n) for n in range(0, 900, 3)}
    # Each value sits in both files; the history reports one place per value.
    assert len(found) == 300
    assert found <= expected


def test_an_unchanged_repository_is_served_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [repo] = _portfolio(tmp_path, 1)
    cache = AuditCache(tmp_path / "cache")
    first = audit_repo(repo, frozenset(CHECKS), NOW, "shop", cache=cache)
    assert list((tmp_path / "cache").glob("*.json"))

    def no_audit(*args: object) -> CollectResult:
        raise AssertionError("the repository was read again")

    monkeypatch.setattr(collector, "_audit", no_audit)
    later = NOW + timedelta(minutes=5)
    again = audit_repo(repo, frozenset(CHECKS), later, "shop", cache=cache)

    assert _comparable(again) == _comparable(first)
    assert {f.observed_at for f in again.facts} == {later}


def test_an_edited_or_untracked_file_bypasses_the_cache(tmp_path: Path) -> None:
    [repo] = _portfolio(tmp_path, 1)
    cache = AuditCache(tmp_path / "cache")
    key = cache.key(repo, SECRETS, None, 1000, NOW)
    write(repo, "new.py", "x = 1\n")

    assert key is not None
    assert cache.key(repo, SECRETS, None, 1000, NOW) is None
    assert cache.key(repo, frozenset({"env"}), None, 1000, NOW) is None
    (repo / "new.py").unlink()
    assert cache.key(repo, SECRETS, None, 1000, NOW) == key
    assert cache.key(repo, SECRETS, None, 1000, NOW + timedelta(days=1)) != key
    assert cache.key(tmp_path / "not-git", SECRETS, None, 1000, NOW) is None


def test_audit_no_cache_flag_leaves_the_cache_empty(tmp_path: Path, cli: Cli) -> None:
    [repo] = _portfolio(tmp_path, 1)
    folder = Path(os.environ["EXECBRIEF_CACHE_DIR"]) / "code-audit"

    assert cli("audit", "--checks", "secrets", "--no-cache", str(repo)).code == 1
    assert not folder.exists() or not list(folder.iterdir())
    assert cli("audit", "--checks", "secrets", str(repo)).code == 1
    assert len(list(folder.glob("*.json"))) == 1
