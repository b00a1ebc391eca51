"""Endpoint checks read as text: Google Apps Script web apps, JavaScript Lambda handlers,
and CORS headers in languages without a parser here. Comments are blanked first so a
`// TODO: check the token` does not count as a check."""

from __future__ import annotations

import re

from execbrief.models import Severity

from .repo_files import AuditScope

AUTH_TAGS = ["security", "auth"]


def check_apps_script(scope: AuditScope, rel: str, text: str) -> None:
    """Apps Script doPost/doGet that act on a request without a token or secret check."""
    bodies = _js_functions(text)
    for entry in ("doPost", "doGet"):
        found = bodies.get(entry)
        if found is None:
            continue
        line, param, _ = found
        reach = _js_closure(bodies, entry)
        if _JS_AUTH.search(reach):
            continue
        writes = sorted(set(_GS_WRITES.findall(reach)))
        reads = param and re.search(rf"\b{re.escape(param)}\.(?:parameters?|postData)\b", reach)
        if entry == "doGet" and not (writes or reads):
            continue  # a doGet that only serves a page
        effect = f" and calls {', '.join(writes)}" if writes else ""
        scope.fact(
            "auth.endpoint_unauthenticated",
            Severity.HIGH if entry == "doPost" or writes else Severity.MEDIUM,
            f"Apps Script {entry} in {rel}:{line} has no token or secret check",
            path=rel,
            line=line,
            detail=(
                f"{entry} in {rel}:{line} is a public web-app endpoint that accepts "
                f"requests{effect} without checking any token, secret or signature; "
                "anyone with the deployment URL can post to it."
            ),
            tags=AUTH_TAGS,
        )


def check_js_lambda(scope: AuditScope, rel: str, text: str) -> None:
    """A JavaScript Lambda handler that reads the event body or query with no auth check."""
    handler = _JS_HANDLER.search(text)
    if handler is None or not _JS_EVENT_INPUT.search(text) or _JS_AUTH.search(text):
        return
    line = text.count("\n", 0, handler.start()) + 1
    writes = bool(_JS_WRITES.search(text))
    scope.fact(
        "auth.endpoint_unauthenticated",
        Severity.HIGH if writes else Severity.MEDIUM,
        f"Lambda handler in {rel}:{line} acts on request input with no auth check",
        path=rel,
        line=line,
        detail=(
            f"The handler in {rel}:{line} reads the event body or query"
            + (" and writes data" if writes else "")
            + " with no Authorization header, token, signature or API key check."
        ),
        tags=AUTH_TAGS,
    )


def check_text_cors(scope: AuditScope, rel: str, text: str) -> None:
    """`Access-Control-Allow-Origin: *` in a source file that also changes state."""
    if not _TEXT_WRITES.search(text):
        return
    for m in _TEXT_ACAO.finditer(text):
        cors_wildcard_fact(
            scope, rel, text.count("\n", 0, m.start()) + 1, "a file that changes state"
        )


def cors_wildcard_fact(scope: AuditScope, rel: str, line: int, where: str) -> None:
    """Record `Access-Control-Allow-Origin: *` on something that changes state."""
    scope.fact(
        "http.cors_wildcard",
        Severity.MEDIUM,
        f"Access-Control-Allow-Origin * on a state-changing handler in {rel}:{line}",
        path=rel,
        line=line,
        detail=(
            f"{rel}:{line} answers any origin with Access-Control-Allow-Origin: * in "
            f"{where}; any web page can drive it from a visitor's browser."
        ),
        tags=["security"],
    )


_JS_COMMENT = re.compile(
    r"""//[^\n]*|/\*.*?\*/|("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)""",
    re.DOTALL,
)
_JS_FUNCTION = re.compile(r"\bfunction\s+([A-Za-z_$][\w$]*)\s*\(\s*([A-Za-z_$][\w$]*)?[^)]*\)\s*\{")
_JS_AUTH = re.compile(
    r"token|secret|api_?key|apikey|auth(?!or)|signature|hmac|passw|passcode|verif|bearer|jwt"
    r"|timingSafeEqual|cognito",
    re.IGNORECASE,
)
_GS_WRITES = re.compile(
    r"\b(appendRow|setValues?|insertRow\w*|deleteRow\w*|sendEmail|createFile|createEvent"
    r"|UrlFetchApp\.fetch|setProperty|deleteProperty)\b"
)
_JS_HANDLER = re.compile(
    r"exports\.handler\s*=|export\s+(?:const\s+handler\b|(?:async\s+)?function\s+handler\b)"
)
_JS_EVENT_INPUT = re.compile(
    r"event\s*(?:\.\s*|\[\s*['\"])(?:body|queryStringParameters|pathParameters|rawQueryString)"
)
_JS_WRITES = re.compile(
    r"PutCommand|PutItemCommand|UpdateCommand|UpdateItemCommand|DeleteCommand|DeleteItemCommand"
    r"|SendEmailCommand|\.(?:putItem|updateItem|deleteItem|put|update|delete|sendEmail|insert\w*)\("
)
_TEXT_ACAO = re.compile(
    r"""Access-Control-Allow-Origin['"]?\s*[:=,]\s*['"]\*['"]|Access-Control-Allow-Origin:\s*\*""",
    re.IGNORECASE,
)
_TEXT_WRITES = re.compile(
    r"""['"](?:POST|PUT|PATCH|DELETE)['"]|PutCommand|PutItemCommand|UpdateCommand|DeleteCommand"""
    r"""|\.(?:putItem|updateItem|deleteItem|sendEmail|appendRow)\("""
)


def strip_js_comments(text: str) -> str:
    """The text with // and /* */ comments blanked (newlines kept, strings untouched)."""

    def blank(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        return re.sub(r"[^\n]", " ", m.group())

    return _JS_COMMENT.sub(blank, text)


def _js_functions(text: str) -> dict[str, tuple[int, str | None, str]]:
    """name -> (line, first parameter, body) for every `function name(...) {...}`."""
    found: dict[str, tuple[int, str | None, str]] = {}
    for m in _JS_FUNCTION.finditer(text):
        end = _matching_brace(text, m.end() - 1)
        line = text.count("\n", 0, m.start()) + 1
        found[m.group(1)] = (line, m.group(2), text[m.end() : end])
    return found


def _matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _js_closure(bodies: dict[str, tuple[int, str | None, str]], entry: str) -> str:
    """The body of `entry` and of every function it calls in the same file."""
    seen: set[str] = set()
    todo = [entry]
    parts: list[str] = []
    while todo:
        name = todo.pop()
        if name in seen or name not in bodies:
            continue
        seen.add(name)
        body = bodies[name][2]
        parts.append(body)
        todo.extend(re.findall(r"\b([A-Za-z_$][\w$]*)\s*\(", body))
    return "\n".join(parts)
