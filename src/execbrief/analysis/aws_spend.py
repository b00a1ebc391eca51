"""AWS spend per month, per service and per entity, the forecast, and savings candidates
with a dollar figure where the evidence gives one."""

from __future__ import annotations

from execbrief.models import Bundle, Fact, MetricType

from .common import PERCENT, USD_MONTH, derived, entity_names, money, of_kind, slug

_NOT_SERVICES = {"total_usd", "untagged_usd", "account_total_usd"}
LARGE_LAMBDA_MB = 1024


def _account_months(bundle: Bundle) -> dict[str, Fact]:
    """Account-wide monthly cost facts (not the per-entity ones), by YYYY-MM."""
    months = {}
    for fact in of_kind(bundle, "aws.cost.monthly"):
        if "by_entity" not in fact.tags and fact.source.section:
            months[fact.source.section.split(" ")[0]] = fact
    return dict(sorted(months.items()))


def aws_spend(bundle: Bundle) -> list[Fact]:
    """Monthly and per-service spend for the account, then each entity's tagged share."""
    months = _account_months(bundle)
    if not months:
        return []
    names = entity_names(bundle)
    totals = {m: f.metrics.get("total_usd", 0.0) for m, f in months.items()}
    avg = sum(totals.values()) / len(totals)
    last = list(totals)[-1]
    metrics: dict[str, tuple[float, MetricType]] = {
        f"total_usd_{m.replace('-', '_')}": (v, USD_MONTH) for m, v in totals.items()
    }
    metrics["avg_monthly_usd"] = (avg, USD_MONTH)
    metrics["last_month_usd"] = (totals[last], USD_MONTH)
    services: dict[str, float] = {}
    for fact in months.values():
        for name, value in fact.metrics.items():
            if name.endswith("_usd") and name not in _NOT_SERVICES:
                services[name] = services.get(name, 0.0) + value
    service_lines = []
    for name, total in sorted(services.items(), key=lambda kv: -kv[1]):
        service = name.removesuffix("_usd")
        metrics[f"{service}_avg_monthly_usd"] = (total / len(months), USD_MONTH)
        service_lines.append(f"- {service.replace('_', ' ')}: {money(total / len(months))}/month")
    inputs = [f.id for f in months.values()]
    forecast = of_kind(bundle, "aws.cost.forecast")
    tail = "No forecast in the evidence."
    if forecast and "forecast_usd" in forecast[0].metrics:
        metrics["forecast_usd"] = (forecast[0].metrics["forecast_usd"], USD_MONTH)
        figure = money(forecast[0].metrics["forecast_usd"])
        tail = f"Forecast for {forecast[0].source.section}: {figure}."
        inputs.append(forecast[0].id)
    out = [
        derived(
            bundle,
            "analysis.aws_spend",
            "aws_spend portfolio",
            title=f"AWS spend {money(avg)} USD/month on average, {money(totals[last])} in {last}",
            detail=(
                f"avg_monthly_usd = ({' + '.join(money(v) for v in totals.values())}) / "
                f"{len(totals)} = {money(avg)}. By service, averaged over the same months:\n"
                + "\n".join(service_lines)
                + f"\n{tail}"
            ),
            inputs=inputs,
            metrics=metrics,
            tags=["cost"],
        )
    ]
    tagged: dict[str, list[Fact]] = {}
    for fact in of_kind(bundle, "aws.cost.monthly"):
        if "by_entity" in fact.tags and fact.entity:
            tagged.setdefault(fact.entity, []).append(fact)
    for entity, facts in tagged.items():
        spend = sum(f.metrics.get("total_usd", 0.0) for f in facts) / len(facts)
        share = spend / avg * 100 if avg else 0.0
        out.append(
            derived(
                bundle,
                "analysis.aws_spend",
                f"aws_spend {entity}",
                entity=entity,
                title=(
                    f"{names[entity]}: AWS spend {money(spend)} USD/month "
                    f"({share:.0f}% of the account)"
                ),
                detail=(
                    f"avg_monthly_usd = average of the {len(facts)} months of cost tagged with "
                    f"this entity = {money(spend)}; share_pct = {money(spend)} / {money(avg)} "
                    "x 100. Untagged resources are in no entity's share."
                ),
                inputs=[f.id for f in facts] + [out[0].id],
                metrics={"avg_monthly_usd": (spend, USD_MONTH), "share_pct": (share, PERCENT)},
                tags=["cost"],
            )
        )
    return out


def aws_savings(bundle: Bundle) -> list[Fact]:
    """Savings candidates: priced where a note or a cost line gives a figure, else not."""
    out = []
    for fact in of_kind(bundle, "handoff.section"):
        for name, value in fact.metrics.items():
            if "saving" in name and name.endswith("_usd") and value > 0:
                out.append(
                    derived(
                        bundle,
                        "analysis.aws_savings",
                        f"aws_savings {fact.id} {name}",
                        entity=fact.entity,
                        title=(
                            f"Savings of {money(value)} USD/month stated in {fact.source.label()}"
                        ),
                        detail=f"The note's own estimate ({name} = {money(value)}), as stated.",
                        inputs=[fact.id],
                        metrics={"savings_monthly_usd": (value, USD_MONTH)},
                        tags=["cost", "savings"],
                    )
                )
    months = _account_months(bundle)
    latest = list(months.values())[-1] if months else None

    def service_cost(metric: str) -> float | None:
        return latest.metrics.get(metric) if latest is not None else None

    candidates = [
        (
            [
                f
                for f in of_kind(bundle, "aws.lambda.function")
                if f.metrics.get("memory_mb", 0) >= LARGE_LAMBDA_MB
            ],
            "aws_lambda_usd",
            "Right-size Lambda memory",
            f"functions at {LARGE_LAMBDA_MB} MB or more",
        ),
        (
            of_kind(bundle, "aws.s3.no_lifecycle"),
            "amazon_simple_storage_service_usd",
            "Tier S3 storage with lifecycle rules",
            "buckets without lifecycle rules",
        ),
    ]
    for facts, metric, action, what in candidates:
        if not facts:
            continue
        ceiling = service_cost(metric)
        metrics: dict[str, tuple[float, MetricType]] = {}
        priced = "not priced: the evidence gives no saving for it"
        inputs = [f.id for f in facts]
        if ceiling is not None and latest is not None:
            metrics["service_cost_monthly_usd"] = (ceiling, USD_MONTH)
            priced += (
                f"; the whole service costs {money(ceiling)} USD/month, the ceiling of any saving"
            )
            inputs.append(latest.id)
        out.append(
            derived(
                bundle,
                "analysis.aws_savings",
                f"aws_savings {slug(action)}",
                title=f"{action}: {len(facts)} {what}",
                detail=f"{action} ({', '.join(f.title for f in facts)}); {priced}.",
                inputs=inputs,
                metrics=metrics,
                tags=["cost", "savings"],
            )
        )
    return out
