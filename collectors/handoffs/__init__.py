"""Handoff notes: Markdown files with sections, tables, blockers and decisions."""

from .collector import HandoffsCollector

__all__ = ["HandoffsCollector"]
