"""``ml-data doctor``: why an ML backend cannot read its images, one check a line.

The commonest support question is "my backend cannot read the images". Each check says what it
found and, when something is wrong, what to change: Label Studio reachable at ``LABEL_STUDIO_URL``
and really Label Studio; the token's kind and whether Label Studio accepts it; the Local Files and
upload folders, and whether a sample task's files are found there (and resolve); which storages
(scheme and bucket) the sample task's files are in, and whether each reads; the cache folder;
each cloud SDK and whether it finds credentials. Nothing here changes anything, and no cloud
metadata service is probed.

>>> checks = run_checks(Settings.from_env(), project=3)  # doctest: +SKIP
>>> [check.status for check in checks]  # doctest: +SKIP
['ok', 'ok', 'ok', 'warn', 'ok', 'skip', 'skip', 'skip']
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_data import errors
from ml_data.config import Settings
from ml_data.labelstudio import LabelStudioClient, http_client
from ml_data.labelstudio.auth import TOKEN_KIND_NAMES, token_kind
from ml_data.labelstudio.hints import localhost_hint
from ml_data.redaction import redact_url
from ml_data.resolvers import Resolver
from ml_data.resolvers.cloud import route
from ml_data.resolvers.refs import CloudRef, LocalFilesRef, UploadRef
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.resources import resource_keys, task_resources

STATUSES = ("ok", "warn", "fail", "skip")
#: Free space below this in the cache folder is a warning.
LOW_FREE_SPACE = 1_000_000_000


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn (works, but worth knowing), fail or skip."""

    name: str
    status: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "message": self.message}


def run_checks(settings: Settings, *, project: int | None = None) -> list[Check]:
    """Every check, in the order a user would fix things."""
    checks = [*_label_studio(settings, project), _cache(settings)]
    checks += [_cloud(name, probe) for name, probe in _CLOUDS.items()]
    return checks


def failed(checks: list[Check]) -> bool:
    return any(check.status == "fail" for check in checks)


# -- Label Studio ----------------------------------------------------------------------------------


def _label_studio(settings: Settings, project: int | None) -> list[Check]:
    url = settings.label_studio_url
    if not url:
        return [
            Check("label-studio", "fail", "LABEL_STUDIO_URL is not set (e.g. http://label-studio:8080)"),
            Check("token", "skip", "needs LABEL_STUDIO_URL"),
            *_folders(settings),
            Check("sample-task", "skip", "needs LABEL_STUDIO_URL"),
        ]
    reached = _reach(settings, url)
    token = _token(settings, reached.status == "ok")
    checks = [reached, token, *_folders(settings)]
    if project is None:
        checks.append(Check("sample-task", "skip", "pass --project N to check a task's files"))
    elif token.status != "ok":
        checks.append(Check("sample-task", "skip", "needs an accepted token"))
    else:
        checks += _sample_task(settings, project)
    return checks


def _reach(settings: Settings, url: str) -> Check:
    # /api/version answers without a token: it tells Label Studio from any other server.
    client = http_client(settings.with_changes(api_key=None, retries=0))
    try:
        response = client.request("GET", f"{url}/api/version", stream=False, api=True)
        body = response.json()
    except (errors.UpstreamUnavailable, errors.UpstreamTimeout) as exc:
        return Check("label-studio", "fail", _unreachable(url, exc))
    except (errors.UpstreamError, ValueError) as exc:
        return Check(
            "label-studio",
            "fail",
            f"{url} answered, but not as Label Studio does ({_short(exc)}): is it Label Studio's root URL?",
        )
    version = _version(body)
    if version is None:
        return Check(
            "label-studio",
            "fail",
            f"{url}/api/version names no Label Studio version: is {url} Label Studio's root URL?",
        )
    return Check("label-studio", "ok", f"Label Studio {version} at {url}")


def _unreachable(url: str, exc: Exception) -> str:
    why = "timed out" if isinstance(exc, errors.UpstreamTimeout) else "no connection"
    message = f"cannot reach {url} ({why}): is Label Studio running, and is LABEL_STUDIO_URL right?"
    hint = localhost_hint(url)
    if hint and _in_container():
        message += f" {hint}."
    return message


def _in_container() -> bool:
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return True
    try:
        return any(word in Path("/proc/1/cgroup").read_text() for word in ("docker", "kubepods", "containerd"))
    except OSError:
        return False


