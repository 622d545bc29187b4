"""Parse any task URL into a typed :class:`~ml_data.resolvers.refs.Ref`. Pure: no disk, no network.

Every caller (the resolver, the service's guard, bulk deduplication) reads a URL through
:func:`parse_ref` and acts on the Ref; nothing re-parses the string.

The forms understood::

    /data/upload/3/x.jpg, upload/3/x.jpg, /prefix/data/upload/3/x.jpg    UploadRef
    /storage-data/uploaded/?filepath=upload/3/x.jpg                      UploadRef
    /data/local-files/?d=photos/x.jpg (also URL-encoded)                 LocalFilesRef
    /abs/path/x.jpg, photos/x.jpg, file:///abs/path/x.jpg                LocalPathRef
    http(s)://host/x.jpg                                                 HttpRef
    data:image/png;base64,...                                            DataRef
    s3://b/k, gs://b/k, azure-blob://c/k                                 CloudRef
    b2://b/k (any other storage Label Studio knows)                      CloudRef (kind "storage")
    https://b.s3.amazonaws.com/k?X-Amz-Signature=... (and GCS, Azure)    CloudRef (via the URL)
    /tasks/7/resolve/?fileuri=<base64>, /projects/3/presign/?fileuri=..  CloudRef (via Label Studio)

Absolute URLs on the configured Label Studio origin are classified by their path like relative ones.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from ml_data.data_uris import split_data_uri
from ml_data.errors import MlDataError, UnsafePath, UnsupportedURL
from ml_data.labelstudio.paths import resource_path, upload_key
from ml_data.labelstudio.storages import is_bucket_name, storage_scheme
from ml_data.resolvers.clouds import PROVIDERS, object_in_url
from ml_data.resolvers.refs import (
    CloudRef,
    DataRef,
    HttpRef,
    LocalFilesRef,
    LocalPathRef,
    Ref,
    UploadRef,
)
from ml_data.urls import HttpURL, parse_http_url, reject_lone_surrogates, split_url

_MEMO_MAX_URL = 4096


def parse_ref(url: str, *, label_studio_url: str | None = None, s3_endpoint_url: str | None = None) -> Ref:
    """Parse ``url`` from a task into a typed Ref.

    ``label_studio_url`` lets absolute URLs on that origin be recognised as Label Studio's;
    ``s3_endpoint_url`` (MinIO, an emulator) is the one non-AWS host whose URLs are S3 objects.
    A URL on any other host keeps an http identity, whatever its path and query look like: only
    a cloud's own endpoint has the authority to name its objects.

    >>> parse_ref("/data/upload/3/x.jpg").identity
    'label-studio-upload:/upload/3/x.jpg'
    >>> parse_ref("https://b.s3.amazonaws.com/k.jpg?X-Amz-Signature=1").identity
    's3://b/k.jpg'
    """
    try:
        if isinstance(url, str) and len(url) <= _MEMO_MAX_URL:
            # Parsing is pure and Refs are frozen: a resolve of a URL seen before skips it (hot
            # path for warm caches). Long URLs (data: URIs) are not kept.
            return _parse_memo(url, label_studio_url, s3_endpoint_url)
        return _parse(url, label_studio_url, s3_endpoint_url)
    except MlDataError:
        raise
    except ValueError as exc:
        # Parsing is pure: a ValueError (a UnicodeError too) can only come from the text itself, so
        # it is this URL's typed failure, never a batch's or a request's.
        raise UnsupportedURL(f"not a readable URL ({type(exc).__name__})", url=url) from None


@functools.lru_cache(maxsize=65536)
def _parse_memo(url: str, label_studio_url: str | None, s3_endpoint_url: str | None) -> Ref:
    return _parse(url, label_studio_url, s3_endpoint_url)


def _parse(url: str, label_studio_url: str | None, s3_endpoint_url: str | None) -> Ref:
    if not isinstance(url, str) or not url.strip():
        raise UnsupportedURL(f"expected a non-empty URL string, got {type(url).__name__} {url!r:.40}")
    url = url.strip()
    if "\x00" in url:
        raise UnsafePath("URL contains a NUL byte", url=url)
    reject_lone_surrogates(url)
    lowered = url.lower()
    # Relative Label Studio paths belong to the configured instance: same identity as absolute ones.
    if lowered.startswith("data:"):
        return _parse_data_uri(url)
    if storage_scheme(url) is not None:
        return _parse_cloud_uri(url, raw=url)
    if lowered.startswith("file:"):
        return _parse_file_url(url)
    if lowered.startswith(("http:", "https:")):
        return _parse_absolute(url, label_studio_url, s3_endpoint_url)
    configured = _configured_origin(label_studio_url)
    ls_origin = _origin_text(configured) if configured is not None else ""
    scheme = split_url(url).scheme
    if len(scheme) > 1:
        raise UnsupportedURL(
            f"unsupported URL scheme {scheme.lower()!r}: expected http(s)://, s3://, gs://, "
            "azure-blob://, another storage's <scheme>://<bucket>/<key>, file://, data:, a Label "
            "Studio path (/data/upload/..., /data/local-files/?d=...) or a local path",
            url=url,
        )
    if url.startswith(("upload/", "/upload/")):
        # Older exports store upload keys without the /data prefix (the reference did the same).
        url_path = "/data/" + url.lstrip("/")
        return _parse_label_studio_path(url_path, raw=url, ls_url=url_path, origin=ls_origin) or _unreachable(url)
    if url.startswith("/%2") or url.startswith("/data/local-files/%3"):
        # A fully URL-encoded Label Studio path.
        decoded = unquote(url)
        ref = _parse_label_studio_path(decoded, raw=url, ls_url=decoded, origin=ls_origin)
        if ref is not None:
            return ref
    ref = _parse_label_studio_path(url, raw=url, ls_url=url, origin=ls_origin)
    if ref is not None:
        return ref
    if "\\" in url or re.match(r"^[a-zA-Z]:", url):
        raise UnsafePath("Windows-style paths and backslashes are not accepted", url=url)
    return LocalPathRef(raw=url, path=url)


def _unreachable(url: str) -> Ref:
    raise UnsupportedURL("not a valid Label Studio upload path (expected upload/<project>/<file>)", url=url)


def _parse_label_studio_path(
    path_and_query: str, *, raw: str, ls_url: str, origin: str, target: HttpURL | None = None
) -> Ref | None:
    """Classify a Label Studio URL by its path; None if it is not one of Label Studio's."""
    if "\\" in path_and_query:
        raise UnsafePath("Windows-style paths and backslashes are not accepted", url=raw)
    # A path and query (relative, or an absolute URL's): the path is everything before the first
    # '?' or '#', whatever it holds. Not split_url: "c:/data/upload/..." has no scheme here.
    path, _, query = path_and_query.partition("#")[0].partition("?")
    common: dict[str, Any] = {"raw": raw, "ls_url": ls_url, "origin": origin, "target": target}
    found = resource_path(path)
    if found is None:
        return None
    if found.kind == "upload":
        # Label Studio serves /data/upload/ whatever the query says (a cache-busting ?v=2).
        return UploadRef(**common, project=unquote(found.project), name=unquote(found.file))
    if found.kind == "local-files":
        value = _last_query_value(query, "d")
        if not value:
            raise UnsupportedURL("Local Files URL has no file path (?d=)", url=raw)
        # Label Studio serves ?d=/images/x.png as images/x.png under its document root (it strips
        # leading slashes): the same file, the same identity.
        return LocalFilesRef(**common, path=value.lstrip("/") or value)
    if found.kind == "storage-data":
        key = upload_key(_last_query_value(query, "filepath") or "")
        if key is None:
            raise UnsupportedURL("storage-data URL has no upload/<project>/<file> filepath", url=raw)
        return UploadRef(**common, project=key[0], name=key[1])
    fileuri = _last_query_value(query, "fileuri")
    if not fileuri:
        raise UnsupportedURL(f"Label Studio {found.verb} link has no fileuri", url=raw)
    cloud_uri = decode_fileuri(fileuri, raw=raw)
    cloud = _parse_cloud_uri(cloud_uri, raw=raw)
    return CloudRef(
        raw=raw,
        scheme=cloud.scheme,
        bucket=cloud.bucket,
        key=cloud.key,
        via="label-studio",
        target=target,
        ls_url=ls_url,
        origin=origin,
        task_id=found.number if found.scope == "tasks" else None,
        project_id=found.number if found.scope == "projects" else None,
    )


