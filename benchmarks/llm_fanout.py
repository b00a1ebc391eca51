"""Benchmark: how the order of the eight persona calls sets wall time and billed input.

Runs the real anthropic provider, through the SDK, against tests/messages_api_server.py
(via ANTHROPIC_BASE_URL). The server models one brief's latency as L = time to first
byte + output tokens / rate, and prompt caching as the API does it: a prefix is read only
by requests that arrive after a writer's response has begun. Strategies:

- sequential: one persona after another (about 8 x L, one write then reads);
- all-parallel: all eight at once (about 1 x L, but eight cache writes);
- warm-then-fanout: the first persona to the end, then the other seven (about 2 x L);
- first-byte-fanout: the first persona until its first byte, then the rest (about 1 x L,
  one write and seven reads);
- generate stage: execbrief.generate.generate_reports, the stage itself, which uses the
  first-byte strategy, with its validation, grounding checks and manifest writes.

Billed input counts cache writes at 1.25x and reads at 0.1x, as a ratio of the same
calls with no caching. Each figure is the median of --runs runs on a cold server.

    .venv/bin/python benchmarks/llm_fanout.py            # ~45 s; updates RESULTS.md
    .venv/bin/python benchmarks/llm_fanout.py --runs 1 --no-write
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## LLM fan-out"

# The SDK sends through httpx2; alias before anything imports httpx, as the tests do.
httpx2.alias_httpx()
sys.path.insert(0, str(REPO))

from execbrief.config import LlmConfig  # noqa: E402
from execbrief.generate import (  # noqa: E402
    GenerationContext,
    build_request,
    build_shared_prompt,
    generate_reports,
    prompt_environment,
)
from execbrief.llm.anthropic_api import AnthropicProvider  # noqa: E402
from execbrief.llm.base import BriefRequest, BriefResult  # noqa: E402
from execbrief.llm.pricing import DEFAULT_MODEL  # noqa: E402
from execbrief.models import Bundle, Entity, Fact, Manifest, Persona, Severity, Source, Usage  # noqa: E402
from execbrief.runs import create_run  # noqa: E402
from tests.messages_api_server import MessagesApiServer  # noqa: E402

KINDS = (
    ("secret.hardcoded", "security"),
    ("auth.endpoint_unauthenticated", "security"),
    ("aws.cloudfront.no_waf", "security"),
    ("aws.cost.monthly", "cost"),
    ("finance.expenses_monthly", "finance"),
    ("finance.revenue_monthly", "finance"),
    ("repo.ci", "devcycle"),
    ("handoff.todo", "marketing"),
    ("finance.uncategorized", "accounting"),
)
ENTITIES = (
    "jada",
    "queenofsandiego",
    "quickdumpnow",
    "dangerouscentaur",
    "rental_51st",
    "expert_yacht_delivery",
    "dc_client_portfolio",
)

Calls = Callable[[AnthropicProvider, list[BriefRequest]], list[BriefResult]]
Strategy = Callable[[AnthropicProvider, list[BriefRequest], Bundle], tuple[list[Usage], float]]


def sequential(provider: AnthropicProvider, requests: list[BriefRequest]) -> list[BriefResult]:
    return [provider.generate(request) for request in requests]


def all_parallel(provider: AnthropicProvider, requests: list[BriefRequest]) -> list[BriefResult]:
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(provider.generate, requests))


def warm_then_fanout(
    provider: AnthropicProvider, requests: list[BriefRequest]
) -> list[BriefResult]:
    first = provider.generate(requests[0])
    return [first, *all_parallel(provider, requests[1:])]


def first_byte_fanout(
    provider: AnthropicProvider, requests: list[BriefRequest]
) -> list[BriefResult]:
    began = threading.Event()
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        first = pool.submit(provider.generate, requests[0], began.set)
        while not began.wait(0.005) and not first.done():
            pass
        rest = [pool.submit(provider.generate, request) for request in requests[1:]]
        return [first.result(), *(future.result() for future in rest)]


def measured(calls: Calls) -> Strategy:
    def strategy(
        provider: AnthropicProvider, requests: list[BriefRequest], _bundle: Bundle
    ) -> tuple[list[Usage], float]:
        results = calls(provider, requests)
        return [r.usage for r in results], sum(r.cost_usd for r in results)

    return strategy


STRATEGIES: dict[str, Strategy] = {
    "sequential": measured(sequential),
    "all-parallel": measured(all_parallel),
    "warm-then-fanout (after full response)": measured(warm_then_fanout),
    "first-byte-fanout (warm until first byte)": measured(first_byte_fanout),
}
STAGE = "generate stage (execbrief.generate)"


@dataclass(frozen=True)
class Trial:
    seconds: float
    usage: Usage
    cost_usd: float
    tail: float = 0.0  # seconds between the last response's end and the stage's

    @property
    def billed(self) -> float:
        u = self.usage
        return (
            u.input_tokens + 1.25 * u.cache_creation_input_tokens + 0.1 * u.cache_read_input_tokens
        )

    @property
    def uncached(self) -> int:
        u = self.usage
        return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens


def synthetic_bundle(facts: int) -> Bundle:
    """A portfolio-shaped bundle: every shipped persona's lens selects some of it."""
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    severities = list(Severity)
    made = []
    for n in range(facts):
        kind, tag = KINDS[n % len(KINDS)]
        made.append(
            Fact.create(
                collector="benchmark",
                kind=kind,
                source=Source(path=f"repos/app/module_{n}.py", line=n % 400 + 1),
                entity=ENTITIES[n % len(ENTITIES)],
                severity=severities[n % len(severities)],
                title=f"Observation {n} about {tag} in module {n}",
                detail=f"What the collector saw in module {n}: "
                + "a sentence of supporting detail, " * 6,
                tags=[tag],
                observed_at=now,
            )
        )
    bundle = Bundle(
        portfolio="Benchmark Holdings",
        collected_at=now,
        entities=[Entity(id=e, name=e.replace("_", " ").title()) for e in ENTITIES],
        facts=made,
    )
    bundle.digest = bundle.compute_digest()
    return bundle


