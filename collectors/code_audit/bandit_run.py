"""bandit in this process: its medium and high issues, as its JSON report would list them.

Run as a command, bandit spends about 1.5 s per repository starting an interpreter and
loading its plugins; in-process that happens once per audit. The settings are the
command line's `bandit -q --severity-level medium` with no config file: every test, all
confidence levels, `# nosec` honoured.
"""

from __future__ import annotations

import logging
import warnings
from functools import cache
from pathlib import Path
from typing import Any


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


def bandit_issues(root: Path, rels: list[str]) -> list[dict[str, Any]]:
    """Issues of medium severity or worse in `rels` (paths under `root`), by file name."""
    if not rels:
        return []
    conf = _config()
    from bandit.core import constants, manager

    by_path = {str(root / rel): rel for rel in rels}
    runner = manager.BanditManager(
        conf, "file", quiet=True, profile={"include": set(), "exclude": set()}
    )
    runner.discover_files(list(by_path), recursive=False)
    runner.run_tests()
    found = runner.get_issue_list(sev_level=constants.MEDIUM, conf_level=constants.LOW)
    issues = []
    for issue in found:
        entry: dict[str, Any] = issue.as_dict(with_code=False)
        entry["filename"] = by_path.get(entry["filename"], entry["filename"])
        issues.append(entry)
    return sorted(issues, key=lambda entry: str(entry["filename"]))
