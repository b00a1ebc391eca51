"""Instant quote for the site's price widget (the build renders the table into index.html)."""

from dataclasses import dataclass

from settings import PRICE_TABLE_COMMIT

BASE_PRICE = {10: 375, 15: 425, 20: 495}
INCLUDED_DAYS = 7
INCLUDED_TONS = 2.0
EXTRA_DAY = 15
OVERWEIGHT_PER_TON = 65
STREET_PERMIT = 60


@dataclass(frozen=True)
class Quote:
    size_yards: int
    days: int
    base: int
    extra_days: int
    overweight: int
    permit: int
    price_table: str = PRICE_TABLE_COMMIT

    @property
    def total(self) -> int:
        return self.base + self.extra_days + self.overweight + self.permit


def quote(size_yards: int, days: int = INCLUDED_DAYS, tons: float = 0.0,
          street_placement: bool = False) -> Quote:
    if size_yards not in BASE_PRICE:
        raise ValueError(f"no {size_yards} yard dumpster; sizes are {sorted(BASE_PRICE)}")
    if days < 1:
        raise ValueError("rental is at least one day")
    over_tons = max(0.0, tons - INCLUDED_TONS)
    return Quote(
        size_yards=size_yards,
        days=days,
        base=BASE_PRICE[size_yards],
        extra_days=max(0, days - INCLUDED_DAYS) * EXTRA_DAY,
        # the landfill bills whole tons, so we do too
        overweight=int(-(-over_tons // 1)) * OVERWEIGHT_PER_TON,
        permit=STREET_PERMIT if street_placement else 0,
    )
