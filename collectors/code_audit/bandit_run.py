"""bandit in this process: its medium and high issues, as its JSON report would list them.

Run as a command, bandit spends about 1.5 s per repository starting an interpreter and
loading its plugins; in-process that happens once per audit. The settings are the
command line's `bandit -q --severity-level medium` with no config file: every test that
can report medium or high, all confidence levels, `# nosec` honoured.

Each file is handed over as the audit already holds it: its bytes (bandit does not read
the disk again) and its parsed tree (bandit does not parse again). Tests that only ever
report low severity are skipped, since the audit drops low issues anyway.
"""

from __future__ import annotations

import io
import logging
import tokenize
import warnings
from functools import cache
from pathlib import Path
from typing import Any

# bandit's tests whose every issue is of low severity (assert_used, the three hardcoded
# password tests, try/except/pass and try/except/continue): their findings never reach a
# medium-or-worse report, so running them only costs time.
LOW_ONLY_TESTS = frozenset({"B101", "B105", "B106", "B107", "B110", "B112"})


class BanditUnavailable(Exception):
    """bandit is not installed or could not start."""


@cache
def _config() -> Any:
    # bandit logs a file it cannot parse as an error (the audit reports those itself), and
    # its plugin loader logs and warns about optional formatters it does not need here.
    for name in ("bandit", "stevedore"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            from bandit.core import config, manager  # noqa: F401  (manager loads the plugins)
        except ImportError as exc:
            raise BanditUnavailable(str(exc)) from exc
        return config.BanditConfig()


def preload_bandit() -> None:
    """Import and configure bandit now, if it is installed."""
    try:
        _config()
    except BanditUnavailable:
        return


class BanditRun:
    """One repository's bandit run, fed file by file; `issues()` lists what it found."""

    def __init__(self, root: Path) -> None:
        conf = _config()
        from bandit.core import manager

        self._root = root
        self._by_path: dict[str, str] = {}
        profile = {"include": set(), "exclude": set(LOW_ONLY_TESTS)}
        self._manager = manager.BanditManager(conf, "file", quiet=True, profile=profile)

    def add(self, rel: str, data: bytes, tree: Any) -> None:
        """Run every test on one parsed file; `data` is its bytes, `tree` its module."""
        from bandit.core import node_visitor

        runner = self._manager
        fname = str(self._root / rel)
        self._by_path[fname] = rel
        runner.metrics.begin(fname)
        try:
            visitor = node_visitor.BanditNodeVisitor(
                fname,
                io.BytesIO(data),
                runner.b_ma,
                runner.b_ts,
                False,
                _nosec_lines(data),
                runner.metrics,
            )
            # `process` parses what it is given with ast.parse, which returns a tree
            # unchanged: bandit reads the audit's own parse.
            visitor.process(tree)
        except Exception:  # bandit skips a file its tests crash on, and so does this
            runner.skipped.append((fname, "exception while scanning file"))
            return
        runner.results.extend(visitor.tester.results)

    def issues(self) -> list[dict[str, Any]]:
        """Issues of medium severity or worse, by file name, in each file's own order."""
        from bandit.core import constants

        found = self._manager.get_issue_list(sev_level=constants.MEDIUM, conf_level=constants.LOW)
        issues = []
        for issue in found:
            entry: dict[str, Any] = issue.as_dict(with_code=False)
            entry["filename"] = self._by_path.get(entry["filename"], entry["filename"])
            issues.append(entry)
        return sorted(issues, key=lambda entry: str(entry["filename"]))


def _nosec_lines(data: bytes) -> dict[int, set[str] | None]:
    """Line -> tests a `# nosec` comment there skips, as bandit reads them.

    bandit tokenizes every file for its comments; a file without the word has none to
    find, and a comment that is not a nosec counts as no comment.
    """
    if b"nosec" not in data:
        return {}
    from bandit.core.manager import _parse_nosec_comment

    lines: dict[int, set[str] | None] = {}
    try:
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            if token.type == tokenize.COMMENT:
                lines[token.start[0]] = _parse_nosec_comment(token.string)
    except tokenize.TokenError:
        pass
    return lines
