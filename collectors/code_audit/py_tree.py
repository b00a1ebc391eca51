"""Parts of a parsed module, so a check reads only the statements it needs.

Walking every node of a large module costs far more than parsing it; a check that knows
which lines matter (from the prefilter) walks only the statements over them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

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
