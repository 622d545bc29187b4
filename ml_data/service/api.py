"""The endpoints, as one blueprint: health, info, resources, prefetch jobs, Label Studio webhooks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ml_data._version import __version__
from ml_data.errors import MlDataError
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline import project_resources
from ml_data.resolvers import Resolver, resolve_many
from ml_data.service.errors import ApiError, public_message, status_of
from ml_data.service.files import file_response
from ml_data.service.jobs import Job, JobRegistry
from ml_data.service.openapi import OPENAPI
from ml_data.service.schemas import PREFETCH, WEBHOOK, parse_body
from ml_data.tasks.resources import task_resources

api = Blueprint("api", __name__)
_BATCH = 64
_MAX_URLS = 100_000


def _resolver() -> Resolver:
    return current_app.extensions["ml_data.resolver"]  # type: ignore[no-any-return]


def _jobs() -> JobRegistry:
    return current_app.extensions["ml_data.jobs"]  # type: ignore[no-any-return]


def _task_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "bad_request", f"task_id must be an integer, got {value!r}") from None


@api.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@api.get("/v1/info")
def info():  # type: ignore[no-untyped-def]
    resolver = _resolver()
    cache = resolver.cache.scan()
    return jsonify(
        version=__version__,
        label_studio_url=resolver.settings.label_studio_url,
        cache={"dir": str(cache.root), "entries": len(cache.entries), "bytes": cache.size, "max_size": cache.max_size},
    )


@api.get("/v1/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(OPENAPI)


@api.get("/v1/resources")
def resources():  # type: ignore[no-untyped-def]
    url = request.args.get("url", "")
    if not url:
        raise ApiError(400, "bad_request", "the url parameter is required")
    task_id = _task_id(request.args.get("task_id"))
    resolver = _resolver()
    # Opened once: what is sent (and its size and ETag) is the descriptor that was checked, never
    # the path opened again. The guarded resolver refuses before connecting.
    opened = resolver.open(url, task_id=task_id)
    streaming = False
    try:
        local = opened.local
        if request.args.get("as") == "path":
            size, sha256 = opened.stat.st_size, opened.sha256()
            return jsonify(path=str(local.path), size=size, sha256=sha256, content_type=local.content_type)
        response, streaming = file_response(opened, resolver)
        return response
    finally:
        if not streaming:
            opened.close()


def _items(payload: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(url, task id) pairs from a validated ``{"urls": [...]}`` or ``{"tasks": [...]}`` body."""
    items: list[tuple[str, int | None]] = []
    for entry in payload.get("urls") or []:
        if isinstance(entry, str):
            items.append((entry, None))
        else:
            items.append((entry["url"], entry.get("task_id")))
    tasks = list(payload.get("tasks") or [])
    if isinstance(payload.get("task"), dict):
        tasks.append(payload["task"])
    for task in tasks:
        task_id = task.get("id")
        items += [(url, task_id) for url in task_resources(task.get("data"), None)]
    if len(items) > _MAX_URLS:
        raise ApiError(400, "bad_request", f"at most {_MAX_URLS} URLs per request")
    return items


def _prefetch(resolver: Resolver) -> Any:
    """The job: the guarded resolver refuses what the service may not fetch, recorded per URL."""

    def work(job: Job, items: list[tuple[str, int | None]]) -> None:
        for start in range(0, len(items), _BATCH):
            _resolve_batch(job, resolver, items[start : start + _BATCH])

    return work


def _record(job: Job, url: str, exc: MlDataError) -> None:
    job.failed += 1
    if len(job.errors) < 50:
        job.errors.append({"url": exc.url or "", "error": status_of(exc)[1], "message": public_message(exc)})


@api.post("/v1/prefetch")
def prefetch():  # type: ignore[no-untyped-def]
    payload = parse_body(request.get_data(cache=False), PREFETCH)
    if "project" in payload:
        project = payload["project"]
        resolver = _resolver()
        LabelStudioClient(resolver.settings)  # not configured: fail now, not in the job
        return jsonify(_jobs().submit("prefetch-project", [], _prefetch_project(resolver, project)).as_dict()), 202
    items = _items(payload)
    job = _jobs().submit("prefetch", items, _prefetch(_resolver()))
    return jsonify(job.as_dict()), 202


def _prefetch_project(resolver: Resolver, project: int) -> Any:
    """Every resource of the project's tasks, resolved batch by batch as the export arrives."""

    def work(job: Job, _items: list[Any]) -> None:
        batch: list[tuple[str, int | None]] = []
        for item in project_resources(project, resolver.settings):
            job.total += 1
            batch.append(item)
            if len(batch) >= _BATCH:
                _resolve_batch(job, resolver, batch)
                batch = []
        _resolve_batch(job, resolver, batch)

    return work


def _resolve_batch(job: Job, resolver: Resolver, batch: list[tuple[str, int | None]]) -> None:
    if not batch:
        return
    result = resolve_many(batch, resolver=resolver, progress=False, workers=8)
    job.done += len(result.files)
    for error in result.errors.values():
        _record(job, error.url or "", error)


@api.get("/v1/jobs/<job_id>")
def job(job_id: str):  # type: ignore[no-untyped-def]
    found = _jobs().get(job_id)
    if found is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    return jsonify(found.as_dict())


@api.post("/v1/webhooks/label-studio")
def webhook():  # type: ignore[no-untyped-def]
    """Label Studio's task and annotation events: prefetch the resources of the tasks they carry."""
    payload = parse_body(request.get_data(cache=False), WEBHOOK)
    training = _train(payload) if request.args.get("train", "").lower() in ("1", "true", "yes") else {}
    items = _items({"tasks": payload.get("tasks") or [], "task": payload.get("task")})
    if not items:
        return jsonify(action=payload["action"], job=None, **training), 200
    job = _jobs().submit("webhook-prefetch", items, _prefetch(_resolver()))
    return jsonify(action=payload["action"], job=job.as_dict(), **training), 202


def _train(payload: dict[str, Any]) -> dict[str, Any]:
    """``?train=true``: the event goes to the app's training trigger; its state is answered."""
    trigger = current_app.extensions.get("ml_data.trigger")
    if trigger is None:
        raise ApiError(
            409, "no_trigger", "train=true, but this service has no training trigger (create_app(trigger=...))"
        )
    return {"training": trigger.handle(payload["action"], payload).as_dict()}