def shipped_personas() -> list[Persona]:
    return [
        Persona.model_validate(yaml.safe_load(path.read_text()))
        for path in sorted((REPO / "personas").glob("*.yaml"))
    ]


def persona_requests(bundle: Bundle, llm: LlmConfig) -> list[BriefRequest]:
    """The eight requests exactly as the generate stage builds them."""
    env = prompt_environment(None)
    personas = shipped_personas()
    shared = build_shared_prompt(env, bundle, personas, llm.evidence_budget_tokens)
    return [build_request(env, shared, persona, bundle, llm) for persona in personas]


def run_strategy(name: str, args: argparse.Namespace, bundle: Bundle) -> Trial:
    """One cold-cache run of one strategy; wall time of the eight calls only."""
    with MessagesApiServer(
        ttfb=args.ttfb, tokens_per_second=args.rate, output_tokens=args.output_tokens
    ) as server:
        os.environ["ANTHROPIC_BASE_URL"] = server.base_url
        llm = LlmConfig(provider="anthropic", evidence_budget_tokens=args.budget)
        provider = AnthropicProvider(llm)
        requests = persona_requests(bundle, llm)
        run = run_stage if name == STAGE else STRATEGIES[name]
        started = time.perf_counter()
        usages, cost = run(provider, requests, bundle)
        seconds = time.perf_counter() - started
        ended = time.monotonic()
        last = max(entry.finished or ended for entry in server.messages())
    return Trial(seconds, sum(usages, Usage()), cost, tail=ended - last)


def run_stage(
    provider: AnthropicProvider, requests: list[BriefRequest], bundle: Bundle
) -> tuple[list[Usage], float]:
    with tempfile.TemporaryDirectory() as scratch:
        run = create_run(Path(scratch) / "outputs")
        run.write_bundle(bundle)
        run.write_manifest(
            Manifest(
                run_id=run.run_id,
                created_at=bundle.collected_at,
                portfolio=bundle.portfolio,
                workspace=scratch,
                bundle_digest=bundle.digest,
            )
        )
        outcomes = generate_reports(
            GenerationContext(
                run=run,
                bundle=bundle,
                provider=provider,
                provider_name=provider.name,
                concurrency=len(requests),
            ),
            requests,
        )
    failed = [o for o in outcomes if o.error]
    if failed:
        raise SystemExit(f"generate stage failed for {failed[0].persona}: {failed[0].error}")
    return [o.usage for o in outcomes], sum(o.cost_usd for o in outcomes)


