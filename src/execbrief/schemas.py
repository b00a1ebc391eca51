"""Write the JSON Schemas of the file contracts: `python -m execbrief.schemas [ROOT]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from execbrief.config import WorkspaceConfig
from execbrief.models import Bundle, Manifest, Persona, Report

EXPORTED: dict[str, type[BaseModel]] = {
    "schemas/bundle.schema.json": Bundle,
    "schemas/report.schema.json": Report,
    "schemas/manifest.schema.json": Manifest,
    "schemas/execbrief.schema.json": WorkspaceConfig,
    "personas/schema.json": Persona,
}


def schema_text(model: type[BaseModel]) -> str:
    """The model's JSON Schema as checked-in text (by alias, sorted, newline-terminated)."""
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(root: Path) -> list[Path]:
    written = []
    for relative, model in EXPORTED.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(schema_text(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        sys.stdout.write(f"wrote {path}\n")
