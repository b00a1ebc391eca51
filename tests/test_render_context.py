"""render_persona reads the run's shared context and returns what it made; it changes nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from execbrief import pipeline
from execbrief.config import load_workspace
from execbrief.render import RenderContext, render_persona

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def test_render_persona_leaves_the_manifest_as_it_was(example_workspace: Path) -> None:
    workspace = load_workspace(example_workspace)
    run, bundle = pipeline.collect(workspace, now=NOW)
    [cfo] = pipeline.personas_for(workspace, ["cfo"])
    pipeline.generate(workspace, run, [cfo])
    manifest = run.read_manifest()
    before = manifest.model_copy(deep=True)
    settings = pipeline.mail_settings(workspace)
    addresses = pipeline.addresses_for(workspace, [cfo], settings)["cfo"]
    ctx = RenderContext(run=run, manifest=manifest, now=NOW, bundle=bundle)

    rendered = render_persona(ctx, cfo, addresses)

    assert manifest == before
    digest = hashlib.sha256(run.report_path("cfo").read_bytes()).hexdigest()
    assert rendered.report_sha256 == digest
    assert (run.persona_dir("cfo") / "message.eml").is_file()