def _version(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    package = body.get("label-studio-os-package")
    if isinstance(package, Mapping) and package.get("version"):
        return str(package["version"])
    release = body.get("release")
    return str(release) if isinstance(release, str | int | float) and release else None


def _token(settings: Settings, reachable: bool) -> Check:
    if not settings.api_key:
        return Check(
            "token",
            "fail",
            "LABEL_STUDIO_API_KEY is not set: set it to a legacy token or a personal access token "
            "(Account & Settings in Label Studio)",
        )
    kind = TOKEN_KIND_NAMES[token_kind(settings.api_key)]
    if not reachable:
        return Check("token", "skip", f"{_a(kind)}, not checked: Label Studio was not reached")
    try:
        user = LabelStudioClient(settings.with_changes(retries=0)).json(
            "GET", "api/current-user/whoami", what="checking the token"
        )
    except errors.MlDataError as exc:
        return Check("token", "fail", f"the {kind} was refused: {_short(exc)}")
    who = user.get("email") or user.get("username") if isinstance(user, Mapping) else None
    note = " (it expires within minutes: use the personal access token itself)" if kind == "access token" else ""
    return Check("token", "warn" if note else "ok", f"{_a(kind)}, accepted{f' for {who}' if who else ''}{note}")


def _a(noun: str) -> str:
    """``a legacy token``, ``an access token``."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _folders(settings: Settings) -> list[Check]:
    return [
        _folder(
            "local-files-root", settings.local_files_root, "LOCAL_FILES_DOCUMENT_ROOT", "files in Local Files storage"
        ),
        _folder("upload-dir", settings.upload_dir, "ML_DATA_UPLOAD_DIR", "uploaded files"),
    ]


def _folder(name: str, path: Path | None, variable: str, what: str) -> Check:
    if path is None or str(path) == "/":
        return Check(name, "skip", f"{variable} is not set: {what} are downloaded from Label Studio")
    if not path.is_dir():
        return Check(name, "fail", f"{variable}={path} is not a folder here (is the volume mounted?)")
    if not os.access(path, os.R_OK | os.X_OK):
        return Check(name, "fail", f"{variable}={path} is not readable by this user")
    return Check(name, "ok", f"{variable}={path}: {what} are read in place")


def _sample_task(settings: Settings, project: int) -> list[Check]:
    """Whether the first file of the project's first task that a fetch would read reads (the
    labeling config says which task data keys hold files, as it does for the fetch), then which
    storages its files are in."""
    client = LabelStudioClient(settings.with_changes(retries=0))
    try:
        tasks, total = client.task_page(project, page=1, page_size=1)
    except errors.MlDataError as exc:
        return [Check("sample-task", "fail", f"the tasks of project {project} cannot be listed: {_short(exc)}")]
    if not tasks:
        return [Check("sample-task", "warn", f"project {project} has no tasks to check")]
    try:
        label_config = client.project(project).label_config
        keys = resource_keys(parse_label_config(label_config) if label_config else None)
    except errors.MlDataError as exc:
        return [Check("sample-task", "fail", f"the labeling config of project {project} cannot be read: {_short(exc)}")]
    task = tasks[0]
    task_id = task.get("id") if isinstance(task.get("id"), int) else None
    name = f"task {task_id}" if task_id is not None else f"the first task of project {project}"
    urls = task_resources(task.get("data"), keys)
    if not urls:
        return [Check("sample-task", "warn", f"{name} references no files")]
    resolver = Resolver(settings.with_changes(retries=0))
    return [_first_file(settings, resolver, name, task_id, urls[0]), *_storages(resolver, name, task_id, urls)]


def _first_file(settings: Settings, resolver: Resolver, name: str, task_id: int | None, url: str) -> Check:
    placement = _placement(settings, resolver, url)
    try:
        local = resolver.resolve(url, task_id=task_id)
    except errors.MlDataError as exc:
        return Check("sample-task", "fail", f"{name}: {redact_url(url)} cannot be read: {_short(exc)}{placement}")
    where = "from the cache" if local.cached else "in place"
    return Check("sample-task", "ok", f"{name}: {redact_url(url)} is readable {where} ({local.size} bytes){placement}")


#: How a storage object is read, for the message (see :func:`ml_data.resolvers.cloud.route`).
_ROUTES = {
    "sdk": "with its cloud's SDK",
    "label-studio": "through Label Studio's resolve endpoint",
    "presigned": "through the presigned URL in the task",
}


def _storages(resolver: Resolver, name: str, task_id: int | None, urls: list[str]) -> list[Check]:
    """One check per storage (scheme and bucket) the task's files are in: one of its files is read
    now, asking the source even when it is cached, the way ml-data would read it (its cloud's SDK,
    or Label Studio)."""
    found: dict[str, list[tuple[str, CloudRef]]] = {}
    for url in urls:
        try:
            ref = resolver.parse(url)
        except errors.MlDataError:
            continue  # the sample-task check names a URL that cannot be read
        if isinstance(ref, CloudRef):
            found.setdefault(f"{ref.scheme}://{ref.bucket}", []).append((url, ref))
    if not found:
        return [Check("storage", "skip", f"{name} uses no storage bucket: its files are uploads, Local Files or URLs")]
    checks = []
    for bucket, files in found.items():
        url, ref = files[0]
        how = _ROUTES[route(ref, resolver.settings)]
        where = f"{redact_url(bucket)} ({len(files)} file{'s' if len(files) > 1 else ''} of {name})"
        try:
            resolver.resolve(url, task_id=task_id, refresh=True)
        except errors.MlDataError as exc:
            checks.append(Check("storage", "fail", f"{where}: {redact_url(url)} cannot be read {how}: {_short(exc)}"))
        else:
            checks.append(Check("storage", "ok", f"{where}: readable {how}"))
    return checks


def _placement(settings: Settings, resolver: Resolver, url: str) -> str:
    """Whether the mounted folders hold the sample file (a note for the message)."""
    try:
        ref = resolver.parse(url)
    except errors.MlDataError:
        return ""
    if isinstance(ref, LocalFilesRef) and settings.local_files_root:
        found = (settings.local_files_root / ref.path).is_file()
        return (
            ""
            if found
            else "; the file is not under LOCAL_FILES_DOCUMENT_ROOT (is that the folder Label Studio serves?)"
        )
    if isinstance(ref, UploadRef) and settings.upload_dir:
        found = (settings.upload_dir / ref.project / ref.name).is_file()
        return (
            ""
            if found
            else "; the file is not under ML_DATA_UPLOAD_DIR (it should be Label Studio's media/upload folder)"
        )
    return ""


# -- the cache ---------------------------------------------------------------------------------------


def _cache(settings: Settings) -> Check:
    folder = settings.cache_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Check("cache", "fail", f"ML_DATA_CACHE_DIR={folder} is not writable: {exc.strerror or exc}")
    free = shutil.disk_usage(folder).free
    status = "warn" if free < LOW_FREE_SPACE else "ok"
    limit = f" (limit {settings.cache_max_size:,} bytes)" if settings.cache_max_size else ""
    return Check("cache", status, f"{folder} is writable, with {free / 1e9:.1f} GB free{limit}")


# -- cloud SDKs --------------------------------------------------------------------------------------


def _aws_credentials() -> str | None:
    """Where boto3 would find credentials, without probing an instance metadata service."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    found = [name for name in names if os.environ.get(name)]
    shared = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser()
    if found:
        return ", ".join(found)
    return str(shared) if shared.is_file() else None