@dataclass(frozen=True)
class Row:
    name: str
    seconds: float
    wall_ratio: float
    billed_ratio: float
    cost_usd: float
    tail: float


def median_row(name: str, trials: list[Trial], latency: float) -> Row:
    return Row(
        name=name,
        seconds=statistics.median(t.seconds for t in trials),
        wall_ratio=statistics.median(t.seconds / latency for t in trials),
        billed_ratio=statistics.median(t.billed / t.uncached for t in trials),
        cost_usd=statistics.median(t.cost_usd for t in trials),
        tail=statistics.median(t.tail for t in trials),
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| strategy | wall (s) | wall / L | after last response (s) "
        "| billed input / no caching | cost (USD) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.name} | {r.seconds:.2f} | {r.wall_ratio:.2f} | {r.tail:.2f} | {r.billed_ratio:.3f} "
        f"| {r.cost_usd:.4f} |"
        for r in rows
    ]
    return "\n".join(lines)


def section(rows: list[Row], args: argparse.Namespace, latency: float, prefix: int) -> str:
    stage = next(r for r in rows if r.name == STAGE)
    verdict = "meets" if stage.wall_ratio <= 1.3 and stage.billed_ratio <= 0.3 else "MISSES"
    return "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/llm_fanout.py`, {datetime.now(UTC):%Y-%m-%d}: eight shipped personas, "
            f"{args.facts} synthetic facts, evidence budget {args.budget:,} tokens (cached "
            f"prefix ~{prefix:,} tokens), anthropic "
            f"provider through the SDK against tests/messages_api_server.py; "
            f"L = {args.ttfb:g} s to first byte + {args.output_tokens} tokens at "
            f"{args.rate:g} tokens/s = {latency:.2f} s; {DEFAULT_MODEL} prices; median of "
            f"{args.runs} cold-cache runs. Billed input: cache writes 1.25x, reads 0.1x, as "
            "a ratio of the same calls without caching. After last response: how long the "
            "run went on once the last model response had ended (for the stage: validation, "
            "grounding checks, report and manifest writes).",
            "",
            table(rows),
            "",
            f"Target (wall <= 1.3 x L and billed input <= 0.3 x no caching for the generate "
            f"stage): {verdict}.",
            "",
        ]
    )


def write_section(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; others stay as they are."""
    current = RESULTS.read_text() if RESULTS.exists() else ""
    start = current.find(HEADING + "\n")
    if start < 0:
        joined = current.rstrip("\n") + "\n\n" + text if current.strip() else text
        RESULTS.write_text(joined)
        return
    end = current.find("\n## ", start + len(HEADING))
    rest = current[end + 1 :] if end >= 0 else ""
    RESULTS.write_text(current[:start] + text + ("\n" + rest if rest else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ttfb", type=float, default=0.08, help="seconds to first byte")
    parser.add_argument("--rate", type=float, default=1500, help="output tokens per second")
    parser.add_argument("--output-tokens", type=int, default=1500, help="tokens per brief")
    parser.add_argument("--facts", type=int, default=300, help="facts in the bundle")
    parser.add_argument(
        "--budget",
        type=int,
        default=LlmConfig().evidence_budget_tokens,
        help="llm.evidence_budget_tokens (below the bundle's size, each lens keeps a share)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per strategy (median)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-benchmark-local"
    latency = args.ttfb + args.output_tokens / args.rate
    bundle = synthetic_bundle(args.facts)
    rows = []
    trials: dict[str, list[Trial]] = {}
    for name in [*STRATEGIES, STAGE]:
        trials[name] = [run_strategy(name, args, bundle) for _ in range(args.runs)]
        rows.append(median_row(name, trials[name], latency))
        print(f"{name}: {rows[-1].seconds:.2f} s", file=sys.stderr)
    # Sequential calls write the prefix exactly once, so its write is the prefix's size.
    prefix = trials["sequential"][0].usage.cache_creation_input_tokens
    text = section(rows, args, latency, prefix)
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
