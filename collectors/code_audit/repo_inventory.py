"""What a repository is made of and how it ships: languages, tests, CI, IaC, dependencies,
hand-made deploy scripts; and env files committed to it (key names only)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from execbrief.models import Severity
from execbrief.secrets.rules import SECRET_NAME

from .py_tree import TreeListener, walk_once
from .repo_files import GIT, AuditScope, ReadOutcome, RepoFile, SourceFile

LANGUAGES = {
    ".py": "Python",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".jsx": "JavaScript",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".gs": "Apps Script",
    ".go": "Go",
    ".java": "Java",
    ".kt": "Kotlin",
    ".rb": "Ruby",
    ".php": "PHP",
    ".rs": "Rust",
    ".c": "C",
    ".h": "C",
    ".cpp": "C++",
    ".cs": "C#",
    ".swift": "Swift",
    ".sh": "Shell",
    ".bash": "Shell",
    ".ps1": "PowerShell",
    ".sql": "SQL",
    ".tf": "Terraform",
    ".html": "HTML",
    ".htm": "HTML",
    ".css": "CSS",
    ".scss": "CSS",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".yml": "YAML",
    ".yaml": "YAML",
    ".json": "JSON",
    ".toml": "TOML",
    ".md": "Markdown",
}
_NOT_CODE = frozenset({"YAML", "JSON", "TOML", "Markdown", "HTML", "CSS"})

_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing"})
_TEST_NAME = re.compile(
    r"^(test_.+\.py|.+_test\.(py|go|rb)|conftest\.py|.+\.(test|spec)\.[cm]?[jt]sx?|.+Tests?\.(java|kt|cs))$"
)
_CI_FILES = re.compile(
    r"^(\.github/workflows/[^/]+\.ya?ml|(.+/)?buildspec[^/]*\.ya?ml|\.gitlab-ci\.yml|\.circleci/config\.yml"
    r"|Jenkinsfile|azure-pipelines\.yml|bitbucket-pipelines\.yml|\.travis\.yml|\.drone\.yml)$"
)
_IAC_NAMES = frozenset(
    {"cdk.json", "samconfig.toml", "serverless.yml", "serverless.yaml", "pulumi.yaml"}
)
_CFN_MARKER = re.compile(rb"AWSTemplateFormatVersion|AWS::Serverless|AWS::[A-Za-z0-9]+::[A-Za-z]")
_MANIFESTS = frozenset(
    {
        "requirements.txt",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "pipfile",
        "package.json",
        "go.mod",
        "cargo.toml",
        "gemfile",
        "composer.json",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "environment.yml",
    }
)
_LOCKS = frozenset(
    {
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "go.sum",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
    }
)
_SHELL_SUFFIXES = frozenset({".sh", ".bash", ".zsh", ".ps1", ""})
_CODE_SUFFIXES = frozenset({".py", ".js", ".mjs", ".ts"})
_ZIP = re.compile(rb"\bzip\s+-|\bzip\s+\S+\.zip|zipfile\.ZipFile|make_archive|Compress-Archive")
# A shell script that zips and copies to S3 is a deploy; application code may zip and
# upload for other reasons, so there only a Lambda code update in a deploy script counts.
_SHELL_UPLOAD = re.compile(
    rb"update-function-code|--zip-file|aws\s+s3\s+(?:cp|sync)|s3api\s+put-object"
)
_CODE_UPLOAD = re.compile(rb"update_function_code|UpdateFunctionCodeCommand|updateFunctionCode")
# Application code is a deploy script only when its path says so.
_DEPLOY_SCRIPT = re.compile(r"(^|/)(deploy|release|publish|ship|scripts?|bin|ops|tools)[^/]*(/|$)")
_ENV_KEY = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*[=:]", re.M)
_ENV_TEMPLATE_SUFFIXES = frozenset(
    {".example", ".sample", ".template", ".dist", ".defaults", ".tpl", ".schema"}
)


def is_env_file(rel: str) -> bool:
    """`.env`, `.env.production`, `repos.env`, `.envrc`; not `.env.example` and kin."""
    path = PurePosixPath(rel)
    name = path.name.lower()
    if path.suffix.lower() in _ENV_TEMPLATE_SUFFIXES:
        return False
    return name in (".env", ".envrc") or name.endswith(".env") or name.startswith(".env.")


def is_test_path(rel: str) -> bool:
    parts = rel.split("/")
    return any(p in _TEST_DIRS for p in parts[:-1]) or bool(_TEST_NAME.match(parts[-1]))


class ImportsListener:
    """Top-level names of the modules a file imports, absolute imports only."""

    types: tuple[type[ast.AST], ...] = (ast.Import, ast.ImportFrom)

    def __init__(self, into: set[str]) -> None:
        self._into = into

    def begin(self, tree: ast.Module) -> None:
        """Nothing to set up."""

    def top(self, statement: ast.stmt) -> None:
        """Imports count wherever they are."""

    def enter(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            self._into.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            self._into.add(node.module.split(".")[0])

    def leave(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Imports count wherever they are."""


