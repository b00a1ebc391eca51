"""Benchmark: collect and the full code audit on generated portfolios of 1x to 64x the example.

A portfolio at Nx is examples/portfolio with each repository copied N times (each copy a
git repository of its own, one commit, its source files ending in a comment naming the
copy, so no two copies are byte-identical) and each handoff note copied N times. For every
scale it times, as whole commands with a fresh result cache:

- `execbrief collect`: the seconds of each collector (from the bundle), peak memory;
- `execbrief audit --no-cache` over all the repositories (every check), and once more
  with the cache warm.

    .venv/bin/python benchmarks/collect_scale.py                     # 1x, 4x, 16x, 64x
    .venv/bin/python benchmarks/collect_scale.py --scales 1,4 --runs 1
    .venv/bin/python benchmarks/collect_scale.py --scales 64 --audit-only \\
        --base-src /path/to/other/checkout/src                        # today's main beside

`--base-src` runs the same audit with another checkout's `src` first on PYTHONPATH and
compares the findings, so a speed-up that changes what is found shows as a difference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio"
_GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2026-11-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-11-01T12:00:00+00:00",
}


def build_portfolio(dest: Path, scale: int) -> list[Path]:
    """Write the Nx workspace under `dest`; return its repository folders."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("repos", "handoffs"))
    config = (dest / "execbrief.yaml").read_text(encoding="utf-8")
    config = config.replace("outputs: ../../outputs", "outputs: outputs")
    (dest / "execbrief.yaml").write_text(config, encoding="utf-8")
    repos: list[Path] = []
    env = {**os.environ, **_GIT_ENV}
    for i in range(scale):
        suffix = "" if i == 0 else f"-{i:02d}"
        for repo in sorted((EXAMPLE / "repos").iterdir()):
            target = dest / "repos" / f"{repo.name}{suffix}"
            shutil.copytree(repo, target)
            if i:
                _stamp(target, i)
            for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "import"]):
                cmd = ["git", "-c", "init.defaultBranch=main", *args]
                subprocess.run(cmd, cwd=target, env=env, check=True)
            repos.append(target)
        for note in sorted((EXAMPLE / "handoffs").glob("*.md")):
            target = dest / "handoffs" / f"{note.stem}{suffix}.md"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(note, target)
    return repos


# A comment per copy, so no two copies of a file are byte-identical: a check that skips
# content it has already seen gains nothing here that a real portfolio would not give it.
_COMMENT = {".py": "# {}", ".sh": "# {}", ".js": "// {}", ".gs": "// {}", ".md": "<!-- {} -->"}


def _stamp(repo: Path, copy: int) -> None:
    for path in repo.rglob("*"):
        shape = _COMMENT.get(path.suffix)
        if shape and path.is_file():
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n" + shape.format(f"copy {copy:02d}") + "\n")


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """Wall seconds, stdout, and the peak RSS (MiB) of the largest child so far."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, proc.stdout, peak


def findings(stdout: str) -> set[tuple[str, str, str, int, str]]:
    """What an audit found, independent of order and ids."""
    return {
        (
            f["kind"],
            f["source"].get("resource") or "",
            f["source"].get("path") or "",
            f["source"].get("line") or 0,
            f["title"],
        )
        for f in json.loads(stdout)
    }


def audit_cmd(repos: list[Path], cache: bool) -> list[str]:
    cmd = [sys.executable, "-m", "execbrief", "audit", "--json", "--fail-on", "critical"]
    return [*cmd, *([] if cache else ["--no-cache"]), *map(str, repos)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4,16,64")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--audit-only", action="store_true", help="skip `execbrief collect`")
    parser.add_argument("--base-src", type=Path, help="another checkout's src/ to compare with")
    parser.add_argument("--base-runs", type=int, default=1)
    parser.add_argument(
        "--write-only",
        type=Path,
        help="build each scale's portfolio under this folder (SCALEx/ws, SCALEx/repos.txt "
        "listing its repositories, for benchmarks/audit_only.py) and time nothing",
    )
    args = parser.parse_args(argv)
    if args.write_only:
        for scale in (int(s) for s in args.scales.split(",")):
            target = args.write_only / f"{scale}x"
            repos = build_portfolio(target / "ws", scale)
            (target / "repos.txt").write_text("".join(f"{r}\n" for r in repos))
            print(f"{scale}x: {len(repos)} repositories listed in {target / 'repos.txt'}")
        return 0

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for scale in (int(s) for s in args.scales.split(",")):
        with tempfile.TemporaryDirectory(prefix="execbrief-scale-") as tmp:
            work = Path(tmp)
            repos = build_portfolio(work / "ws", scale)
            env = {**os.environ, "EXECBRIEF_CACHE_DIR": str(work / "cache")}
            print(f"\n{scale}x: {len(repos)} repositories")
            if not args.audit_only:
                _collect(work / "ws", env, args.runs)
            cold = [run(audit_cmd(repos, cache=False), env) for _ in range(args.runs)]
            ours = findings(cold[-1][1])
            run(audit_cmd(repos, cache=True), env)  # fills the cache
            warm = [run(audit_cmd(repos, cache=True), env)[0] for _ in range(args.runs)]
            cold_s = statistics.median(t for t, _, _ in cold)
            print(
                f"  audit, all checks, cold: median {cold_s:.2f} s of "
                f"{[round(t, 2) for t, _, _ in cold]}; {len(ours)} findings; "
                f"peak {max(p for _, _, p in cold):.0f} MiB"
            )
            print(f"  audit, warm cache: median {statistics.median(warm):.2f} s")
            if args.base_src:
                base_env = {**env, "PYTHONPATH": str(args.base_src.resolve())}
                base_cmd = audit_cmd(repos, cache=True)[: -len(repos)]
                base_cmd = [c for c in base_cmd if c != "--no-cache"] + list(map(str, repos))
                base = [run(base_cmd, base_env) for _ in range(args.base_runs)]
                base_s = statistics.median(t for t, _, _ in base)
                theirs = findings(base[-1][1])
                same = "same findings" if theirs == ours else "FINDINGS DIFFER"
                print(
                    f"  base checkout: median {base_s:.2f} s; {len(theirs)} findings; "
                    f"ratio base / ours {base_s / cold_s:.1f}x; {same}"
                )
                for extra in sorted(theirs ^ ours)[:10]:
                    print(f"    {'only base' if extra in theirs else 'only ours'}: {extra}")
    return 0


def _collect(workspace: Path, env: dict[str, str], runs: int) -> None:
    """Time `execbrief collect`; print each collector's median seconds and the peak."""
    walls: list[float] = []
    per_collector: dict[str, list[float]] = {}
    facts = 0
    for _ in range(runs):
        shutil.rmtree(Path(env["EXECBRIEF_CACHE_DIR"]), ignore_errors=True)
        cmd = [sys.executable, "-m", "execbrief", "collect", "--workspace", str(workspace)]
        wall, _, peak = run(cmd, env)
        walls.append(wall)
        bundle = json.loads((workspace / "outputs" / "latest" / "bundle.json").read_text())
        facts = len(bundle["facts"])
        for entry in bundle["collectors"]:
            per_collector.setdefault(entry["collector"], []).append(entry["seconds"])
    shown = ", ".join(f"{name} {statistics.median(s):.2f} s" for name, s in per_collector.items())
    print(
        f"  collect (cold cache): median {statistics.median(walls):.2f} s; {shown}; "
        f"{facts} facts; peak {peak:.0f} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
