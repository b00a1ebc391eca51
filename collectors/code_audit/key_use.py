"""Keys known by how the code uses them, whatever their name: `K = "..."; hmac.new(K, ...)`.

The name rules need a name that says "secret"; a literal passed as the key of a signing,
HMAC, JWT, encryption or payment-client call is a key even when it is called `SIGNING`
or `K`. Only string or bytes literals bound by a plain assignment in the same module, or
passed directly, are followed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from execbrief.models import Severity
from execbrief.secrets.rules import JWT_SECRET, SecretRule, classify_assignment

from .py_tree import all_statements, statements_over

SIGNING_KEY = SecretRule("signing_key", "Signing or encryption key", Severity.HIGH)

# callee name -> (position of the key argument, keyword names it may be passed as, rule)
_SINKS: dict[str, tuple[int, tuple[str, ...], SecretRule]] = {
    "hmac.new": (0, ("key",), SIGNING_KEY),
    "hmac.HMAC": (0, ("key",), SIGNING_KEY),
    "hmac.digest": (0, ("key",), SIGNING_KEY),
    "HMAC": (0, ("key",), SIGNING_KEY),
    "jwt.encode": (1, ("key",), JWT_SECRET),
    "jwt.decode": (1, ("key",), JWT_SECRET),
    "Fernet": (0, ("key",), SIGNING_KEY),
    "AES.new": (0, ("key",), SIGNING_KEY),
    "AESGCM": (0, ("key",), SIGNING_KEY),
    "ChaCha20Poly1305": (0, ("key",), SIGNING_KEY),
    "Signer": (0, ("secret_key",), SIGNING_KEY),
    "TimestampSigner": (0, ("secret_key",), SIGNING_KEY),
    "Serializer": (0, ("secret_key",), SIGNING_KEY),
    "URLSafeSerializer": (0, ("secret_key",), SIGNING_KEY),
    "URLSafeTimedSerializer": (0, ("secret_key",), SIGNING_KEY),
    "TimedSerializer": (0, ("secret_key",), SIGNING_KEY),
    "stripe.StripeClient": (0, ("api_key",), SIGNING_KEY),
}
# Attributes whose assignment hands a client its key: `stripe.api_key = K`.
_KEY_ATTRIBUTES = frozenset({"stripe.api_key"})


def keys_in_use(tree: ast.Module, lines: list[int]) -> Iterator[tuple[SecretRule, str, int]]:
    """(rule, value, line of the literal) for each literal used as a key.

    `lines` are where the prefilter saw a key-taking call; only the statements over them
    are walked for calls, and only statements (not expressions) for literal bindings.
    """
    literals: dict[str, tuple[str, int]] = {}
    for statement in all_statements(tree.body):
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            value = _literal(statement.value)
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                name = _dotted(target)
                if value is not None and name:
                    literals[name.rsplit(".", 1)[-1]] = (value, statement.value.lineno)
    uses: list[tuple[ast.expr, SecretRule]] = []
    for root in statements_over(tree.body, [(line, line) for line in lines]):
        for node in ast.walk(root):
            if isinstance(node, ast.Assign) and any(
                _dotted(t) in _KEY_ATTRIBUTES for t in node.targets
            ):
                uses.append((node.value, SIGNING_KEY))
            elif isinstance(node, ast.Call):
                sink = _sink(_dotted(node.func))
                if sink is None:
                    continue
                position, keywords, rule = sink
                arg = node.args[position] if len(node.args) > position else None
                for keyword in node.keywords:
                    if keyword.arg in keywords:
                        arg = keyword.value
                if arg is not None:
                    uses.append((arg, rule))
    for arg, rule in uses:
        found = _resolve(_unwrap(arg), literals)
        if found is None:
            continue
        value, line = found
        # The weak-secret test of a signing-key name, so placeholders and references pass.
        probe = "jwt_secret" if rule is JWT_SECRET else "signing_key"
        if len(value) >= 8 and classify_assignment(probe, value) is not None:
            yield rule, value, line


def _sink(callee: str | None) -> tuple[int, tuple[str, ...], SecretRule] | None:
    """The sink a dotted callee names, by its whole name or its last one or two parts."""
    if not callee:
        return None
    parts = callee.split(".")
    for name in (callee, ".".join(parts[-2:]), parts[-1]):
        if name in _SINKS:
            return _SINKS[name]
    return None


def _unwrap(node: ast.expr) -> ast.expr:
    """`K.encode()`, `bytes(K, "utf-8")` and `K.encode("utf-8")` are K."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "encode":
            return func.value
        if isinstance(func, ast.Name) and func.id in ("bytes", "bytearray") and node.args:
            return node.args[0]
    return node


def _resolve(node: ast.expr, literals: dict[str, tuple[str, int]]) -> tuple[str, int] | None:
    value = _literal(node)
    if value is not None:
        return value, node.lineno
    name = _dotted(node)
    return literals.get(name.rsplit(".", 1)[-1]) if name else None


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return node.value
        if isinstance(node.value, bytes):
            return node.value.decode("utf-8", errors="replace")
    return None


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
