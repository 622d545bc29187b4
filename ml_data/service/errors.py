"""Every error as JSON ``{"error": code, "message": ...}`` with the status it deserves, and
without the server's folders in it (:class:`ServerPaths`)."""

from __future__ import annotations

import copy
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, has_app_context, jsonify
from werkzeug.exceptions import HTTPException

from ml_data import errors
from ml_data.config import Settings

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


#: Where a folder's path ends in a message: a separator, a quote, punctuation or a full stop.
_COMPONENT_END = r"(?=$|[/\s'\"\]\),:;]|\.(?:\s|$))"


@dataclass(frozen=True)
class ServerPaths:
    """The server's folders, each with the setting a client sees in its place.

    The library's messages name folders (the Local Files root a link leads out of, the full cache
    folder), which helps whoever reads the log; a client has no business learning them, and they
    tell an attacker where the files are. The URL a client sent is echoed as it was sent.
    """

    #: (the folder's spelling, a pattern matching it as a whole path component, its setting)
    folders: tuple[tuple[re.Pattern[str], str], ...] = ()

    @classmethod
    def of(cls, settings: Settings, *, datasets_dir: Path) -> ServerPaths:
        named: list[tuple[Path | None, str]] = [
            (settings.local_files_root, "$LOCAL_FILES_DOCUMENT_ROOT"),
            (settings.upload_dir, "$ML_DATA_UPLOAD_DIR"),
            *((root, "$ML_DATA_LOCAL_ROOTS") for root in settings.extra_local_roots),
            (datasets_dir, "$ML_DATA_SERVICE_DATASETS_DIR"),
            (settings.cache_dir, "$ML_DATA_CACHE_DIR"),
        ]
        spellings: dict[str, str] = {}
        for folder, name in named:
            if folder is None:
                continue
            for spelling in (os.fspath(folder), os.path.abspath(folder), os.path.realpath(folder)):
                spelling = spelling.rstrip("/")
                if spelling:  # "/" is no folder of its own
                    spellings.setdefault(spelling, name)
        # The longest first: a folder inside another (datasets/ in the cache) is named as itself.
        ordered = sorted(spellings.items(), key=lambda item: len(item[0]), reverse=True)
        return cls(tuple((re.compile(re.escape(path) + _COMPONENT_END), name) for path, name in ordered))

    def hide(self, text: str) -> str:
        """``text`` with each folder (and anything beneath it) written with its setting."""
        for pattern, name in self.folders:
            text = pattern.sub(name, text)  # a name holds no backslash
        return text


def server_paths() -> ServerPaths:
    """The app's :class:`ServerPaths` (none outside an app)."""
    paths = current_app.extensions.get("ml_data.server_paths") if has_app_context() else None
    return paths if isinstance(paths, ServerPaths) else ServerPaths()


def public_message(exc: errors.MlDataError, paths: ServerPaths | None = None) -> str:
    """The message a client sees: the server's folders replaced by their settings (``paths``,
    default: the current app's). A file missing here names only what was asked for: the
    library's own message says which folder was searched."""
    if isinstance(exc, errors.NotFound) and not isinstance(exc, errors.UpstreamError):
        return str(errors.NotFound("no such file", url=exc.url, task_id=exc.task_id))
    hidden = (paths or server_paths()).hide(exc.message)
    if hidden == exc.message:
        return str(exc)
    shown = copy.copy(exc)  # the same type and fields: only the message differs
    shown.message = hidden
    return str(shown)


def public_text(exc: BaseException, paths: ServerPaths) -> str:
    """Any exception's text as a client may see it (a job's failure)."""
    if isinstance(exc, errors.MlDataError):
        return public_message(exc, paths)
    return paths.hide(str(exc))


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(error=exc.code, message=exc.message), exc.status

    @app.errorhandler(errors.MlDataError)
    def _ml_data(exc: errors.MlDataError):  # type: ignore[no-untyped-def]
        status, code = status_of(exc)
        message = public_message(exc)
        if message != str(exc):  # the operator reads what the client was not told
            logger.info("%s %s answered without server paths: %s", status, code, exc)
        response = jsonify(error=code, message=message)
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
