"""Label Studio projects over the sidecar: their tasks (resource URLs optionally pointing at the
sidecar), datasets built by the fetch pipeline as background jobs, and those datasets as zips."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context

from ml_data.config import Settings
from ml_data.errors import ConfigurationError
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline import DatasetOptions, fetch_project
from ml_data.pipeline.archive import remove_stale_snapshots, snapshot_dataset, zip_stream
from ml_data.resolvers import Resolver
from ml_data.service.errors import ApiError, server_paths
from ml_data.service.jobs import Job, JobRegistry
from ml_data.service.schemas import DATASET, parse_body
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.resources import resource_keys, rewrite_resources, task_resources
from ml_data.urls import HttpURL

projects = Blueprint("projects", __name__)
_MAX_PAGE_SIZE = 1000


def _settings() -> Settings:
    return current_app.extensions["ml_data.resolver"].settings  # type: ignore[no-any-return]


def _resolver() -> Resolver:
    return current_app.extensions["ml_data.resolver"]  # type: ignore[no-any-return]


def _jobs() -> JobRegistry:
    return current_app.extensions["ml_data.jobs"]  # type: ignore[no-any-return]


def _datasets_dir() -> Path:
    return current_app.extensions["ml_data.datasets_dir"]  # type: ignore[no-any-return]


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "bad_request", f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise ApiError(400, "bad_request", f"{name} must be between {low} and {high}")
    return number


@projects.get("/v1/projects/<int:project_id>/tasks")
def tasks(project_id: int):  # type: ignore[no-untyped-def]
    """One page of the project's tasks; ``rewrite=true`` points their resource URLs at this
    service's /v1/resources, for backends that reach neither Label Studio nor the buckets.
    Tasks come back as Label Studio sent them otherwise (a ``"data": null`` stays null); an entry
    of Label Studio's list that is not a task object is a 502 naming Label Studio's URL."""
    page = _int_arg("page", 1, 1, 10**9)
    page_size = _int_arg("page_size", 100, 1, _MAX_PAGE_SIZE)
    client = LabelStudioClient(_settings())
    found, total = client.task_page(project_id, page=page, page_size=page_size)
    if request.args.get("rewrite", "").lower() in ("1", "true", "yes"):
        project = client.project(project_id)
        keys = resource_keys(parse_label_config(project.label_config) if project.label_config else None)
        base = f"{_public_base()}/v1/resources"
        found = [_rewritten(task, keys, base) for task in found]
    return jsonify(tasks=found, total=total, page=page, page_size=page_size)


def _public_base() -> str:
    """This service's URL as its client reached it: ``ML_DATA_SERVICE_URL`` when configured, else
    the request's Host as checked on arrival (never a name the Host check refused), else, for a
    request without a Host header, the address the server listens on."""
    configured: str | None = current_app.extensions["ml_data.public_url"]
    if configured:
        return configured
    host: HttpURL | None = g.get("host")
    if host is None:
        return request.host_url.rstrip("/")
    return f"{host.scheme}://{host.netloc}{request.script_root}"


def _rewritten(task: Mapping[str, Any], keys: list[str] | None, base: str) -> dict[str, Any]:
    """The task with each resource URL in its data replaced by ``base`` with the URL (and task
    id) as parameters; a task whose data is not an object has no resources and is left as it is."""
    data = task.get("data")
    if not isinstance(data, Mapping):
        return dict(task)
    task_id = task.get("id")
    with_id = {"task_id": task_id} if isinstance(task_id, int) else {}
    links = {url: f"{base}?{urlencode({'url': url, **with_id})}" for url in task_resources(data, keys)}
    return {**task, "data": rewrite_resources(data, keys, links)}


def _options(payload: dict[str, Any]) -> DatasetOptions:
    """Dataset options from a body already checked against :data:`~ml_data.service.schemas.DATASET`."""
    try:
        return DatasetOptions(**payload)
    except ConfigurationError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


_FOLDER_LOCKS: dict[Path, threading.Lock] = {}
_FOLDER_LOCKS_GUARD = threading.Lock()


def _folder_lock(folder: Path) -> threading.Lock:
    with _FOLDER_LOCKS_GUARD:
        return _FOLDER_LOCKS.setdefault(folder, threading.Lock())


def _dataset_folder(project_id: int, options: DatasetOptions) -> Path:
    """One folder per project and choice of options, so a repeated request updates it incrementally."""
    digest = hashlib.sha256(orjson.dumps(options.fingerprint(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    return _datasets_dir() / f"project-{project_id}-{options.format}-{digest}"


@projects.post("/v1/projects/<int:project_id>/datasets")
def build(project_id: int):  # type: ignore[no-untyped-def]
    """Build (or update) a dataset with the fetch pipeline in the background; returns the job."""
    options = _options(parse_body(request.get_data(cache=False), DATASET))
    settings, resolver = _settings(), _resolver()
    LabelStudioClient(settings)  # not configured: fail now, not in the job
    out = _dataset_folder(project_id, options)

    def work(job: Job, _items: list[Any]) -> None:
        with _folder_lock(out):  # the same dataset requested twice: built once, then found unchanged
            report = fetch_project(project_id, out=out, settings=settings, options=options, resolver=resolver)
        job.total = report.tasks
        job.done = report.tasks
        job.result = {
            "tasks": report.tasks,
            "tasks_changed": report.tasks_changed,
            "unchanged": report.unchanged,
            "files": report.files_linked + report.files_copied + report.files_kept,
            "bytes": report.bytes_total,
            "failures": {url: server_paths().hide(message) for url, message in report.failures.items()},
            **report.filters(),
            "download": f"/v1/datasets/{job.id}/download",
        }

    job = _jobs().submit("dataset", [], work)
    job.output = out
    return jsonify(job.as_dict()), 202


@projects.get("/v1/datasets/<job_id>/download")
def download(job_id: str):  # type: ignore[no-untyped-def]
    """The dataset of a finished job as a zip, streamed (files stored as they are)."""
    job = _jobs().get(job_id)
    if job is None or job.kind != "dataset" or job.output is None:
        raise ApiError(404, "not_found", f"no dataset job {job_id}")
    if job.state in ("queued", "running"):
        raise ApiError(409, "not_ready", f"dataset job {job_id} is {job.state}")
    if job.state == "failed":
        raise ApiError(
            409, "job_failed", f"dataset job {job_id} failed: {job.errors[-1]['message'] if job.errors else ''}"
        )
    folder = job.output
    downloads = _datasets_dir() / ".downloads"
    remove_stale_snapshots(downloads)
    snapshot, names = snapshot_dataset(folder, downloads / uuid.uuid4().hex)
    if snapshot is None:
        raise ApiError(404, "not_found", f"the dataset of job {job_id} is gone")
    return Response(
        stream_with_context(zip_stream(snapshot, names, remove_after=True)),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{folder.name}.zip"'},
    )
