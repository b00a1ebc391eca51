"""Benchmark: what the second opinion (llm.verify) costs per brief, next to the brief itself.

Runs the example portfolio's eight personas through `pipeline.generate` with the real
anthropic provider (the SDK) against tests/messages_api_server.py (via ANTHROPIC_BASE_URL),
with `llm.verify: true`. No network: the server answers each brief with the report the
offline provider writes for that persona from the same evidence (full briefs, every
statement cited, so the verify request is the size a real brief's would be), and each
second opinion with two of the brief's claims as unsupported. Tokens are the server's
counts (four characters a token of the JSON it receives: the system text, the output
schema and the messages, as the real API counts all three), billed as the server's cache
semantics say; both calls are priced with llm/pricing.py, the brief at the default model,
the second opinion at the provider's smallest. Each figure is the median over the eight
personas of one run, then the median of --runs runs on a cold server.

    .venv/bin/python benchmarks/verify_cost.py            # ~1 min; updates RESULTS.md
    .venv/bin/python benchmarks/verify_cost.py --runs 1 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Second opinion (llm.verify): cost per brief"

# The SDK sends through httpx2; alias before anything imports httpx, as the tests do.
httpx2.alias_httpx()
sys.path.insert(0, str(REPO))

from execbrief import pipeline  # noqa: E402
from execbrief.config import LlmConfig, Workspace, load_workspace  # noqa: E402
from execbrief.generate import fit_to_budget, prompt_environment  # noqa: E402
from execbrief.grounding.verify import estimate_verify_input  # noqa: E402
from execbrief.llm.offline import build_offline_report  # noqa: E402
from execbrief.llm.pricing import DEFAULT_MODEL, SMALL_MODEL, cost_usd  # noqa: E402
from execbrief.models import Manifest, PersonaStatus  # noqa: E402
from tests.messages_api_server import Answer, AnswerContext, MessagesApiServer  # noqa: E402

CLAIMS = re.compile(r"<claims>\n(.*?)\n</claims>", re.DOTALL)


@dataclass(frozen=True)
class Brief:
    """One persona's figures in one run."""

    gen_in: int
    gen_out: int
    gen_usd: float
    ver_in: int
    ver_out: int
    ver_usd: float
    ver_estimate_in: int
    ver_at_default_usd: float
    facts: int
    claims: int


def _answers(workspace: Workspace) -> tuple[dict[str, str], dict[str, int]]:
    """Each persona's offline report (the brief the server returns), and the ceiling's
    estimate of its second opinion's input."""
    _run, bundle = pipeline.collect(workspace)
    personas = pipeline.personas_for(workspace, [])
    requests = fit_to_budget(prompt_environment(workspace.root), bundle, personas, LlmConfig(), {})
    # the server knows a persona by its id or, failing that, by its title
    reports = {
        key: build_offline_report(r.persona, r.facts).model_dump_json()
        for r in requests
        for key in (r.persona.id, r.persona.title)
    }
    return reports, {r.persona.id: estimate_verify_input(r) for r in requests}


def _server_answer(reports: dict[str, str]) -> Answer:
    def answer(ctx: AnswerContext) -> str:
        found = CLAIMS.search(ctx.instructions)
        if found is None:
            return reports[ctx.persona]
        claims = [json.loads(line) for line in found.group(1).splitlines()]
        items = [
            {
                "claim": c["id"],
                "place": c["place"],
                "quote": str(c["text"])[:40],
                "reason": "The cited facts state a different figure for this period.",
            }
            for c in claims[1:3]
        ]
        return json.dumps({"unsupported": items})

    return answer


