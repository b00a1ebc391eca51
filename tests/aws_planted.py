"""An AWS account planted with the security problems of issue 17, each beside a clean twin.

Used by tests/test_aws_security_e2e.py (against moto's server) and by
benchmarks/aws_vs_prowler.py (the same account for execbrief and Prowler). `plant()`
calls AWS through boto3 only, so it works against any endpoint AWS_ENDPOINT_URL names.

Not plantable on moto 5.2, so covered by snapshot fixtures in tests/test_aws_security_facts.py:
root access keys and root usage (moto has no root credentials), access keys older than
90 days and unused credentials (moto stamps keys with the current time), the password
policy's clean twin and the account public access block's clean twin (one account holds
one setting), a backup plan selecting a table (moto lacks ListBackupSelections), origin
access control (moto drops OriginAccessControlId), a domain without transfer lock (moto
always reports the lock on), and secrets in deployed code and layers over the wire
(moto's Code.Location is not served; tests/test_aws_security_e2e.py serves the archives
itself through take_snapshot's download seam).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-west-2"
ACCOUNT = "123456789012"
# Built at run time so that no secret-shaped literal sits in the source.
ENV_CANARY = "sk_" + "live_PLANTED0env0value0a1b2c3d4e5f6"
CODE_CANARY = "sk_" + "live_PLANTED0code0value0f6e5d4c3b2a1"
LAYER_CANARY = "sk_" + "live_PLANTED0layer0value09z8y7x6w5v"
CANARIES = (ENV_CANARY, CODE_CANARY, LAYER_CANARY)
ANYONE_ACL = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


@dataclass(frozen=True)
class Planted:
    """One planted problem: the fact execbrief should raise, on which resource, and the
    Prowler checks that report the same problem."""

    kind: str
    resource: str
    prowler: tuple[str, ...]
    section: str | None = None  # the fact's section starts with it, when one resource has several
    code: bool = False  # needs the deployed archive, which moto does not serve

    def raised_by(self, kind: str, resource: str | None, section: str | None) -> bool:
        """Whether a fact of this kind, resource and section reports this problem."""
        return (
            kind == self.kind
            and resource == self.resource
            and (self.section is None or (section or "").startswith(self.section))
        )


def _s3(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def _fn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HANDLER = "def handler(event, context):\n    return {}\n"
CODE_ZIP = zip_of({"lambda_function.py": f'STRIPE = "{CODE_CANARY}"\n{HANDLER}'})
CLEAN_ZIP = zip_of({"lambda_function.py": HANDLER})
LAYER_ZIP = zip_of({"python/settings.py": f'API_KEY = "{LAYER_CANARY}"\n'})


def plant() -> list[Planted]:
    """Plant every problem moto supports; return what each scanner should find."""
    found: list[Planted] = []
    found += _plant_iam()
    found += _plant_s3()
    found += _plant_lambda()
    found += _plant_cloudfront()
    found += _plant_dynamodb()
    found += _plant_route53()
    found += _plant_ses()
    return found


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _plant_iam() -> list[Planted]:
    iam = boto3.client("iam")
    iam.create_user(UserName="ops-admin")
    # moto loads no AWS managed policy by default: a customer policy grants the same *:*.
    admin = iam.create_policy(
        PolicyName="full-access",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ops-admin", PolicyArn=admin)
    iam.create_access_key(UserName="ops-admin")
    iam.create_user(UserName="deploy-bot")
    iam.create_access_key(UserName="deploy-bot")
    iam.create_access_key(UserName="deploy-bot")
    escalation = iam.create_policy(
        PolicyName="ci-deployer",
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
                "Resource": "*",
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="deploy-bot", PolicyArn=escalation)
    # The clean twin: one key, an MFA device, a read-only policy.
    iam.create_user(UserName="auditor")
    iam.create_access_key(UserName="auditor")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="auditor")["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName="auditor",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    reader = iam.create_policy(
        PolicyName="read-reports",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="auditor", PolicyArn=reader)
    user = f"arn:aws:iam::{ACCOUNT}:user/"
    root = f"arn:aws:iam::{ACCOUNT}:root"
    return [
        # moto's root has no MFA and the account no password policy: planted as they come.
        Planted("aws.iam.root_no_mfa", root, ("iam_root_mfa_enabled",)),
        Planted(
            "aws.iam.no_password_policy",
            root,
            ("iam_password_policy_minimum_length_14", "iam_password_policy_uppercase"),
        ),
        Planted(
            "aws.iam.user_admin",
            user + "ops-admin",
            (
                "iam_user_administrator_access_policy",
                "iam_aws_attached_policy_no_administrative_privileges",
            ),
        ),
        Planted(
            "aws.iam.user_no_mfa",
            user + "ops-admin",
            ("iam_user_hardware_mfa_enabled", "iam_user_mfa_enabled_console_access"),
        ),
        Planted(
            "aws.iam.user_no_mfa",
            user + "deploy-bot",
            ("iam_user_hardware_mfa_enabled", "iam_user_mfa_enabled_console_access"),
        ),
        Planted(
            "aws.iam.user_two_active_keys", user + "deploy-bot", ("iam_user_two_active_access_key",)
        ),
        Planted(
            "aws.iam.privilege_escalation", escalation, ("iam_policy_allows_privilege_escalation",)
        ),
    ]


def _bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


def _plant_s3() -> list[Planted]:
    s3 = boto3.client("s3", region_name=REGION)
    _bucket(s3, "qosd-public-uploads")
    s3.put_bucket_policy(
        Bucket="qosd-public-uploads",
        Policy=_policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::qosd-public-uploads/*",
            }
        ),
    )
    _bucket(s3, "jada-public-list")
    s3.put_bucket_acl(Bucket="jada-public-list", ACL="public-read")
    _bucket(s3, "qdn-acl-write")
    s3.put_bucket_acl(Bucket="qdn-acl-write", GrantWrite=ANYONE_ACL)
    # The clean twin: all four blocks on, HTTPS enforced, access logged.
    _bucket(s3, "jada-site-assets")
    s3.put_bucket_acl(Bucket="jada-site-assets", ACL="log-delivery-write")
    s3.put_bucket_logging(
        Bucket="jada-site-assets",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "jada-site-assets", "TargetPrefix": "logs/"}
        },
    )
    s3.put_public_access_block(
        Bucket="jada-site-assets",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_policy(
        Bucket="jada-site-assets",
        Policy=_policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::jada-site-assets", "arn:aws:s3:::jada-site-assets/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ),
    )
    tls = ("s3_bucket_secure_transport_policy",)
    logs = ("s3_bucket_server_access_logging_enabled",)
    planted = [
        Planted(
            "aws.s3.account_public_access_block_off",
            f"arn:aws:s3:{ACCOUNT}:account",
            ("s3_account_level_public_access_blocks",),
        ),
        Planted(
            "aws.s3.public_write",
            _s3("qosd-public-uploads"),
            ("s3_bucket_policy_public_write_access",),
        ),
        Planted("aws.s3.public_write", _s3("qdn-acl-write"), ("s3_bucket_public_write_acl",)),
        Planted("aws.s3.public_list", _s3("jada-public-list"), ("s3_bucket_public_list_acl",)),
    ]
    for name in ("qosd-public-uploads", "jada-public-list", "qdn-acl-write"):
        planted += [
            Planted("aws.s3.no_secure_transport", _s3(name), tls),
            Planted("aws.s3.no_access_logging", _s3(name), logs),
        ]
    return planted


def _plant_lambda() -> list[Planted]:
    role = boto3.client("iam").create_role(
        RoleName="lambda-exec", AssumeRolePolicyDocument=_policy()
    )["Role"]["Arn"]
    functions = boto3.client("lambda", region_name=REGION)
    layer = functions.publish_layer_version(
        LayerName="shared-settings", Content={"ZipFile": LAYER_ZIP}
    )["LayerVersionArn"]
    common = {"Role": role, "Handler": "lambda_function.handler", "Runtime": "python3.12"}
    functions.create_function(
        FunctionName="qosd-payments",
        Code={"ZipFile": CODE_ZIP},
        Environment={"Variables": {"TOKEN_A": ENV_CANARY, "TABLE_NAME": "bookings"}},
        Layers=[layer],
        **common,
    )
    functions.add_permission(
        FunctionName="qosd-payments",
        StatementId="anyone",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    functions.create_function_url_config(
        FunctionName="qosd-payments", AuthType="AWS_IAM", Cors={"AllowOrigins": ["*"]}
    )
    # The clean twin: no secret, invoked by one bucket only, CORS for its own site.
    functions.create_function(
        FunctionName="jada-thumbnails",
        Code={"ZipFile": CLEAN_ZIP},
        Environment={"Variables": {"BUCKET_NAME": "jada-site-assets"}},
        **common,
    )
    functions.add_permission(
        FunctionName="jada-thumbnails",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::jada-site-assets",
        SourceAccount=ACCOUNT,
    )
    functions.create_function_url_config(
        FunctionName="jada-thumbnails",
        AuthType="AWS_IAM",
        Cors={"AllowOrigins": ["https://jada.example.com"]},
    )
    payments = _fn("qosd-payments")
    return [
        Planted(
            "aws.lambda.secret_in_env", payments, ("awslambda_function_no_secrets_in_variables",)
        ),
        Planted(
            "aws.lambda.public_policy", payments, ("awslambda_function_not_publicly_accessible",)
        ),
        Planted("aws.lambda.url_cors_wildcard", payments, ("awslambda_function_url_cors_policy",)),
        Planted(
            "aws.lambda.secret_in_code",
            payments,
            ("awslambda_function_no_secrets_in_code",),
            code=True,
        ),
        Planted("aws.lambda.secret_in_layer", layer, (), code=True),
    ]


def _distribution(
    reference: str, alias: str, origin: dict[str, Any], policy: str
) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Aliases": {"Quantity": 1, "Items": [alias]},
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": origin["Id"],
            "ViewerProtocolPolicy": policy,
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
        "Comment": reference,
        "Enabled": True,
    }


def _plant_cloudfront() -> list[Planted]:
    cloudfront = boto3.client("cloudfront")
    broken = cloudfront.create_distribution(
        DistributionConfig=_distribution(
            "qosd",
            "queenofsandiego.example.com",
            {
                "Id": "frontend",
                "DomainName": "qosd-frontend.s3.us-west-2.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""},
            },
            "allow-all",
        )
    )["Distribution"]["ARN"]
    # The clean twin: HTTPS only, a custom origin, access logged.
    clean = _distribution(
        "jada",
        "jada.example.com",
        {
            "Id": "site",
            "DomainName": "origin.jada.example.com",
            "CustomOriginConfig": {
                "HTTPPort": 80,
                "HTTPSPort": 443,
                "OriginProtocolPolicy": "https-only",
            },
        },
        "redirect-to-https",
    )
    clean["Logging"] = {
        "Enabled": True,
        "IncludeCookies": False,
        "Bucket": "jada-site-assets.s3.amazonaws.com",
        "Prefix": "cdn/",
    }
    cloudfront.create_distribution(DistributionConfig=clean)
    return [
        Planted("aws.cloudfront.plain_http", broken, ("cloudfront_distributions_https_enabled",)),
        Planted(
            "aws.cloudfront.s3_origin_no_oac",
            broken,
            ("cloudfront_distributions_s3_origin_access_control",),
        ),
        Planted(
            "aws.cloudfront.origin_bucket_missing",
            broken,
            ("cloudfront_distributions_s3_origin_non_existent_bucket",),
        ),
        Planted("aws.cloudfront.no_logging", broken, ("cloudfront_distributions_logging_enabled",)),
    ]


def _plant_dynamodb() -> list[Planted]:
    tables = boto3.client("dynamodb", region_name=REGION)
    common: dict[str, Any] = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    tables.create_table(TableName="waivers", **common)
    tables.create_table(TableName="bookings", DeletionProtectionEnabled=True, **common)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    backup = ("dynamodb_table_protected_by_backup_plan",)
    return [
        Planted(
            "aws.dynamodb.no_deletion_protection",
            table + "waivers",
            ("dynamodb_table_deletion_protection_enabled",),
        ),
        # No table can sit in a backup plan on moto, so both lack one.
        Planted("aws.dynamodb.no_backup_plan", table + "waivers", backup),
        Planted("aws.dynamodb.no_backup_plan", table + "bookings", backup),
    ]


def _plant_route53() -> list[Planted]:
    route53 = boto3.client("route53")
    zone = route53.create_hosted_zone(Name="queenofsandiego.example.com", CallerReference="qosd")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    owned_ip = boto3.client("ec2", region_name=REGION).allocate_address(Domain="vpc")["PublicIp"]
    cloudfront = boto3.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    owned_cdn = next(d["DomainName"] for d in cloudfront if "jada.example.com" in str(d))
    records = [
        (
            "old.queenofsandiego.example.com",
            "CNAME",
            "qosd-old-site.s3-website-us-west-2.amazonaws.com",
        ),
        ("cdn.queenofsandiego.example.com", "CNAME", "d111111abcdef8.cloudfront.net"),
        ("legacy.queenofsandiego.example.com", "A", "3.14.15.92"),
        # Clean twins: an owned distribution, an owned bucket, an owned IP, a non-AWS host.
        ("www.queenofsandiego.example.com", "CNAME", owned_cdn),
        (
            "assets.queenofsandiego.example.com",
            "CNAME",
            "jada-site-assets.s3.us-west-2.amazonaws.com",
        ),
        ("app.queenofsandiego.example.com", "A", owned_ip),
        ("mail.queenofsandiego.example.com", "A", "203.0.113.10"),
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": kind,
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
                for name, kind, value in records
            ]
        },
    )
    domains = boto3.client("route53domains", region_name="us-east-1")
    contact = {
        "FirstName": "Pat",
        "LastName": "Owner",
        "ContactType": "COMPANY",
        "OrganizationName": "Harbor Test",
        "AddressLine1": "1 Harbor Dr",
        "City": "San Diego",
        "State": "CA",
        "CountryCode": "US",
        "ZipCode": "92101",
        "PhoneNumber": "+1.6195550100",
        "Email": "owner@example.com",
    }
    for name, private in (("qosd-charters.com", False), ("jada-charters.com", True)):
        domains.register_domain(
            DomainName=name,
            DurationInYears=2,
            AdminContact=contact,
            RegistrantContact=contact,
            TechContact=contact,
            PrivacyProtectAdminContact=private,
            PrivacyProtectRegistrantContact=private,
            PrivacyProtectTechContact=private,
        )
    hosted = f"arn:aws:route53:::hostedzone/{zone_id}"
    dangling = ("route53_dangling_ip_subdomain_takeover",)
    return [
        Planted("aws.route53.dangling_record", hosted, dangling, "old.queenofsandiego"),
        Planted("aws.route53.dangling_record", hosted, dangling, "cdn.queenofsandiego"),
        Planted("aws.route53.dangling_record", hosted, dangling, "legacy.queenofsandiego"),
        Planted(
            "aws.route53.domain_no_privacy",
            "arn:aws:route53domains:::domain/qosd-charters.com",
            ("route53_domains_privacy_protection_enabled",),
        ),
    ]


def _plant_ses() -> list[Planted]:
    ses = boto3.client("sesv2", region_name=REGION)
    for domain, principal in (
        ("queenofsandiego.example.com", "*"),
        ("jada.example.com", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
    ):
        ses.create_email_identity(EmailIdentity=domain)
        arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{domain}"
        ses.create_email_identity_policy(
            EmailIdentity=domain,
            PolicyName="send",
            Policy=_policy(
                {
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "ses:SendEmail",
                    "Resource": arn,
                }
            ),
        )
    return [
        Planted(
            "aws.ses.identity_public_send",
            f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/queenofsandiego.example.com",
            ("ses_identity_not_publicly_accessible",),
        )
    ]
