"""The predictions a project already holds, so that an import run again adds nothing twice.

Label Studio keeps every prediction posted, the same one twice included. Before posting, the
project's predictions are read once (``GET /api/predictions/?project=<id>``, a list, or pages of
``results`` where a server pages it); a new prediction is left out when its task already holds one
of the same model version with an equal result, or, when replacing, that version's old ones are
deleted first (``DELETE /api/predictions/<id>/``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_data.errors import RemoteNotFound, UpstreamError
from ml_data.jsonio import dumps, loads
from ml_data.labelstudio import LabelStudioClient

#: What Label Studio writes for a prediction posted without a version: its prediction import
#: "undefined", its single-prediction endpoint "".
_NO_VERSION = frozenset({"", "undefined"})
#: Pages read at most when the server pages the list (a loop guard, not a limit in practice).
_MAX_PAGES = 100_000


@dataclass(frozen=True)
class Existing:
    """One prediction Label Studio holds: its id, task, model version and result."""

    id: int
    task: int
    model_version: str
    result: Any


def existing_predictions(
    client: LabelStudioClient, project: int, tasks: Iterable[int], model_version: str | None
) -> dict[int, list[Existing]]:
    """The predictions of ``model_version`` (None: those posted without one) on ``tasks``, by task."""
    wanted = set(tasks)
    versions = frozenset({model_version}) if model_version else _NO_VERSION
    found: dict[int, list[Existing]] = {}
    if not wanted:
        return found
    for item in _listed(client, project):
        task, ident = _id(item.get("task")), _id(item.get("id"))
        version = item.get("model_version") or ""
        if task is None or ident is None or task not in wanted or version not in versions:
            continue
        found.setdefault(task, []).append(Existing(ident, task, version, item.get("result")))
    return found


def same_result(ours: Sequence[Mapping[str, Any]], theirs: Any) -> bool:
    """The same regions, as JSON reads them (key order, tuples and ``1`` against ``1.0`` aside)."""
    return bool(loads(dumps(list(ours))) == theirs)


def delete_prediction(client: LabelStudioClient, prediction: Existing) -> None:
    """Delete one prediction (one already gone counts as deleted)."""
    try:
        client.call(
            "DELETE",
            f"api/predictions/{int(prediction.id)}/",
            what=f"deleting prediction {prediction.id} of task {prediction.task}",
        )
    except RemoteNotFound:
        return


def _listed(client: LabelStudioClient, project: int) -> Iterator[Mapping[str, Any]]:
    what = f"listing the predictions of project {project}"
    page = 1
    while page <= _MAX_PAGES:
        params: dict[str, Any] = {"project": int(project)}
        if page > 1:
            params["page"] = page
        body = client.json("GET", "api/predictions/", params=params, what=what, project_id=project)
        items = body.get("results") if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            raise UpstreamError(
                f"the answer to {what} is not a list of predictions", url=client.url("api/predictions/")
            )
        yield from (item for item in items if isinstance(item, Mapping))
        if not (isinstance(body, Mapping) and body.get("next") and items):
            return
        page += 1


def _id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
