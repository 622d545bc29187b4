"""Links for remote services: a URL that a service outside the cluster (an OCR API, a hosted LLM)
can open for one task resource, with no credential of its own, for a limited time.

Which link, by resource:

- a cloud object (``s3://``, ``gs://``, ``azure-blob://``, or a Label Studio or presigned link to
  one): the cloud's own presigned URL, signed with ml-data's credentials (boto3
  ``generate_presigned_url``; a GCS V4 signed URL, which needs a service account key; an Azure
  read-only SAS, which needs the account key). Without credentials that can sign: the presigned
  URL Label Studio redirects its ``/tasks/<id>/presign/`` endpoint to, for a storage of the task's
  project with presigned URLs on (Label Studio's storage TTL then decides how long it works);
- a file only the sidecar can reach (Local Files, uploads, a plain path, an http URL), or a
  cloud object none of the above can sign: a link to the sidecar's ``/v1/resources`` signed with
  ``ML_DATA_SIGNING_KEY`` (see :mod:`ml_data.signing`), on ``ML_DATA_SERVICE_URL``;
- a ``data:`` URI holds its bytes: it is its own link.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlencode, urljoin, urlsplit

from ml_data.config import Settings
from ml_data.errors import ConfigurationError, MlDataError
from ml_data.http_credentials import Origin
from ml_data.http_errors import REDIRECT_STATUSES
from ml_data.labelstudio import http_client
from ml_data.resolvers.clouds.base import CannotSign
from ml_data.resolvers.parse import encode_fileuri, parse_ref
from ml_data.resolvers.refs import CloudRef, DataRef
from ml_data.signing import EXPIRES, MAX_LIFETIME, SIGNATURE, sign_resource
from ml_data.urls import parse_http_url

_CLOUD_NAMES = {"s3": "S3", "gs": "GCS", "azure-blob": "Azure"}


# This way of making a link does not apply here; the message says why (for the final error).
_CannotSign = CannotSign


def presign(
    url: str,
    *,
    task_id: int | None = None,
    expires: int = 600,
    settings: Settings | None = None,
    now: float | None = None,
) -> str:
    """A URL a remote service can open for ``url`` (of task ``task_id``) during ``expires`` seconds.

    >>> presign("s3://bucket/scans/page-1.png", expires=300)  # doctest: +SKIP
    'https://bucket.s3.amazonaws.com/scans/page-1.png?X-Amz-Algorithm=...'
    >>> presign("/data/upload/3/page-1.png", task_id=12)  # doctest: +SKIP
    'https://ml-data.example.com/v1/resources?url=%2Fdata%2Fupload%2F3%2Fpage-1.png&task_id=12&expires=...'

    Raises :class:`ConfigurationError` when no way applies (the message lists why each did not),
    and Label Studio's typed errors when asking it fails.
    """
    settings = settings or Settings.from_env()
    lifetime = _lifetime(expires)
    task = _task_id(task_id)
    ref = parse_ref(url, label_studio_url=settings.label_studio_url, s3_endpoint_url=settings.s3_endpoint_url)
    if isinstance(ref, DataRef):
        return url
    if isinstance(ref, CloudRef):
        return _cloud_link(url, ref, task, lifetime, settings, now)
    return sidecar_link(url, task_id=task, expires=lifetime, settings=settings, now=now)


def sidecar_link(url: str, *, task_id: int | None, expires: int, settings: Settings, now: float | None = None) -> str:
    """A ``/v1/resources`` link on ``ML_DATA_SERVICE_URL`` that opens ``url`` without the bearer
    token until ``expires`` seconds from ``now``, and nothing else (see :mod:`ml_data.signing`)."""
    if not settings.service_url or not settings.signing_key:
        raise ConfigurationError(
            f"a link to the sidecar for {url[:80]!r} needs ML_DATA_SERVICE_URL (the sidecar's URL as the remote "
            "service reaches it) and ML_DATA_SIGNING_KEY (the secret the sidecar checks links with)"
        )
    _check_public(settings.service_url)
    deadline = int(time.time() if now is None else now) + _lifetime(expires)
    params = [("url", url)]
    if task_id is not None:
        params.append(("task_id", str(task_id)))
    params += [(EXPIRES, str(deadline)), (SIGNATURE, sign_resource(settings.signing_key, url, task_id, deadline))]
    return f"{settings.service_url}/v1/resources?{urlencode(params)}"


def _lifetime(expires: object) -> int:
    if isinstance(expires, bool) or not isinstance(expires, int) or not 0 < expires <= MAX_LIFETIME:
        raise ConfigurationError(f"expires must be a whole number of seconds from 1 to {MAX_LIFETIME}, got {expires!r}")
    return expires


def _task_id(task_id: object) -> int | None:
    if task_id is not None and (isinstance(task_id, bool) or not isinstance(task_id, int) or task_id < 0):
        raise ConfigurationError(f"task_id must be a task's id (a whole number), got {task_id!r}")
    return task_id


def _check_public(service_url: str) -> None:
    """A signed link is a credential: it travels over https, except to a loopback address."""
    parts = urlsplit(service_url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            f"ML_DATA_SERVICE_URL is {service_url}: signed links are credentials and go over https "
            "(http only to a loopback address)"
        )


def _cloud_link(
    url: str, ref: CloudRef, task_id: int | None, lifetime: int, settings: Settings, now: float | None
) -> str:
    """The first way that applies: the cloud's own signature, Label Studio's, the sidecar's."""
    reasons: list[str] = []
    try:
        return _SIGNERS[ref.scheme](ref, lifetime, settings)
    except _CannotSign as exc:
        reasons.append(str(exc))
    task = task_id if task_id is not None else ref.task_id
    try:
        return _label_studio_redirect(ref, task, settings)
    except _CannotSign as exc:
        reasons.append(str(exc))
    if settings.service_url and settings.signing_key:
        return sidecar_link(url, task_id=task, expires=lifetime, settings=settings, now=now)
    reasons.append("no sidecar link: ML_DATA_SERVICE_URL and ML_DATA_SIGNING_KEY are not both set")
    raise ConfigurationError(f"cannot make a link to {ref.uri}: " + "; ".join(reasons), url=url, task_id=task)


