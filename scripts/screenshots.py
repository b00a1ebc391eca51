"""Screenshots of rendered briefs and of the review desk for the README: `make screenshots`.

Runs the offline pipeline on a temporary copy of examples/portfolio, opens the CTO and
CFO briefs in headless Chromium (no network) and writes PNGs to docs/screenshots/; then
opens the review desk on a second run of that copy (one brief sent from the first run,
one edited so that a grounding warning shows) and captures its run and brief views.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from execbrief import pipeline  # noqa: E402 - after the path set-up above
from execbrief.cli import main  # noqa: E402
from execbrief.config import load_workspace  # noqa: E402
from tests.browser import check_page, chromium  # noqa: E402
from tests.desk_client import serve_desk  # noqa: E402

PERSONAS = ("cto", "cfo")


def take_screenshots(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "examples" / "portfolio"
        shutil.copytree(REPO / "examples" / "portfolio", workspace)
        if main(["run", "--workspace", str(workspace), "--no-send"]) != 0:
            raise SystemExit("the demo run failed")
        run = (Path(scratch) / "outputs" / "latest").resolve()
        written = []
        with chromium() as browser:
            for persona in PERSONAS:
                png = target / f"{persona}-brief.png"
                seen = check_page(browser, run / persona / "report.html", screenshot=png)
                if seen.console_errors or seen.remote_requests:
                    raise SystemExit(f"{persona}: {seen}")
                written.append(png)
        return written


DESK_PERSONA = "cfo"
# A sentence the evidence does not support, so the brief view shows a warning by its claim.
UNSUPPORTED = "Charter revenue doubled to $96,000 this quarter, ahead of plan."


def _desk_workspace(scratch: Path) -> Path:
    workspace = scratch / "examples" / "portfolio"
    shutil.copytree(REPO / "examples" / "portfolio", workspace)
    steps = [
        ["run", "--workspace", str(workspace)],
        ["send", "--workspace", str(workspace), "--persona", DESK_PERSONA],
        ["run", "--workspace", str(workspace)],
        ["approve", "--workspace", str(workspace), "-p", "ceo", "-p", "cto", "--as", "ann"],
    ]
    for step in steps:
        if main(step) != 0:
            raise SystemExit(f"`execbrief {' '.join(step[:1])}` failed on the demo")
    ws = load_workspace(workspace)
    run = pipeline.resolve_run(ws, "latest")
    persona = pipeline.personas_for(ws, [DESK_PERSONA])[0]
    first = run.read_report(DESK_PERSONA).sections[0].id
    pipeline.edit_section(ws, run, persona, first, UNSUPPORTED)
    return workspace


def take_desk_screenshots(target: Path) -> list[Path]:
    """docs/screenshots/desk-run.png and desk-brief.png, from the desk in Chromium."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        workspace = _desk_workspace(Path(scratch))
        run_png, brief_png = target / "desk-run.png", target / "desk-brief.png"
        with serve_desk(workspace) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.wait_for_selector("table.personas")
            page.screenshot(path=str(run_png), full_page=True)
            page.click(f"tr[data-persona={DESK_PERSONA}] a")
            page.wait_for_selector("li.warning")
            # both frames (this revision and the one sent before) painted
            for index in range(page.locator("iframe").count()):
                page.frame_locator("iframe").nth(index).locator("img").first.wait_for()
            # a sandboxed frame paints in its own process: let it lay out at its final width
            page.wait_for_timeout(1500)
            page.screenshot(
                path=str(brief_png),
                clip={"x": 0, "y": 0, "width": 1440, "height": 1300},
                full_page=True,
            )
            page.close()
        return [run_png, brief_png]


if __name__ == "__main__":
    written = take_screenshots(REPO / "docs" / "screenshots")
    written += take_desk_screenshots(REPO / "docs" / "screenshots")
    for path in written:
        sys.stdout.write(f"wrote {path.relative_to(REPO)}\n")
