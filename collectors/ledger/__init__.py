"""The books: a CSV ledger of revenue and expenses, read into monthly finance facts."""

from .collector import LedgerCollector

__all__ = ["LedgerCollector"]
