"""The exceptions ml-data raises.

One root, :class:`MlDataError`; every error is also the built-in (or ``requests``) exception a caller
of ``label_studio_tools.core.utils.io.get_local_path`` already catches, so code written against the
reference keeps working::

    MlDataError
    ├── ConfigurationError (ValueError)            bad setting, e.g. LABEL_STUDIO_URL without scheme
    ├── LabelStudioNotConfigured (FileNotFoundError)  a URL needs the Label Studio URL or token
    ├── MissingTaskId (ValueError)                 a cloud URI without credentials and without task id
    ├── MissingDependency (ImportError)            an optional extra is not installed
    ├── UnsupportedURL (ValueError)                a URL no resolver understands
    │   └── UnsafeURL (PermissionError)            a URL that could be read two ways (refused)
    ├── UnsafePath (ValueError, PermissionError)   a path that escapes its allowed root
    ├── NotFound (FileNotFoundError)               a local file or a cache entry that does not exist
    ├── CacheError (OSError)                       the cache folder cannot be used
    ├── InvalidExport (ValueError)                 an export or task that cannot be read
    ├── InvalidDataset (ValueError)                a dataset folder that cannot be read as its layout
    ├── InvalidLabelConfig (ValueError)            a labeling config that cannot be parsed
    ├── UnknownFormat (ValueError)                 a format name no converter has
    ├── FormatNotSupported (ValueError)            the labeling config has nothing that format can express
    ├── ConversionError (ValueError)               one task could not be converted (policy "fail")
    ├── NothingToWrite (ValueError)                a run would write no item at all (nothing replaced)
    ├── InvalidPredictions (ValueError)            a model's answer is not predictions for its tasks
    ├── URLNotAllowed (PermissionError)            the service may not fetch from there (SSRF guard)
    ├── ResourcesFailed                            resources of a dataset failed; ``failures``
    ├── OutputError (OSError)                      a dataset or output folder cannot be written
    └── UpstreamError (requests.RequestException)  talking to a remote server failed
        ├── UpstreamHTTPError (requests.HTTPError) a non-2xx answer; ``status_code``
        │   ├── AuthenticationFailed (PermissionError)   401
        │   ├── AccessDenied (PermissionError)           403
        │   └── RemoteNotFound (NotFound)                404, 410
        ├── UpstreamTimeout (requests.Timeout, TimeoutError)
        ├── UpstreamUnavailable (requests.ConnectionError, ConnectionError)
        ├── IncompleteDownload                     truncated body, length or checksum mismatch
        ├── UnacceptableResponse                   a compressed body, a range that was not asked for
        ├── ResourceTooLarge                       larger than ML_DATA_MAX_FILE_SIZE
        └── TooManyRedirects (requests.TooManyRedirects)

Messages name the URL, task or file concerned, always with tokens and signatures redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from ml_data.redaction import redact_url


class MlDataError(Exception):
    """Root of every ml-data error. ``url`` and ``task_id`` say what it concerns (URL redacted)."""

    def __init__(
        self, message: str, *, url: str | None = None, task_id: int | str | None = None, **kwargs: Any
    ) -> None:
        self.message = message
        self.url = redact_url(url) if url is not None else None
        self.task_id = task_id
        super().__init__(message, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled whole, keywords included: an error raised in another process (a Ray worker, a
        process pool) arrives as the same type with the same fields, the built-in base's own
        (``errno``, ``strerror``, ``filename``; ``name``, ``path``) and ``args`` among them."""
        builtin = {
            name: getattr(self, name)
            for base, names in _BUILTIN_FIELDS
            if isinstance(self, base)
            for name in names
            if hasattr(self, name)
        }
        return (_restore, (type(self), self.args, dict(self.__dict__), builtin))

    def __str__(self) -> str:
        context = []
        if self.task_id is not None:
            context.append(f"task {self.task_id}")
        if self.url:
            context.append(f"url {self.url}")
        return f"{self.message} [{', '.join(context)}]" if context else self.message


#: What the built-in bases keep outside ``__dict__`` (set again by name after unpickling; an
#: ``OSError`` built without its ``__init__`` has neither its ``errno`` nor its ``args``).
_BUILTIN_FIELDS: tuple[tuple[type[BaseException], tuple[str, ...]], ...] = (
    (OSError, ("errno", "strerror", "filename", "filename2")),
    (ImportError, ("msg", "name", "path")),
)


def _builtin_base(cls: type[MlDataError]) -> type[BaseException]:
    """The built-in whose ``__new__`` lays the error out: the largest built-in base (``OSError`` for
    ``UnsafePath(ValueError, PermissionError)``, where ``cls.__new__`` is ``ValueError``'s and
    refuses to build it)."""
    builtins = [base for base in cls.__mro__ if base.__module__ == "builtins" and issubclass(base, BaseException)]
    return max(builtins, key=lambda base: base.__basicsize__)


