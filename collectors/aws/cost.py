"""The Cost Explorer reader: monthly cost by service and by entity tag, and a forecast.

Each Cost Explorer request is billed (USD 0.01), so the reader makes four at most: by
service and by tag for the last full months, month-to-date actuals, and the forecast.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .calls import CallScope, ServiceCalls
from .snapshot import CostForecast, CostMonth, CostReport


def cost_window(now: datetime, months: int) -> tuple[date, date]:
    """The last `months` full calendar months before `now`: [start, end)."""
    end = now.date().replace(day=1)
    start = end
    for _ in range(months):
        start = (start - timedelta(days=1)).replace(day=1)
    return start, end


def read_cost(scope: CallScope, now: datetime, months: int, entity_tag: str) -> CostReport:
    """Monthly cost by service and by entity tag, and this month's forecast."""
    calls = scope("ce")
    start, end = cost_window(now, months)
    by_service = _cost_groups(calls, start, end, {"Type": "DIMENSION", "Key": "SERVICE"})
    by_entity = calls.attempt(
        lambda: _cost_groups(calls, start, end, {"Type": "TAG", "Key": entity_tag})
    )
    report_months: list[CostMonth] = []
    for period, (services, estimated) in sorted(by_service.items()):
        # Cost Explorer keys tag groups as `entity$<value>`; `entity$` is untagged cost.
        tagged = (by_entity or {}).get(period, ({}, False))[0]
        report_months.append(
            CostMonth(
                start=period[0],
                end=period[1],
                total=round(sum(services.values()), 2),
                by_service=services,
                by_entity={key.split("$", 1)[-1]: amount for key, amount in tagged.items()},
                estimated=estimated,
            )
        )
    return CostReport(months=report_months, forecast=calls.attempt(lambda: _forecast(calls, now)))


Period = tuple[date, date]


def _cost_groups(
    calls: ServiceCalls, start: date, end: date, group: dict[str, str] | None
) -> dict[Period, tuple[dict[str, float], bool]]:
    periods: dict[Period, tuple[dict[str, float], bool]] = {}
    pages = calls.pages(
        "get_cost_and_usage",
        token=("NextPageToken", "NextPageToken"),
        TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
        **({"GroupBy": [group]} if group else {}),
    )
    for page in pages:
        for result in page.get("ResultsByTime", []):
            period = (
                date.fromisoformat(result["TimePeriod"]["Start"]),
                date.fromisoformat(result["TimePeriod"]["End"]),
            )
            amounts, _ = periods.get(period, ({}, False))
            entries = result.get("Groups") or [{"Keys": ["total"], "Metrics": result["Total"]}]
            for entry in entries:
                key = entry["Keys"][0]
                amount = float(entry["Metrics"]["UnblendedCost"]["Amount"])
                amounts[key] = round(amounts.get(key, 0.0) + amount, 2)
            periods[period] = (amounts, bool(result.get("Estimated", False)))
    return periods


def _forecast(calls: ServiceCalls, now: datetime) -> CostForecast | None:
    """Month-end cost: month-to-date actuals plus the forecast for the rest of the month."""
    today = now.date()
    month_start = today.replace(day=1)
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    to_date = 0.0
    if today > month_start:
        actuals = _cost_groups(calls, month_start, today, None)
        to_date = sum(sum(amounts.values()) for amounts, _ in actuals.values())
    response = calls.call(
        "get_cost_forecast",
        TimePeriod={"Start": today.isoformat(), "End": month_end.isoformat()},
        Metric="UNBLENDED_COST",
        Granularity="MONTHLY",
    )
    remaining = response.get("Total", {}).get("Amount")
    if remaining is None:
        return None
    return CostForecast(
        start=month_start,
        end=month_end,
        month_to_date=round(to_date, 2),
        remaining=round(float(remaining), 2),
        amount=round(to_date + float(remaining), 2),
    )
