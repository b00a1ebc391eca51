"""Headless Chromium for tests and screenshots: a page loaded with no network at all."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Route, sync_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's Chromium, or the one named by EXECBRIEF_CHROMIUM."""
    return os.environ.get("EXECBRIEF_CHROMIUM") or shutil.which("chromium")


@dataclass
class PageCheck:
    """What a browser saw while loading one local HTML file."""

    console_errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    scroll_width: int = 0


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError("chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def check_page(browser: Browser, html: Path, screenshot: Path | None = None) -> PageCheck:
    """Load `html` at a phone-to-desktop width; block and record any non-file request."""
    seen = PageCheck()
    page = browser.new_page(viewport={"width": 800, "height": 1000})

    def route(route: Route) -> None:
        if route.request.url.startswith(("file:", "data:", "cid:")):
            route.continue_()
        else:
            seen.remote_requests.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.console_errors.append(str(e)))
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    seen.scroll_width = int(page.evaluate("document.querySelector('table.card').scrollWidth"))
    if screenshot is not None:
        # the top of the brief: headline, summary, chart and the first findings
        page.screenshot(
            path=str(screenshot),
            full_page=True,
            clip={"x": 0, "y": 0, "width": 800, "height": 1400},
        )
    page.close()
    return seen