def _s3(ref: CloudRef, lifetime: int, settings: Settings) -> str:
    from ml_data.resolvers.clouds import s3

    if not s3.available(settings):
        raise _CannotSign("no S3 credentials (boto3 with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)")
    params = {"Bucket": ref.bucket, "Key": ref.key}
    return str(s3.signing_client(settings).generate_presigned_url("get_object", Params=params, ExpiresIn=lifetime))


def _gcs(ref: CloudRef, lifetime: int, settings: Settings) -> str:
    from ml_data.resolvers.clouds import gcs

    if not gcs.available(settings):
        raise _CannotSign("no GCS credentials (google-cloud-storage with GOOGLE_APPLICATION_CREDENTIALS)")
    return gcs.signed_url(settings, ref.bucket, ref.key, lifetime)


def _azure(ref: CloudRef, lifetime: int, settings: Settings) -> str:
    from ml_data.resolvers.clouds import azure

    if not azure.available(settings):
        raise _CannotSign("no Azure credentials (AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and _KEY)")
    return azure.signed_url(settings, ref.bucket, ref.key, lifetime)


_SIGNERS: dict[str, Callable[[CloudRef, int, Settings], str]] = {"s3": _s3, "gs": _gcs, "azure-blob": _azure}


def _label_studio_redirect(ref: CloudRef, task_id: int | None, settings: Settings) -> str:
    """Where Label Studio's presign endpoint sends a browser for this object: a URL its storage
    signed. Raises :class:`_CannotSign` when Label Studio cannot be asked, or serves the file itself."""
    if not settings.label_studio_url or not settings.api_key:
        raise _CannotSign("Label Studio is not configured (LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)")
    if task_id is not None:
        path = f"tasks/{task_id}/presign/"
    elif ref.project_id is not None:
        path = f"projects/{ref.project_id}/presign/"
    else:
        raise _CannotSign("no task id to ask Label Studio's presign endpoint with")
    ask = f"{settings.label_studio_url}/{path}?{urlencode({'fileuri': encode_fileuri(ref.uri)})}"
    response = http_client(settings).request("GET", ask, api=True, answer_redirect=True)
    response.close()
    if response.status_code not in REDIRECT_STATUSES:
        raise _CannotSign(
            f"Label Studio serves {_CLOUD_NAMES[ref.scheme]} files of this storage itself (its presigned URLs are off)"
        )
    try:
        location = parse_http_url(urljoin(ask, response.headers["Location"]))
    except MlDataError:
        raise _CannotSign("Label Studio's presign endpoint redirected to an unusable URL") from None
    if Origin(*location.origin) == Origin.of(settings.label_studio_url):
        # Back to Label Studio: the remote service would need Label Studio's token to follow it.
        raise _CannotSign("Label Studio's presign endpoint redirected to Label Studio itself")
    return str(location)


__all__ = ["presign", "sidecar_link"]
