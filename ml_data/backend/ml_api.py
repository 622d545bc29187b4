"""An ML backend's HTTP API, spoken as Label Studio speaks it: ``/health``, ``/setup``, ``/predict``.

What is sent mirrors Label Studio's ``ml/api_connector.py``: ``/setup`` gets the project's uid
(``<id>.<created timestamp>``), its labeling config as ``schema`` and Label Studio's URL as
``hostname`` (label-studio-ml's app loads the model there and answers its version; it refuses to
predict before); ``/predict`` gets ``tasks``, ``project``, ``label_config`` and ``params``.

One difference, on purpose: Label Studio sends its user's token to the backend in ``/setup``;
ml-data never does. The backend URL is whatever the user typed, so it is reached through a client
that holds no Label Studio credentials at all: the backend reads files with its own configuration.

Answers are untrusted: read with a size cap, then checked (:mod:`ml_data.backend.answers`).
Connection errors, timeouts, 429 and 5xx are retried with exponential backoff (``/predict`` has
no side effect to repeat).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from ml_data import errors
from ml_data.backend.answers import Prediction, backend_results, predictions_for
from ml_data.config import Settings
from ml_data.http import HttpClient
from ml_data.labelstudio import Project
from ml_data.redaction import redact_url
from ml_data.urls import parse_http_url

#: An answer larger than this is refused (a batch of predictions is kilobytes to a few megabytes).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: Seconds a model may take for one batch (Label Studio's own default is 100 s per request).
PREDICT_TIMEOUT = 300.0
#: Longest pause between two attempts.
MAX_BACKOFF = 30.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def project_uid(project: Project) -> str:
    """``<id>.<created timestamp>``: how Label Studio names a project to a backend."""
    created = project.raw.get("created_at") if isinstance(project.raw, Mapping) else None
    stamp = 0
    if isinstance(created, str):
        try:
            stamp = int(datetime.datetime.fromisoformat(created).timestamp())
        except ValueError:
            stamp = 0
    return f"{project.id}.{stamp}"


class MLBackend:
    """One ML backend at ``url``.

    >>> backend = MLBackend("http://localhost:9090", Settings.from_env())  # doctest: +SKIP
    >>> version = backend.setup(project)  # doctest: +SKIP
    >>> backend.predict(tasks, project)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        settings: Settings,
        *,
        hostname: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = parse_http_url(url.strip())  # an unusable URL fails here, before any task is read
        self.url = str(parsed).rstrip("/")
        self.hostname = hostname
        self.settings = settings
        # A bare HttpClient carries no credentials (only labelstudio.http_client adds the token);
        # its settings name no Label Studio either, so nothing of Label Studio's can reach it.
        bare = settings.with_changes(label_studio_url=None, api_key=None)
        self.http = HttpClient(bare)
        self._sleep = sleep

    def health(self) -> Any:
        """The backend's ``/health`` answer (label-studio-ml's: ``{"status": "UP", ...}``)."""
        return self._call("GET", "health", None, what="checking the ML backend's health")

    def setup(self, project: Project, *, model_version: str | None = None) -> str | None:
        """``POST /setup`` with the project's config; the model version the backend answers."""
        body: dict[str, Any] = {
            "project": project_uid(project),
            "schema": project.label_config,
            "hostname": self.hostname or "",
            "extra_params": None,
        }
        if model_version:
            body["model_version"] = model_version
        answer = self._call("POST", "setup", body, what=f"setting up the ML backend for project {project.id}")
        version = answer.get("model_version") if isinstance(answer, Mapping) else None
        return str(version) if isinstance(version, str | int) and str(version) else None

    def predict(self, tasks: Sequence[Mapping[str, Any]], project: Project, *, context: Any = None) -> list[Prediction]:
        """``POST /predict`` for ``tasks``; their predictions, checked.

        A backend that answers one result for a batch of several tasks predicts one task at a
        time (Label Studio does the same for such backends)."""
        ids = [int(task["id"]) for task in tasks]
        body = {
            "tasks": list(tasks),
            "project": project_uid(project),
            "label_config": project.label_config,
            "params": {"login": None, "password": None, "context": context},
        }
        answer = self._call("POST", "predict", body, what=f"predicting {len(ids)} tasks of project {project.id}")
        results = backend_results(answer, url=self._url("predict"))
        if len(results) == 1 and len(tasks) > 1:
            found: list[Prediction] = []
            for task in tasks:
                found += self.predict([task], project, context=context)
            return found
        return predictions_for(ids, results, source="the ML backend", url=self._url("predict"))

    # -- transport ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.url}/{path}"

    def _call(self, method: str, path: str, body: Any, *, what: str) -> Any:
        """One request, retried on connection errors, timeouts, 429 and 5xx; the body as JSON."""
        url = self._url(path)
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    method, url, json_body=body, read_timeout=max(self.settings.read_timeout, PREDICT_TIMEOUT)
                )
                raw = b"".join(self.http.iter_body(response, url, max_bytes=MAX_ANSWER_BYTES, decode=True))
                break
            except errors.ResourceTooLarge:
                raise errors.InvalidPredictions(
                    f"{what}: the answer is larger than {MAX_ANSWER_BYTES:,} bytes", url=url
                ) from None
            except errors.UpstreamError as exc:
                if attempt >= self.settings.retries or not _retryable(exc):
                    raise type(exc)(f"{what}: {exc.message}", **_fields(exc, url)) from None
                self._sleep(min(MAX_BACKOFF, max(self.settings.backoff_factor, 0.0) * 2**attempt))
                attempt += 1
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise errors.InvalidPredictions(f"{what}: the answer is not JSON", url=redact_url(url)) from None


def _retryable(exc: errors.UpstreamError) -> bool:
    if isinstance(exc, errors.UpstreamHTTPError):
        return exc.status_code in _RETRY_STATUSES
    return isinstance(exc, errors.UpstreamUnavailable | errors.UpstreamTimeout)


def _fields(exc: errors.UpstreamError, url: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"url": url}
    if isinstance(exc, errors.UpstreamHTTPError):
        fields["status_code"] = exc.status_code
    return fields


__all__ = ["MAX_ANSWER_BYTES", "MLBackend", "project_uid"]