class EnvFilesCheck:
    """Env files that git tracks (or, outside git, that sit in the folder): key names only."""

    name = "env"

    def __init__(self, scope: AuditScope) -> None:
        self._scope = scope

    def listener(self, source: SourceFile) -> TreeListener | None:
        return None

    def visit(self, source: SourceFile) -> None:
        if source.file.tracked is False or not is_env_file(source.rel):
            return
        keys = list(dict.fromkeys(_ENV_KEY.findall(source.text())))
        secret_like = [k for k in keys if SECRET_NAME.search(k)]
        committed = {
            True: "is committed to git",
            None: "sits in the repository folder (not a git repository, so it may be shipped)",
        }[source.file.tracked]
        self._scope.fact(
            "repo.env_file_tracked",
            Severity.HIGH if secret_like else Severity.MEDIUM,
            f"Env file {source.rel} {committed.split(' (')[0]}",
            path=source.rel,
            detail=(
                f"{source.rel} {committed}. {len(keys)} key(s): {', '.join(keys) or 'none'}. "
                f"{len(secret_like)} name(s) look like credentials"
                + (f" ({', '.join(secret_like)})" if secret_like else "")
                + ". Values are not reported."
            ),
            metrics={"keys": float(len(keys)), "secret_like_keys": float(len(secret_like))},
            tags=["security", "secrets"],
        )

    def part(self) -> object:
        return None

    def absorb(self, part: object) -> None:
        """Env files are reported as they are visited."""

    def finish(self) -> None:
        """Env files are reported as they are visited."""


@dataclass
class _Tally:  # the parts of one repository's files, merged with `add`
    files: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    total_files: int = 0
    binary_files: int = 0
    tests: list[str] = field(default_factory=list)
    ci: list[str] = field(default_factory=list)
    iac: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    local_modules: set[str] = field(default_factory=set)

    def add(self, other: _Tally) -> None:
        """Fold in the tally of files listed after this one's."""
        self.files.update(other.files)
        self.lines.update(other.lines)
        self.total_files += other.total_files
        self.binary_files += other.binary_files
        for mine, theirs in (
            (self.tests, other.tests),
            (self.ci, other.ci),
            (self.iac, other.iac),
            (self.manifests, other.manifests),
            (self.locks, other.locks),
        ):
            mine.extend(theirs)
        self.imports |= other.imports
        self.local_modules |= other.local_modules


