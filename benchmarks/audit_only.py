"""The full code audit (every check) of the repositories listed in a file, in one process,
without the CLI: the audit's own cost, to time beside another checkout's.

    .venv/bin/python benchmarks/audit_only.py REPOS.txt            # this checkout
    PYTHONPATH=OTHER/src .venv/bin/python benchmarks/audit_only.py REPOS.txt

REPOS.txt holds one repository folder a line (`collect_scale.py --scales 64
--write-only DIR` writes one). The
result cache is off. It prints the number of findings and a digest of their set (kind,
repository, path, line, title), so two checkouts that find the same print the same line.
Time it from outside: `/usr/bin/time -v` counts the git and bandit processes it waits for.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from execbrief.collectors.code_audit.collector import audit_paths


def main(argv: list[str]) -> int:
    repos = [Path(line) for line in Path(argv[0]).read_text().split("\n") if line.strip()]
    # An older checkout's audit_paths has no cache argument, and so no cache.
    kwargs: dict[str, Any] = (
        {"cache": None} if "cache" in inspect.signature(audit_paths).parameters else {}
    )
    result = audit_paths(repos, None, datetime.now(UTC), **kwargs)
    found = sorted(
        {
            (f.kind, f.source.resource or "", f.source.path or "", f.source.line or 0, f.title)
            for f in result.facts
        }
    )
    digest = hashlib.sha256(json.dumps(found).encode()).hexdigest()[:16]
    print(f"{len(found)} findings, digest {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
