"""Facts about IAM: the root user, users and their credentials, and dangerous policies.

Each finding says in one line what could go wrong for the business; a check whose
input could not be read (the resource's `unread`, or a None) raises nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from execbrief.models import Fact, Severity, Source

from .policies import escalation_paths, full_admin
from .resource_facts import FactMaker
from .snapshot import AccessKey, IamAccount, IamPolicy, IamUser

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
# An access key or password older or idler than this is a finding (CIS AWS 1.12, 1.14).
CREDENTIAL_MAX_DAYS = 90
# Root used this recently means someone works as root day to day.
ROOT_RECENT_DAYS = 30
_SECURITY = ["security", "iam"]


def iam_facts(make: FactMaker, iam: IamAccount) -> Iterator[Fact]:
    """Every IAM finding of the account."""
    yield from _root_facts(make, iam)
    policies = {policy.arn: policy for policy in iam.policies}
    groups = {group.name: group for group in iam.groups}
    for user in iam.users:
        attached = set(user.managed_policies)
        inline = list(user.inline_policies)
        for name in user.groups:
            if name in groups:
                attached |= set(groups[name].managed_policies)
                inline += groups[name].inline_policies
        admin = ADMIN_POLICY in attached or any(
            full_admin(policy.statements)
            for policy in [*inline, *(policies[arn] for arn in attached if arn in policies)]
        )
        yield from _user_facts(make, user, admin, "credential_report" not in iam.unread)
    for policy in [
        *iam.policies,
        *(p for user in iam.users for p in user.inline_policies),
        *(p for group in iam.groups for p in group.inline_policies),
    ]:
        yield from _escalation_fact(make, policy)


def _root_facts(make: FactMaker, iam: IamAccount) -> Iterator[Fact]:
    root = iam.root
    about = make.about(f"arn:aws:iam::{make.account}:root")
    if root.mfa_enabled is False:
        yield about.finding(
            "aws.iam.root_no_mfa",
            "mfa",
            "The AWS root user has no MFA",
            severity=Severity.CRITICAL,
            detail=(
                "Whoever learns the root password alone can sign in, lock everyone else out "
                "and run up the bill; turn on MFA for the root user."
            ),
            tags=_SECURITY,
        )
    if root.access_keys_present:
        yield about.finding(
            "aws.iam.root_access_keys",
            "access-keys",
            "The AWS root user has an access key",
            severity=Severity.CRITICAL,
            detail=(
                "A root access key can do anything in the account and no policy can limit "
                "it; a leaked copy is a lost account. Delete it."
            ),
            tags=_SECURITY,
        )
    used = [stamp for stamp in (root.password_last_used, root.access_key_last_used) if stamp]
    if used:
        days = (make.now - max(used)).days
        if days <= ROOT_RECENT_DAYS:
            yield about.finding(
                "aws.iam.root_used",
                "usage",
                f"The AWS root user was used {days} days ago",
                severity=Severity.HIGH,
                detail=(
                    "Day-to-day work runs as the all-powerful root user, so one mistake or "
                    "stolen session can delete anything; use named users or roles."
                ),
                metrics={"days_since_root_use": days},
                tags=_SECURITY,
            )
    if iam.password_policy is False:
        yield about.finding(
            "aws.iam.no_password_policy",
            "password-policy",
            "The AWS account has no IAM password policy",
            severity=Severity.MEDIUM,
            detail=(
                "IAM users may choose any password, however short, and never have to "
                "change it; set a password policy."
            ),
            tags=_SECURITY,
        )


def _older(make: FactMaker, stamp: datetime | None, days: int) -> bool:
    return stamp is not None and make.now - stamp > timedelta(days=days)


def _user_facts(make: FactMaker, user: IamUser, admin: bool, reported: bool) -> Iterator[Fact]:
    entity = make.match.in_name(user.name)
    about = make.about(user.arn, entity)
    keys = [key for key in user.access_keys if key.active]
    no_mfa = user.mfa_active is False
    if admin:
        stolen = (
            "Anyone who steals this user's access key from a laptop or a repository can run "
            "the whole account."
            if keys and no_mfa
            else "Whoever controls this user controls every resource and the bill."
        )
        yield about.finding(
            "aws.iam.user_admin",
            "administrator",
            f"IAM user {user.name} is an administrator",
            severity=Severity.CRITICAL if keys and no_mfa else Severity.HIGH,
            detail=f"{stolen} Grant only the actions the user's work needs.",
            tags=_SECURITY,
        )
    if not reported:
        return
    if no_mfa and (user.password_enabled or keys):
        console = bool(user.password_enabled)
        yield about.finding(
            "aws.iam.user_no_mfa",
            "mfa",
            f"IAM user {user.name} has no MFA",
            severity=Severity.HIGH if console or admin else Severity.MEDIUM,
            detail=(
                "A stolen or guessed password is enough to sign in as this user; add an MFA device."
                if console
                else "It signs in with access keys only, and nothing but the key stands "
                "between a thief and its permissions; add MFA and require it for sensitive "
                "actions."
            ),
            tags=_SECURITY,
        )
    if len(keys) == 2:
        yield about.finding(
            "aws.iam.user_two_active_keys",
            "access-keys",
            f"IAM user {user.name} has two active access keys",
            severity=Severity.LOW,
            detail=(
                "Two live keys for one user usually means an old copy was never retired, "
                "so a leak is harder to trace and to stop."
            ),
            tags=_SECURITY,
        )
    for key in keys:
        yield from _key_facts(make, user, key, entity)
    if user.password_enabled:
        last = user.password_last_used or None
        idle = _older(make, last, CREDENTIAL_MAX_DAYS) or (
            last is None and _older(make, user.created_at, CREDENTIAL_MAX_DAYS)
        )
        if idle:
            yield about.finding(
                "aws.iam.unused_credentials",
                "password",
                f"IAM user {user.name} has a console password unused for "
                f"{CREDENTIAL_MAX_DAYS}+ days",
                severity=Severity.MEDIUM,
                detail=(
                    "A sign-in nobody uses is one nobody would notice being used by someone "
                    "else; remove the password."
                ),
                tags=_SECURITY,
            )


def _key_facts(
    make: FactMaker, user: IamUser, key: AccessKey, entity: str | None
) -> Iterator[Fact]:
    about = make.about(user.arn, entity)
    section = f"access-key-{key.slot}"
    rotated = key.last_rotated
    if rotated is not None and _older(make, rotated, CREDENTIAL_MAX_DAYS):
        days = (make.now - rotated).days
        yield about.finding(
            "aws.iam.access_key_old",
            section,
            f"IAM user {user.name}'s access key {key.slot} is {days} days old",
            severity=Severity.MEDIUM,
            detail=(
                f"A key that has not been replaced in over {CREDENTIAL_MAX_DAYS} days has had "
                "that long to leak into laptops, scripts and repositories; rotate it."
            ),
            metrics={"key_age_days": days},
            tags=_SECURITY,
        )
    idle = _older(make, key.last_used, CREDENTIAL_MAX_DAYS) or (
        key.last_used is None and _older(make, key.last_rotated, CREDENTIAL_MAX_DAYS)
    )
    if idle:
        yield about.finding(
            "aws.iam.unused_credentials",
            section,
            f"IAM user {user.name}'s access key {key.slot} is unused for "
            f"{CREDENTIAL_MAX_DAYS}+ days",
            severity=Severity.MEDIUM,
            detail=("A live key nobody uses can only help an attacker; deactivate and delete it."),
            tags=_SECURITY,
        )


def _escalation_fact(make: FactMaker, policy: IamPolicy) -> Iterator[Fact]:
    paths = escalation_paths(policy.statements)
    if not paths:
        return
    label = (
        f"inline policy {policy.name} of {policy.arn.rsplit('/', 1)[-1]}"
        if policy.inline
        else (f"IAM policy {policy.name}")
    )
    yield make.fact(
        "aws.iam.privilege_escalation",
        Source(
            resource=policy.arn,
            section=f"inline:{policy.name}" if policy.inline else "default-version",
        ),
        f"{label[0].upper()}{label[1:]} lets its holder make themselves an administrator",
        severity=Severity.HIGH,
        detail=(
            "Anyone given this policy can raise their own permissions to the whole account "
            f"through {', '.join(paths)}."
        ),
        entity=make.match.in_name(policy.name),
        metrics={"escalation_paths": len(paths)},
        tags=_SECURITY,
    )
