"""Parts of a parsed module, so a check reads only the statements it needs, and the one
walk over a whole module that every check shares.

Walking every node of a large module costs far more than parsing it; a check that knows
which lines matter (from the prefilter) walks only the statements over them, and the
checks that need every node (endpoints, the jwt rules, imports) are served by one walk.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import Protocol

_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def statements_over(body: list[ast.stmt], lines: list[tuple[int, int]]) -> Iterator[ast.AST]:
    """The innermost statements (and compound-statement headers) that touch `lines`."""
    for node in body:
        first, last = node.lineno, node.end_lineno or node.lineno
        if not any(lo <= last and first <= hi for lo, hi in lines):
            continue
        blocks = [getattr(node, name, None) for name in _BLOCKS]
        inner = [block for block in blocks if isinstance(block, list) and block]
        if not inner:
            yield node
            continue
        for name, value in ast.iter_fields(node):
            if name in _BLOCKS:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    yield child
        for block in inner:
            for child in block:
                if isinstance(child, ast.stmt):
                    yield from statements_over([child], lines)
                else:  # an except handler or a match case: read whole
                    yield child


def all_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones too, without descending into expressions."""
    for node in body:
        yield node
        for name in _BLOCKS:
            block = getattr(node, name, None)
            if not isinstance(block, list):
                continue
            for child in block:
                if isinstance(child, ast.stmt):
                    yield from all_statements([child])
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    yield from all_statements(child.body)


class TreeListener(Protocol):
    """What one check gathers from a module during the walk every check shares."""

    # `enter` is called for nodes of exactly these types, in depth-first source order
    types: tuple[type[ast.AST], ...]

    def begin(self, tree: ast.Module) -> None:
        """The walk over `tree` starts."""
        ...

    def top(self, statement: ast.stmt) -> None:
        """A module-level statement is next; its nodes follow."""
        ...

    def enter(self, node: ast.AST) -> None:
        """A node of one of `types`, before its children."""
        ...

    def leave(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """A function's nodes are done."""
        ...


class _Leave:
    __slots__ = ("node",)

    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.node = node


def walk_once(tree: ast.Module, listeners: list[TreeListener]) -> None:
    """One depth-first pass over `tree` (the order `ast.NodeVisitor` visits in) serving
    every listener; iterative, so a deeply nested expression cannot exhaust the stack."""
    table: dict[type[ast.AST], list[Callable[[ast.AST], None]]] = {}
    for listener in listeners:
        listener.begin(tree)
        for kind in listener.types:
            table.setdefault(kind, []).append(listener.enter)
    children = ast.iter_child_nodes
    for statement in tree.body:
        for listener in listeners:
            listener.top(statement)
        stack: list[ast.AST | _Leave] = [statement]
        while stack:
            node = stack.pop()
            if isinstance(node, _Leave):
                for listener in listeners:
                    listener.leave(node.node)
                continue
            for enter in table.get(type(node), ()):
                enter(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                stack.append(_Leave(node))
            stack.extend(reversed(list(children(node))))
