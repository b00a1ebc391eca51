"""Endpoint checks: request handlers that act on input with no auth check, and CORS `*`
on handlers that change state.

Python Lambda modules are read here through their syntax tree, following calls and
dispatch tables inside the module; JavaScript and Apps Script files go to
`script_endpoints`.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from execbrief.models import Severity

from .py_tree import TreeListener, walk_once
from .repo_files import AuditScope, SourceFile
from .script_endpoints import (
    AUTH_TAGS,
    check_apps_script,
    check_js_lambda,
    check_text_cors,
    cors_wildcard_fact,
    strip_js_comments,
)

_INPUT_KEYS = frozenset(
    {
        "body",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "rawQueryString",
    }
)
_AUTH_NAME = re.compile(
    r"auth|jwt|verify|signature|hmac|compare_digest|current_user|login_required|cognito"
    r"|api_?key|claims|construct_event|permission|is_admin|require_",
    re.IGNORECASE,
)
_AUTH_STRING = re.compile(
    r"authorization|x-api-key|authorizer|cookie|[\w-]*-signature(?:-256)?", re.IGNORECASE
)
_STATE_CALLS = frozenset(
    {
        "put_item",
        "update_item",
        "delete_item",
        "batch_write_item",
        "transact_write_items",
        "put_object",
        "delete_object",
        "copy_object",
        "upload_file",
        "upload_fileobj",
        "send_email",
        "send_raw_email",
        "send_templated_email",
        "publish",
        "send_message",
        "start_execution",
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "delete_one",
        "delete_many",
        "create",
        "post",
        "put",
        "patch",
        "delete",
        "commit",
    }
)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ACAO = "access-control-allow-origin"


@dataclass
class _Function:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    calls: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)
    auth: bool = False
    writes: set[str] = field(default_factory=set)
    cors_lines: list[tuple[int, ast.Dict]] = field(default_factory=list)
    # (callee, names passed as positional arguments) of each call to a module function
    local_calls: list[tuple[str, set[str]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.node.name


@dataclass
class _Module:
    functions: dict[str, _Function]
    # module-level names (e.g. a ROUTES table) -> functions their value references
    tables: dict[str, set[str]]
    # function -> "POST /path" labels from dispatch-table keys
    routes: dict[str, list[str]]
    module_cors: list[tuple[int, ast.Dict]]


class EndpointsCheck:
    """Lambda handlers, Apps Script web apps and CORS headers."""

    name = "endpoints"

    def __init__(self, scope: AuditScope) -> None:
        self._scope = scope
        self._index: ModuleIndexer | None = None

    def listener(self, source: SourceFile) -> TreeListener | None:
        if source.file.suffix != ".py":
            return None
        self._index = ModuleIndexer()
        return self._index

    def visit(self, source: SourceFile) -> None:
        suffix = source.file.suffix
        if suffix == ".py":
            index, self._index = self._index, None
            if index is None:  # visited outside the shared walk
                tree = source.python_tree()
                if not isinstance(tree, ast.Module):
                    return
                index = ModuleIndexer()
                walk_once(tree, [index])
            self._python(source.rel, index.module())
        elif suffix in (".gs", ".js", ".mjs", ".cjs", ".ts"):
            text = strip_js_comments(source.text())
            if suffix in (".gs", ".js"):
                check_apps_script(self._scope, source.rel, text)
            check_js_lambda(self._scope, source.rel, text)
            check_text_cors(self._scope, source.rel, text)
        elif suffix in (".php", ".go", ".rb", ".java"):
            check_text_cors(self._scope, source.rel, source.text())

    def part(self) -> object:
        return None

    def absorb(self, part: object) -> None:
        """Endpoints are reported as files are visited."""

    def finish(self) -> None:
        """Endpoints are reported as files are visited."""

    # --- Python Lambda -------------------------------------------------------------

    def _python(self, rel: str, module: _Module) -> None:
        flagged: set[str] = set()  # a route two handlers share is reported once
        for handler in _handlers(module):
            routes = _routes_of(module, handler)
            handler_scope = _closure(module, [handler.name], stop=routes)
            if any(module.functions[n].auth for n in handler_scope):
                continue
            self._flag_lambda(rel, module, handler, handler_scope, is_route=False)
            for route in sorted(routes - flagged):
                flagged.add(route)
                self._flag_lambda(rel, module, module.functions[route], _closure(module, [route]))
        self._python_cors(rel, module)

    def _flag_lambda(
        self,
        rel: str,
        module: _Module,
        fn: _Function,
        scope_names: set[str],
        is_route: bool = True,
    ) -> None:
        scope = [module.functions[n] for n in scope_names]
        if any(f.auth for f in scope):
            return
        inputs = sorted(set().union(*(f.inputs for f in scope)))
        if not inputs:
            return
        writes = sorted(set().union(*(f.writes for f in scope)))
        line = fn.node.lineno
        what = "route" if is_route else "handler"
        labels = module.routes.get(fn.name, [])
        served = f" (serves {', '.join(labels)})" if labels else ""
        effect = f" and calls {', '.join(writes)}" if writes else ""
        self._scope.fact(
            "auth.endpoint_unauthenticated",
            Severity.HIGH if writes else Severity.MEDIUM,
            f"Lambda {what} {fn.name} acts on request input with no auth check",
            path=rel,
            line=line,
            detail=(
                f"{fn.name} in {rel}:{line}{served} reads the event's {', '.join(inputs)}{effect}, "
                "and nothing on its path checks an Authorization header, token, signature, "
                "API key or authorizer: anyone who finds the URL can call it."
            ),
            tags=AUTH_TAGS,
        )

    def _python_cors(self, rel: str, module: _Module) -> None:
        module_writes = any(f.writes for f in module.functions.values())
        for line, headers in module.module_cors:
            if module_writes or _allows_write_methods(headers):
                cors_wildcard_fact(self._scope, rel, line, "module-wide response headers")
        for fn in module.functions.values():
            if not fn.cors_lines:
                continue
            methods = {label.split(" ")[0] for label in module.routes.get(fn.name, [])}
            own = _closure(module, [fn.name], stop=_routes_of(module, fn))
            writes = any(module.functions[n].writes for n in own) or bool(methods & _WRITE_METHODS)
            for line, headers in fn.cors_lines:
                if writes or _allows_write_methods(headers):
                    cors_wildcard_fact(self._scope, rel, line, f"{fn.name}, which changes state")


# --- Python module index ---------------------------------------------------------------


class ModuleIndexer:
    """Builds a module's `_Module` from the shared walk: module-level functions with what
    their bodies call, read and check, dispatch tables, and CORS header literals."""

    types: tuple[type[ast.AST], ...] = (
        ast.Call,
        ast.Subscript,
        ast.Name,
        ast.Attribute,
        ast.Constant,
        ast.Dict,
    )

    def __init__(self) -> None:
        self._functions: dict[str, _Function] = {}
        self._copies: Counter[str] = Counter()
        self._routes: dict[str, list[str]] = {}
        self._module_cors: list[tuple[int, ast.Dict]] = []
        # (targets, functions their value references) per module-level assignment
        self._bindings: list[tuple[list[str], set[str]]] = []
        self._fn: _Function | None = None
        self._call_funcs: set[int] = set()
        self._value_at: tuple[int, int] | None = None
        self._referenced: set[str] = set()

    def begin(self, tree: ast.Module) -> None:
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        # A name defined twice is the last definition, whose header lines count once per
        # definition.
        self._functions = {node.name: _Function(node) for node in defs}
        self._copies = Counter(node.name for node in defs)

    def top(self, statement: ast.stmt) -> None:
        self._fn, self._value_at = None, None
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            fn = self._functions[statement.name]
            if fn.node is statement:
                self._fn, self._call_funcs = fn, set()
        elif isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            value = statement.value
            # The value comes last in the statement, so its nodes are those from its start.
            self._value_at = (value.lineno, value.col_offset)
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            self._referenced = set()
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            self._bindings.append((names, self._referenced))
            if isinstance(value, ast.Dict):
                _note_routes(value, self._functions, self._routes)

    def enter(self, node: ast.AST) -> None:
        fn = self._fn
        if fn is not None:
            self._in_function(fn, node)
        elif self._value_at is not None:
            at = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
            if at < self._value_at:
                return
            if isinstance(node, ast.Name) and node.id in self._functions:
                self._referenced.add(node.id)
            elif isinstance(node, ast.Dict):
                self._module_cors.extend(_cors_dicts(node, shallow=True))

    def leave(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Nested functions belong to the module-level function around them."""

    def _in_function(self, fn: _Function, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            func = node.func
            self._call_funcs.add(id(func))
            callee = _call_name(func)
            if isinstance(func, ast.Name) and func.id in self._functions:
                fn.calls.add(func.id)
                fn.local_calls.append(
                    (func.id, {a.id for a in node.args if isinstance(a, ast.Name)})
                )
            if callee and _AUTH_NAME.search(callee):
                fn.auth = True
            if callee in _STATE_CALLS:
                fn.writes.add(callee)
            if callee == "get" and node.args and _const_str(node.args[0]) in _INPUT_KEYS:
                fn.inputs.add(str(_const_str(node.args[0])))
        elif isinstance(node, ast.Subscript):
            if _const_str(node.slice) in _INPUT_KEYS:
                fn.inputs.add(str(_const_str(node.slice)))
        elif isinstance(node, ast.Name):
            if id(node) not in self._call_funcs:
                fn.refs.add(node.id)
                if _AUTH_NAME.search(node.id):
                    fn.auth = True
        elif isinstance(node, ast.Dict):
            for found in _cors_dicts(node, shallow=True):
                fn.cors_lines.extend([found] * self._copies[fn.name])
        elif _names_auth(node):
            fn.auth = True

    def module(self) -> _Module:
        """The index, once the walk is over."""
        tables: dict[str, set[str]] = {}
        for names, referenced in self._bindings:
            if referenced:
                tables.update(dict.fromkeys(names, referenced))
        return _Module(self._functions, tables, self._routes, self._module_cors)


def _names_auth(node: ast.AST) -> bool:
    """An attribute like `.verify_token`, or a string like "Authorization"."""
    if isinstance(node, ast.Attribute):
        return bool(_AUTH_NAME.search(node.attr))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_AUTH_STRING.fullmatch(node.value))
    return False


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _const_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _cors_dicts(node: ast.AST, shallow: bool = False) -> Iterator[tuple[int, ast.Dict]]:
    """Dict literals that set Access-Control-Allow-Origin to `*`."""
    nodes: Iterable[ast.AST] = [node] if shallow else ast.walk(node)
    for candidate in nodes:
        if not isinstance(candidate, ast.Dict):
            continue
        for key, value in zip(candidate.keys, candidate.values, strict=True):
            name = _const_str(key)
            if name and name.lower() == _ACAO and _const_str(value) == "*":
                yield key.lineno if key else candidate.lineno, candidate


