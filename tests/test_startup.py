"""Start-up cost: commands that never call a model must not load a model SDK.

Importing the Anthropic SDK costs about two seconds of CPU; `execbrief audit` on a small
tree takes less than that, so an import on the CLI's path doubles every collect and audit.
"""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_and_the_audit_load_no_model_sdk() -> None:
    probe = (
        "import sys, execbrief.cli, execbrief.pipeline\n"
        "print(sorted(m for m in ('anthropic', 'openai') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_the_report_schema_is_still_built_once_on_first_use() -> None:
    from execbrief.llm.schema import report_schema, verify_schema

    assert report_schema() is report_schema()
    assert report_schema()["type"] == "object"
    assert "sections" in report_schema()["properties"]
    assert verify_schema() is verify_schema()
