"""A model's answer, checked: one list of predictions per task, or a typed error.

An ML backend is a server the user configured, and a predict function is the user's code: either
may answer with anything (a list one item short, a string, a score of NaN, megabytes of regions).
What Label Studio is sent is built only from what passed these checks. Pure functions, no I/O.

Label Studio accepts, for each task, one prediction ``{"result": [...], "score": ...}`` or a list of
them (``ml/models.py``); both are read here, into :class:`Prediction` values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_data.errors import InvalidPredictions

#: Predictions one task may get from one answer, and regions one prediction may hold.
MAX_PREDICTIONS_PER_TASK = 100
MAX_REGIONS = 10_000


@dataclass(frozen=True)
class Prediction:
    """One prediction for one task, as Label Studio stores it."""

    task: int
    result: list[dict[str, Any]]
    score: float | None

    def as_dict(self, model_version: str) -> dict[str, Any]:
        """The body of ``POST /api/predictions/`` (and one item of a bulk prediction import)."""
        return {"task": self.task, "result": self.result, "score": self.score, "model_version": model_version}


def backend_results(body: Any, *, url: str) -> list[Any]:
    """The ``results`` list of an ML backend's ``/predict`` answer."""
    if not isinstance(body, Mapping):
        raise InvalidPredictions(f"the ML backend's answer is {type(body).__name__}, not an object", url=url)
    results = body.get("results")
    if not isinstance(results, list):
        raise InvalidPredictions("the ML backend's answer has no 'results' list", url=url)
    return results


def predictions_for(tasks: Sequence[int], results: Any, *, source: str, url: str | None = None) -> list[Prediction]:
    """``results`` (one item per task of ``tasks``, in order) read into predictions; any item of the
    wrong shape fails the whole answer, since its items can no longer be matched to tasks with
    certainty. ``source`` says who answered (for the message)."""
    if not isinstance(results, list):
        raise InvalidPredictions(f"{source} answered {type(results).__name__}, not a list", url=url)
    if len(results) != len(tasks):
        raise InvalidPredictions(
            f"{source} answered {len(results)} results for {len(tasks)} tasks ({_task_range(tasks)})", url=url
        )
    found: list[Prediction] = []
    for task_id, item in zip(tasks, results, strict=True):
        items = item if isinstance(item, list) else [item]
        if len(items) > MAX_PREDICTIONS_PER_TASK:
            raise InvalidPredictions(
                f"{source} answered {len(items)} predictions for one task (at most {MAX_PREDICTIONS_PER_TASK})",
                url=url,
                task_id=task_id,
            )
        for one in items:
            found.append(_prediction(task_id, one, source, url))
    return found


def _prediction(task_id: int, item: Any, source: str, url: str | None) -> Prediction:
    if not isinstance(item, Mapping):
        raise InvalidPredictions(
            f"{source} answered {type(item).__name__} for a task, not a prediction object", url=url, task_id=task_id
        )
    result = item.get("result")
    if not isinstance(result, list):
        raise InvalidPredictions(f"{source} answered a prediction without a 'result' list", url=url, task_id=task_id)
    if len(result) > MAX_REGIONS:
        raise InvalidPredictions(
            f"{source} answered {len(result)} regions in one prediction (at most {MAX_REGIONS})",
            url=url,
            task_id=task_id,
        )
    if not all(isinstance(region, Mapping) for region in result):
        raise InvalidPredictions(f"{source} answered a result item that is not an object", url=url, task_id=task_id)
    score = item.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score) or not 0 <= score <= 1
    ):
        # Label Studio's prediction import leaves out, with no word in its answer, a score outside 0-1.
        raise InvalidPredictions(
            f"{source} answered a score that is not a number from 0 to 1: {score!r:.40}", url=url, task_id=task_id
        )
    return Prediction(task_id, [dict(region) for region in result], None if score is None else float(score))


def _task_range(tasks: Sequence[int]) -> str:
    if not tasks:
        return "none"
    return f"task {tasks[0]}" if len(tasks) == 1 else f"tasks {min(tasks)}-{max(tasks)}"


__all__ = ["MAX_PREDICTIONS_PER_TASK", "MAX_REGIONS", "Prediction", "backend_results", "predictions_for"]
