"""A persona's subject template: rendered in a bounded sandbox, checked before a run starts.

The template comes from a persona file, which a workspace may supply: it is sandboxed
(no attribute tricks), kept to expressions and `{% if %}` (a subject line needs no
loops, macros or includes), and bounded, so `range(10**9)`, `'x' * 10**9` or
`10**10**10` is an error in the persona's file, not a hung or exhausted process.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from execbrief.errors import ConfigError
from execbrief.models import Finding, Persona, Report, ReportSection, Severity

SUBJECT_CHARS = 250
# No value inside a subject template may grow past this: a subject is one short line.
MAX_VALUE_CHARS = 10_000
MAX_RANGE = 1_000
MAX_EXPONENT = 100
_STATEMENTS = (nodes.For, nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.Include,
               nodes.Import, nodes.FromImport, nodes.Extends, nodes.Block)  # fmt: skip


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE_CHARS:
        raise SecurityError(f"a value in the subject template grew past {MAX_VALUE_CHARS:,}")
    return value


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of more than {MAX_RANGE:,} items in a subject template")
    return numbers


def _bounded_filter(fn: Callable[..., Any]) -> Callable[..., Any]:
    # wraps() keeps jinja2's pass_context/pass_environment marks on the wrapper
    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return _sized(fn(*args, **kwargs))

    return bounded


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox with its arithmetic, ranges and filters bounded in size."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined)
        self.globals["range"] = _bounded_range
        self.filters = {name: _bounded_filter(fn) for name, fn in self.filters.items()}

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent above {MAX_EXPONENT} in a subject template")
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                sequence = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sequence and len(seq) * times > MAX_VALUE_CHARS:
                    raise SecurityError("a repeated value in the subject template is too long")
        if op == "+" and isinstance(left, str | list | tuple) and isinstance(right, type(left)):
            _sized(left + right)  # type: ignore[operator]  # same sequence type on both sides
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "*": operator.mul,
            "**": operator.pow,
            "+": operator.add,
        }
        return ops[op](left, right)


@cache
def _environment() -> BoundedSandbox:
    return BoundedSandbox()


def _fail(message: str, path: Path | None) -> ConfigError:
    return ConfigError(
        f"subject template: {message}",
        path=path,
        field="deliver.subject",
        hint="keep the subject to {{ portfolio }}, {{ date }}, {{ report.subject }} and filters",
    )


def render_subject(template: str, context: dict[str, Any], path: Path | None = None) -> str:
    """The persona's subject template, sandboxed, bounded and folded onto one line."""
    env = _environment()
    try:
        parsed = env.parse(template)
        statement = next(iter(parsed.find_all(_STATEMENTS)), None)
        if statement is not None:
            raise _fail(f"`{type(statement).__name__.lower()}` is not allowed in a subject", path)
        subject = env.from_string(parsed).render(**context)
    except ConfigError:
        raise
    except jinja2.TemplateError as exc:
        raise _fail(str(exc), path) from exc
    except (ArithmeticError, MemoryError, TypeError, ValueError, LookupError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}", path) from exc
    return " ".join(subject.split())[:SUBJECT_CHARS]


def sample_report() -> Report:
    """A report with one of each part, to try a subject template before any model call."""
    return Report(
        subject="Sample subject",
        summary="Sample summary.",
        findings=[
            Finding(
                category="sample",
                severity=Severity.HIGH,
                title="Sample finding",
                description="Sample.",
                impact="Sample.",
                evidence=[],
            )
        ],
        kpis=[],
        recommendations=[],
        sections=[ReportSection(id="sample", markdown="Sample.")],
    )


def check_subject(persona: Persona, portfolio: str, path: Path | None = None) -> None:
    """Render the persona's subject with a sample report; ConfigError if it cannot be."""
    now = datetime.now(UTC)
    render_subject(
        persona.deliver.subject,
        {
            "portfolio": portfolio,
            "persona": persona,
            "run_id": now.strftime("%Y%m%dT%H%M%SZ"),
            "date": now.strftime("%Y-%m-%d"),
            "report": sample_report(),
        },
        path,
    )
