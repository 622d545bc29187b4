"""Train when enough changed: one dataset build and one training for a burst of annotations, however
many events, workers and hosts heard it.

``trigger.handle(event, data)`` (from an ML backend's ``fit()``, or the service's webhook) records
the event's changes in the folder's journal (:mod:`ml_data.backend.journal`) and returns at once.
Once at least ``min_changed`` tasks changed since the last dataset (the manifest shows which did
not, :mod:`ml_data.backend.changes`) and no change came for ``quiet_for`` (or ``max_wait`` passed
since the first one), a background thread takes the folder's lease (:mod:`ml_data.backend.lease`),
counts again under it, builds the dataset incrementally (:func:`ml_data.pipeline.fetch_project`)
and calls ``train(dataset_path, manifest)``. Another process that finds the lease taken waits and
counts again after: the build it waited for has made its count drop.

Its state lives beside the dataset, in ``.<name>.training/`` (the dataset folder itself is replaced
whole by each build).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_data.backend.changes import (
    START_TRAINING,
    Change,
    changed_tasks,
    changes_from_event,
    changes_from_tasks,
    event_project,
    pending,
)
from ml_data.backend.journal import Journal
from ml_data.backend.lease import STALE_AFTER, FolderLease
from ml_data.config import Settings
from ml_data.errors import ConfigurationError
from ml_data.parsing import parse_duration
from ml_data.pipeline.manifest import read_manifest
from ml_data.pipeline.options import DatasetOptions

logger = logging.getLogger(__name__)

#: ``train(dataset_path, manifest)``.
TrainFunction = Callable[[Path, dict[str, Any]], Any]
#: How often a process that found the lease taken counts again.
BUSY_RECHECK = 5.0


@dataclass(frozen=True)
class TriggerState:
    """Where a trigger stands: tasks changed since the last dataset, and when it trains."""

    changed: int
    min_changed: int
    #: seconds until a training is due (0: now); None while fewer than ``min_changed`` changed
    due_in: float | None
    training: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "min_changed": self.min_changed,
            "due_in": self.due_in,
            "training": self.training,
        }


@dataclass
class TrainingRun:
    """One build and training by this process."""

    started: float
    changed: int
    dataset: Path
    finished: float | None = None
    error: str | None = None


@dataclass
class TrainingTrigger:
    """Builds ``out`` from ``project`` and calls ``train(out, manifest)`` once ``min_changed`` tasks
    changed and things are quiet for ``quiet_for``.

    >>> trigger = TrainingTrigger(project=3, format="yolo", split="train=0.8,val=0.2",
    ...                           out="datasets/p3", min_changed=50, quiet_for="10m", train=fit_yolo)  # doctest: +SKIP
    >>> trigger.handle("ANNOTATION_CREATED", payload)  # doctest: +SKIP
    """

    project: int
    out: str | Path
    train: TrainFunction
    format: str = "json"
    split: str | Mapping[str, float] | None = None
    min_changed: int = 50
    quiet_for: str | float = "10m"
    #: train at the latest this long after the first pending change, quiet or not (default 6 x quiet_for)
    max_wait: str | float | None = None
    settings: Settings | None = None
    options: DatasetOptions | None = None
    #: a holder (on any host) whose lease is silent this long is taken to be dead
    stale_after: float = STALE_AFTER
    runs: list[TrainingRun] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.min_changed < 1:
            raise ConfigurationError("min_changed must be at least 1")
        self.out = Path(self.out)
        self.quiet_seconds = _seconds(self.quiet_for, "quiet_for")
        self.max_wait_seconds = (
            _seconds(self.max_wait, "max_wait") if self.max_wait is not None else 6 * self.quiet_seconds
        )
        base = self.options or DatasetOptions()
        self.dataset_options = DatasetOptions(
            **{**base.__dict__, "format": self.format, "split": self.split or base.split}
        )
        self.state_dir = self.out.parent / f".{self.out.name}.training"
        self.journal = Journal(self.state_dir)
        self.lease = FolderLease(self.state_dir, stale_after=self.stale_after)
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._forced = False
        self._training = False
        self._closed = False

    # -- hearing about changes ------------------------------------------------------------------

    def handle(self, event: str, data: Mapping[str, Any]) -> TriggerState:
        """Record a Label Studio event (webhook action and payload); a training starts in the
        background when one is due. Events of other projects, and those that change no dataset,
        change nothing."""
        if not isinstance(data, Mapping):
            return self.state()
        project = event_project(data)
        if project is not None and project != self.project:
            return self.state()
        if event == START_TRAINING:
            with self._wake:
                self._forced = True
        return self.observe(changes_from_event(event, data, time.time()))

    def observe(self, changes: Iterable[Change]) -> TriggerState:
        """Record ``changes`` (from events or a poll) and start the background thread if needed."""
        self.journal.append(list(changes))
        state = self.state()
        if state.due_in is not None:
            self._ensure_thread()
        return state

    def poll(self) -> TriggerState:
        """Count the changes by reading the project's tasks and their annotations (for a process
        that hears no events): what differs from the manifest is recorded as heard now, once."""
        from ml_data.backend.predict import project_tasks
        from ml_data.labelstudio import LabelStudioClient

        client = LabelStudioClient(self.settings or Settings.from_env())
        tasks = (task for task, _total in project_tasks(client, self.project))
        seen = changes_from_tasks(tasks, read_manifest(Path(self.out)), time.time())
        latest = {change.key: change for change in self.journal.read()}
        self.journal.append([change for change in seen if not _same(latest.get(change.key), change)])
        return self.state()

    def state(self) -> TriggerState:
        changes = pending(self.journal.read(), read_manifest(Path(self.out)))
        return self._state(changes)

    def _state(self, changes: list[Change]) -> TriggerState:
        count = len(changed_tasks(changes))
        due_in = None
        if (count >= self.min_changed or self._forced) and (changes or self._forced):
            if changes:
                last = max(change.at for change in changes)
                first = min(change.at for change in changes)
                due = min(last + self.quiet_seconds, first + self.max_wait_seconds)
                due_in = max(0.0, due - time.time())
            else:
                due_in = 0.0
        if self._forced:
            due_in = 0.0
        return TriggerState(count, self.min_changed, due_in, self._training)

    # -- training -------------------------------------------------------------------------------

    def run_once(self, *, force: bool = False) -> TrainingRun | None:
        """Build and train now if enough changed (or ``force``) and no other process is at it;
        the run, or None when nothing was done. Blocks until the training returns."""
        if not self.lease.try_acquire():
            return None
        try:
            changes = pending(self.journal.read(), read_manifest(Path(self.out)))
            count = len(changed_tasks(changes))
            forced = force or self._forced
            if count < self.min_changed and not forced:
                return None  # counted again under the lease: another process built meanwhile
            from ml_data.pipeline import fetch_project

            run = TrainingRun(started=time.time(), changed=count, dataset=Path(self.out))
            self.runs.append(run)
            self._training, self._forced = True, False
            try:
                fetch_project(
                    self.project,
                    out=self.out,
                    settings=self.settings or Settings.from_env(),
                    options=self.dataset_options,
                )
                manifest = read_manifest(Path(self.out)) or {}
                self.journal.compact(manifest)
                self.train(Path(self.out), manifest)
            except Exception as exc:  # the build's or the user's training: recorded, not raised in a thread
                run.error = f"{type(exc).__name__}: {exc}"
                logger.error("training of project %s failed: %s", self.project, run.error)
            finally:
                run.finished = time.time()
                self._training = False
            return run
        finally:
            self.lease.release()

    def wait(self, timeout: float) -> bool:
        """Wait until the background thread is idle (nothing due, nothing running); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            thread.join(min(remaining, 0.2))

    def close(self) -> None:
        """Stop the background thread after its current training (if any)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _ensure_thread(self) -> None:
        with self._wake:
            if self._closed:
                return
            if self._thread is not None and self._thread.is_alive():
                self._wake.notify_all()  # a new change moves the due time
                return
            self._thread = threading.Thread(target=self._loop, name=f"ml-data-train-{self.project}", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        """Wait until a training is due, run it (or let another process's run count), until
        nothing is due."""
        while True:
            state = self.state()
            if state.due_in is None or self._closed:
                return
            if state.due_in > 0:
                with self._wake:
                    self._wake.wait(min(state.due_in, 60.0))
                continue
            run = self.run_once()
            if run is None and self.state().due_in is not None:
                with self._wake:  # another process holds the lease: count again once it may be done
                    self._wake.wait(BUSY_RECHECK)
            elif run is not None and run.error is not None:
                with self._wake:  # a failed build: no hurry to fail again
                    self._wake.wait(max(self.quiet_seconds, 30.0))


def _same(known: Change | None, seen: Change) -> bool:
    return known is not None and (known.task, known.updated_at, known.deleted) == (
        seen.task,
        seen.updated_at,
        seen.deleted,
    )


def _seconds(value: str | float, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = parse_duration(str(value))
    if seconds < 0:
        raise ConfigurationError(f"{name} must not be negative")
    return seconds


__all__ = ["TrainFunction", "TrainingRun", "TrainingTrigger", "TriggerState"]
