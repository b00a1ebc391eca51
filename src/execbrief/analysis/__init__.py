"""The analyze stage: pure functions of the bundle that add derived `analysis.*` facts.

Each analysis states its formula in the fact's detail, its inputs' ids in `inputs` and
its figures as typed metrics, so a brief cites a computed figure instead of computing it.
docs/ANALYSIS.md lists every analysis and what it refuses to compute.
"""

from __future__ import annotations

from collections.abc import Callable

from execbrief.models import Bundle, Fact

from .accounts import chart_of_accounts, journal_templates
from .aws_spend import aws_savings, aws_spend
from .inventory import asset_inventory
from .kpis import kpi_catalogue
from .money import break_even, burn, monthly, runway
from .plans import milestones, sequences
from .shortfalls import shortfalls

Analysis = Callable[[Bundle], list[Fact]]

# In order: a later analysis reads the facts of the earlier ones (the KPIs read burn).
ANALYSES: tuple[Analysis, ...] = (
    asset_inventory,
    burn,
    runway,
    monthly,
    break_even,
    aws_spend,
    aws_savings,
    sequences,
    milestones,
    chart_of_accounts,
    journal_templates,
    kpi_catalogue,
    shortfalls,
)


def analyze(bundle: Bundle) -> Bundle:
    """The bundle with its analysis facts (re)computed and its digest updated."""
    current = bundle.model_copy(
        update={"facts": [f for f in bundle.facts if not f.kind.startswith("analysis.")]}
    )
    for analysis in ANALYSES:
        added = analysis(current)
        current = current.model_copy(update={"facts": current.facts + added})
    current.digest = current.compute_digest()
    return current
