"""Regenerate in the background: the page polls the job's state while the model writes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from execbrief.errors import ExecbriefError

log = logging.getLogger(__name__)


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Job:
    """One regenerate of one persona; `step` says where it is, for the page to show."""

    run_id: str
    persona: str
    state: JobState = JobState.RUNNING
    step: str = "starting"
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def as_json(self) -> dict[str, object]:
        end = self.ended if self.ended is not None else time.monotonic()
        return {
            "state": self.state.value,
            "step": self.step,
            "message": self.message,
            "seconds": round(end - self.started, 1),
        }


Work = Callable[[Job], str]


class Jobs:
    """The desk's background jobs; at most one per persona of a run at a time."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], Job] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def get(self, run_id: str, persona: str) -> Job | None:
        with self._lock:
            return self._jobs.get((run_id, persona))

    def running(self, run_id: str) -> list[Job]:
        with self._lock:
            return [
                j for (r, _), j in self._jobs.items() if r == run_id and j.state is JobState.RUNNING
            ]

    def start(self, run_id: str, persona: str, work: Work) -> Job | None:
        """Start `work` in a thread; None when one is already running for this persona."""
        with self._lock:
            existing = self._jobs.get((run_id, persona))
            if existing is not None and existing.state is JobState.RUNNING:
                return None
            job = Job(run_id, persona)
            self._jobs[(run_id, persona)] = job
        # not a daemon: Ctrl-C waits for a model's answer to be written, never half of it
        thread = threading.Thread(target=self._run, args=(job, work), name=f"regenerate-{persona}")
        self._threads.append(thread)
        thread.start()
        return job

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        try:
            job.message = work(job)
            job.state = JobState.DONE
        except ExecbriefError as exc:
            job.message = str(exc) + (f" (hint: {exc.hint})" if exc.hint else "")
            job.state = JobState.FAILED
        except Exception:  # a background thread has no page to fall back on
            log.exception("regenerate of %s failed", job.persona)
            job.message = (
                "regenerate failed unexpectedly; the terminal running the desk has details"
            )
            job.state = JobState.FAILED
        finally:
            job.ended = time.monotonic()

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self._threads):
            thread.join(timeout)
