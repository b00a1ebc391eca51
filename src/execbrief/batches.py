"""A Message Batch that outlives the process that submitted it: `run --batch --no-wait`
submits, `execbrief batch status|fetch` look and finish later, from any process.

The run folder holds what the later process needs:

- `batch.json` (BatchSubmission): the batch id, when it went, which custom_id is which
  persona, and how to finish (strict, notes); `fetched_at` once finished;
- `batch-requests.json`: the persona requests exactly as submitted, so the fetch checks
  the answers against what was asked and re-asks (a repair) with the same prompt;
- `batch-results.jsonl`: this run's share of the batch's results, written by the fetch
  before generate finishes from it, so a fetch killed half-way resumes without the API.

One batch may serve many workspaces (`run --workspaces ... --batch`): custom_id is then
`<workspace index>-<persona>`, and each run's batch.json lists only its own.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, TypeAdapter

from execbrief.errors import ConfigError
from execbrief.files import write_atomic
from execbrief.jsonl import read_lines
from execbrief.llm.base import BriefRequest
from execbrief.models import Strict
from execbrief.runs import RunFolder, read_model

if TYPE_CHECKING:
    from anthropic.types.messages import MessageBatchIndividualResponse

BATCH_FILE = "batch.json"
REQUESTS_FILE = "batch-requests.json"
RESULTS_FILE = "batch-results.jsonl"
# The API's custom_id: letters, digits, `-` and `_`, at most 64.
CUSTOM_ID_MAX = 64

_REQUESTS = TypeAdapter(list[BriefRequest])


class BatchSubmission(Strict):
    """batch.json: one run's part of a submitted Message Batch."""

    batch_id: str
    submitted_at: datetime
    custom_ids: dict[str, str] = Field(description="custom_id -> persona id.")
    strict: bool = Field(False, description="A grounding warning fails its persona.")
    notes: dict[str, str] = Field(default_factory=dict, description="Persona -> analyst note.")
    fetched_at: datetime | None = Field(None, description="When generate finished from it.")


def custom_id(index: int | None, persona: str) -> str:
    """The persona's id in the batch: the persona, or `<index>-<persona>` in a shared one."""
    made = persona if index is None else f"{index}-{persona}"
    if len(made) > CUSTOM_ID_MAX:
        raise ConfigError(
            f"persona id {persona!r} is too long for a batch request id",
            field="personas",
            hint=f"keep persona ids under {CUSTOM_ID_MAX - 6} characters",
        )
    return made


def has_submission(run: RunFolder) -> bool:
    return (run.path / BATCH_FILE).is_file()


def read_submission(run: RunFolder) -> BatchSubmission:
    path = run.path / BATCH_FILE
    if not path.is_file():
        raise ConfigError(
            f"run {run.run_id} has no submitted batch",
            path=run.path,
            hint="submit one with `execbrief run --batch --no-wait`",
        )
    return read_model(path, BatchSubmission, "submit the batch again: `execbrief run --batch`")


def write_submission(run: RunFolder, submission: BatchSubmission) -> None:
    write_atomic(run.path / BATCH_FILE, submission.model_dump_json(indent=2) + "\n")


def write_requests(run: RunFolder, requests: list[BriefRequest]) -> None:
    write_atomic(run.path / REQUESTS_FILE, _REQUESTS.dump_json(requests))


def read_requests(run: RunFolder) -> list[BriefRequest]:
    path = run.path / REQUESTS_FILE
    if not path.is_file():
        raise ConfigError(
            f"run {run.run_id} has no {REQUESTS_FILE}: its batch cannot be finished here",
            path=run.path,
            hint="submit it again: `execbrief run --batch --no-wait`",
        )
    return _REQUESTS.validate_json(path.read_bytes())


def write_results(run: RunFolder, lines: list[MessageBatchIndividualResponse]) -> None:
    """This run's result lines, replacing any earlier download."""
    write_atomic(run.path / RESULTS_FILE, "".join(line.model_dump_json() + "\n" for line in lines))


def read_results(run: RunFolder) -> dict[str, MessageBatchIndividualResponse]:
    """custom_id -> its result line, as the fetch wrote them."""
    # the SDK is imported when a batch is read, not by every command that imports this
    from anthropic.types.messages import MessageBatchIndividualResponse

    parse = MessageBatchIndividualResponse.model_validate_json
    lines, _ = read_lines(run.path / RESULTS_FILE, parse)
    return {line.custom_id: line for line in lines}


def newest_submitted(outputs: Path) -> RunFolder | None:
    """The newest run with a batch.json (what `batch status|fetch` default to)."""
    if not outputs.is_dir():
        return None
    runs = sorted((p for p in outputs.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True)
    return next((RunFolder(p) for p in runs if (p / BATCH_FILE).is_file()), None)
