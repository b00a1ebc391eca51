"""Every brief of the demo run renders in a real browser: no errors, no remote requests, 600 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import check_page, chromium, chromium_path
from tests.conftest import Cli

pytestmark = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium); CI installs it",
)


def test_every_report_html_loads_cleanly_within_600px(cli: Cli, example_workspace: Path) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = (example_workspace.parent.parent / "outputs" / "latest").resolve()
    pages = sorted(run.glob("*/report.html"))
    assert len(pages) == 8

    with chromium() as browser:
        for page in pages:
            seen = check_page(browser, page)
            assert seen.console_errors == [], page
            assert seen.remote_requests == [], page
            assert 0 < seen.scroll_width <= 600, page


def test_remote_content_would_be_caught(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(
        '<table class="card" style="width:900px"><tr><td>'
        '<img src="https://tracker.example.com/p.gif"></td></tr></table>'
        "<script>console.error('boom')</script>"
    )

    with chromium() as browser:
        seen = check_page(browser, page)

    assert seen.remote_requests == ["https://tracker.example.com/p.gif"]
    assert "boom" in seen.console_errors
    assert seen.scroll_width == 900
