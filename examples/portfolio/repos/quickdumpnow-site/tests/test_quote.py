import pytest

from quote import quote


def test_fifteen_yard_week_is_the_flat_price():
    assert quote(15).total == 425


def test_extra_days_cost_fifteen_each():
    assert quote(10, days=10).total == 375 + 3 * 15


def test_overweight_is_billed_per_started_ton():
    assert quote(20, tons=3.2).overweight == 2 * 65


def test_street_placement_adds_the_permit():
    assert quote(10, street_placement=True).total == 375 + 60


def test_unknown_size_is_rejected():
    with pytest.raises(ValueError, match="no 12 yard dumpster"):
        quote(12)
