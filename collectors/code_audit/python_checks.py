"""Python checks: files that do not parse, bandit's high and medium findings, and JWTs
decoded without signature or expiry checks (or issued without an expiry)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from execbrief.models import Severity

from .bandit_run import BanditRun, BanditUnavailable
from .repo_files import AuditScope, SourceFile

_BANDIT_SEVERITY = {"HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM}


class PythonCheck:
    """Parses every .py file; runs the jwt rules and bandit on each tree."""

    name = "python"

    def __init__(self, scope: AuditScope) -> None:
        self._scope = scope
        self._bandit: BanditRun | None = None
        self._bandit_missing: str | None = None
        self._issues: list[dict[str, Any]] = []

    def visit(self, source: SourceFile) -> None:
        if source.file.suffix != ".py":
            return
        tree = source.python_tree()
        if isinstance(tree, SyntaxError):
            self._syntax_error(source, tree)
            return
        source.text()  # notes a file that is not UTF-8, which Python may still parse
        self._run_bandit(source, tree)
        for call in find_jwt_problems(tree):
            self._scope.fact(
                "auth.jwt_no_expiry",
                call.severity,
                f"{call.title} in {source.rel}:{call.line}",
                path=source.rel,
                line=call.line,
                detail=f"{call.title} at {source.rel}:{call.line}: {'; '.join(call.reasons)}.",
                tags=["security", "auth"],
            )

    def _syntax_error(self, source: SourceFile, error: SyntaxError) -> None:
        message = error.msg or str(error)
        if "codec can't decode" in message:
            self._scope.gap(source.rel, "Python file is not UTF-8 and declares no encoding")
            return
        line = error.lineno if error.lineno and error.lineno >= 1 else None
        where = f"{source.rel}:{line}" if line else source.rel
        self._scope.fact(
            "code.syntax_error",
            Severity.MEDIUM,
            f"Python syntax error in {where}",
            path=source.rel,
            line=line,
            detail=f"{where} does not parse ({message}); it cannot be imported or deployed as is.",
            tags=["quality"],
        )

    def _run_bandit(self, source: SourceFile, tree: ast.Module) -> None:
        if self._bandit_missing is not None:
            return
        if self._bandit is None:
            try:
                self._bandit = BanditRun(self._scope.root)
            except BanditUnavailable as exc:
                self._bandit_missing = str(exc)
                return
        self._bandit.add(source.rel, source.data, tree)

    def _bandit_issues(self) -> list[dict[str, Any]]:
        return self._bandit.issues() if self._bandit is not None else []

    def part(self) -> object:
        return (self._bandit_issues(), self._bandit_missing)

    def absorb(self, part: object) -> None:
        issues, missing = cast(tuple[list[dict[str, Any]], str | None], part)
        self._issues.extend(issues)
        self._bandit_missing = self._bandit_missing or missing

    def finish(self) -> None:
        if self._bandit_missing is not None:
            self._scope.gap(
                "", f"bandit did not run: {self._bandit_missing}", hint="pip install bandit"
            )
            return
        # A worker's files come after this process's, and each list is sorted by file.
        issues = sorted(
            [*self._bandit_issues(), *self._issues], key=lambda entry: str(entry["filename"])
        )
        for issue in issues:
            severity = _BANDIT_SEVERITY.get(issue.get("issue_severity", ""))
            if severity is None:
                continue
            rel = issue["filename"]
            line = int(issue.get("line_number") or 1)
            test = f"{issue['test_id']} {issue['test_name']}"
            self._scope.fact(
                "code.bandit",
                severity,
                f"bandit {test} in {rel}:{line}",
                path=rel,
                line=line,
                section=issue["test_id"],
                detail=(
                    f"{issue['issue_text']} (bandit {issue['test_id']}, severity "
                    f"{issue['issue_severity'].lower()}, confidence "
                    f"{issue.get('issue_confidence', '').lower()})."
                ),
                tags=["security"],
            )


@dataclass(frozen=True)
class JwtProblem:
    line: int
    title: str
    reasons: list[str]
    severity: Severity


def find_jwt_problems(tree: ast.Module) -> list[JwtProblem]:
    """jwt.decode with verification off or `none` allowed; tokens minted without `exp`."""
    visitor = _JwtVisitor(_jwt_aliases(tree))
    visitor.visit(tree)
    return visitor.problems


@dataclass
class _Aliases:
    modules: set[str]
    decode: set[str]
    encode: set[str]


def _jwt_aliases(tree: ast.Module) -> _Aliases:
    """Names bound to the jwt module (PyJWT, python-jose) or to its decode/encode."""
    aliases = _Aliases(modules={"jwt"}, decode=set(), encode=set())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[-1] == "jwt":
                    aliases.modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound = alias.asname or alias.name
                if alias.name == "jwt":
                    aliases.modules.add(bound)
                elif node.module.split(".")[-1] == "jwt" and alias.name in ("decode", "encode"):
                    getattr(aliases, alias.name).add(bound)
    return aliases


class _JwtVisitor(ast.NodeVisitor):
    def __init__(self, aliases: _Aliases) -> None:
        self.aliases = aliases
        self.problems: list[JwtProblem] = []
        # Simple `name = literal` assignments per scope, innermost last, to resolve
        # `options=opts` and `jwt.encode(payload, ...)`; names later given an "exp" key.
        self.scopes: list[dict[str, ast.expr]] = [{}]
        self.with_exp: list[set[str]] = [set()]

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scopes.append({})
        self.with_exp.append(set())
        self.generic_visit(node)
        self.scopes.pop()
        self.with_exp.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.scopes[-1][target.id] = node.value
            elif (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and _const(target.slice) == "exp"
            ):
                self.with_exp[-1].add(target.value.id)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        kind = self._jwt_call(node.func)
        if kind == "decode":
            self._check_decode(node)
        elif kind == "encode":
            self._check_encode(node)
        self.generic_visit(node)

    def _jwt_call(self, func: ast.expr) -> str | None:
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("decode", "encode")
            and isinstance(func.value, ast.Name)
            and func.value.id in self.aliases.modules
        ):
            return func.attr
        if isinstance(func, ast.Name):
            if func.id in self.aliases.decode:
                return "decode"
            if func.id in self.aliases.encode:
                return "encode"
        return None

    def _resolve(self, node: ast.expr | None) -> ast.expr | None:
        if isinstance(node, ast.Name):
            for scope in reversed(self.scopes):
                if node.id in scope:
                    return scope[node.id]
        return node

    def _check_decode(self, call: ast.Call) -> None:
        reasons: list[str] = []
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        if _const(keywords.get("verify")) is False:
            reasons.append("verify=False skips the signature and expiry checks")
        options = self._resolve(keywords.get("options"))
        if isinstance(options, ast.Dict):
            flags = {
                _const(k): _const(v) for k, v in zip(options.keys, options.values, strict=True)
            }
            if flags.get("verify_signature") is False:
                reasons.append("options verify_signature False accepts forged tokens")
            if flags.get("verify_exp") is False:
                reasons.append("options verify_exp False accepts expired tokens forever")
        for key in ("algorithms", "algorithm"):
            if any(str(a).lower() == "none" for a in _strings(self._resolve(keywords.get(key)))):
                reasons.append(f"{key} allows 'none', i.e. unsigned tokens")
        if reasons:
            what = "expiry check" if all("verify_exp" in r for r in reasons) else "verification"
            self.problems.append(
                JwtProblem(call.lineno, f"jwt.decode without {what}", reasons, Severity.HIGH)
            )

    def _check_encode(self, call: ast.Call) -> None:
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        payload_node = (
            call.args[0] if call.args else keywords.get("payload") or keywords.get("claims")
        )
        name = payload_node.id if isinstance(payload_node, ast.Name) else None
        payload = self._resolve(payload_node)
        if not isinstance(payload, ast.Dict) or None in payload.keys:
            return  # built elsewhere or merged with **: cannot tell
        if "exp" in {_const(k) for k in payload.keys}:
            return
        if name and any(name in names for names in self.with_exp):
            return
        self.problems.append(
            JwtProblem(
                call.lineno,
                "JWT issued without expiry",
                ["the payload has no 'exp' claim, so the token never expires"],
                Severity.MEDIUM,
            )
        )


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _strings(node: ast.expr | None) -> Iterator[object]:
    if isinstance(node, ast.Constant):
        yield node.value
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            yield _const(element)
