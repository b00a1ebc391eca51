"""The IAM reader: root standing, users and their credentials, groups and policies.

Three sources, each one call or one listing: the account summary (root MFA and keys),
the credential report (every user's and root's password, MFA and access key dates) and
the account authorization details (users, groups and customer-managed policies with
their documents). A policy keeps its normalised statements; credentials are never read.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime

from .calls import CallScope, Response, ServiceCalls
from .policies import parse_policy
from .readers import parse_aws_time
from .snapshot import AccessKey, IamAccount, IamGroup, IamPolicy, IamUser, RootAccount

_ROOT = "<root_account>"
# The report is built asynchronously; AWS finishes within seconds for a small account.
_REPORT_POLLS = (0.2, 0.5, 1.0, 1.0, 2.0, 2.0)


def read_iam(scope: CallScope) -> IamAccount:
    """Root, users, groups, customer-managed policies and the password policy."""
    calls = scope("iam")
    unread: list[str] = []
    summary = calls.attempt(lambda: calls.call("get_account_summary")["SummaryMap"])
    report = calls.attempt(_credential_report, calls)
    details = calls.attempt(_authorization_details, calls)
    password = calls.attempt(
        lambda: calls.call("get_account_password_policy", absent=frozenset({"NoSuchEntity"}))
    )
    for label, value in (
        ("summary", summary),
        ("credential_report", report),
        ("authorization_details", details),
        ("password_policy", password),
    ):
        if value is None:
            unread.append(label)
    rows = report or {}
    root = rows.get(_ROOT, {})
    users, groups, policies = details or ([], [], [])
    return IamAccount(
        root=RootAccount(
            mfa_enabled=None if summary is None else bool(summary.get("AccountMFAEnabled")),
            access_keys_present=None
            if summary is None
            else bool(summary.get("AccountAccessKeysPresent")),
            password_last_used=_when(root.get("password_last_used")),
            access_key_last_used=max(
                (
                    stamp
                    for slot in (1, 2)
                    if (stamp := _when(root.get(f"access_key_{slot}_last_used_date")))
                ),
                default=None,
            ),
        ),
        users=[_with_credentials(user, rows.get(user.name)) for user in users],
        groups=groups,
        policies=policies,
        password_policy=None if password is None else bool(password),
        unread=unread,
    )


def _credential_report(calls: ServiceCalls) -> dict[str, dict[str, str]]:
    for pause in _REPORT_POLLS:
        if calls.call("generate_credential_report").get("State") == "COMPLETE":
            break
        time.sleep(pause)
    content = calls.call("get_credential_report")["Content"]
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    return {row["user"]: row for row in csv.DictReader(io.StringIO(text))}


def _when(text: str | None) -> datetime | None:
    """The report's ISO times; `N/A`, `no_information` and `not_supported` mean none."""
    if not text or not text[:1].isdigit():
        return None
    return parse_aws_time(text.replace("+00:00", "Z"))


def _flag(text: str | None) -> bool | None:
    return None if text is None else text.lower() == "true"


def _with_credentials(user: IamUser, row: dict[str, str] | None) -> IamUser:
    if row is None:
        return user
    keys = [
        AccessKey(
            slot=slot,
            active=True,
            last_rotated=_when(row.get(f"access_key_{slot}_last_rotated")),
            last_used=_when(row.get(f"access_key_{slot}_last_used_date")),
        )
        for slot in (1, 2)
        if _flag(row.get(f"access_key_{slot}_active"))
    ]
    return user.model_copy(
        update={
            "password_enabled": _flag(row.get("password_enabled")),
            "password_last_used": _when(row.get("password_last_used")),
            "mfa_active": _flag(row.get("mfa_active")),
            "access_keys": keys,
        }
    )


def _authorization_details(
    calls: ServiceCalls,
) -> tuple[list[IamUser], list[IamGroup], list[IamPolicy]]:
    users: list[IamUser] = []
    groups: list[IamGroup] = []
    policies: list[IamPolicy] = []
    pages = calls.pages(
        "get_account_authorization_details", Filter=["User", "Group", "LocalManagedPolicy"]
    )
    for page in pages:
        for user in page.get("UserDetailList", []):
            users.append(
                IamUser(
                    name=user["UserName"],
                    arn=user["Arn"],
                    created_at=user.get("CreateDate"),
                    managed_policies=_attached(user),
                    inline_policies=_inline(user, "UserPolicyList", user["Arn"]),
                    groups=sorted(user.get("GroupList", [])),
                )
            )
        for group in page.get("GroupDetailList", []):
            groups.append(
                IamGroup(
                    name=group["GroupName"],
                    arn=group["Arn"],
                    managed_policies=_attached(group),
                    inline_policies=_inline(group, "GroupPolicyList", group["Arn"]),
                )
            )
        for policy in page.get("Policies", []):
            default: Response = next(
                (
                    version
                    for version in policy.get("PolicyVersionList", [])
                    if version.get("IsDefaultVersion")
                ),
                {},
            )
            policies.append(
                IamPolicy(
                    name=policy.get("PolicyName") or policy["Arn"].rsplit("/", 1)[-1],
                    arn=policy["Arn"],
                    attachments=policy.get("AttachmentCount", 0),
                    statements=parse_policy(default.get("Document")),
                )
            )
    return (
        sorted(users, key=lambda user: user.name),
        sorted(groups, key=lambda group: group.name),
        sorted(policies, key=lambda policy: policy.arn),
    )


def _attached(entry: Response) -> list[str]:
    return sorted(policy["PolicyArn"] for policy in entry.get("AttachedManagedPolicies", []))


def _inline(entry: Response, key: str, owner: str) -> list[IamPolicy]:
    return [
        IamPolicy(
            name=policy["PolicyName"],
            arn=owner,
            inline=True,
            statements=parse_policy(policy.get("PolicyDocument")),
        )
        for policy in entry.get(key, [])
    ]
