"""``get_local_path``: the signature, environment fallbacks and exception types of
``label_studio_tools.core.utils.io.get_local_path``, on top of :func:`ml_data.resolve`.

Switching an ML backend is one import::

    from ml_data import get_local_path   # was: from label_studio_tools.core.utils.io import ...

Differences, all on purpose: downloads have timeouts and retries and are verified before they are
cached; the token goes only to the Label Studio origin; ``?d=`` paths cannot leave the document
root; personal access tokens work; and ``download_resources=False`` never returns the path of a file
that does not exist (see below).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from ml_data.config import Settings, environment_key, environment_values
from ml_data.labelstudio.hints import localhost_hint
from ml_data.redaction import redact_url
from ml_data.resolvers.resolver import resolver_for

logger = logging.getLogger(__name__)


#: Where a local Label Studio keeps its data depends on these variables.
_LABEL_STUDIO_DATA_NAMES = ("LABEL_STUDIO_BASE_DATA_DIR", "XDG_DATA_HOME", "HOME")


def _label_studio_upload_dir() -> str | None:
    """Where a Label Studio on this machine keeps uploads (what the reference looked in), when it
    exists: one stat per call, the path itself worked out once per environment."""
    candidate = _label_studio_upload_candidate(environment_key(_LABEL_STUDIO_DATA_NAMES))
    return candidate if os.path.isdir(candidate) else None


@functools.lru_cache(maxsize=8)
def _label_studio_upload_candidate(key: tuple[object, ...]) -> str:
    base, data_home, home = environment_values(key)
    if not base:
        if not data_home:
            data_home = os.path.join(home or os.path.expanduser("~"), ".local", "share")
        base = os.path.join(data_home, "label-studio")
    return os.path.join(base, "media", "upload")


@functools.lru_cache(maxsize=64)
def _with_arguments(
    settings: Settings,
    hostname: str | None,
    access_token: str | None,
    cache_dir: str | None,
    upload_dir: str | Path | None,
) -> Settings:
    """The settings of one call pattern (the same arguments give the same settings, remembered)."""
    overrides: dict[str, object] = {"upload_dir": Path(upload_dir) if upload_dir else None}
    if hostname:
        overrides["label_studio_url"] = hostname
    if access_token:
        overrides["api_key"] = access_token
    if cache_dir:
        overrides["cache_dir"] = Path(cache_dir)
    settings = settings.with_changes(**overrides)
    hint = localhost_hint(settings.label_studio_url)
    if hint:
        logger.warning("LABEL_STUDIO_URL uses localhost (%s). %s", redact_url(settings.label_studio_url or ""), hint)
    return settings


def get_local_path(
    url,  # type: ignore[no-untyped-def]
    cache_dir=None,
    project_dir=None,
    hostname=None,
    image_dir=None,
    access_token=None,
    download_resources=True,
    task_id=None,
):
    """Return a local path for a task URL, downloading (and caching) it if needed.

    :param url: a task URL: ``/data/upload/...``, ``/data/local-files/?d=...``, ``http(s)://``,
        ``s3://`` / ``gs://`` / ``azure-blob://``, a Label Studio resolve link, ``data:``...
    :param cache_dir: cache folder (default ``ML_DATA_CACHE_DIR`` or ``~/.cache/ml-data``)
    :param project_dir: Label Studio project folder; uploads are read from ``<project_dir>/upload``
    :param hostname: Label Studio URL (default ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_HOST``)
    :param image_dir: folder with uploads as ``<project>/<file>`` (default: ``ML_DATA_UPLOAD_DIR``,
        then ``<project_dir>/upload``, then a local Label Studio's ``media/upload``)
    :param access_token: legacy token or personal access token (default ``LABEL_STUDIO_API_KEY`` /
        ``LABEL_STUDIO_ACCESS_TOKEN``)
    :param download_resources: when False nothing is downloaded: local files are returned in place,
        remote ones only if already cached; otherwise ``FileNotFoundError`` (the reference returned
        the path where the file *would* be, which does not exist)
    :param task_id: Label Studio task id, used to fetch cloud objects through Label Studio
    :return: the path as a string; for a file read in place, its real path, checked during this
        call (on an open descriptor) to be a regular file beneath its root. Whoever can change that
        folder can change what the path names afterwards: ``ml_data.open_resource`` reads without
        that race
    :raises FileNotFoundError: missing file, Label Studio URL or token not set
    :raises ValueError: invalid hostname, unsafe path, unsupported URL
    :raises requests.HTTPError: the server answered with an error (401, 403, 404, ...)
    """
    base = Settings.from_env()  # remembered per environment: cheap on every call
    upload_dir = image_dir or (project_dir and os.path.join(project_dir, "upload")) or base.upload_dir
    settings = _with_arguments(
        base,
        hostname or None,
        access_token or None,
        str(cache_dir) if cache_dir else None,
        str(upload_dir) if upload_dir else _label_studio_upload_dir(),
    )
    resolver = resolver_for(settings)
    if not download_resources:
        resolver = resolver.without_downloads()
    return str(resolver.resolve(url, task_id=task_id).path)
