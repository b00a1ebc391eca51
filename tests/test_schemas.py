"""The checked-in JSON Schemas match the models (regenerate with `make schemas`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from execbrief.schemas import EXPORTED, schema_text

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("relative", sorted(EXPORTED))
def test_checked_in_schema_matches_the_model(relative: str) -> None:
    checked_in = (REPO / relative).read_text(encoding="utf-8")

    assert checked_in == schema_text(EXPORTED[relative]), f"run `make schemas` ({relative})"
