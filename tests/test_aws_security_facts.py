"""The security checks of issue 17 on snapshot fixtures: what moto cannot plant, the
clean twin of each, and the rules underneath (policies, secret values, code archives).

Each test builds the smallest snapshot that holds one problem and its twin, so a check
that fires on the twin or stays silent on the problem fails here.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from execbrief.collectors.aws.facts import snapshot_facts
from execbrief.collectors.aws.lambda_code import (
    CodeUnavailable,
    archive_secrets,
    download_code,
    env_secrets,
)
from execbrief.collectors.aws.policies import (
    denies_plain_http,
    escalation_paths,
    open_to_anyone,
    parse_policy,
)
from execbrief.collectors.aws.snapshot import (
    AccessKey,
    AwsSnapshot,
    BackupSelection,
    CloudFrontDistribution,
    CloudFrontOrigin,
    DnsRecord,
    Domain,
    DynamoTable,
    GlobalInventory,
    HostedZone,
    IamAccount,
    IamGroup,
    IamPolicy,
    IamUser,
    PolicyStatement,
    PublicAccessBlock,
    RegionInventory,
    RootAccount,
    S3Account,
    S3Bucket,
    SnapshotGap,
    read_snapshot,
)
from execbrief.models import Fact
from tests.aws_planted import zip_of

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "us-west-2"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio" / "aws" / "inventory.json"
# Built at run time so that no secret-shaped literal sits in the source.
STRIPE = "sk_" + "live_FIXTURE0value0a1b2c3d4e5f6g7h8"
ALL_ON = PublicAccessBlock(
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=True,
    restrict_public_buckets=True,
)


def _snapshot(
    top: GlobalInventory | None = None,
    region: RegionInventory | None = None,
    gaps: list[SnapshotGap] | None = None,
) -> AwsSnapshot:
    return AwsSnapshot(
        account_id=ACCOUNT,
        taken_at=NOW,
        regions={REGION: region or RegionInventory()},
        global_=top or GlobalInventory(),
        gaps=gaps or [],
    )


def _facts(snapshot: AwsSnapshot, kind: str) -> list[Fact]:
    return [fact for fact in snapshot_facts(snapshot, [], NOW).facts if fact.kind == kind]


def _resources(snapshot: AwsSnapshot, kind: str) -> list[str]:
    return sorted(
        (f.source.resource or "") + (f"#{f.source.section}" if f.source.section else "")
        for f in _facts(snapshot, kind)
    )


def _iam(**fields: object) -> AwsSnapshot:
    return _snapshot(GlobalInventory(iam=IamAccount.model_validate(fields)))


def _user(name: str, **fields: object) -> IamUser:
    return IamUser.model_validate(
        {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "mfa_active": True, **fields}
    )


def _days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


# --- IAM ------------------------------------------------------------------------------


def test_root_access_keys_and_recent_root_use_are_findings_and_a_quiet_root_is_not() -> None:
    used = _iam(
        root=RootAccount(
            mfa_enabled=True, access_keys_present=True, password_last_used=_days_ago(3)
        )
    )
    quiet = _iam(
        root=RootAccount(
            mfa_enabled=True, access_keys_present=False, password_last_used=_days_ago(200)
        )
    )

    assert [f.title for f in _facts(used, "aws.iam.root_access_keys")] == [
        "The AWS root user has an access key"
    ]
    assert [f.metrics for f in _facts(used, "aws.iam.root_used")] == [{"days_since_root_use": 3}]
    for kind in ("aws.iam.root_access_keys", "aws.iam.root_used", "aws.iam.root_no_mfa"):
        assert _facts(quiet, kind) == []


def test_old_and_unused_keys_and_idle_passwords_are_findings_and_fresh_ones_are_not() -> None:
    stale = _user(
        "old-laptop",
        password_enabled=True,
        created_at=_days_ago(400),
        access_keys=[AccessKey(slot=1, active=True, last_rotated=_days_ago(200))],
    )
    fresh = _user(
        "daily",
        password_enabled=True,
        password_last_used=_days_ago(1),
        created_at=_days_ago(400),
        access_keys=[
            AccessKey(slot=1, active=True, last_rotated=_days_ago(10), last_used=_days_ago(1)),
            AccessKey(slot=2, active=False, last_rotated=_days_ago(300)),
        ],
    )
    snapshot = _iam(users=[stale, fresh], password_policy=True)

    assert _resources(snapshot, "aws.iam.access_key_old") == [f"{stale.arn}#access-key-1"]
    assert _resources(snapshot, "aws.iam.unused_credentials") == [
        f"{stale.arn}#access-key-1",
        f"{stale.arn}#password",
    ]
    assert _facts(snapshot, "aws.iam.no_password_policy") == []
    assert _facts(snapshot, "aws.iam.user_no_mfa") == []


def test_a_missing_password_policy_is_a_finding_and_an_unread_one_is_not() -> None:
    assert len(_facts(_iam(password_policy=False), "aws.iam.no_password_policy")) == 1
    assert _facts(_iam(password_policy=None), "aws.iam.no_password_policy") == []


def test_an_administrator_through_a_group_is_found_and_mfa_keeps_it_high() -> None:
    group = IamGroup(
        name="admins",
        arn=f"arn:aws:iam::{ACCOUNT}:group/admins",
        managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"],
    )
    admin = _user("owner", groups=["admins"], access_keys=[AccessKey(slot=1, active=True)])
    reader = _user("reader", groups=[])

    facts = _facts(_iam(users=[admin, reader], groups=[group]), "aws.iam.user_admin")

    assert [(f.source.resource, f.severity) for f in facts] == [(admin.arn, "high")]


def test_an_escalation_policy_is_found_unless_denied_and_full_admin_is_not_an_escalation() -> None:
    def policy(name: str, *statements: Mapping[str, object]) -> IamPolicy:
        return IamPolicy(
            name=name,
            arn=f"arn:aws:iam::{ACCOUNT}:policy/{name}",
            statements=parse_policy({"Statement": list(statements)}),
        )

    iam_star = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}
    denied = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    snapshot = _iam(
        policies=[
            policy("iam-admin", iam_star),
            policy("iam-denied", iam_star, denied),
            policy("everything", {"Effect": "Allow", "Action": "*", "Resource": "*"}),
            policy("reports", {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}),
        ]
    )

    facts = _facts(snapshot, "aws.iam.privilege_escalation")

    assert [f.source.resource for f in facts] == [f"arn:aws:iam::{ACCOUNT}:policy/iam-admin"]
    assert "iam:CreateAccessKey" in facts[0].detail


def test_user_checks_that_need_the_credential_report_wait_for_it() -> None:
    user = _user("ghost", mfa_active=None, access_keys=[])
    snapshot = _iam(users=[user], unread=["credential_report"])

    assert _facts(snapshot, "aws.iam.user_no_mfa") == []


# --- S3 -------------------------------------------------------------------------------


def _bucket(name: str, **fields: object) -> S3Bucket:
    return S3Bucket.model_validate({"name": name, "region": REGION, **fields})


def test_the_account_public_access_block_is_a_finding_only_when_not_all_on() -> None:
    partial = ALL_ON.model_copy(update={"restrict_public_buckets": False})

    def kinds(account: S3Account | None) -> int:
        snapshot = _snapshot(GlobalInventory(s3_account=account))
        return len(_facts(snapshot, "aws.s3.account_public_access_block_off"))

    assert (kinds(S3Account(public_access_block=ALL_ON)), kinds(None)) == (0, 0)
    assert (kinds(S3Account(public_access_block=partial)), kinds(S3Account())) == (1, 1)


def test_a_public_write_policy_is_neutralised_by_the_account_block() -> None:
    writable = parse_policy(
        {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}}
    )
    bucket = _bucket("drop-box", policy_statements=writable, acl_public_permissions=[])
    blocked = GlobalInventory(s3_buckets=[bucket], s3_account=S3Account(public_access_block=ALL_ON))

    assert len(_facts(_snapshot(GlobalInventory(s3_buckets=[bucket])), "aws.s3.public_write")) == 1
    assert _facts(_snapshot(blocked), "aws.s3.public_write") == []


def test_an_old_snapshot_without_the_new_reads_raises_none_of_the_new_findings() -> None:
    old = read_snapshot(EXAMPLE)

    kinds = {fact.kind for fact in snapshot_facts(old, [], NOW).facts}

    new = {
        "aws.s3.no_secure_transport",
        "aws.s3.no_access_logging",
        "aws.s3.account_public_access_block_off",
        "aws.dynamodb.no_deletion_protection",
        "aws.dynamodb.no_backup_plan",
        "aws.cloudfront.no_logging",
        "aws.cloudfront.plain_http",
        "aws.iam.root_no_mfa",
    }
    assert kinds & new == set()
    assert "aws.lambda.secret_env_name" in kinds  # judged by name, as before


# --- DynamoDB -------------------------------------------------------------------------


def test_a_backup_plan_covers_tables_by_arn_pattern_or_tag_and_excludes_not_resources() -> None:
    def table(name: str, **tags: str) -> DynamoTable:
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        return DynamoTable(name=name, arn=arn, tags=tags, deletion_protection=True)

    selections = [
        BackupSelection(
            plan="daily",
            name="tables",
            resources=[f"arn:aws:dynamodb:*:{ACCOUNT}:table/book*"],
            not_resources=["*:table/bookings-scratch"],
        ),
        BackupSelection(plan="daily", name="tagged", tags=[("backup", "daily")]),
    ]
    tables = [table("bookings"), table("bookings-scratch"), table("crew", backup="daily")]
    region = RegionInventory(dynamodb_tables=tables, backup_selections=selections)

    missing = _facts(_snapshot(region=region), "aws.dynamodb.no_backup_plan")

    assert [f.source.resource for f in missing] == [tables[1].arn]
    assert _facts(_snapshot(region=region), "aws.dynamodb.no_deletion_protection") == []
    unread = region.model_copy(update={"backup_selections": None})
    assert _facts(_snapshot(region=unread), "aws.dynamodb.no_backup_plan") == []


# --- CloudFront, Route 53 -------------------------------------------------------------


def _distribution(origin: CloudFrontOrigin) -> CloudFrontDistribution:
    return CloudFrontDistribution(
        id="E1",
        arn=f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1",
        domain_name="d1.cloudfront.net",
        web_acl_id="arn:waf",
        viewer_protocol_policy="https-only",
        origins=[origin.domain_name],
        origin_details=[origin],
        logging=True,
    )


def test_an_s3_origin_with_origin_access_control_is_clean_and_a_legacy_identity_is_low() -> None:
    host = "site.s3.us-west-2.amazonaws.com"
    with_oac = CloudFrontOrigin(id="o", domain_name=host, s3=True, oac_id="E2OAC")
    legacy = CloudFrontOrigin(id="o", domain_name=host, s3=True, oai="origin-access-identity/x")
    bucket = [_bucket("site")]

    def facts(origin: CloudFrontOrigin) -> list[Fact]:
        top = GlobalInventory(cloudfront_distributions=[_distribution(origin)], s3_buckets=bucket)
        return _facts(_snapshot(top), "aws.cloudfront.s3_origin_no_oac")

    assert facts(with_oac) == []
    assert [f.severity for f in facts(legacy)] == ["low"]


def test_dangling_records_are_judged_only_against_lists_that_were_read() -> None:
    zone = HostedZone(
        id="Z1",
        name="example.com.",
        records=[
            DnsRecord(
                name="shop.example.com", type="A", alias="s3-website-us-west-2.amazonaws.com"
            ),
            DnsRecord(name="mail.example.com", type="A", values=["203.0.113.10"]),
            DnsRecord(name="api.example.com", type="A", values=["54.214.1.2"]),
        ],
    )
    top = GlobalInventory(route53_zones=[zone])
    ips = RegionInventory(public_ips=["54.214.1.2"])
    s3_denied = SnapshotGap(
        service="s3",
        region="global",
        action="s3:ListAllMyBuckets",
        problem="access_denied",
        message="denied",
    )

    dangling = _facts(_snapshot(top, ips), "aws.route53.dangling_record")

    assert [f.source.section for f in dangling] == [
        "shop.example.com A s3-website-us-west-2.amazonaws.com"
    ]
    assert _facts(_snapshot(top, ips, gaps=[s3_denied]), "aws.route53.dangling_record") == []


def test_a_domain_without_transfer_lock_is_a_finding_and_a_locked_private_one_is_not() -> None:
    domains = [
        Domain(name="open.com", transfer_lock=False, privacy=True),
        Domain(name="locked.com", transfer_lock=True, privacy=True),
        Domain(name="unknown.com"),
    ]
    snapshot = _snapshot(GlobalInventory(route53_domains=domains))

    locks = _facts(snapshot, "aws.route53.domain_no_transfer_lock")

    assert [f.title for f in locks] == ["Domain open.com has no transfer lock"]
    assert _facts(snapshot, "aws.route53.domain_no_privacy") == []


# --- The rules underneath -------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        ({"Effect": "Allow", "Principal": "*", "Action": "ses:SendEmail"}, True),
        ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ses:*"}, True),
        ({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, False),
        ({"Effect": "Deny", "Principal": "*", "Action": "*"}, False),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "lambda:InvokeFunction",
                "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}},
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": "*"}},
            },
            True,
        ),
    ],
)
def test_a_statement_is_open_to_anyone_unless_a_condition_names_the_caller(
    statement: dict[str, object], public: bool
) -> None:
    (parsed,) = parse_policy({"Statement": [statement]})

    assert open_to_anyone(parsed) is public


def test_policies_parse_from_url_encoded_text_and_https_is_enforced_only_by_a_deny() -> None:
    encoded = (
        "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Principal%22%3A%22*%22%2C"
        "%22Action%22%3A%22s3%3A*%22%2C%22Condition%22%3A%7B%22Bool%22%3A%7B%22aws%3A"
        "SecureTransport%22%3A%22false%22%7D%7D%7D%5D%7D"
    )
    allow_https = PolicyStatement(
        effect="Allow",
        principals=["*"],
        actions=["s3:GetObject"],
        conditions={"Bool": {"aws:SecureTransport": ["true"]}},
    )

    assert denies_plain_http(parse_policy(encoded)) is True
    assert denies_plain_http([allow_https]) is False
    assert parse_policy(None) == [] and parse_policy("[]") == []


def test_pass_role_escalates_only_with_a_service_that_runs_code() -> None:
    def paths(*actions: str) -> list[str]:
        return escalation_paths(
            parse_policy(
                {"Statement": {"Effect": "Allow", "Action": list(actions), "Resource": "*"}}
            )
        )

    assert paths("iam:PassRole") == []
    assert paths("iam:PassRole", "ec2:RunInstances") == ["iam:PassRole+ec2:RunInstances"]


def test_env_values_are_judged_by_value_and_leave_masked() -> None:
    hits = env_secrets({"TOKEN_A": STRIPE, "BUCKET_NAME": "jada-site-assets", "MODE": "live"})

    assert [(h.where, h.rule, h.severity) for h in hits] == [
        ("TOKEN_A", "stripe_live_secret", "critical")
    ]
    assert hits[0].masked == STRIPE[:8] + "…" + STRIPE[-4:]
    assert STRIPE not in hits[0].model_dump_json()


def test_archives_are_scanned_in_code_files_and_bundled_dependencies_are_skipped() -> None:
    archive = zip_of(
        {
            "app/config.py": f'KEY = "{STRIPE}"\n',
            "node_modules/stripe/test.js": f'const k = "{STRIPE}";\n',
            "python/lib/python3.12/site-packages/x/fixture.py": f'K = "{STRIPE}"\n',
            "assets/logo.png": "\0PNG" + STRIPE,
            ".env": f"STRIPE_KEY={STRIPE}\n",
        }
    )

    hits = archive_secrets(archive)

    assert [h.where for h in hits] == [".env:1", "app/config.py:1"]


@pytest.fixture
def archive_server() -> Iterator[str]:
    body = zip_of({"handler.py": "x = 1\n"})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads the archive, not the access log."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/code.zip"
    server.shutdown()
    server.server_close()


def test_code_is_downloaded_into_memory_within_a_size_limit(archive_server: str) -> None:
    endpoint = "http://127.0.0.1:4566"

    archive = download_code(archive_server, endpoint)

    assert archive.startswith(b"PK")
    with pytest.raises(CodeUnavailable, match="larger than 10 bytes"):
        download_code(archive_server, endpoint, limit=10)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("s3://", "scheme s3"),
        (
            "https://awslambda-us-west-2-tasks.s3.us-west-2.amazonaws.com/x",
            "outside the configured",
        ),
    ],
)
def test_an_emulator_never_sends_the_download_to_aws(location: str, reason: str) -> None:
    with pytest.raises(CodeUnavailable, match=reason):
        download_code(location, "http://127.0.0.1:5000")