class InventoryCheck:
    """Languages and lines, last commit, tests, CI, IaC, dependencies, manual deploys."""

    name = "inventory"

    def __init__(self, scope: AuditScope) -> None:
        self._scope = scope
        self._tally = _Tally()
        self._imports: ImportsListener | None = None

    def count(self, file: RepoFile, outcome: ReadOutcome) -> None:
        """Every listed file counts, read or not."""
        if outcome in (ReadOutcome.TEXT, ReadOutcome.BINARY, ReadOutcome.TOO_LARGE):
            self._tally.total_files += 1
        if outcome is ReadOutcome.BINARY:
            self._tally.binary_files += 1

    def visit(self, source: SourceFile) -> None:
        tally = self._tally
        rel = source.rel
        name = source.file.name.lower()
        language = LANGUAGES.get(source.file.suffix)
        if language:
            tally.files[language] += 1
            tally.lines[language] += source.data.count(b"\n") + (
                0 if source.data.endswith(b"\n") or not source.data else 1
            )
        if is_test_path(rel):
            tally.tests.append(rel)
        if _CI_FILES.match(rel):
            tally.ci.append(rel)
        if (
            source.file.suffix == ".tf"
            or name in _IAC_NAMES
            or (
                (source.file.suffix in (".yml", ".yaml", ".json", ".template"))
                and _CFN_MARKER.search(source.data)
                and not _CI_FILES.match(rel)
            )
        ):
            tally.iac.append(rel)
        if name in _MANIFESTS or re.fullmatch(r"requirements[-_.\w]*\.txt", name):
            tally.manifests.append(rel)
        if name in _LOCKS:
            tally.locks.append(rel)
        if source.file.suffix == ".py":
            self._note_imports(source)
        if _CI_FILES.match(rel) or is_test_path(rel):
            return
        if source.file.suffix in _SHELL_SUFFIXES or name in ("makefile", "package.json"):
            self._check_manual_deploy(source, _SHELL_UPLOAD)
        elif source.file.suffix in _CODE_SUFFIXES and _DEPLOY_SCRIPT.search(rel):
            self._check_manual_deploy(source, _CODE_UPLOAD)

    def listener(self, source: SourceFile) -> TreeListener | None:
        if source.file.suffix != ".py":
            return None
        self._imports = ImportsListener(self._tally.imports)
        return self._imports

    def _note_imports(self, source: SourceFile) -> None:
        path = PurePosixPath(source.rel)
        self._tally.local_modules.update({path.stem, *path.parts[:-1]})
        walked, self._imports = self._imports, None
        if walked is None:  # visited outside the shared walk
            tree = source.python_tree()
            if isinstance(tree, ast.Module):
                walk_once(tree, [ImportsListener(self._tally.imports)])

    def _check_manual_deploy(self, source: SourceFile, upload_shape: re.Pattern[bytes]) -> None:
        data = source.data
        upload = upload_shape.search(data)
        if upload is None or _ZIP.search(data) is None:
            return
        line = data.count(b"\n", 0, upload.start()) + 1
        self._scope.fact(
            "repo.manual_deploy",
            Severity.MEDIUM,
            f"Hand-run zip-and-upload deploy in {source.rel}",
            path=source.rel,
            line=line,
            detail=(
                f"{source.rel} zips the code and uploads it (line {line}); deploys depend on "
                "whoever runs it, with no build record, review gate or rollback."
            ),
            tags=["devcycle"],
        )

    def part(self) -> object:
        return self._tally

    def absorb(self, part: object) -> None:
        assert isinstance(part, _Tally)
        self._tally.add(part)

    def finish(self) -> None:
        tally = self._tally
        code_files = sum(n for lang, n in tally.files.items() if lang not in _NOT_CODE)
        self._emit_inventory()
        if code_files == 0:
            return
        self._presence(
            "repo.tests", tally.tests, "test file(s)", "No tests", Severity.MEDIUM, ["devcycle"]
        )
        self._presence(
            "repo.ci",
            tally.ci,
            "CI configuration(s)",
            "No CI configuration",
            Severity.MEDIUM,
            ["devcycle"],
        )
        self._presence(
            "repo.iac",
            tally.iac,
            "infrastructure-as-code file(s)",
            "No infrastructure as code",
            Severity.LOW,
            ["devcycle", "infra"],
        )
        third_party = sorted(
            tally.imports - set(sys.stdlib_module_names) - tally.local_modules - {"__future__"}
        )
        if tally.manifests or third_party:
            self._emit_dependencies(third_party)

    def _emit_inventory(self) -> None:
        tally = self._tally
        scope = self._scope
        total_lines = sum(tally.lines.values())
        ranked = tally.lines.most_common()
        breakdown = "; ".join(
            f"{lang} {tally.files[lang]} files / {n:,} lines" for lang, n in ranked
        )
        metrics: dict[str, float] = {
            "files": float(tally.total_files),
            "lines": float(total_lines),
            "binary_files": float(tally.binary_files),
        }
        for lang, n in ranked:
            metrics["lines_" + re.sub(r"[^a-z0-9]+", "_", lang.lower()).strip("_")] = float(n)
        history = self._git_activity(metrics)
        main = f"mostly {ranked[0][0]}" if ranked else "no source files"
        scope.fact(
            "repo.inventory",
            Severity.INFO,
            f"{scope.repo}: {tally.total_files} files, {total_lines:,} lines, {main}",
            detail=f"{breakdown or 'No recognised source files'}. {history}",
            metrics=metrics,
            tags=["inventory", "stack"],
        )

    def _git_activity(self, metrics: dict[str, float]) -> str:
        scope = self._scope
        if not scope.is_git:
            return "Not a git repository."
        since = scope.now - timedelta(days=30)
        dates = recent_commit_dates(scope.root, since)
        if not dates:
            return "No commits yet."
        when = dates[0]
        days = max(0, (scope.now - when).days)
        metrics["days_since_last_commit"] = float(days)
        count = len(dates) - 1 if dates[-1] < since.replace(microsecond=0) else len(dates)
        metrics["commits_last_30_days"] = float(count)
        text = f"Last commit {when.date().isoformat()} ({days} days before this audit)"
        return text + f"; {count} commits in the 30 days before it."

    def _presence(
        self,
        kind: str,
        paths: list[str],
        noun: str,
        missing: str,
        missing_severity: Severity,
        tags: list[str],
    ) -> None:
        repo = self._scope.repo
        if paths:
            shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
            self._scope.fact(
                kind,
                Severity.INFO,
                f"{repo}: {len(paths)} {noun}",
                detail=f"Found {shown}.",
                metrics={"count": float(len(paths))},
                tags=tags,
            )
        else:
            self._scope.fact(
                kind,
                missing_severity,
                f"{missing} in {repo}",
                detail=f"{repo} has source code but no {noun.replace('(s)', 's')}.",
                metrics={"count": 0.0},
                tags=tags,
            )

    def _emit_dependencies(self, third_party: list[str]) -> None:
        tally = self._tally
        repo = self._scope.repo
        parts = []
        severity = Severity.INFO
        if tally.manifests:
            parts.append(f"manifests: {', '.join(tally.manifests)}")
        if tally.locks:
            parts.append(f"lock files: {', '.join(tally.locks)}")
        elif tally.manifests:
            parts.append("no lock file, so builds are not reproducible")
            severity = Severity.LOW
        if third_party and not tally.manifests:
            parts.append(
                f"Python code imports {', '.join(third_party)} with no dependency manifest"
            )
            severity = Severity.LOW
        self._scope.fact(
            "repo.dependencies",
            severity,
            f"{repo}: {len(tally.manifests)} dependency manifest(s), "
            f"{len(tally.locks)} lock file(s)",
            detail=_sentence("; ".join(parts)),
            metrics={
                "manifests": float(len(tally.manifests)),
                "lock_files": float(len(tally.locks)),
                "third_party_imports": float(len(third_party)),
            },
            tags=["stack"],
        )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def recent_commit_dates(root: Path, since: datetime) -> list[datetime]:
    """Commit dates on HEAD that touch the folder, newest first, down to the first older
    than `since` (kept, so the newest is known however old); [] without commits.

    One `git log` read until it passes `since`, in place of `log -1` and `rev-list --count
    --since`: git walks newest first and stops its `--since` walk at the first older
    commit, so the count is the same unless commit dates run backwards. git compares
    whole seconds.
    """
    cutoff = since.replace(microsecond=0)
    cmd = [*GIT, "log", "--format=%cI", "HEAD", "--", "."]
    try:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return []
    assert proc.stdout is not None
    dates: list[datetime] = []
    try:
        for line in proc.stdout:
            stamp = line.decode(errors="replace").strip()
            if not stamp:
                continue
            dates.append(datetime.fromisoformat(stamp))
            if dates[-1] < cutoff:
                break
    finally:
        proc.kill()
        proc.stdout.close()
        proc.wait()
    return dates
