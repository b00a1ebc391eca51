"""Git fixture repositories in temp folders, and secret-shaped values made at run time.

No secret-shaped literal sits in this file or the tests: each value is assembled from
pieces, with a seeded random tail so every test gets distinct, stable values.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


def git_env() -> dict[str, str]:
    """An environment that ignores the machine's git config and names a committer."""
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Fixture",
        "GIT_AUTHOR_EMAIL": "fixture@example.com",
        "GIT_COMMITTER_NAME": "Fixture",
        "GIT_COMMITTER_EMAIL": "fixture@example.com",
    }


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        env=git_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    return path


def write(repo: Path, rel: str, content: str | bytes) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def commit_all(repo: Path, message: str = "change") -> str:
    """Stage everything (honouring .gitignore), commit, return the commit hash."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def line_of(path: Path, needle: str) -> int:
    """1-based number of the first line containing `needle`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


class Keys:
    """Secret-shaped values, distinct per seed."""

    def __init__(self, seed: int = 1) -> None:
        self._rng = random.Random(seed)

    def _tail(self, alphabet: str, n: int) -> str:
        return "".join(self._rng.choices(alphabet, k=n))

    def stripe_live(self) -> str:
        return "sk_" + "live_" + self._tail(ALNUM, 99)

    def stripe_test(self) -> str:
        return "sk_" + "test_" + self._tail(ALNUM, 99)

    def stripe_restricted(self) -> str:
        return "rk_" + "live_" + self._tail(ALNUM, 99)

    def aws_key_id(self) -> str:
        return "AK" + "IA" + self._tail(UPPER_DIGITS, 16)

    def aws_secret(self) -> str:
        return self._tail(B64, 36) + "Qz9/"

    def pem_body(self) -> list[str]:
        return [self._tail(B64, 64) for _ in range(3)]

    def slack(self) -> str:
        return "xo" + "xb-" + self._tail(string.digits, 12) + "-" + self._tail(ALNUM, 24)

    def twilio_key(self) -> str:
        return "S" + "K" + self._tail(HEX, 32)

    def sendgrid(self) -> str:
        return "S" + "G." + self._tail(B64URL, 22) + "." + self._tail(B64URL, 43)

    def google(self) -> str:
        return "AI" + "za" + self._tail(B64URL, 35)

    def github(self) -> str:
        return "gh" + "p_" + self._tail(ALNUM, 36)

    def github_pat(self) -> str:
        return "github" + "_pat_" + self._tail(ALNUM, 22) + "_" + self._tail(ALNUM, 59)

    def random(self, n: int = 32) -> str:
        return self._tail(ALNUM, n)

    def hex(self, n: int) -> str:
        return self._tail(HEX, n)
