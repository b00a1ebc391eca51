"""The code audit: secrets, endpoints, Python checks and the stack inventory of each repository."""

from .collector import CodeAuditCollector

__all__ = ["CodeAuditCollector"]