def _allows_write_methods(headers: ast.Dict) -> bool:
    for key, value in zip(headers.keys, headers.values, strict=True):
        name = _const_str(key)
        methods = _const_str(value)
        if name and name.lower() == "access-control-allow-methods" and methods:
            return bool({m.strip().upper() for m in methods.split(",")} & _WRITE_METHODS)
    return False


def _note_routes(
    table: ast.Dict, functions: dict[str, _Function], routes: dict[str, list[str]]
) -> None:
    """`{("POST", "/api/x"): handler}` -> routes["handler"] = ["POST /api/x"]."""
    for key, value in zip(table.keys, table.values, strict=True):
        if not (isinstance(value, ast.Name) and value.id in functions) or key is None:
            continue
        parts = (
            [_const_str(e) for e in key.elts] if isinstance(key, ast.Tuple) else [_const_str(key)]
        )
        label = " ".join(p for p in parts if p)
        if label:
            routes.setdefault(value.id, []).append(label)


def _handlers(module: _Module) -> Iterator[_Function]:
    """Functions shaped like a Lambda entry point: `(event, context)` or named handler."""
    for fn in module.functions.values():
        params = [a.arg for a in fn.node.args.args]
        shaped = len(params) >= 2 and params[0] in ("event", "evt") and "context" in params[1]
        if shaped or (fn.name in ("lambda_handler", "handler") and params):
            yield fn


def _routes_of(module: _Module, fn: _Function) -> set[str]:
    """Functions a handler dispatches to: through a table, or by passing the event on."""
    event = fn.node.args.args[0].arg if fn.node.args.args else None
    routes: set[str] = set()
    reach = _closure(module, [fn.name], stop=set())
    for name in reach:
        f = module.functions[name]
        for ref in f.refs:
            routes.update(module.tables.get(ref, set()))
            if ref in module.functions and ref != name:
                routes.add(ref)
    for callee, passed in fn.local_calls:
        if event in passed and module.functions[callee].inputs | _transitive_inputs(module, callee):
            routes.add(callee)
    routes.discard(fn.name)
    return routes


def _transitive_inputs(module: _Module, name: str) -> set[str]:
    return set().union(*(module.functions[n].inputs for n in _closure(module, [name])))


def _closure(module: _Module, start: list[str], stop: set[str] | None = None) -> set[str]:
    """Functions reachable by calls from `start`, not entering `stop`."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen or (stop and name in stop and name not in start):
            continue
        seen.add(name)
        todo.extend(module.functions[name].calls)
    return seen
