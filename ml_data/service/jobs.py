"""Background jobs (prefetch): a small pool, progress readable while they run, each in the
context of the app that started it (its settings, its error messages)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context

from ml_data.service.errors import public_text, server_paths


@dataclass
class Job:
    id: str
    kind: str
    total: int
    state: str = "queued"
    done: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    #: what a finished job produced (a dataset job: its figures and download link)
    result: dict[str, Any] | None = None
    #: where a dataset job writes its dataset
    output: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "errors": self.errors,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "result": self.result,
        }


class JobRegistry:
    """Jobs of this process (kept for the last ``keep`` jobs)."""

    def __init__(self, workers: int = 2, keep: int = 1000) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ml-data-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def submit(self, kind: str, items: Iterable[Any], work: Callable[[Job, list[Any]], None]) -> Job:
        batch = list(items)
        job = Job(id=uuid.uuid4().hex, kind=kind, total=len(batch))
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.pop(next(iter(self._jobs)))

        app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]

        def run() -> None:
            job.state = "running"
            context: AbstractContextManager[Any] = app.app_context() if app is not None else nullcontext()
            with context:
                try:
                    work(job, batch)
                    job.state = "done" if not job.failed else "done_with_errors"
                except Exception as exc:  # noqa: BLE001 - a job's failure is reported, not raised
                    job.state = "failed"
                    job.errors.append({"error": type(exc).__name__, "message": public_text(exc, server_paths())})
                finally:
                    job.finished_at = time.time()

        self._pool.submit(run)
        return job
