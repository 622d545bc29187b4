"""Label Studio's REST API, the parts ml-data needs: projects, exports, and the task list.

Authentication (legacy token or personal access token, bound to the Label Studio origin) is the
HTTP client's credentials (:mod:`ml_data.labelstudio.auth`); this module turns Label Studio's
answers into the errors a user can act on: which URL was tried, which kind of token was refused
and how to get the other, which project is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import requests

from ml_data import errors
from ml_data.config import Settings
from ml_data.http import HttpClient
from ml_data.labelstudio.auth import LabelStudioAuth, http_client
from ml_data.labelstudio.explain import explain

logger = logging.getLogger(__name__)

#: Label Studio builds a whole export before it sends the first byte (about 2.7 ms per task).
EXPORT_READ_TIMEOUT = 1800.0
#: How long a snapshot export may take to finish on the server, and how often to ask.
SNAPSHOT_TIMEOUT = 3 * 3600.0
SNAPSHOT_POLL_INTERVAL = 0.5
#: Tasks per chunked export request at most (Django refuses more than 1,000 query fields).
EXPORT_CHUNK_SIZE = 990
#: Bytes of ids in a chunk's URL: under the 8 KB request line that proxies such as nginx accept.
EXPORT_QUERY_BUDGET = 6000
#: Chunks are used while the id range is at most this many times the number of tasks.
SPARSE_IDS_FACTOR = 4


@dataclass(frozen=True)
class Project:
    """A project as Label Studio describes it (``GET /api/projects/<id>``)."""

    id: int
    title: str
    label_config: str
    task_count: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


class LabelStudioClient:
    """One Label Studio server, reached with one token.

    >>> client = LabelStudioClient(Settings.from_env())  # doctest: +SKIP
    >>> client.project(3).title  # doctest: +SKIP
    >>> client.export(3, Path("export.json"))  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, *, http: HttpClient | None = None) -> None:
        if not settings.label_studio_url:
            raise errors.LabelStudioNotConfigured(
                "no Label Studio URL: set LABEL_STUDIO_URL (e.g. http://localhost:8080) or pass --url"
            )
        if not settings.api_key:
            raise errors.ConfigurationError(
                "no Label Studio token: set LABEL_STUDIO_API_KEY (or pass --token) to a legacy token or a "
                "personal access token from Account & Settings"
            )
        self.settings = settings
        self.base_url = settings.label_studio_url.rstrip("/")
        self.http = http or http_client(settings)
        if not isinstance(self.http.credentials, LabelStudioAuth):
            raise errors.ConfigurationError("the HTTP client has no Label Studio credentials")
        self.auth: LabelStudioAuth = self.http.credentials

    # -- requests -------------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None) -> str:
        """An absolute API URL on the configured server."""
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return f"{self.base_url}/{path.lstrip('/')}{query}"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        what: str,
        project_id: int | None = None,
        stream: bool = False,
        read_timeout: float | None = None,
    ) -> requests.Response:
        """One API request; failures raised as typed errors that say what was being done."""
        url = self.url(path, params)
        try:
            return self.http.request(
                method, url, json_body=json_body, stream=stream, read_timeout=read_timeout, api=True
            )
        except errors.UpstreamError as exc:
            raise explain(exc, self.auth, self.base_url, url=url, what=what, project_id=project_id) from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`call`, then the body as JSON (a non-JSON answer means this is not Label Studio's API)."""
        response = self.call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise errors.UpstreamError(
                f"the answer to {kwargs.get('what', path)} is not JSON: is {self.base_url} the root URL of "
                "Label Studio?",
                url=self.url(path),
            ) from None

    # -- projects ---------------------------------------------------------------------------------

    def project(self, project_id: int) -> Project:
        """The project's title and labeling config."""
        body = self.json(
            "GET", f"api/projects/{int(project_id)}/", what=f"reading project {project_id}", project_id=project_id
        )
        if not isinstance(body, Mapping) or "label_config" not in body:
            raise errors.UpstreamError(
                f"the answer for project {project_id} has no label_config: is {self.base_url} Label Studio?",
                url=self.url(f"api/projects/{project_id}/"),
            )
        count = body.get("task_number")
        return Project(
            id=int(body.get("id", project_id)),
            title=str(body.get("title") or ""),
            label_config=str(body.get("label_config") or ""),
            task_count=count if isinstance(count, int) else None,
            raw=body,
        )

    # -- exports --------------------------------------------------------------------------------

    def export(
        self,
        project_id: int,
        dest: str | os.PathLike[str],
        *,
        snapshot: bool = False,
        full_predictions: bool = True,
        task_filter: Mapping[str, Any] | None = None,
    ) -> Path:
        """Every task of the project (annotations, predictions, tasks without annotations) as a JSON
        export file at ``dest``, which appears only complete.

        The direct export (``GET /api/projects/<id>/export``) by default; ``snapshot=True`` has the
        server write a snapshot first (``POST /api/projects/<id>/exports``), for large projects where
        a proxy in front of Label Studio would cut a long request. A snapshot has the predictions
        whole unless ``full_predictions`` is False (the direct export lists them by id only).
        ``task_filter``: the snapshot's ``task_filter_options`` (``view``, ``finished``, ...), the
        tasks Label Studio leaves out itself; given, the export is a snapshot.
        """
        dest = Path(dest)
        if snapshot or task_filter:
            return self._snapshot_export(project_id, dest, full_predictions, task_filter)
        response = self.call(
            "GET",
            f"api/projects/{int(project_id)}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"},
            what=f"exporting project {project_id}",
            project_id=project_id,
            stream=True,
            read_timeout=max(self.settings.read_timeout, EXPORT_READ_TIMEOUT),
        )
        return self._save(response, dest, f"exporting project {project_id}")

    def export_chunks(
        self, project_id: int, *, chunk_size: int | None = None, within: Sequence[tuple[int, int]] | None = None
    ) -> Iterator[list[Mapping[str, Any]]] | None:
        """Every task of the project in chunks of ids, through the direct export's ``ids[]`` filter,
        or None when that cannot be used (then use :meth:`export`): ids too sparse for chunks to
        pay, or a server (or a proxy in front of it) that refuses the first chunk's long URL.

        Label Studio builds a whole export in memory before it answers; in chunks, the first tasks
        arrive within a second, so their resources download while the server exports the rest, and
        the server never holds more than one chunk. ``within``: only ids in these (first, last)
        ranges are asked for.
        """
        ranges = self.export_id_ranges(project_id, chunk_size=chunk_size, within=within)
        if not ranges:
            return None if ranges is None else iter(())
        try:
            head = self.export_ids(project_id, ranges[0])
        except errors.UpstreamHTTPError as exc:
            if exc.status_code in (400, 413, 414, 431):
                logger.info("chunked export refused (HTTP %s): exporting in one piece", exc.status_code)
                return None
            raise
        return self._chunks(project_id, head, ranges[1:])

    def export_id_ranges(
        self, project_id: int, *, chunk_size: int | None = None, within: Sequence[tuple[int, int]] | None = None
    ) -> list[range] | None:
        """The ranges of task ids that :meth:`export_chunks` asks for, one request each (a
        distributed reader hands them to its workers); None when the ids are too sparse for chunks
        to pay. ``chunk_size`` defaults to as many ids as fit in :data:`EXPORT_QUERY_BUDGET` bytes
        of query (at most :data:`EXPORT_CHUNK_SIZE`); ``within``: the ranges cut to these
        (first, last) ranges of ids."""
        span = self._task_id_span(project_id)
        if span is None:
            return None
        first, last, total = span
        if total == 0:
            return []
        if chunk_size is None:
            per_id = len("ids%5B%5D=&") + len(str(last))
            chunk_size = max(1, min(EXPORT_CHUNK_SIZE, EXPORT_QUERY_BUDGET // per_id))
        if last - first + 1 > SPARSE_IDS_FACTOR * max(total, chunk_size):
            return None
        ranges = [range(start, min(start + chunk_size, last + 1)) for start in range(first, last + 1, chunk_size)]
        if within is None:
            return ranges
        cut = (range(max(ids.start, low), min(ids.stop, high + 1)) for ids in ranges for low, high in within)
        return [ids for ids in cut if len(ids)]

    def _chunks(
        self, project_id: int, head: list[Mapping[str, Any]], ranges: list[range]
    ) -> Iterator[list[Mapping[str, Any]]]:
        if head:
            yield head
        for ids in ranges:
            tasks = self.export_ids(project_id, ids)
            if tasks:
                yield tasks

    def export_ids(self, project_id: int, ids: range) -> list[Mapping[str, Any]]:
        """The tasks whose ids are in ``ids`` (a direct export; missing ids are left out)."""
        params: list[tuple[str, Any]] = [("exportType", "JSON"), ("download_all_tasks", "true")]
        params += [("ids[]", task_id) for task_id in ids]
        tasks = self.json(
            "GET",
            f"api/projects/{int(project_id)}/export",
            params=params,
            what=f"exporting tasks {ids.start}-{ids.stop - 1} of project {project_id}",
            project_id=project_id,
            read_timeout=max(self.settings.read_timeout, EXPORT_READ_TIMEOUT),
        )
        if not isinstance(tasks, list):
            raise errors.UpstreamError(
                f"the export of project {project_id} is not a list of tasks",
                url=self.url(f"api/projects/{project_id}/export"),
            )
        return tasks

    def _task_id_span(self, project_id: int) -> tuple[int, int, int] | None:
        """(lowest task id, highest task id, number of tasks), from two one-task pages of the Data
        Manager's task list; None if its answer does not have them."""
        found = []
        total = None
        for order in ("tasks:id", "-tasks:id"):
            body = self.json(
                "GET",
                "api/tasks",
                params={
                    "project": int(project_id),
                    "fields": "task_only",
                    "page": 1,
                    "page_size": 1,
                    "query": orjson.dumps({"ordering": [order]}).decode(),
                },
                what=f"listing tasks of project {project_id}",
                project_id=project_id,
            )
            tasks = body.get("tasks") if isinstance(body, Mapping) else None
            total = body.get("total") if isinstance(body, Mapping) else None
            if not isinstance(total, int) or not isinstance(tasks, list):
                return None
            if not tasks:
                return (0, -1, 0) if total == 0 else None
            task_id = tasks[0].get("id") if isinstance(tasks[0], Mapping) else None
            if not isinstance(task_id, int):
                return None
            found.append(task_id)
        first, last = found
        if first > last or total is None:
            return None  # the ordering was not applied
        return first, last, total

    def _snapshot_export(
        self, project_id: int, dest: Path, full_predictions: bool, task_filter: Mapping[str, Any] | None = None
    ) -> Path:
        what = f"creating an export snapshot of project {project_id}"
        created = self.json(
            "POST",
            f"api/projects/{int(project_id)}/exports/",
            json_body={
                **({"task_filter_options": dict(task_filter)} if task_filter else {}),
                "title": f"ml-data {uuid.uuid4().hex[:8]}",
                # Label Studio's default leaves out ground-truth and skipped annotations; ml-data
                # selects among annotations itself, so it asks for all of them.
                "annotation_filter_options": {"usual": True, "ground_truth": True, "skipped": True},
                "serialization_options": {
                    "predictions": {"only_id": not full_predictions},
                    "drafts": {"only_id": True},
                },
            },
            what=what,
            project_id=project_id,
        )
        export_id = created.get("id") if isinstance(created, Mapping) else None
        if export_id is None:
            raise errors.UpstreamError(
                f"{what}: the answer has no export id", url=self.url(f"api/projects/{project_id}/exports/")
            )
        try:
            self._wait_for_snapshot(project_id, int(export_id), created)
            response = self.call(
                "GET",
                f"api/projects/{int(project_id)}/exports/{int(export_id)}/download",
                params={"exportType": "JSON"},
                what=f"downloading export snapshot {export_id} of project {project_id}",
                project_id=project_id,
                stream=True,
                read_timeout=max(self.settings.read_timeout, EXPORT_READ_TIMEOUT),
            )
            return self._save(response, dest, f"downloading export snapshot {export_id}")
        finally:
            # The snapshot is ml-data's own; leave no files behind on the server.
            with contextlib.suppress(errors.MlDataError):
                self.call(
                    "DELETE",
                    f"api/projects/{int(project_id)}/exports/{int(export_id)}",
                    what=f"deleting export snapshot {export_id}",
                ).close()

    def _wait_for_snapshot(self, project_id: int, export_id: int, first: Any) -> None:
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT
        state = first
        while True:
            status = state.get("status") if isinstance(state, Mapping) else None
            if status == "completed":
                return
            if status == "failed":
                raise errors.UpstreamError(
                    f"Label Studio failed to write export snapshot {export_id} of project {project_id} "
                    "(its server log says why)",
                    url=self.url(f"api/projects/{project_id}/exports/{export_id}"),
                )
            if time.monotonic() > deadline:
                raise errors.UpstreamTimeout(
                    f"export snapshot {export_id} of project {project_id} did not finish in {SNAPSHOT_TIMEOUT:.0f} s",
                    url=self.url(f"api/projects/{project_id}/exports/{export_id}"),
                )
            time.sleep(SNAPSHOT_POLL_INTERVAL)
            state = self.json(
                "GET",
                f"api/projects/{int(project_id)}/exports/{export_id}",
                what=f"reading export snapshot {export_id}",
                project_id=project_id,
            )

    def _save(self, response: requests.Response, dest: Path, what: str) -> Path:
        """Stream a body to ``dest`` through a temporary file beside it (never a partial ``dest``)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.partial")
        try:
            with open(partial, "wb") as handle:
                for chunk in self.http.iter_body(response, response.url, decode=True):
                    handle.write(chunk)
            os.replace(partial, dest)
        except errors.UpstreamError as exc:
            partial.unlink(missing_ok=True)
            raise type(exc)(f"{what}: {exc.message}", url=exc.url) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return dest

    # -- tasks ----------------------------------------------------------------------------------

    def task_page(self, project_id: int, *, page: int = 1, page_size: int = 100) -> tuple[list[Mapping[str, Any]], int]:
        """One page of the project's tasks with annotations and predictions (``GET /api/tasks``)
        and the number of tasks in all; past the last page, no tasks."""
        try:
            body = self.json(
                "GET",
                "api/tasks",
                params={"project": int(project_id), "fields": "all", "page": page, "page_size": page_size},
                what=f"listing tasks of project {project_id} (page {page})",
                project_id=project_id,
            )
        except errors.RemoteNotFound:
            # Label Studio answers a page past the end with 404; the project itself exists if it
            # answered the first page.
            if page > 1:
                return [], 0
            raise
        tasks = body.get("tasks") if isinstance(body, Mapping) else body
        total = body.get("total") if isinstance(body, Mapping) else None
        if not isinstance(tasks, list):
            raise errors.UpstreamError(
                f"the task list of project {project_id} has no tasks array", url=self.url("api/tasks")
            )
        # Callers read each task as an object: anything else is an answer that is not Label Studio's.
        for number, task in enumerate(tasks, 1):
            if not isinstance(task, Mapping):
                raise errors.UpstreamError(
                    f"entry {number} of the task list of project {project_id} (page {page}) is "
                    f"{type(task).__name__}, not a task object",
                    url=self.url("api/tasks"),
                )
        return tasks, total if isinstance(total, int) else len(tasks)
