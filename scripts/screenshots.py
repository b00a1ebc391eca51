"""Screenshots of rendered briefs for the README: `make screenshots`.

Runs the offline pipeline on a temporary copy of examples/portfolio, opens the CTO and
CFO briefs in headless Chromium (no network) and writes PNGs to docs/screenshots/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from execbrief.cli import main  # noqa: E402 - after the path set-up above
from tests.browser import check_page, chromium  # noqa: E402

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


if __name__ == "__main__":
    for path in take_screenshots(REPO / "docs" / "screenshots"):
        sys.stdout.write(f"wrote {path.relative_to(REPO)}\n")
