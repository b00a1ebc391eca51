"""Jinja2 templates for drafts, email bodies and the review page (package data)."""
