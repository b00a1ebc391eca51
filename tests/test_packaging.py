"""The wheel carries collectors, personas and prompts, and works outside the checkout."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_installed_wheel_lists_personas_from_another_folder(tmp_path: Path) -> None:
    # Build from a copy: a build writes egg-info and build/ beside the sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "src", "collectors", "personas", "prompts"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, source / name)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(dist), str(source)],
        check=True,
        cwd=tmp_path,
    )  # fmt: skip
    wheel = next(dist.glob("execbrief-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "execbrief/personas/cto.yaml" in names
    assert "execbrief/prompts/system.j2" in names
    assert "execbrief/collectors/handoffs/collector.py" in names
    assert "execbrief/secrets/rules.py" in names
    assert "execbrief/cli/audit.py" in names
    assert "execbrief/templates/report.html.j2" in names
    assert "execbrief/desk/templates/desk/brief.html.j2" in names
    assert "execbrief/desk/static/desk.css" in names
    assert "execbrief/desk/static/desk.js" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True
    )
    target = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # The dependencies come from the test environment; only execbrief itself is new here.
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    entry = env_dir / "bin" / "execbrief"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = subprocess.run(
        [entry, "personas", "list"], cwd=elsewhere, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "yacht_delivery" in result.stdout
    located = subprocess.check_output(
        [python, "-c", "import execbrief.personas as p; print(p.__file__)"], cwd=elsewhere,
        text=True,
    )  # fmt: skip
    assert located.startswith(str(target))
