"""Posting predictions to Label Studio: in batches through the project's prediction import
(``POST /api/projects/<id>/import/predictions``), one request per batch.

Label Studio refuses a whole batch when one prediction in it is wrong (a task deleted since the
dataset was fetched): that batch is then posted one prediction at a time
(``POST /api/predictions/``), so the report names the very ones refused and the others are kept.

The prediction import checks each result's names against the config's tags as written, so it
drops, without saying which, a result on a page of a ``<Repeater>`` (``labels_2`` on ``page_2``,
the names Label Studio gives the page's tags and stores in annotations). Such predictions
(``one_by_one``) go straight to ``POST /api/predictions/``, which stores them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_data.backend.predictions.report import ImportReport
from ml_data.errors import UpstreamHTTPError
from ml_data.labelstudio import LabelStudioClient

#: Predictions per request: under the 500 Label Studio validates in one go before it writes any.
BATCH_SIZE = 200


@dataclass(frozen=True)
class Prediction:
    """One task's prediction, as Label Studio takes it (``body``), and the file it came from."""

    source: str
    task: int
    body: Mapping[str, Any]
    #: posted alone: the prediction import would drop it (results on a Repeater's pages)
    one_by_one: bool = False


def post_predictions(
    client: LabelStudioClient, project_id: int, predictions: Sequence[Prediction], report: ImportReport
) -> None:
    """Post ``predictions``, counting what Label Studio created in ``report.posted``."""
    _one_by_one(client, [prediction for prediction in predictions if prediction.one_by_one], report)
    batched = [prediction for prediction in predictions if not prediction.one_by_one]
    for start in range(0, len(batched), BATCH_SIZE):
        batch = batched[start : start + BATCH_SIZE]
        try:
            answer = client.json(
                "POST",
                f"api/projects/{int(project_id)}/import/predictions",
                json_body=[prediction.body for prediction in batch],
                what=f"importing {len(batch)} predictions into project {project_id}",
                project_id=project_id,
            )
        except UpstreamHTTPError as exc:
            if exc.status_code != 400:
                raise
            _one_by_one(client, batch, report)
            continue
        created = answer.get("created") if isinstance(answer, Mapping) else None
        if isinstance(created, int) and not isinstance(created, bool) and 0 <= created <= len(batch):
            report.posted += created
            if created < len(batch):
                report.warn(f"Label Studio created {created} of a batch of {len(batch)} predictions (its log says why)")
        else:
            report.posted += len(batch)


def _one_by_one(client: LabelStudioClient, batch: Sequence[Prediction], report: ImportReport) -> None:
    for prediction in batch:
        try:
            client.json(
                "POST",
                "api/predictions/",
                json_body=prediction.body,
                what=f"posting the prediction for task {prediction.task}",
            )
        except UpstreamHTTPError as exc:
            if exc.status_code not in (400, 404):
                raise
            report.problem(prediction.source, f"Label Studio refused the prediction for task {prediction.task}")
            continue
        report.posted += 1