def one_run(example: Path) -> list[Brief]:
    with tempfile.TemporaryDirectory(prefix="execbrief-verify-") as tmp:
        root = Path(tmp) / "portfolio"
        shutil.copytree(example, root, ignore=shutil.ignore_patterns("outputs"))
        offline = load_workspace(root)
        offline = Workspace(
            root=offline.root,
            config=offline.config.model_copy(
                update={"llm": offline.config.llm.model_copy(update={"provider": "offline"})}
            ),
        )
        reports, estimates = _answers(offline)
        llm = offline.config.llm.model_copy(update={"provider": "anthropic", "verify": True})
        workspace = Workspace(root=root, config=offline.config.model_copy(update={"llm": llm}))
        with MessagesApiServer(answer=_server_answer(reports)) as api:
            os.environ["ANTHROPIC_BASE_URL"] = api.base_url
            run, _bundle = pipeline.collect(workspace)
            personas = pipeline.personas_for(workspace, [])
            pipeline.generate(workspace, run, personas, environ=os.environ)
        manifest = Manifest.model_validate_json(run.manifest_path.read_bytes())
    briefs = []
    for persona, outcome in manifest.personas.items():
        verify = outcome.verify
        if outcome.status is not PersonaStatus.OK or verify is None or verify.error:
            raise SystemExit(f"{persona}: {outcome.error or (verify.error if verify else '')}")
        usage = outcome.usage
        briefs.append(
            Brief(
                gen_in=usage.input_tokens
                + usage.cache_creation_input_tokens
                + usage.cache_read_input_tokens,
                gen_out=usage.output_tokens,
                gen_usd=outcome.cost_usd,
                ver_in=verify.usage.input_tokens,
                ver_out=verify.usage.output_tokens,
                ver_usd=verify.cost_usd,
                ver_estimate_in=estimates[persona],
                ver_at_default_usd=cost_usd(DEFAULT_MODEL, verify.usage),
                facts=verify.facts,
                claims=verify.claims,
            )
        )
    return briefs


def _median(runs: list[list[Brief]], field: str) -> float:
    per_run = [statistics.median(float(getattr(b, field)) for b in run) for run in runs]
    return float(statistics.median(per_run))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-benchmark-local"
    example = REPO / "examples" / "portfolio"
    runs = [one_run(example) for _ in range(args.runs)]

    def m(field: str) -> float:
        return _median(runs, field)

    share = m("ver_usd") / m("gen_usd")
    run_gen = statistics.median(sum(b.gen_usd for b in run) for run in runs)
    run_ver = statistics.median(sum(b.ver_usd for b in run) for run in runs)
    rows = [
        "| per brief (median) | input tokens | output tokens | cost |",
        "|---|---:|---:|---:|",
        f"| brief ({DEFAULT_MODEL}, shared prefix cached) | {m('gen_in'):,.0f} | "
        f"{m('gen_out'):,.0f} | ${m('gen_usd'):.4f} |",
        f"| second opinion ({SMALL_MODEL}) | {m('ver_in'):,.0f} | {m('ver_out'):,.0f} | "
        f"${m('ver_usd'):.4f} |",
        f"| second opinion, if asked of {DEFAULT_MODEL} | {m('ver_in'):,.0f} | "
        f"{m('ver_out'):,.0f} | ${m('ver_at_default_usd'):.4f} |",
    ]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"anthropic {version('anthropic')}, execbrief {version('execbrief')}"
    )
    text = "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/verify_cost.py`, {datetime.now(UTC):%Y-%m-%d} ({machine}): the "
            f"example's eight personas, median of {args.runs} run(s) against the local "
            "Messages API (token counts: four characters a token of what it receives; no "
            "network), priced with llm/pricing.py. A second opinion sends "
            f"{m('facts'):.0f} cited facts and {m('claims'):.0f} claims (medians); it adds "
            f"**{share:.1%}** to a brief's cost (a run of eight: ${run_gen:.4f} for the "
            f"briefs, ${run_ver:.4f} for their second opinions). The spending ceiling's "
            f"pre-run estimate of its input was {m('ver_estimate_in'):,.0f} tokens (it "
            "assumes every fact of the lens cited and the report at its full max_tokens). "
            "The output is the scripted answer (two claims flagged); each further claim "
            "flagged adds about 40 output tokens.",
            "",
            *rows,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        write_results(text)
    return 0


def write_results(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; others stay as they are."""
    current = RESULTS.read_text() if RESULTS.exists() else ""
    start = current.find(HEADING + "\n")
    if start < 0:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    end = current.find("\n## ", start + len(HEADING))
    rest = current[end + 1 :] if end >= 0 else ""
    RESULTS.write_text(current[:start] + text + ("\n" + rest if rest else ""))


if __name__ == "__main__":
    raise SystemExit(main())
