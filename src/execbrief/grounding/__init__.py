"""The grounding check: every claim of a brief read against the facts it cites.

`check.py` reads a report place by place; `claim_units.py` cuts places into claims and
finds the ids nearest each; `fact_values.py` says what a fact states (value, unit, period,
direction); `number_match.py` matches a written number to a stated one; `derivations.py`
verifies written arithmetic and named derivations; `polarity.py` knows the conditions a
fact kind states and the claims that assert their opposite. The number parser itself is
`execbrief.numbers`, shared with the collectors.
"""

from execbrief.grounding.check import (
    GroundingIndex,
    check_grounding,
    claims,
    missing_sections,
)

__all__ = ["GroundingIndex", "check_grounding", "claims", "missing_sections"]
