"""Facts about who can reach what: S3, Lambda, SES and CloudFront exposure findings.

Each builder judges one resource's new settings (policies, ACL permissions, CORS,
logging, secrets found by value); a setting that is None was not read, or the snapshot
predates it, and raises nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from execbrief.models import Fact, Severity, Source

from .policies import denies_plain_http, public_actions
from .resource_facts import FactMaker
from .snapshot import (
    CloudFrontDistribution,
    LambdaFunction,
    LambdaLayer,
    PublicAccessBlock,
    S3Account,
    S3Bucket,
    SesIdentity,
)

_WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:PutBucketPolicy", "s3:PutObjectAcl")
_WRITE_GRANTS = ("WRITE", "WRITE_ACP", "FULL_CONTROL")
_LIST_GRANTS = ("READ", "FULL_CONTROL")
_SEND_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail")
_SECRETS = ["security", "secrets"]


# --- S3 -------------------------------------------------------------------------------


def s3_account_facts(make: FactMaker, account: S3Account) -> Iterator[Fact]:
    block = account.public_access_block
    if block is not None and block.complete:
        return
    state = "is not set" if block is None else "is only partly on"
    yield make.fact(
        "aws.s3.account_public_access_block_off",
        Source(resource=f"arn:aws:s3:{make.account}:account", section="public-access-block"),
        f"The account-wide S3 public access block {state}",
        severity=Severity.MEDIUM,
        detail=(
            "Nothing stops one wrong bucket policy or ACL from putting files on the open "
            "internet; turn on all four switches for the account."
        ),
        tags=["security"],
    )


def _blocked(bucket: S3Bucket, account: PublicAccessBlock | None, switch: str) -> bool:
    return any(
        block is not None and getattr(block, switch)
        for block in (bucket.public_access_block, account)
    )


def bucket_exposure_facts(
    make: FactMaker, bucket: S3Bucket, account: PublicAccessBlock | None
) -> Iterator[Fact]:
    entity = make.match.resolve(bucket.name, bucket.tags)
    about = make.about(f"arn:aws:s3:::{bucket.name}", entity)
    statements = bucket.policy_statements
    grants = bucket.acl_public_permissions
    block_read = "public_access_block" not in bucket.unread
    writers: list[str] = []
    policy_open = block_read and not _blocked(bucket, account, "restrict_public_buckets")
    if statements is not None and policy_open and public_actions(statements, _WRITE_ACTIONS):
        writers.append("its bucket policy")
    acl_open = block_read and not _blocked(bucket, account, "ignore_public_acls")
    if grants is not None and acl_open and any(g in grants for g in _WRITE_GRANTS):
        writers.append("its ACL")
    if writers:
        yield about.finding(
            "aws.s3.public_write",
            "write",
            f"Anyone on the internet can write to S3 bucket {bucket.name}",
            severity=Severity.CRITICAL,
            detail=(
                f"Through {' and '.join(writers)}, anyone can upload, overwrite or delete its "
                "files: malware on your site, a huge bill, or lost data."
            ),
            tags=["security"],
        )
    if grants is not None and acl_open and any(g in grants for g in _LIST_GRANTS):
        yield about.finding(
            "aws.s3.public_list",
            "list",
            f"Anyone on the internet can list S3 bucket {bucket.name}",
            severity=Severity.HIGH,
            detail=(
                "Its ACL lets anyone list every file name, so nothing in it stays hidden "
                "even when its address was never shared."
            ),
            tags=["security"],
        )
    if statements is not None and not denies_plain_http(statements):
        yield about.finding(
            "aws.s3.no_secure_transport",
            "secure-transport",
            f"S3 bucket {bucket.name} accepts unencrypted HTTP",
            severity=Severity.MEDIUM,
            detail=(
                "No bucket policy denies plain HTTP, so files can travel unencrypted and be "
                "read or altered on the way; deny aws:SecureTransport false."
            ),
            tags=["security"],
        )
    if bucket.access_logging is False:
        yield about.finding(
            "aws.s3.no_access_logging",
            "logging",
            f"S3 bucket {bucket.name} keeps no access log",
            severity=Severity.LOW,
            detail=(
                "If its files are read or deleted by someone else, there is no record of who, "
                "when or from where."
            ),
            tags=["security", "infra"],
        )


# --- Lambda ---------------------------------------------------------------------------


def lambda_exposure_facts(make: FactMaker, fn: LambdaFunction) -> Iterator[Fact]:
    entity = make.match.resolve(fn.name, fn.tags)
    about = make.about(fn.arn, entity)
    for hit in fn.env_secrets or []:
        yield about.finding(
            "aws.lambda.secret_in_env",
            f"env:{hit.where}",
            f"Lambda {fn.name} holds a {hit.label} in environment variable {hit.where}",
            severity=Severity(hit.severity),
            detail=(
                f"The value ({hit.masked}) is readable in plain text by anyone allowed to view "
                "the function's settings; move it to Secrets Manager and rotate it."
            ),
            tags=_SECRETS,
        )
    for hit in fn.code_secrets or []:
        yield about.finding(
            "aws.lambda.secret_in_code",
            f"code:{hit.where}",
            f"Lambda {fn.name} has a {hit.label} in its deployed code ({hit.where})",
            severity=Severity(hit.severity),
            detail=(
                f"The key ({hit.masked}) ships inside the code archive, so every copy of the "
                "deploy zip carries it; move it to Secrets Manager and rotate it."
            ),
            tags=_SECRETS,
        )
    statements = fn.policy_statements or []
    public = [
        statement
        for statement in statements
        if public_actions([statement], ("lambda:InvokeFunction", "lambda:GetFunction"))
        # A function URL with AuthType NONE needs exactly this statement; url_no_auth
        # reports it.
        and not any(
            key.lower() == "lambda:functionurlauthtype"
            for block in statement.conditions.values()
            for key in block
        )
    ]
    if public:
        yield about.finding(
            "aws.lambda.public_policy",
            "resource-policy",
            f"Lambda {fn.name} can be called by anyone (public resource policy)",
            severity=Severity.HIGH,
            detail=(
                "Its resource policy lets any AWS account invoke it, so strangers can run "
                "your code and run up the bill; name the callers in the policy."
            ),
            tags=["security", "auth"],
        )
    if fn.url_cors_origins is not None and "*" in fn.url_cors_origins:
        yield about.finding(
            "aws.lambda.url_cors_wildcard",
            "function-url-cors",
            f"Lambda {fn.name}'s function URL accepts browser calls from any website",
            severity=Severity.MEDIUM,
            detail=(
                "Its CORS setting allows origin *, so any web page a customer visits can call "
                "it from their browser; list your own sites instead."
            ),
            tags=["security"],
        )


def layer_facts(make: FactMaker, layer: LambdaLayer, users: list[str]) -> Iterator[Fact]:
    """One fact per secret in a layer, naming the functions that run it."""
    for hit in layer.code_secrets or []:
        yield make.fact(
            "aws.lambda.secret_in_layer",
            Source(resource=layer.arn, section=f"code:{hit.where}"),
            f"Lambda layer {layer.arn.split(':')[6]} has a {hit.label} ({hit.where})",
            severity=Severity(hit.severity),
            detail=(
                f"The key ({hit.masked}) ships inside the layer, in every function that uses "
                f"it ({', '.join(users) or 'none now'}); move it to Secrets Manager and rotate it."
            ),
            tags=_SECRETS,
        )


# --- SES ------------------------------------------------------------------------------


def ses_exposure_facts(make: FactMaker, identity: SesIdentity, region: str) -> Iterator[Fact]:
    if not identity.policy_statements or not public_actions(
        identity.policy_statements, _SEND_ACTIONS
    ):
        return
    yield make.fact(
        "aws.ses.identity_public_send",
        Source(
            resource=f"arn:aws:ses:{region}:{make.account}:identity/{identity.name}",
            section="sending-authorization",
        ),
        f"Anyone may send email as {identity.name} through SES",
        severity=Severity.HIGH,
        detail=(
            "Its sending authorization policy lets any AWS account send mail as you: phishing "
            "in your name, and your domain's reputation gone."
        ),
        entity=make.match.in_name(identity.name),
        tags=["security", "email"],
    )


# --- CloudFront -----------------------------------------------------------------------


def distribution_exposure_facts(
    make: FactMaker, distribution: CloudFrontDistribution
) -> Iterator[Fact]:
    names = " ".join([*distribution.aliases, *distribution.origins])
    entity = make.match.resolve(names, distribution.tags)
    label = ", ".join(distribution.aliases) or distribution.domain_name
    about = make.about(distribution.arn, entity)
    plain = [
        behavior.path
        for behavior in distribution.behaviors or []
        if behavior.viewer_protocol_policy == "allow-all"
    ]
    if plain:
        yield about.finding(
            "aws.cloudfront.plain_http",
            "viewer-protocol",
            f"CloudFront {distribution.id} ({label}) serves visitors over plain HTTP",
            severity=Severity.MEDIUM,
            detail=(
                f"Paths {', '.join(plain)} allow HTTP, so pages, logins and cookies can be read "
                "or changed on public Wi-Fi; redirect HTTP to HTTPS."
            ),
            tags=["security"],
        )
    for origin in distribution.origin_details or []:
        if origin.s3 and origin.oac_id is None:
            legacy = origin.oai is not None
            yield about.finding(
                "aws.cloudfront.s3_origin_no_oac",
                f"origin:{origin.id}",
                f"CloudFront {distribution.id} reads S3 origin {origin.domain_name} without "
                "origin access control",
                severity=Severity.LOW if legacy else Severity.MEDIUM,
                detail=(
                    "It uses the legacy origin access identity; move to origin access control."
                    if legacy
                    else "The bucket has to be readable by anyone for CloudFront to serve it, "
                    "so visitors can skip CloudFront (and its protections) entirely."
                ),
                tags=["security"],
            )
    if distribution.logging is False:
        yield about.finding(
            "aws.cloudfront.no_logging",
            "logging",
            f"CloudFront {distribution.id} ({label}) keeps no access log",
            severity=Severity.LOW,
            detail=(
                "An attack, a scrape or a traffic spike leaves no record of who asked for what."
            ),
            tags=["security", "infra"],
        )
