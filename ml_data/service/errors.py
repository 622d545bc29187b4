"""Every error as JSON ``{"error": code, "message": ...}`` with the status it deserves."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ml_data import errors

logger = logging.getLogger(__name__)

# Most specific first: the first matching type decides.
_STATUS: list[tuple[type[Exception], int, str]] = [
    (errors.URLNotAllowed, 403, "url_not_allowed"),
    (errors.UnsafePath, 400, "unsafe_path"),
    (errors.UnsupportedURL, 400, "unsupported_url"),
    (errors.MissingTaskId, 400, "task_id_required"),
    (errors.RemoteNotFound, 404, "not_found"),
    (errors.NotFound, 404, "not_found"),
    (errors.UpstreamTimeout, 504, "upstream_timeout"),
    (errors.UpstreamError, 502, "upstream_error"),
    (errors.LabelStudioNotConfigured, 502, "label_studio_not_configured"),
    (errors.CacheError, 503, "cache_unavailable"),
    (errors.MlDataError, 400, "bad_request"),
]
#: Seconds a client is asked to wait after a 503 (a full or busy cache: eviction, a finished
#: download or an operator may free it by then).
RETRY_AFTER_SECONDS = 30


class ApiError(Exception):
    """An error the API raises itself: a status, a code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def status_of(exc: Exception) -> tuple[int, str]:
    for error_type, status, code in _STATUS:
        if isinstance(exc, error_type):
            return status, code
    return 500, "internal_error"


def public_message(exc: errors.MlDataError) -> str:
    """The message a client sees. A file missing here names only what was asked for: the
    library's own message says which folder was searched, a path of this server that a client
    has no business learning (and that tells an attacker where the files are)."""
    if isinstance(exc, errors.NotFound) and not isinstance(exc, errors.UpstreamError):
        return str(errors.NotFound("no such file", url=exc.url, task_id=exc.task_id))
    return str(exc)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(error=exc.code, message=exc.message), exc.status

    @app.errorhandler(errors.MlDataError)
    def _ml_data(exc: errors.MlDataError):  # type: ignore[no-untyped-def]
        status, code = status_of(exc)
        response = jsonify(error=code, message=public_message(exc))
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error=code, message=exc.description or exc.name), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        logger.exception("unexpected error")
        return jsonify(error="internal_error", message="internal error (see the service log)"), 500
