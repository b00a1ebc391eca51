"""Jinja2 templates for drafts, email bodies and the review page (package data)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import jinja2


@cache
def environment() -> jinja2.Environment:
    """The one environment for these templates: HTML ones autoescaped, built once."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files(__name__))),
        autoescape=jinja2.select_autoescape(["html.j2"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.globals["cite"] = lambda ids: "[" + ", ".join(ids) + "]" if ids else "[uncited]"
    env.globals["number"] = lambda v: "n/a" if v is None else f"{v:,.2f}".rstrip("0").rstrip(".")
    return env
