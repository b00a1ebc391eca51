"""The shipped persona files (YAML), installed as package data."""
