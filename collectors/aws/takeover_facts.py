"""Facts about names that point at what the account no longer owns: takeover risks.

A DNS record or a CloudFront origin naming an S3 bucket, a distribution or an IP the
account does not hold can be claimed by a stranger, who then serves their content under
the business's name. Each check runs only when the list it compares against was read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from execbrief.models import Fact, Severity, Source

from .resource_facts import FactMaker
from .snapshot import CloudFrontDistribution, Domain, HostedZone, s3_bucket_of

_S3_WEBSITE_ALIAS = re.compile(r"^s3-website[.-][a-z0-9-]+\.amazonaws\.com$")
_CLOUDFRONT_HOST = re.compile(r"^[a-z0-9]+\.cloudfront\.net$")
# Address blocks AWS has announced for EC2 for years (a conservative subset of its
# published ranges): an address outside them is not judged, since it may belong to
# another host the business rents.
AWS_EC2_BLOCKS = tuple(
    ipaddress.ip_network(block)
    for block in (
        "3.0.0.0/9",
        "3.128.0.0/9",
        "13.52.0.0/14",
        "18.128.0.0/9",
        "34.192.0.0/10",
        "35.152.0.0/13",
        "44.192.0.0/10",
        "52.0.0.0/11",
        "52.32.0.0/11",
        "54.64.0.0/11",
        "54.144.0.0/12",
        "54.160.0.0/11",
        "54.208.0.0/13",
        "54.216.0.0/14",
        "54.220.0.0/15",
        "54.224.0.0/11",
    )
)


def _read(make: FactMaker, action: str) -> bool:
    return not any(gap.action == action for gap in make.snapshot.gaps)


def origin_takeover_facts(
    make: FactMaker, distribution: CloudFrontDistribution, buckets: set[str]
) -> Iterator[Fact]:
    if not _read(make, "s3:ListAllMyBuckets"):
        return
    label = ", ".join(distribution.aliases) or distribution.domain_name
    for origin in distribution.origins:
        bucket = s3_bucket_of(origin)
        if bucket is not None and bucket not in buckets:
            yield make.fact(
                "aws.cloudfront.origin_bucket_missing",
                Source(resource=distribution.arn, section=f"origin:{origin}"),
                f"CloudFront {distribution.id} ({label}) serves from S3 bucket {bucket}, "
                "which the account does not own",
                severity=Severity.HIGH,
                detail=(
                    "Anyone can create a bucket with that name and have your site serve their "
                    "content; recreate the bucket or remove the origin."
                ),
                entity=make.match.resolve(
                    " ".join([*distribution.aliases, origin]), distribution.tags
                ),
                tags=["security", "takeover"],
            )


def _in_aws(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in block for block in AWS_EC2_BLOCKS)


def record_takeover_facts(
    make: FactMaker,
    zone: HostedZone,
    buckets: set[str],
    distributions: list[CloudFrontDistribution],
    public_ips: set[str] | None,
) -> Iterator[Fact]:
    domains = {d.domain_name.lower() for d in distributions}
    check_buckets = _read(make, "s3:ListAllMyBuckets")
    check_cdn = _read(make, "cloudfront:ListDistributions")
    for record in zone.records or []:
        targets = [*record.values, *([record.alias] if record.alias else [])]
        for target in targets:
            host = target.lower().rstrip(".")
            bucket = s3_bucket_of(host)
            if record.alias and _S3_WEBSITE_ALIAS.match(host):
                bucket = record.name.lower()  # an S3 website alias serves the record's own name
            reason = None
            if bucket is not None and check_buckets and bucket not in buckets:
                reason = f"S3 bucket {bucket}, which the account does not own"
            elif _CLOUDFRONT_HOST.match(host) and check_cdn and host not in domains:
                reason = f"CloudFront distribution {host}, which is not in the account"
            elif (
                record.type == "A"
                and public_ips is not None
                and _in_aws(host)
                and host not in public_ips
            ):
                reason = f"AWS address {host}, which none of the account's IPs is"
            if reason is None:
                continue
            yield make.fact(
                "aws.route53.dangling_record",
                Source(
                    resource=f"arn:aws:route53:::hostedzone/{zone.id}",
                    section=f"{record.name} {record.type} {host}",
                ),
                f"{record.name} points at {reason}",
                severity=Severity.HIGH,
                detail=(
                    "Whoever claims that name or address next serves their own pages, or "
                    "reads your visitors' cookies, under your domain; delete or fix the record."
                ),
                entity=make.match.resolve(record.name, zone.tags),
                tags=["security", "takeover", "domains"],
            )


def domain_facts(make: FactMaker, domain: Domain) -> Iterator[Fact]:
    entity = make.match.in_name(domain.name)
    about = make.about(f"arn:aws:route53domains:::domain/{domain.name}", entity)
    if domain.transfer_lock is False:
        yield about.finding(
            "aws.route53.domain_no_transfer_lock",
            "transfer-lock",
            f"Domain {domain.name} has no transfer lock",
            severity=Severity.MEDIUM,
            detail=(
                "Someone with access to the registrar account or its email could move the "
                "domain away, and the website and email with it; turn the lock on."
            ),
            tags=["security", "domains"],
        )
    if domain.privacy is False:
        yield about.finding(
            "aws.route53.domain_no_privacy",
            "privacy",
            f"Domain {domain.name} publishes its owner's contact details",
            severity=Severity.LOW,
            detail=(
                "Names, addresses and phone numbers in WHOIS feed spam and targeted phishing; "
                "turn on privacy protection."
            ),
            tags=["security", "domains"],
        )
