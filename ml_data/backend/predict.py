"""Pre-annotate a project: its tasks, in batches, through a model, stored as predictions.

``predict_project`` streams the project's tasks (the Data Manager's list, by id, a page at a time),
leaves out the tasks that already hold a prediction of the model version (so a run that was killed
continues where it stopped, and a finished one does nothing), sends each batch to an ML backend's
``/predict`` (:mod:`ml_data.backend.ml_api`) or to a Python function that gets the tasks with their
files resolved to local paths, and imports each batch's predictions into Label Studio in one
request. A batch that fails (the model's error, an answer of the wrong shape, a file that cannot be
read) is recorded with its reason (``on_error="skip"``) or stops the run (``"fail"``).
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
from tqdm import tqdm

from ml_data import errors
from ml_data.backend.answers import Prediction, predictions_for
from ml_data.backend.ml_api import MLBackend
from ml_data.config import Settings
from ml_data.labelstudio import LabelStudioClient, Project
from ml_data.redaction import redact_url
from ml_data.resolvers.resolver import Resolver
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.resources import resource_keys, task_resources

#: Tasks per page of the task list.
PAGE_SIZE = 100
#: ``fn(tasks) -> one prediction (or a list of them) per task``, tasks with local file paths.
PredictFunction = Callable[[list[dict[str, Any]]], Sequence[Any]]
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class PredictReport:
    """What a run did: tasks predicted, skipped (by reason) and failed (task id -> reason)."""

    project: int
    model_version: str
    tasks: int = 0
    predicted: int = 0
    predictions: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: dict[int, str] = field(default_factory=dict)
    #: with ``dry_run``: the file the predictions were written to instead of Label Studio
    dry_run: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "model_version": self.model_version,
            "tasks": self.tasks,
            "predicted": self.predicted,
            "predictions": self.predictions,
            "skipped": dict(self.skipped),
            "failed": {str(task): reason for task, reason in self.failed.items()},
            "dry_run": str(self.dry_run) if self.dry_run else None,
        }


def predict_project(
    project: int,
    *,
    backend: str | None = None,
    model: str | PredictFunction | None = None,
    model_version: str | None = None,
    only_unlabeled: bool = False,
    batch: int = 32,
    workers: int = 4,
    on_error: Literal["skip", "fail"] = "skip",
    dry_run: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    progress: bool = False,
) -> PredictReport:
    """Predict every task of ``project`` that has no prediction of the model version yet.

    ``backend``: an ML backend's URL (set up with the project's config, then sent batches as Label
    Studio sends them; its version is used unless ``model_version`` is given). ``model``: a
    function, or ``"package.module:function"``, called with a batch of tasks whose resources are
    local paths, answering one prediction (``{"result": [...], "score": ...}``) or a list of them
    per task; it needs ``model_version``. ``dry_run``: write the predictions to this JSON file (a
    list Label Studio's prediction import reads) instead of storing them.

    >>> report = predict_project(3, backend="http://localhost:9090", model_version="v5")  # doctest: +SKIP
    >>> report.predicted, report.skipped, report.failed  # doctest: +SKIP
    """
    if (backend is None) == (model is None):
        raise errors.ConfigurationError("give either an ML backend URL or a predict function, not both")
    if batch < 1 or workers < 1:
        raise errors.ConfigurationError("batch and workers must be at least 1")
    if on_error not in ("skip", "fail"):
        raise errors.ConfigurationError(f"on_error must be 'skip' or 'fail', not {on_error!r}")
    settings = settings or Settings.from_env()
    client = LabelStudioClient(settings)
    info = client.project(project)
    predict: Callable[[list[dict[str, Any]]], list[Prediction]]
    if backend is not None:
        ml = MLBackend(backend, settings, hostname=client.base_url)
        answered = ml.setup(info, model_version=model_version)
        model_version = model_version or answered
        if not model_version:
            raise errors.ConfigurationError(
                f"the ML backend at {redact_url(ml.url)} answered no model version: give one (--model-version)"
            )

        def predict(tasks: list[dict[str, Any]]) -> list[Prediction]:
            return ml.predict(tasks, info)

    else:
        if not model_version:
            raise errors.ConfigurationError("a predict function needs a model version (--model-version)")
        assert model is not None
        predict = _FunctionModel(load_function(model), info, Resolver(settings, http=client.http))
    run = _Run(client, info, predict, model_version, on_error, progress)
    run.report.dry_run = Path(dry_run) if dry_run is not None else None
    run.execute(only_unlabeled=only_unlabeled, batch=batch, workers=workers)
    return run.report


def load_function(model: str | PredictFunction) -> PredictFunction:
    """``"package.module:function"`` imported (a callable is returned as it is)."""
    if callable(model):
        return model
    module_name, _, name = str(model).partition(":")
    if not module_name or not name:
        raise errors.ConfigurationError(f"--model must be 'package.module:function', not {model!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise errors.ConfigurationError(f"cannot import {module_name} for --model {model}: {exc}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise errors.ConfigurationError(f"{module_name} has no function {name} (--model {model})")
    return function  # type: ignore[no-any-return]


def is_labeled(task: Mapping[str, Any]) -> bool:
    """The task has an annotation that was not cancelled (Label Studio's own flag, or its list)."""
    annotations = task.get("annotations") or ()
    return bool(task.get("is_labeled")) or any(
        isinstance(item, Mapping) and not item.get("was_cancelled") for item in annotations
    )


def has_version(task: Mapping[str, Any], model_version: str) -> bool:
    """The task already holds a prediction of ``model_version``."""
    return any(
        isinstance(item, Mapping) and item.get("model_version") == model_version
        for item in task.get("predictions") or ()
    )


def project_tasks(client: LabelStudioClient, project_id: int) -> Iterator[tuple[dict[str, Any], int]]:
    """Every task of the project with its annotations and predictions, by id, a page at a time,
    each with the number of tasks in all (a run adds no tasks, so the pages stay in place while it
    stores predictions)."""
    page = 1
    while True:
        try:
            body = client.json(
                "GET",
                "api/tasks",
                params={
                    "project": project_id,
                    "fields": "all",
                    "page": page,
                    "page_size": PAGE_SIZE,
                    "query": orjson.dumps({"ordering": ["tasks:id"]}).decode(),
                },
                what=f"listing tasks of project {project_id} (page {page})",
                project_id=project_id,
            )
        except errors.RemoteNotFound:
            if page > 1:
                return  # Label Studio answers a page past the end with 404
            raise
        tasks = body.get("tasks") if isinstance(body, Mapping) else None
        total = body.get("total") if isinstance(body, Mapping) else None
        if not isinstance(tasks, list):
            raise errors.UpstreamError(
                f"the task list of project {project_id} has no tasks array", url=client.url("api/tasks")
            )
        for task in tasks:
            if not isinstance(task, Mapping) or not isinstance(task.get("id"), int):
                raise errors.UpstreamError(
                    f"the task list of project {project_id} holds an entry that is not a task",
                    url=client.url("api/tasks"),
                )
            yield dict(task), total if isinstance(total, int) else 0
        if len(tasks) < PAGE_SIZE:
            return
        page += 1


class _FunctionModel:
    """A predict function, given tasks whose resources are local paths; its answer checked."""

    def __init__(self, function: PredictFunction, project: Project, resolver: Resolver) -> None:
        self.function = function
        config = parse_label_config(project.label_config) if project.label_config else None
        self.keys = resource_keys(config)
        self.resolver = resolver
        self.name = getattr(function, "__qualname__", repr(function))

    def __call__(self, tasks: list[dict[str, Any]]) -> list[Prediction]:
        local = [self._localized(task) for task in tasks]
        try:
            answer = self.function(local)
        except errors.MlDataError:
            raise
        except Exception as exc:  # the user's code: its failure is this batch's, said with its type
            raise errors.InvalidPredictions(
                f"the predict function {self.name} raised {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
        return predictions_for(
            [int(task["id"]) for task in tasks], list(answer) if isinstance(answer, tuple) else answer, source=self.name
        )

    def _localized(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``task`` whose resource URLs are the paths of their local files."""
        data = task.get("data")
        if not isinstance(data, Mapping):
            return dict(task)
        task_id = int(task["id"])
        paths = {url: str(self.resolver.resolve(url, task_id=task_id).path) for url in task_resources(data, self.keys)}

        def local(value: Any) -> Any:
            if isinstance(value, list):
                return [local(item) for item in value]
            return paths.get(value, value) if isinstance(value, str) else value

        return {**task, "data": {key: local(value) for key, value in data.items()}}


@dataclass
class _Outcome:
    tasks: list[int]
    predictions: list[Prediction] = field(default_factory=list)
    error: errors.MlDataError | None = None
    #: the tasks the error concerns (None: all of them)
    failed: list[int] | None = None


class _Run:
    """One run: pages of tasks in, batches out to the workers, outcomes into the report."""

    def __init__(
        self,
        client: LabelStudioClient,
        project: Project,
        predict: Callable[[list[dict[str, Any]]], list[Prediction]],
        model_version: str,
        on_error: str,
        progress: bool,
    ) -> None:
        self.client = client
        self.project = project
        self.predict = predict
        self.model_version = model_version
        self.on_error = on_error
        self.progress = progress
        self.report = PredictReport(project=project.id, model_version=model_version)
        self._dry_file: BinaryIO | None = None
        self._dry_separator = b"["
        self._lock = threading.Lock()

    def execute(self, *, only_unlabeled: bool, batch: int, workers: int) -> None:
        partial = None
        if self.report.dry_run is not None:
            target = self.report.dry_run
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
            self._dry_file = open(partial, "wb")
        try:
            self._execute(only_unlabeled, batch, workers)
            if self._dry_file is not None and partial is not None and self.report.dry_run is not None:
                self._dry_file.write(b"[]" if self._dry_separator == b"[" else b"]\n")
                self._dry_file.close()
                os.replace(partial, self.report.dry_run)
        finally:
            if self._dry_file is not None:
                self._dry_file.close()
            if partial is not None:
                partial.unlink(missing_ok=True)

    def _execute(self, only_unlabeled: bool, batch: int, workers: int) -> None:
        bar = tqdm(total=None, unit="task", desc="predict", disable=not self.progress, leave=False)
        in_flight: set[Future[_Outcome]] = set()
        with bar, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ml-data-predict") as pool:
            try:
                pending: list[dict[str, Any]] = []
                for task, total in self._tasks():
                    bar.total = total
                    self.report.tasks += 1
                    if has_version(task, self.model_version):
                        self.report.skipped[f"already predicted by {self.model_version}"] += 1
                        bar.update(1)
                        continue
                    if only_unlabeled and is_labeled(task):
                        self.report.skipped["labeled"] += 1
                        bar.update(1)
                        continue
                    pending.append(task)
                    if len(pending) >= batch:
                        in_flight.add(pool.submit(self._batch, pending))
                        pending = []
                        # Memory stays bounded: a few batches per worker wait at most.
                        while len(in_flight) >= 2 * workers:
                            in_flight = self._collect(in_flight, bar)
                if pending:
                    in_flight.add(pool.submit(self._batch, pending))
                while in_flight:
                    in_flight = self._collect(in_flight, bar)
            except BaseException:
                # Stopping (on_error="fail", Ctrl-C): batches not started yet are not sent.
                for future in in_flight:
                    future.cancel()
                raise

    def _collect(self, in_flight: set[Future[_Outcome]], bar: Any) -> set[Future[_Outcome]]:
        done, rest = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            outcome = future.result()
            bar.update(len(outcome.tasks))
            if outcome.error is not None:
                if self.on_error == "fail":
                    raise outcome.error
                reason = f"{type(outcome.error).__name__}: {outcome.error}"
                for task_id in outcome.tasks if outcome.failed is None else outcome.failed:
                    self.report.failed[task_id] = reason
            self.report.predicted += len({prediction.task for prediction in outcome.predictions})
            self.report.predictions += len(outcome.predictions)
            if self._dry_file is not None:
                for prediction in outcome.predictions:
                    self._dry_file.write(self._dry_separator + orjson.dumps(prediction.as_dict(self.model_version)))
                    self._dry_separator = b",\n"
        return rest

    def _tasks(self) -> Iterator[tuple[dict[str, Any], int]]:
        return project_tasks(self.client, self.project.id)

    def _batch(self, tasks: list[dict[str, Any]]) -> _Outcome:
        """One batch: predict, then store (unless a dry run). Errors are the outcome, not raised."""
        outcome = _Outcome([int(task["id"]) for task in tasks])
        try:
            outcome.predictions = self.predict(tasks)
            missing = self._store(outcome.predictions) if self._dry_file is None else []
        except errors.MlDataError as exc:
            outcome.error = exc
            return outcome
        if missing:
            outcome.failed = missing
            outcome.predictions = [p for p in outcome.predictions if p.task not in set(missing)]
            outcome.error = errors.InvalidPredictions(
                f"Label Studio left out the predictions of tasks {missing[:20]} (it drops those that do not fit "
                "the labeling config, and its log says why)",
                url=self.client.url(f"api/projects/{self.project.id}/import/predictions"),
            )
        return outcome

    def _store(self, predictions: list[Prediction]) -> list[int]:
        """The batch's predictions in one import request. A failed request may still have been
        stored: before trying again, the tasks that now hold the version are left out, so no task
        gets the batch twice."""
        attempt = 0
        todo = predictions
        while todo:
            try:
                answer = self.client.json(
                    "POST",
                    f"api/projects/{self.project.id}/import/predictions",
                    json_body=[prediction.as_dict(self.model_version) for prediction in todo],
                    what=f"storing {len(todo)} predictions in project {self.project.id}",
                    project_id=self.project.id,
                )
                created = answer.get("created") if isinstance(answer, Mapping) else None
                if created != len(todo):
                    # Label Studio leaves out a prediction it finds invalid and says only how many
                    # it stored: the tasks still without the version are this batch's failures.
                    return sorted({p.task for p in todo if not self._holds_version(p.task)})
                return []
            except errors.UpstreamError as exc:
                retryable = isinstance(exc, errors.UpstreamUnavailable | errors.UpstreamTimeout) or (
                    isinstance(exc, errors.UpstreamHTTPError) and exc.status_code in _RETRY_STATUSES
                )
                if not retryable or attempt >= self.client.settings.retries:
                    raise
            time.sleep(min(30.0, max(self.client.settings.backoff_factor, 0.0) * 2**attempt))
            attempt += 1
            stored = {task for task in {p.task for p in todo} if self._holds_version(task)}
            todo = [prediction for prediction in todo if prediction.task not in stored]
        return []

    def _holds_version(self, task_id: int) -> bool:
        found = self.client.json(
            "GET",
            "api/predictions/",
            params={"task": task_id},
            what=f"reading the predictions of task {task_id}",
            project_id=self.project.id,
        )
        return isinstance(found, list) and has_version({"predictions": found}, self.model_version)


__all__ = [
    "PredictFunction",
    "PredictReport",
    "has_version",
    "is_labeled",
    "load_function",
    "predict_project",
    "project_tasks",
]
