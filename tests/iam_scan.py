"""The AWS API calls the source makes, found by reading it (ast), as IAM actions.

Used by tests/test_scheduling.py to hold the docs' IAM policies to what the code calls.
A client is recognised where the code makes one (`scope("s3")`, `aws_client("sqs", ...)`,
`self._make_client("sesv2")`, `ServiceCalls(pool, "sts", ...)`, `mail_client(s,
"dynamodb")`); the variable or attribute it is bound to is followed into the functions it
is passed to. An operation is a method of such a client (`client.get_account()`,
`client.send_email`), the first argument of its `call` / `pages` / `get_paginator`, or a
string literal naming one of the service's operations in a function that has one client
only (e.g. the S3 settings read by name).
Every name is checked against botocore's model of the service, so a label such as
"region" never passes for an operation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
from botocore.model import ServiceModel

from execbrief.collectors.aws.calls import iam_action

# Calls that make a client; the service is their first string argument.
CLIENT_MAKERS = frozenset(
    {"scope", "aws_client", "_make_client", "ServiceCalls", "client", "mail_client"}
)
# Methods of our call wrappers (ServiceCalls) and of boto3 clients taking an operation name.
OPERATION_TAKERS = frozenset({"call", "pages", "get_paginator"})
# An operation whose IAM action differs from its name: SES v2 SendEmail with raw
# content is authorized as ses:SendRawEmail, and execbrief sends raw MIME only.
ACTION_OVERRIDES = {("sesv2", "send_email"): "ses:SendRawEmail"}


@cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def services() -> frozenset[str]:
    return frozenset(_botocore().get_available_services())


@cache
def _model(service: str) -> ServiceModel:
    return _botocore().get_service_model(service)


@cache
def operations(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name, as boto3 clients spell them."""
    from botocore import xform_name

    return {xform_name(name): name for name in _model(service).operation_names}


def action_for(service: str, operation: str) -> str:
    """The IAM action a call to `service.operation` needs."""
    override = ACTION_OVERRIDES.get((service, operation))
    if override:
        return override
    return iam_action(service, _model(service).signing_name, operations(service)[operation])


Services = frozenset[str]


@dataclass
class _Function:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    params: list[str]
    # variable -> the services whose clients it may hold (more than one for a parameter
    # of a helper handed clients of several services)
    bound: dict[str, Services] = field(default_factory=dict)


def _target_key(node: ast.expr) -> str | None:
    """`calls` or `self._client`: a name the scan can follow."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _made_service(node: ast.expr) -> str | None:
    """The service of a client-making call, e.g. `scope("s3")` -> s3."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name not in CLIENT_MAKERS:
        return None
    for arg in node.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value if arg.value in services() else None
    return None


def _bindings(node: ast.AST) -> Iterator[tuple[str, str]]:
    """(name, service) for every `x = maker("svc")`, tuple assignments included."""
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Assign):
            continue
        for target in sub.targets:
            pairs: Iterable[tuple[ast.expr, ast.expr]] = [(target, sub.value)]
            if isinstance(target, ast.Tuple) and isinstance(sub.value, ast.Tuple):
                pairs = zip(target.elts, sub.value.elts, strict=False)
            for left, right in pairs:
                key, service = _target_key(left), _made_service(right)
                if key and service:
                    yield key, service


def _functions(tree: ast.Module) -> list[_Function]:
    # `self.x = maker("svc")` anywhere in the module binds `self.x` in every method.
    shared = {k: frozenset({v}) for k, v in _bindings(tree) if k.startswith("self.")}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            local = {k: frozenset({v}) for k, v in _bindings(node)}
            found.append(_Function(node, params, {**shared, **local}))
    return found


def _call_sites(
    node: ast.AST, by_name: dict[str, _Function]
) -> Iterator[tuple[_Function, list[ast.expr]]]:
    """Each call of a module function with its arguments: `f(a, b)`, and a function
    handed on with its arguments, as in `calls.attempt(f, a, b)` (either branch of
    `f if x else g` counts)."""
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        if isinstance(sub.func, ast.Name) and sub.func.id in by_name:
            yield by_name[sub.func.id], list(sub.args)
        for index, arg in enumerate(sub.args):
            branches = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
            for branch in branches:
                if isinstance(branch, ast.Name) and branch.id in by_name:
                    yield by_name[branch.id], list(sub.args[index + 1 :])


def _propagate(functions: list[_Function]) -> None:
    """Bind a function's parameter to the services of the clients its callers pass it."""
    by_name = {f.node.name: f for f in functions}
    changed = True
    while changed:
        changed = False
        for caller in functions:
            for callee, args in _call_sites(caller.node, by_name):
                for param, arg in zip(callee.params, args, strict=False):
                    key = _target_key(arg)
                    passed = caller.bound.get(key, frozenset()) if key else frozenset()
                    known = callee.bound.get(param, frozenset())
                    if not passed <= known:
                        callee.bound[param] = known | passed
                        changed = True


def _named(candidates: Services, node: ast.expr) -> set[tuple[str, str]]:
    """(service, operation) for a string literal naming an operation of a candidate."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return set()
    return {(s, node.value) for s in candidates if node.value in operations(s)}


def _calls_in(function: _Function) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    bound = function.bound

    def services_of(node: ast.expr) -> Services:
        key = _target_key(node)
        if key is not None:
            return bound.get(key, frozenset())
        made = _made_service(node)
        return frozenset({made}) if made else frozenset()

    for sub in ast.walk(function.node):
        if isinstance(sub, ast.Attribute):
            found |= {(s, sub.attr) for s in services_of(sub.value) if sub.attr in operations(s)}
        if not isinstance(sub, ast.Call):
            continue
        if isinstance(sub.func, ast.Attribute) and sub.func.attr in OPERATION_TAKERS and sub.args:
            found |= _named(services_of(sub.func.value), sub.args[0])
        # A helper handed a client, or its bound `call`, and an operation name:
        # `_call(sns, ..., "subscribe")`, `calls.attempt(calls.call, "get_x", ...)`.
        receivers = [a.value if isinstance(a, ast.Attribute) else a for a in sub.args]
        passed = frozenset().union(*(services_of(a) for a in receivers))
        for arg in sub.args:
            found |= _named(passed, arg)
    in_reach = [k for k, v in bound.items() if v]
    if len(in_reach) == 1:
        # One client in reach: an operation named anywhere in the function is its call
        # (the S3 settings are read by a nested helper given the operation's name).
        candidates = bound[in_reach[0]]
        for sub in ast.walk(function.node):
            if isinstance(sub, ast.Constant):
                found |= _named(candidates, sub)
    return found


def scan_calls(paths: Iterable[Path]) -> set[tuple[str, str]]:
    """(service, operation) for every AWS call in these Python files."""
    found: set[tuple[str, str]] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        functions = _functions(tree)
        _propagate(functions)
        for function in functions:
            found |= _calls_in(function)
    return found


def scan_actions(paths: Iterable[Path]) -> set[str]:
    """The IAM actions the AWS calls in these files need."""
    return {action_for(service, op) for service, op in scan_calls(paths)}
