"""Jinja2 prompt templates: system, evidence and persona parts (shipped as package data)."""
