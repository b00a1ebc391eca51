"""Asset inventory: every domain, function, bucket, table, distribution, SES identity and
repository, per entity, with what no entity claims under "unattributed"."""

from __future__ import annotations

import re

from execbrief.models import Bundle, Fact

from .common import COUNT, derived, entity_names, of_kind

ASSET_TYPES: dict[str, tuple[str, str]] = {
    "aws.route53.zone": ("domains", "Domain"),
    "aws.lambda.function": ("functions", "Lambda function"),
    "aws.s3.bucket": ("buckets", "S3 bucket"),
    "aws.dynamodb.table": ("tables", "DynamoDB table"),
    "aws.cloudfront.distribution": ("distributions", "CloudFront distribution"),
    "aws.ses.identity": ("ses_identities", "SES identity"),
    "repo.inventory": ("repositories", "Repository"),
}
UNATTRIBUTED = "unattributed"


def asset_name(fact: Fact) -> str:
    """The asset's own name: a zone's domain, a distribution's alias, else its resource id."""
    if fact.kind == "aws.route53.zone":
        return fact.title.split()[2] if len(fact.title.split()) > 2 else fact.title
    if fact.kind == "aws.cloudfront.distribution":
        return fact.title.removeprefix("CloudFront ").strip()
    resource = fact.source.resource or fact.source.path or fact.title
    return re.split(r"[:/]", resource)[-1] or resource


def asset_inventory(bundle: Bundle) -> list[Fact]:
    """One fact per entity that owns assets, and one for assets no entity claims."""
    names = entity_names(bundle)
    owned: dict[str | None, list[Fact]] = {}
    for fact in of_kind(bundle, *ASSET_TYPES):
        owned.setdefault(fact.entity, []).append(fact)
    order = [e.id for e in bundle.entities if e.id in owned] + ([None] if None in owned else [])
    out: list[Fact] = []
    for entity in order:
        assets = sorted(
            owned[entity], key=lambda f: (list(ASSET_TYPES).index(f.kind), asset_name(f))
        )
        counts: dict[str, float] = {key: 0 for key, _ in ASSET_TYPES.values()}
        lines = []
        for fact in assets:
            key, label = ASSET_TYPES[fact.kind]
            counts[key] += 1
            lines.append(f"- {label}: {asset_name(fact)} ({fact.title}) [{fact.id}]")
        owner = names[entity] if entity else "Unattributed"
        summary = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in counts.items() if n)
        out.append(
            derived(
                bundle,
                "analysis.inventory",
                f"inventory {entity or UNATTRIBUTED}",
                entity=entity,
                title=f"{owner}: {len(assets)} assets ({summary})",
                detail=(
                    "Counts are the number of inventory facts of each asset type attributed to "
                    + ("this entity" if entity else "no entity (no tag, name or alias matched)")
                    + ":\n"
                    + "\n".join(lines)
                ),
                inputs=[f.id for f in assets],
                metrics={"assets": (float(len(assets)), COUNT)}
                | {key: (n, COUNT) for key, n in counts.items() if n},
                tags=["inventory"],
            )
        )
    return out
