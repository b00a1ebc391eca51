"""Benchmark: `execbrief run --workspaces` on many workspaces, serial vs concurrent.

Generates --count copies of examples/portfolio (each with its own portfolio name and its
runs kept inside it), then times `execbrief run --workspaces LIST --jobs N` as a whole
process for each N in --jobs (1 is the serial baseline: one worker, one workspace after
another), with the offline provider. Peak memory is the largest sum of resident memory
over the process tree (the CLI and its worker processes), sampled every 50 ms; workers
are spawned, so they share no copy-on-write pages and the sum does not double count.
Each figure is the median of --runs runs; the workspaces' outputs are removed between
runs, so every run does the same work.

    .venv/bin/python benchmarks/many_workspaces.py                       # 50 x 8 personas
    .venv/bin/python benchmarks/many_workspaces.py --persona ceo --runs 3 --jobs 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "portfolio"
NAMES = ["Harbor", "Summit", "Pacific", "Cedar", "Lantern", "Meridian", "Granite", "Willow"]
PAGE = os.sysconf("SC_PAGE_SIZE")


def make_workspaces(root: Path, count: int) -> Path:
    """`count` copies of the example, each its own portfolio; returns the list file."""
    folders = []
    for n in range(count):
        folder = root / f"client-{n:02}"
        shutil.copytree(EXAMPLE, folder)
        config = folder / "execbrief.yaml"
        text = config.read_text(encoding="utf-8")
        text = text.replace("outputs: ../../outputs", "outputs: outputs")
        text = text.replace(
            "portfolio: Harbor & Hill Holdings", f"portfolio: {NAMES[n % len(NAMES)]} {n} Holdings"
        )
        config.write_text(text, encoding="utf-8")
        folders.append(folder.name)
    listing = root / "workspaces.txt"
    listing.write_text("\n".join(folders) + "\n", encoding="utf-8")
    return listing


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (from /proc)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            statm = Path(f"/proc/{current}/statm").read_text().split()
            total += int(statm[1]) * PAGE
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Trial:
    seconds: float
    peak_bytes: int
    failed: int


def run_once(listing: Path, jobs: int, personas: list[str]) -> Trial:
    for outputs in listing.parent.glob("client-*/outputs"):
        shutil.rmtree(outputs)
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    command = [sys.executable, "-m", "execbrief", "run", "--workspaces", str(listing)]
    command += ["--jobs", str(jobs), "--json", *[a for p in personas for a in ("--persona", p)]]
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    outcomes = json.loads(out)
    return Trial(seconds, peak, sum(o["status"] != "ok" for o in outcomes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=50, help="workspaces (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs per setting (median)")
    parser.add_argument("--jobs", default="1,2,4", help="comma-separated --jobs values")
    parser.add_argument("--persona", action="append", default=[], help="only these personas")
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    with tempfile.TemporaryDirectory(prefix="execbrief-fleet-") as tmp:
        listing = make_workspaces(Path(tmp), args.count)
        trials: dict[int, list[Trial]] = {j: [] for j in jobs}
        for n in range(args.runs):
            for j in jobs:  # interleaved, so a change in the machine's load hits every setting
                trial = run_once(listing, j, args.persona)
                trials[j].append(trial)
                print(
                    f"run {n + 1} jobs={j}: {trial.seconds:.1f} s, "
                    f"{trial.peak_bytes / 2**20:.0f} MiB, {trial.failed} failed",
                    file=sys.stderr,
                )
    serial = statistics.median(t.seconds for t in trials[jobs[0]])
    print(
        f"{args.count} workspaces, personas: {', '.join(args.persona) or 'all 8'}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"execbrief {version('execbrief')}; median of {args.runs} runs\n"
    )
    print(f"| --jobs | wall (s) | vs --jobs {jobs[0]} | s / workspace | peak RSS (MiB) | failed |")
    print("|---:|---:|---:|---:|---:|---:|")
    for j in jobs:
        wall = statistics.median(t.seconds for t in trials[j])
        peak = statistics.median(t.peak_bytes for t in trials[j]) / 2**20
        failed = max(t.failed for t in trials[j])
        print(
            f"| {j} | {wall:.1f} | {serial / wall:.2f}x | {wall / args.count:.2f} | "
            f"{peak:.0f} | {failed} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
