"""execbrief: executive briefs from a portfolio's own evidence."""

__version__ = "0.1.0"
