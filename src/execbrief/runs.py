"""Run folders: ids, the manifest and the `latest` link (written through files.write_atomic)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from execbrief.errors import ConfigError
from execbrief.files import write_atomic
from execbrief.models import Bundle, GroundingWarning, Manifest, Report

LATEST = "latest"
_WARNINGS = TypeAdapter(list[GroundingWarning])

M = TypeVar("M", bound=BaseModel)


def read_model(path: Path, model: type[M], hint: str) -> M:
    """A run file parsed into its model; a torn or edited file is a one-line error."""
    try:
        return model.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ConfigError(
            f"{path.name} is not a valid {model.__name__.lower()}: {where}: {first['msg']}",
            path=path,
            hint=hint,
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path.name}: {exc.strerror}", path=path, hint=hint) from exc


@dataclass(frozen=True)
class RunFolder:
    """One run's folder under the workspace's outputs."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def bundle_path(self) -> Path:
        return self.path / "bundle.json"

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def ledger_path(self) -> Path:
        return self.path / "send-ledger.jsonl"

    @property
    def events_path(self) -> Path:
        """SES delivery events of this run's messages (`execbrief events`)."""
        return self.path / "delivery-events.jsonl"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    def persona_dir(self, persona_id: str) -> Path:
        return self.path / persona_id

    def read_bundle(self) -> Bundle:
        if not self.bundle_path.is_file():
            raise ConfigError(
                "this run has no bundle.json", path=self.path, hint="run `execbrief collect` first"
            )
        return read_model(
            self.bundle_path, Bundle, "collect a new run: `execbrief collect` (or `run`)"
        )

    def write_bundle(self, bundle: Bundle) -> None:
        write_atomic(self.bundle_path, bundle.model_dump_json(indent=2, by_alias=True))

    def read_manifest(self) -> Manifest:
        if not self.manifest_path.is_file():
            raise ConfigError(
                f"run {self.run_id} has no manifest.json: its collect was interrupted",
                path=self.path,
                hint="collect a new run: `execbrief collect` (or `run`)",
            )
        return read_model(
            self.manifest_path,
            Manifest,
            "restore it from a backup, or collect a new run: `execbrief collect`",
        )

    def write_manifest(self, manifest: Manifest) -> None:
        write_atomic(self.manifest_path, manifest.model_dump_json(indent=2, by_alias=True))

    def report_path(self, persona_id: str) -> Path:
        return self.persona_dir(persona_id) / "report.json"

    def write_grounding(self, persona_id: str, warnings: list[GroundingWarning]) -> None:
        """The report's check result beside it (report.json stays the answer as validated)."""
        checked = _WARNINGS.dump_json(warnings, indent=2).decode()
        write_atomic(self.persona_dir(persona_id) / "grounding.json", checked + "\n")

    def read_report(self, persona_id: str) -> Report:
        path = self.report_path(persona_id)
        if not path.is_file():
            raise ConfigError(
                f"persona {persona_id!r} has no report in this run",
                path=path,
                hint=f"run `execbrief generate --persona {persona_id}`",
            )
        return read_model(
            path,
            Report,
            f"fix the file, or write it again: `execbrief generate --persona {persona_id}`",
        )

    def has_valid_report(self, persona_id: str) -> bool:
        """Whether the persona's report.json exists and parses (what a resumed generate keeps)."""
        try:
            self.read_report(persona_id)
        except ConfigError:
            return False
        return True


def new_run_id(outputs: Path, now: datetime | None = None) -> str:
    """A UTC timestamp id, with a suffix when a run with that id already exists."""
    base = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base, 1
    while (outputs / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def check_outputs(outputs: Path) -> None:
    """Refuse an `outputs:` that names something other than a folder."""
    if outputs.exists() and not outputs.is_dir():
        raise ConfigError(
            "outputs names a file, not a folder",
            path=outputs,
            hint="set `outputs:` in execbrief.yaml to a folder (default: outputs)",
        )


def create_run(outputs: Path, now: datetime | None = None, *, publish: bool = True) -> RunFolder:
    """Make a new run folder; with `publish`, point `latest` at it at once.

    Collect passes `publish=False` and calls `publish_run` once the bundle and the
    manifest are written, so `latest` never points at a half-written run.
    """
    check_outputs(outputs)
    outputs.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = new_run_id(outputs, now)
        try:
            (outputs / run_id).mkdir()
            break
        except FileExistsError:
            continue
    if publish:
        _point_latest(outputs, run_id)
    return RunFolder(outputs / run_id)


def publish_run(outputs: Path, run: RunFolder) -> None:
    """Point `latest` at a run whose bundle and manifest are written."""
    _point_latest(outputs, run.run_id)


def _point_latest(outputs: Path, run_id: str) -> None:
    link = outputs / LATEST
    tmp = outputs / f".{LATEST}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_id, target_is_directory=True)
    tmp.replace(link)


def previous_run(outputs: Path, run: RunFolder) -> RunFolder | None:
    """The newest complete run (bundle and manifest written) before `run`, if any."""
    earlier = sorted(
        p for p in outputs.iterdir() if p.is_dir() and not p.is_symlink() and p.name < run.run_id
    )
    for path in reversed(earlier):
        if (path / "bundle.json").is_file() and (path / "manifest.json").is_file():
            return RunFolder(path)
    return None


def open_run(outputs: Path, run: str = LATEST) -> RunFolder:
    """The run named `run` (an id or `latest`) under `outputs`.

    Whatever `run` or the `latest` link says, the folder must be a run directly inside
    `outputs`: `--run ..`, `--run /etc` or a `latest` pointing elsewhere are refused.
    """
    check_outputs(outputs)
    path = outputs / run
    if not path.is_dir():
        hint = "run `execbrief collect` or `execbrief run` first"
        if run != LATEST:
            existing = sorted(p.name for p in outputs.glob("2*") if p.is_dir())[-3:]
            hint = "recent runs: " + ", ".join(existing) if existing else hint
        raise ConfigError(f"no run {run!r}", path=outputs, hint=hint)
    resolved = path.resolve()
    if resolved.parent != outputs.resolve() or resolved.name == LATEST:
        raise ConfigError(
            f"run {run!r} is not a run folder inside outputs/ (it leads to {resolved})",
            path=outputs,
            field="--run",
            hint="name a run id from outputs/, or `latest`",
        )
    return RunFolder(resolved)
