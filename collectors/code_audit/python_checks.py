"""Python checks: files that do not parse, bandit's high and medium findings, and JWTs
decoded without signature or expiry checks (or issued without an expiry)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from execbrief.models import Severity

from .bandit_run import BanditRun, BanditUnavailable
from .py_tree import TreeListener, walk_once
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
        self._jwt: JwtListener | None = None

    def listener(self, source: SourceFile) -> TreeListener | None:
        # Every name the jwt rules follow is spelled with "jwt" somewhere in the file.
        if source.file.suffix != ".py" or b"jwt" not in source.data:
            return None
        self._jwt = JwtListener()
        return self._jwt

    def visit(self, source: SourceFile) -> None:
        if source.file.suffix != ".py":
            return
        tree = source.python_tree()
        if isinstance(tree, SyntaxError):
            self._syntax_error(source, tree)
            return
        source.text()  # notes a file that is not UTF-8, which Python may still parse
        jwt, self._jwt = self._jwt, None
        if jwt is None and b"jwt" in source.data:  # visited outside the shared walk
            jwt = JwtListener()
            walk_once(tree, [jwt])
        self._run_bandit(source, tree)
        for call in jwt.problems() if jwt else []:
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


@dataclass
class _Aliases:
    modules: set[str]
    decode: set[str]
    encode: set[str]


@dataclass(frozen=True)
class _JwtCall:
    """A call that may be jwt's decode or encode, with its arguments resolved as they
    stood when the walk reached it (the aliases are known only once the walk is over)."""

    node: ast.Call
    keywords: dict[str, ast.expr]
    options: ast.expr | None
    algorithms: dict[str, ast.expr | None]
    payload: ast.expr | None
    payload_has_exp: bool


class JwtListener:
    """jwt.decode with verification off or `none` allowed; tokens minted without `exp`.

    Names bound to the jwt module (PyJWT, python-jose) or to its decode/encode come from
    the module's imports; simple `name = literal` assignments per function scope,
    innermost last, resolve `options=opts` and `jwt.encode(payload, ...)`, and names later
    given an "exp" key count as carrying one.
    """

    types: tuple[type[ast.AST], ...] = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.Assign,
        ast.Call,
    )

    def __init__(self) -> None:
        self.aliases = _Aliases(modules={"jwt"}, decode=set(), encode=set())
        self.scopes: list[dict[str, ast.expr]] = [{}]
        self.with_exp: list[set[str]] = [set()]
        self.calls: list[_JwtCall] = []

    def begin(self, tree: ast.Module) -> None:
        """Nothing to set up."""

    def top(self, statement: ast.stmt) -> None:
        """The rules follow scopes, not module-level statements."""

    def enter(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            self._note_call(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.scopes[-1][target.id] = node.value
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and _const(target.slice) == "exp"
                ):
                    self.with_exp[-1].add(target.value.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.scopes.append({})
            self.with_exp.append(set())
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[-1] == "jwt":
                    self.aliases.modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound = alias.asname or alias.name
                if alias.name == "jwt":
                    self.aliases.modules.add(bound)
                elif node.module.split(".")[-1] == "jwt" and alias.name in ("decode", "encode"):
                    getattr(self.aliases, alias.name).add(bound)

    def leave(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scopes.pop()
        self.with_exp.pop()

    def _note_call(self, call: ast.Call) -> None:
        func = call.func
        maybe = isinstance(func, ast.Name) or (
            isinstance(func, ast.Attribute)
            and func.attr in ("decode", "encode")
            and isinstance(func.value, ast.Name)
        )
        if not maybe:
            return
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        payload_node = (
            call.args[0] if call.args else keywords.get("payload") or keywords.get("claims")
        )
        name = payload_node.id if isinstance(payload_node, ast.Name) else None
        self.calls.append(
            _JwtCall(
                node=call,
                keywords=keywords,
                options=self._resolve(keywords.get("options")),
                algorithms={k: self._resolve(keywords.get(k)) for k in ("algorithms", "algorithm")},
                payload=self._resolve(payload_node),
                payload_has_exp=bool(name and any(name in names for names in self.with_exp)),
            )
        )

    def problems(self) -> list[JwtProblem]:
        """What the calls that turned out to be jwt's show, in the order they were met."""
        problems: list[JwtProblem] = []
        for call in self.calls:
            kind = self._jwt_call(call.node.func)
            if kind == "decode":
                problems.extend(_check_decode(call))
            elif kind == "encode":
                problems.extend(_check_encode(call))
        return problems

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


def _check_decode(call: _JwtCall) -> list[JwtProblem]:
    reasons: list[str] = []
    if _const(call.keywords.get("verify")) is False:
        reasons.append("verify=False skips the signature and expiry checks")
    options = call.options
    if isinstance(options, ast.Dict):
        flags = {_const(k): _const(v) for k, v in zip(options.keys, options.values, strict=True)}
        if flags.get("verify_signature") is False:
            reasons.append("options verify_signature False accepts forged tokens")
        if flags.get("verify_exp") is False:
            reasons.append("options verify_exp False accepts expired tokens forever")
    for key in ("algorithms", "algorithm"):
        if any(str(a).lower() == "none" for a in _strings(call.algorithms[key])):
            reasons.append(f"{key} allows 'none', i.e. unsigned tokens")
    if not reasons:
        return []
    what = "expiry check" if all("verify_exp" in r for r in reasons) else "verification"
    return [JwtProblem(call.node.lineno, f"jwt.decode without {what}", reasons, Severity.HIGH)]


def _check_encode(call: _JwtCall) -> list[JwtProblem]:
    payload = call.payload
    if not isinstance(payload, ast.Dict) or None in payload.keys:
        return []  # built elsewhere or merged with **: cannot tell
    if "exp" in {_const(k) for k in payload.keys} or call.payload_has_exp:
        return []
    return [
        JwtProblem(
            call.node.lineno,
            "JWT issued without expiry",
            ["the payload has no 'exp' claim, so the token never expires"],
            Severity.MEDIUM,
        )
    ]


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _strings(node: ast.expr | None) -> Iterator[object]:
    if isinstance(node, ast.Constant):
        yield node.value
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            yield _const(element)