def _restore(
    cls: type[MlDataError], args: tuple[Any, ...], state: dict[str, Any], builtin: dict[str, Any] | None = None
) -> MlDataError:
    error = _builtin_base(cls).__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    for name, value in (builtin or {}).items():
        setattr(error, name, value)
    return error


class ConfigurationError(MlDataError, ValueError):
    """A setting has a value ml-data cannot use."""


class LabelStudioNotConfigured(MlDataError, FileNotFoundError):
    """The URL can only be fetched from Label Studio, and its URL or token is not set."""


class MissingTaskId(MlDataError, ValueError):
    """A cloud URI cannot be fetched directly and the Label Studio fallback needs a task id."""


class MissingDependency(MlDataError, ImportError):
    """An optional extra is needed; the message names the ``pip install`` to run."""


class UnsupportedURL(MlDataError, ValueError):
    """No resolver understands this URL."""


class UnsafeURL(UnsupportedURL, PermissionError):
    """A URL that the guard, the token check and the connection could read differently
    (backslashes, user information, odd IP spellings, dot segments, ...): refused outright."""


class UnsafePath(MlDataError, ValueError, PermissionError):
    """A path would leave the folder it must stay in (``..``, absolute path, symlink, NUL, ...)."""


class NotFound(MlDataError, FileNotFoundError):
    """A file that does not exist (locally or upstream)."""


class CacheError(MlDataError, OSError):
    """The cache folder cannot be used (not writable, lock timeout, ...)."""


class InvalidExport(MlDataError, ValueError):
    """An export file, or one task in it, is not what Label Studio writes."""


class InvalidDataset(MlDataError, ValueError):
    """A dataset folder that cannot be read as the layout it has (no layout recognised, an
    annotation file that is not what the format writes); names the file."""


class InvalidLabelConfig(MlDataError, ValueError):
    """The labeling config is not well-formed XML or not a Label Studio config."""


class UnknownFormat(MlDataError, ValueError):
    """No converter has that name; the message lists the known ones."""


class FormatNotSupported(MlDataError, ValueError):
    """The labeling config has nothing the format can express; the message says why."""


class ConversionError(MlDataError, ValueError):
    """A task could not be converted (with the error policy "fail"); names the task and field."""


class NothingToWrite(MlDataError, ValueError):
    """A conversion or dataset would hold no item at all (an empty export, every task left out);
    the message says why. Nothing was written: the previous output, if any, is intact."""


class InvalidPredictions(MlDataError, ValueError):
    """An ML backend's or a predict function's answer is not one list of predictions per task
    (wrong shape, wrong count, too large): that batch fails, named by its tasks."""


class URLNotAllowed(MlDataError, PermissionError):
    """The service refuses to fetch from an origin or bucket it is not configured for."""


class UpstreamError(MlDataError, requests.RequestException):
    """Talking to a remote server failed."""


class UpstreamHTTPError(UpstreamError, requests.HTTPError):
    """The server answered with a status that is not a success."""

    def __init__(self, message: str, *, status_code: int, **kwargs: Any) -> None:
        self.status_code = status_code
        super().__init__(message, **kwargs)


class AuthenticationFailed(UpstreamHTTPError, PermissionError):
    """401: the token was missing, wrong or expired."""


class AccessDenied(UpstreamHTTPError, PermissionError):
    """403: the credentials are valid but do not grant access."""


class RemoteNotFound(UpstreamHTTPError, NotFound):
    """404 or 410 from the server."""


class UpstreamTimeout(UpstreamError, requests.Timeout, TimeoutError):
    """The server did not connect or did not send data within the timeout."""


class UpstreamUnavailable(UpstreamError, requests.ConnectionError, ConnectionError):
    """The server could not be reached, or dropped the connection."""


class IncompleteDownload(UpstreamError):
    """The body was shorter or longer than announced, or its checksum did not match."""


class UnacceptableResponse(UpstreamError):
    """The server answered with something that is not the file as stored: a compressed body
    (``Content-Encoding``) or a partial one (``206``) that was not asked for."""


class ResourceTooLarge(UpstreamError):
    """The file is larger than the configured cap (``ML_DATA_MAX_FILE_SIZE``)."""


class TooManyRedirects(UpstreamError, requests.TooManyRedirects):
    """More redirects than allowed."""


class OutputError(MlDataError, OSError):
    """A dataset or conversion output cannot be written (disk full, permissions, a missing source)."""


class ResourcesFailed(MlDataError):
    """Some resources of a dataset could not be resolved; ``failures`` maps each URL (redacted) to
    its error. Nothing was written: the previous dataset, if any, is intact."""

    def __init__(self, message: str, *, failures: Mapping[str, MlDataError], **kwargs: Any) -> None:
        self.failures = dict(failures)
        super().__init__(message, **kwargs)
