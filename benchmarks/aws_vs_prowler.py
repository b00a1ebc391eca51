"""Benchmark: execbrief's AWS collector against Prowler on one planted moto account.

Starts moto's server on loopback, plants the account of tests/aws_planted.py (every
problem of issue 17 moto can hold, each beside a clean twin), then runs, as whole
processes against the same server through AWS_ENDPOINT_URL:

    ours:     execbrief collect --workspace W --aws-snapshot-out S   (RUNS times)
    Prowler:  prowler aws --services iam s3 awslambda cloudfront dynamodb route53 ses
              --region us-west-2 -M json-ocsf                         (once)

and prints, per planted problem, whether each tool reported it, the wall times, and
whether any planted key value appears in either tool's output.

    .venv/bin/python benchmarks/aws_vs_prowler.py                   # prowler from PATH
    .venv/bin/python benchmarks/aws_vs_prowler.py --prowler /opt/prowler/bin/prowler
    .venv/bin/python benchmarks/aws_vs_prowler.py --skip-prowler

Prowler pins its own boto3, botocore and pydantic, so install it in a venv of its own
(`python -m venv /opt/prowler && /opt/prowler/bin/pip install prowler`), not in
execbrief's. Without it the script says so and measures execbrief alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.aws_planted import CANARIES, REGION, Planted, plant  # noqa: E402

SERVICES = ["iam", "s3", "awslambda", "cloudfront", "dynamodb", "route53", "ses"]
WORKSPACE = """\
portfolio: Benchmark
entities:
  - {id: queenofsandiego, name: QueenofSanDiego, aliases: [qosd]}
  - {id: jada, name: JADA}
sources:
  aws: {regions: [us-west-2]}
