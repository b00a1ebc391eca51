"""Reading IAM-style policy documents: who may do what, judged once for every service.

Bucket policies, Lambda resource policies, SES sending authorization and IAM identity
policies share one grammar; `parse_policy` normalises a document into statements and
the functions below answer the questions the facts ask of them: is a statement open
to anyone, does a policy grant an action, does it refuse plain HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

from .snapshot import PolicyStatement

# Condition keys that tie an "anyone" statement to one caller: an account, an
# organisation, a source resource, a network. With one of them the statement is not public.
_RESTRICTING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:username",
        "aws:resourceorgid",
        "aws:sourceorgid",
        "lambda:eventsourcetoken",
    }
)


def parse_policy(document: str | dict[str, Any] | None) -> list[PolicyStatement]:
    """The statements of a policy document (JSON text, URL-encoded text or parsed)."""
    if not document:
        return []
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else unquote(document)
        document = json.loads(text)
    if not isinstance(document, dict):
        return []
    raw = document.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    return [_statement(entry) for entry in statements if isinstance(entry, dict)]


def _statement(entry: dict[str, Any]) -> PolicyStatement:
    conditions = {
        str(operator): {str(key): _strings(values) for key, values in block.items()}
        for operator, block in (entry.get("Condition") or {}).items()
        if isinstance(block, dict)
    }
    return PolicyStatement(
        effect="Deny" if entry.get("Effect") == "Deny" else "Allow",
        principals=_principals(entry.get("Principal")),
        actions=_strings(entry.get("Action")),
        not_actions=_strings(entry.get("NotAction")),
        resources=_strings(entry.get("Resource")),
        conditions=conditions,
    )


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _principals(value: Any) -> list[str]:
    if value == "*":
        return ["*"]
    if isinstance(value, dict):
        return [item for values in value.values() for item in _strings(values)]
    return _strings(value)


def grants(statement: PolicyStatement, action: str) -> bool:
    """Whether the statement's Action (or NotAction) covers `action`, wildcards included."""
    wanted = action.lower()
    if statement.not_actions:
        return not _matches(statement.not_actions, wanted)
    return _matches(statement.actions, wanted)


def _matches(patterns: Iterable[str], action: str) -> bool:
    return any(fnmatchcase(action, pattern.lower()) for pattern in patterns)


def restricted(statement: PolicyStatement) -> bool:
    """A condition ties the statement to named callers (an account, an ARN, a network)."""
    return any(
        key.lower() in _RESTRICTING_KEYS and not any(value == "*" for value in values)
        for block in statement.conditions.values()
        for key, values in block.items()
    )


def open_to_anyone(statement: PolicyStatement) -> bool:
    """An Allow to every principal (`*`) that no condition narrows to named callers."""
    return statement.effect == "Allow" and "*" in statement.principals and not restricted(statement)


def public_actions(statements: list[PolicyStatement], actions: Iterable[str]) -> list[str]:
    """Of `actions`, those some statement allows anyone to call."""
    opened = [statement for statement in statements if open_to_anyone(statement)]
    return [action for action in actions if any(grants(s, action) for s in opened)]


def allowed(statements: list[PolicyStatement], action: str) -> bool:
    """An identity policy allows `action` on every resource and does not deny it outright."""

    def everywhere(statement: PolicyStatement) -> bool:
        return "*" in statement.resources and not statement.conditions

    denied = any(s.effect == "Deny" and everywhere(s) and grants(s, action) for s in statements)
    return not denied and any(
        s.effect == "Allow" and "*" in s.resources and grants(s, action) for s in statements
    )


def full_admin(statements: list[PolicyStatement]) -> bool:
    """Allows every action on every resource with no condition: the whole account."""
    return any(
        s.effect == "Allow"
        and not s.not_actions
        and any(action in ("*", "*:*") for action in s.actions)
        and "*" in s.resources
        and not s.conditions
        for s in statements
    )


def denies_plain_http(statements: list[PolicyStatement]) -> bool:
    """A Deny on every caller when `aws:SecureTransport` is false: HTTPS is enforced."""
    for statement in statements:
        if statement.effect != "Deny" or "*" not in statement.principals:
            continue
        if not (grants(statement, "s3:GetObject") and grants(statement, "s3:PutObject")):
            continue
        for operator, block in statement.conditions.items():
            for key, values in block.items():
                insecure = any(value.lower() == "false" for value in values)
                if (
                    key.lower() == "aws:securetransport"
                    and operator.startswith("Bool")
                    and insecure
                ):
                    return True
    return False


# Actions that let an identity make itself (or a user it controls) more powerful, after
# Rhino Security Labs' catalogue of IAM privilege escalation methods.
ESCALATION_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:AddUserToGroup",
    "iam:UpdateAssumeRolePolicy",
)
# iam:PassRole escalates together with a service that runs code as the passed role.
PASS_ROLE_WITH = (
    ("lambda:CreateFunction", "lambda:InvokeFunction"),
    ("lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
    ("ec2:RunInstances",),
    ("cloudformation:CreateStack",),
    ("glue:CreateDevEndpoint",),
    ("datapipeline:CreatePipeline",),
)


def escalation_paths(statements: list[PolicyStatement]) -> list[str]:
    """The privilege escalation methods the statements allow, e.g. `iam:CreateAccessKey`."""
    if full_admin(statements):
        return []  # the whole account already: reported as an administrator, not an escalation
    paths = [action for action in ESCALATION_ACTIONS if allowed(statements, action)]
    if allowed(statements, "iam:PassRole"):
        for combination in PASS_ROLE_WITH:
            if all(allowed(statements, action) for action in combination):
                paths.append("iam:PassRole+" + "+".join(combination))
    return paths
