"""The code audit on repositories outside any workspace: `execbrief audit`, a CI gate.

It needs the code-audit collector and the mask, nothing of the brief pipeline, and
imports nothing more, so a gate on a small repository is not paying for the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from execbrief.bundle import as_auditor, installed_collector
from execbrief.errors import ConfigError
from execbrief.models import CollectResult
from execbrief.secrets.mask import mask_fact

AUDIT_COLLECTOR = "code_audit"


def audit(
    paths: list[Path], checks: set[str] | None, engine: str = "auto", cache: bool = True
) -> CollectResult:
    """The code audit on repositories outside any workspace, worst findings first."""
    for path in paths:
        if not path.is_dir():
            # a typo must not pass a CI gate as "0 findings"
            raise ConfigError(
                "no such repository folder",
                path=path,
                hint="`execbrief audit` takes the folders of repositories to audit",
            )
    auditor = as_auditor(installed_collector(AUDIT_COLLECTOR, "execbrief audit"), "execbrief audit")
    result = auditor.audit(paths, checks, datetime.now(UTC), engine, cache)
    facts = sorted(result.facts, key=lambda f: (f.severity.rank, f.source.path or "", f.id))
    return CollectResult(facts=[mask_fact(f) for f in facts], gaps=result.gaps)
