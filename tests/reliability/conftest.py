"""Hypothesis keeps its caches outside the checkout: tests never write into it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import configuration

configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "execbrief-hypothesis")