"""


def _start_moto() -> tuple[Any, str]:
    import requests
    from moto.server import ThreadedMotoServer

    # The server logs every request and every unimplemented call's traceback.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
    return server, url


def _environment(url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "ANTHROPIC_"))
    }
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        # moto answers the calls it lacks with HTTP 500: retrying them only adds time.
        AWS_MAX_ATTEMPTS="1",
    )
    return env


def _texts(folder: Path) -> str:
    return "\n".join(
        path.read_text(errors="replace") for path in folder.rglob("*") if path.is_file()
    )


def run_execbrief(env: dict[str, str], work: Path) -> tuple[float, set[int], bool]:
    """One `execbrief collect`: wall seconds, planted problems found (by index), leaked."""
    root = work / "workspace"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "execbrief.yaml").write_text(WORKSPACE)
    snapshot = work / "snapshot.json"
    command = [
        str(Path(sys.executable).with_name("execbrief")),
        "collect",
        "--workspace",
        str(root),
        "--aws-snapshot-out",
        str(snapshot),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"execbrief collect failed ({done.returncode}): {done.stderr[-2000:]}")
    bundle = json.loads((root / "outputs" / "latest" / "bundle.json").read_text())
    found = {
        index
        for index, problem in enumerate(PLANTED)
        for fact in bundle["facts"]
        if problem.raised_by(
            fact["kind"], fact["source"].get("resource"), fact["source"].get("section")
        )
    }
    output = _texts(root / "outputs") + snapshot.read_text() + done.stdout + done.stderr
    return wall, found, any(canary in output for canary in CANARIES)


def _token(problem: Planted) -> str:
    """What names the planted resource in a Prowler finding (account-wide: nothing)."""
    if problem.section:
        return problem.section
    last = problem.resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return "" if last in ("root", "account") else last


ProwlerRun = tuple[float, set[int], bool, str, dict[int, str]]


def _named(finding: dict[str, Any]) -> str:
    """What a Prowler finding says it is about: its resources and its one-line status."""
    resources = finding.get("resources", [])
    return json.dumps([[r.get("uid"), r.get("name")] for r in resources]) + str(
        finding.get("status_detail", "")
    )


def run_prowler(prowler: str, env: dict[str, str], work: Path) -> ProwlerRun:
    """One Prowler scan: wall seconds, planted problems found, leaked, a summary line, and
    for each problem it missed what its checks said instead."""
    out = work / "prowler"
    shutil.rmtree(out, ignore_errors=True)
    command = [
        prowler,
        "aws",
        "--services",
        *SERVICES,
        "--region",
        REGION,
        "-M",
        "json-ocsf",
        "-o",
        str(out),
        "-F",
        "scan",
        "-b",
        "-z",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    report = out / "scan.ocsf.json"
    if not report.exists():
        raise SystemExit(f"prowler wrote no report ({done.returncode}): {done.stderr[-2000:]}")
    findings = json.loads(report.read_text())
    failed = [f for f in findings if f.get("status_code") == "FAIL"]
    found = {
        index
        for index, problem in enumerate(PLANTED)
        for finding in failed
        if finding.get("metadata", {}).get("event_code") in problem.prowler
        and _token(problem) in _named(finding)
    }
    checks = {f.get("metadata", {}).get("event_code") for f in findings}
    output = _texts(out) + done.stdout + done.stderr
    summary = f"{len(checks)} checks, {len(findings)} findings, {len(failed)} FAIL"
    said: dict[int, str] = {}
    for index, problem in enumerate(PLANTED):
        statuses = sorted(
            {
                f"{f['metadata']['event_code']} {f.get('status_code')}"
                for f in findings
                if f.get("metadata", {}).get("event_code") in problem.prowler
                and _token(problem) in _named(f)
            }
        )
        said[index] = "; ".join(statuses) or "no such check ran"
    return wall, found, any(canary in output for canary in CANARIES), summary, said


def _version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[-1] if done.returncode == 0 else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="execbrief runs (median reported)")
    parser.add_argument("--prowler", default=os.environ.get("PROWLER") or shutil.which("prowler"))
    parser.add_argument("--skip-prowler", action="store_true")
    parser.add_argument("--keep", type=Path, help="copy Prowler's report to this folder")
    args = parser.parse_args()

    server, url = _start_moto()
    env = _environment(url)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    global PLANTED
    try:
        PLANTED = plant()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        with tempfile.TemporaryDirectory(prefix="aws-bench-") as folder:
            work = Path(folder)
            ours = [run_execbrief(env, work) for _ in range(args.runs)]
            theirs = None
            if args.skip_prowler:
                print("prowler: skipped (--skip-prowler)")
            elif not args.prowler or not Path(args.prowler).exists():
                print("prowler: not installed; pip install prowler in a venv and pass --prowler")
            else:
                theirs = run_prowler(args.prowler, env, work)
                if args.keep:
                    shutil.copytree(work / "prowler", args.keep, dirs_exist_ok=True)
    finally:
        server.stop()

    walls = [wall for wall, _, _ in ours]
    found_ours = ours[0][1]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    import moto

    peer = _version([args.prowler, "--version"]) if theirs else "not run"
    print(f"moto {moto.__version__}; prowler: {peer}")
    print()
    print("| planted problem | resource | execbrief | Prowler | Prowler's checks said |")
    print("|---|---|:-:|:-:|---|")
    for index, problem in enumerate(PLANTED):
        name = problem.resource.split(":", 5)[-1] + (
            f" {problem.section}" if problem.section else ""
        )
        mark = "yes" if index in found_ours else "no"
        other = "n/a" if theirs is None else ("yes" if index in theirs[1] else "no")
        note = " (code: moto serves no archive)" if problem.code else ""
        said = "" if theirs is None or index in theirs[1] else theirs[4][index]
        print(f"| `{problem.kind}`{note} | {name} | {mark} | {other} | {said} |")
    total = len(PLANTED)
    print()
    print(
        f"execbrief: {len(found_ours)}/{total} found; wall median {statistics.median(walls):.2f} s "
        f"({', '.join(f'{w:.2f}' for w in walls)}); planted value leaked: "
        f"{any(leak for _, _, leak in ours)}"
    )
    if theirs is not None:
        wall, found, leaked, summary, _ = theirs
        print(
            f"Prowler: {len(found)}/{total} found; wall {wall:.2f} s ({summary}); "
            f"planted value leaked: {leaked}"
        )
        print(f"ratio Prowler / execbrief wall: {wall / statistics.median(walls):.1f}x")
    consistent = all(found == found_ours for _, found, _ in ours)
    return 0 if consistent and not any(leak for _, _, leak in ours) else 1


PLANTED: list[Planted] = []

if __name__ == "__main__":
    raise SystemExit(main())