def decode_fileuri(value: str, *, raw: str = "") -> str:
    """Decode a resolve/presign ``fileuri``: urlsafe base64 (current Label Studio) or a plain URI (older)."""
    if "://" in value:
        return value
    compact = value.strip()
    try:
        decoded = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise UnsupportedURL("fileuri is neither a URI nor base64", url=raw or value) from None
    if "://" not in decoded:
        raise UnsupportedURL("fileuri does not decode to a storage URI", url=raw or value)
    return decoded


def encode_fileuri(uri: str) -> str:
    """The ``fileuri`` value Label Studio's resolve endpoint expects: urlsafe base64 of the URI."""
    return base64.urlsafe_b64encode(uri.encode("utf-8")).decode("ascii")


def _last_query_value(query: str, name: str) -> str | None:
    # Django's request.GET.get(): decoded once, '+' is a space, the last value wins.
    values = [value for key, value in parse_qsl(query, keep_blank_values=True) if key == name]
    return values[-1] if values else None


def _parse_cloud_uri(uri: str, *, raw: str) -> CloudRef:
    """``<scheme>://<bucket>/<key>`` of any storage: S3, GCS and Azure (read with their SDKs or
    through Label Studio) or any other (read through Label Studio only)."""
    scheme = storage_scheme(uri)
    if scheme is None:
        raise UnsupportedURL(
            f"{uri.partition(':')[0][:40]!r} is no storage's scheme: expected <scheme>://<bucket>/<key>", url=raw
        )
    # Split as Label Studio does: the bucket up to the first '/', the key verbatim after it (it
    # may hold spaces, '+', '%', '?', '#' and any unicode).
    bucket, _, key = uri.partition("://")[2].partition("/")
    if not bucket or not key:
        raise UnsupportedURL(f"{scheme}:// URI needs a bucket and an object key", url=raw)
    if scheme not in PROVIDERS and not is_bucket_name(bucket):
        raise UnsupportedURL(
            f"{scheme}:// URI names no bucket: a bucket is a name, without a login, port, query or spaces",
            url=raw,
        )
    return CloudRef(raw=raw, scheme=scheme, bucket=bucket, key=key)