def _gcs_credentials() -> str | None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        if os.environ.get(name):
            return name
    adc = Path("~/.config/gcloud/application_default_credentials.json").expanduser()
    return str(adc) if adc.is_file() else None


def _azure_credentials() -> str | None:
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY"):
        if os.environ.get(name):
            return name
    return "AZURE_CLIENT_ID" if os.environ.get("AZURE_CLIENT_ID") else None


_CLOUDS: dict[str, tuple[str, str, Callable[[], str | None]]] = {
    "s3": ("boto3", "ml-data[s3]", _aws_credentials),
    "gcs": ("google.cloud.storage", "ml-data[gcs]", _gcs_credentials),
    "azure": ("azure.storage.blob", "ml-data[azure]", _azure_credentials),
}


def _cloud(name: str, probe: tuple[str, str, Callable[[], str | None]]) -> Check:
    module, extra, credentials = probe
    try:
        installed = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        installed = False
    if not installed:
        return Check(name, "skip", f"SDK not installed (pip install '{extra}'): objects are read through Label Studio")
    found = credentials()
    if found is None:
        return Check(
            name,
            "warn",
            "SDK installed, but no credentials found: objects are read through Label Studio, which needs the task id",
        )
    return Check(name, "ok", f"SDK installed, with credentials from {found}")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."


__all__ = ["Check", "failed", "run_checks"]
