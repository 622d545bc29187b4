"""The typed references a task URL is parsed into (:mod:`ml_data.resolvers.parse`), and their
identities. Pure: no disk, no network.

Every Ref has a ``kind`` (its row in :mod:`ml_data.resolvers.registry`: which fetcher handles it,
how fresh its cache entry must be) and a canonical ``identity`` (the cache key's source): a cloud
object is ``s3://bucket/key`` however it was reached (raw URI, a Label Studio resolve/presign link
with a base64 ``fileuri``, a presigned https URL), and signature query parameters never enter an
identity.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import posixpath
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qsl, unquote, urlencode

from ml_data.data_uris import DataURI
from ml_data.errors import UnsupportedURL
from ml_data.resolvers.clouds import is_signature_param
from ml_data.resolvers.registry import KIND_BY_SCHEME, STORAGE_KIND
from ml_data.urls import HttpURL, parse_http_url


@dataclass(frozen=True)
class Ref:
    """A parsed task URL. ``raw`` is the URL as given (it may hold secrets: print it redacted)."""

    kind: ClassVar[str]
    raw: str

    @property
    def identity(self) -> str:
        """Canonical name of the resource: equal identities are the same cached file."""
        raise NotImplementedError

    @property
    def filename(self) -> str:
        """The resource's file name, for naming its cache entry (may be empty)."""
        raise NotImplementedError


@dataclass(frozen=True)
class _LabelStudioRef(Ref):
    """A resource Label Studio serves. ``ls_url`` is what to ask Label Studio for: a path (with any
    prefix such as ``/label-studio``) and query; ``target`` is the whole URL when the task gave an
    absolute one on Label Studio's origin (None for a relative path)."""

    ls_url: str
    origin: str  # "" when the URL was relative
    target: HttpURL | None = None


@dataclass(frozen=True)
class UploadRef(_LabelStudioRef):
    """A file uploaded to Label Studio: ``upload/<project>/<file>`` in its media folder."""

    kind: ClassVar[str] = "upload"
    project: str = ""
    name: str = ""

    @property
    def upload_key(self) -> str:
        return f"upload/{self.project}/{self.name}"

    @property
    def identity(self) -> str:
        return f"label-studio-upload:{self.origin}/{self.upload_key}"

    @property
    def filename(self) -> str:
        return posixpath.basename(self.name)


@dataclass(frozen=True)
class LocalFilesRef(_LabelStudioRef):
    """A Local Files storage file: ``path`` is the decoded ``?d=`` value, relative to the document root."""

    kind: ClassVar[str] = "local_files"
    path: str = ""

    @property
    def identity(self) -> str:
        return f"label-studio-local-files:{self.origin}/{self.path}"

    @property
    def filename(self) -> str:
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class LocalPathRef(Ref):
    """A plain path or ``file://`` URL; ``path`` is absolute, or relative to the document root."""

    kind: ClassVar[str] = "local_path"
    path: str

    @property
    def identity(self) -> str:
        return f"file:{self.path}"

    @property
    def filename(self) -> str:
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class HttpRef(Ref):
    """An http(s) URL that is neither a Label Studio nor a cloud storage URL; ``target`` is its one
    reading, the very value the guard checks and the connection uses."""

    kind: ClassVar[str] = "http"
    target: HttpURL

    @property
    def url(self) -> str:
        return str(self.target)

    @functools.cached_property
    def identity(self) -> str:
        return canonical_http_url(self.target)

    @property
    def filename(self) -> str:
        return posixpath.basename(unquote(self.target.path))


@dataclass(frozen=True)
class DataRef(Ref):
    """An inline ``data:`` URI."""

    kind: ClassVar[str] = "data_uri"
    media_type: str
    is_base64: bool
    payload: str

    @functools.cached_property
    def identity(self) -> str:
        return "data:sha256:" + hashlib.sha256(self.raw.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def filename(self) -> str:
        return "data" + (mimetypes.guess_extension(self.media_type) or "")

    def decode(self) -> bytes:
        """The payload's bytes."""
        try:
            return DataURI(self.media_type, self.is_base64, self.payload).decode()
        except ValueError:
            raise UnsupportedURL("data: URI payload is not valid base64", url=self.raw) from None


@dataclass(frozen=True)
class CloudRef(Ref):
    """An object in a storage: S3, GCS or Azure Blob (which ml-data can read with their SDKs), or
    any other storage Label Studio knows (``b2://``...: kind ``"storage"``, read only through
    Label Studio's resolve endpoint). Its identity is ``<scheme>://<bucket>/<key>`` either way.

    ``via`` says how it was reached when not as a raw URI: ``"label-studio"`` for a resolve/presign
    link (``ls_url`` is that link), ``"presigned"`` for a signed https URL (``url``).
    """

    scheme: str  # as Label Studio writes it, lower case: "s3", "gs", "azure-blob", "b2", ...
    bucket: str
    key: str
    via: str = "uri"
    #: the presigned URL (``via="presigned"``) or the absolute resolve link, read once
    target: HttpURL | None = None
    ls_url: str | None = None
    origin: str = ""
    task_id: int | None = None
    project_id: int | None = None

    @property
    def url(self) -> str | None:
        """The presigned URL, for ``via="presigned"``."""
        return str(self.target) if self.via == "presigned" and self.target is not None else None

    @property
    def kind(self) -> str:  # type: ignore[override]
        return KIND_BY_SCHEME.get(self.scheme, STORAGE_KIND)

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.key}"

    @property
    def identity(self) -> str:
        return self.uri

    @property
    def filename(self) -> str:
        return posixpath.basename(self.key)


def canonical_http_url(url: str | HttpURL) -> str:
    """The identity of an http(s) URL: lower-case scheme and host, no default port, no fragment,
    no signature parameters (so a re-signed URL of the same resource is the same identity).

    >>> canonical_http_url("HTTPS://Example.COM:443/a.jpg?Expires=1&Signature=x&v=2#top")
    'https://example.com/a.jpg?v=2'
    """
    target = url if isinstance(url, HttpURL) else parse_http_url(url)
    query = target.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        present = frozenset(name.lower() for name, _ in pairs)
        kept = [(name, value) for name, value in pairs if not is_signature_param(name, present)]
        query = urlencode(kept) if len(kept) != len(pairs) else query
    # The parsed path always starts with "/": joining the parts is what urlunsplit would do.
    return (
        f"{target.scheme}://{target.netloc}{target.path}?{query}"
        if query
        else f"{target.scheme}://{target.netloc}{target.path}"
    )