def _parse_file_url(url: str) -> LocalPathRef:
    parts = split_url(url)
    if parts.authority not in (None, "", "localhost"):
        raise UnsupportedURL("file:// URLs must not name a remote host", url=url)
    path = unquote(parts.path)
    if "\x00" in path:
        raise UnsafePath("file path contains a NUL byte", url=url)
    if not path.startswith("/"):
        raise UnsupportedURL("file:// URL must hold an absolute path", url=url)
    return LocalPathRef(raw=url, path=path)


def _parse_data_uri(url: str) -> DataRef:
    parts = split_data_uri(url)
    if parts is None:
        raise UnsupportedURL("data: URI has no ',' before its payload", url=url)
    return DataRef(raw=url, media_type=parts.media_type, is_base64=parts.is_base64, payload=parts.payload)


def _parse_absolute(url: str, label_studio_url: str | None, s3_endpoint_url: str | None) -> Ref:
    target = parse_http_url(url)
    configured = _configured_origin(label_studio_url)
    if configured is not None and target.origin == configured.origin:
        origin = _origin_text(target)
        ref = _parse_label_studio_path(target.target, raw=url, ls_url=target.target, origin=origin, target=target)
        if ref is not None:
            return ref
    cloud = _cloud_object_url(target, url, s3_endpoint_url)
    if cloud is not None:
        return cloud
    return HttpRef(raw=url, target=target)


def _origin_text(url: HttpURL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


@functools.lru_cache(maxsize=16)
def _configured_origin(url: str | None) -> HttpURL | None:
    """A configured URL (Label Studio's, the S3 endpoint), read once by the same strict reader as
    task URLs; None when it is not set or not readable."""
    if not url:
        return None
    try:
        return parse_http_url(url)
    except UnsupportedURL:
        return None


def _cloud_object_url(target: HttpURL, raw: str, s3_endpoint_url: str | None) -> CloudRef | None:
    """A cloud object URL (signed or public) on that cloud's own endpoint, so that it shares the
    object's cloud identity (see :func:`ml_data.resolvers.clouds.object_in_url`)."""
    found = object_in_url(target, s3_endpoint=_configured_origin(s3_endpoint_url))
    if found is None:
        return None
    scheme, bucket, key = found
    return CloudRef(raw=raw, scheme=scheme, bucket=bucket, key=key, via="presigned", target=target)
