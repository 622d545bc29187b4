"""Label Studio's token, file and storage resolve endpoints on a loopback FileServer, for resolver
tests.

The real Label Studio is exercised by the fetch tests; here the point is to control every answer
(expiry, revocation, redirects) and to see every header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tests.jwt_tokens import make_jwt, verify_jwt
from tests.servers.http_files import FileServer, Recorded, Route

LEGACY_TOKEN = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeLabelStudio:
    """Accepts the legacy token and one personal access token, issuing signed access tokens on
    refresh; only access tokens are accepted as ``Bearer``."""

    server: FileServer
    personal_access_token: str = field(default_factory=lambda: make_jwt("refresh", lifetime=3600))
    access_lifetime: float = 300.0
    valid_access: set[str] = field(default_factory=set)
    refreshes: int = 0
    #: the import storages of the project, searched in order as Label Studio does
    storages: list[FakeStorage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.add("/api/token/refresh/", handler=self._refresh)

    @property
    def url(self) -> str:
        return self.server.origin

    def _refresh(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        body = json.loads(request.body or b"{}")
        claims = verify_jwt(str(body.get("refresh", "")))
        if body.get("refresh") != self.personal_access_token or not claims or claims["token_type"] != "refresh":
            return 401, {"Content-Type": "application/json"}, b'{"detail": "Token is invalid or expired"}'
        with self._lock:
            self.refreshes += 1
            access = make_jwt("access", lifetime=self.access_lifetime, serial=self.refreshes)
            self.valid_access.add(access)
        return 200, {"Content-Type": "application/json"}, json.dumps({"access": access}).encode()

    def revoke_access_tokens(self) -> None:
        with self._lock:
            self.valid_access.clear()

    def authorized(self, request: Recorded) -> bool:
        header = request.headers.get("Authorization", "")
        if header == f"Token {LEGACY_TOKEN}":
            return True
        if not header.startswith("Bearer "):
            return False
        # Only a valid, signed, unexpired access token (never the refresh token itself), as Label
        # Studio's JWT authentication does.
        claims = verify_jwt(header[7:])
        return claims is not None and claims["token_type"] == "access" and header[7:] in self.valid_access

    def serve_file(self, path: str, body: bytes, content_type: str = "image/jpeg") -> Route:
        """A file that needs a valid token, as Label Studio's /data/ views do."""

        def handler(request: Recorded) -> tuple[int, dict[str, str], bytes]:
            if not self.authorized(request):
                return (
                    401,
                    {"Content-Type": "application/json"},
                    b'{"detail": "Authentication credentials were not provided."}',
                )
            return 200, {"Content-Type": content_type}, body

        return self.server.add(path, handler=handler)

    def add_storage(self, storage: FakeStorage, task_ids: Iterable[int]) -> None:
        """An import storage of the project that holds ``task_ids``: their ``/tasks/<id>/resolve/``
        answers for its objects as Label Studio's ``TaskResolveStorageUri`` does."""
        self.storages.append(storage)
        for task_id in task_ids:
            self.server.add(f"/tasks/{task_id}/resolve/", handler=self._resolve)

    def _resolve(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        # label_studio/io_storages/proxy_api.py, ResolveStorageUriAPIMixin.resolve, step by step.
        if not self.authorized(request):
            return (
                401,
                {"Content-Type": "application/json"},
                b'{"detail": "Authentication credentials were not provided."}',
            )
        values = [value for name, value in parse_qsl(urlsplit(request.path).query) if name == "fileuri"]
        if not values:
            return 400, {}, b""
        fileuri = values[-1]  # Django's request.GET.get: the last value
        try:
            uri = base64.urlsafe_b64decode(fileuri.encode()).decode()
        except Exception:  # noqa: BLE001 - Label Studio falls back to a plain, quoted URI on any failure
            uri = unquote(fileuri)
        storage = next((item for item in self.storages if item.can_resolve(uri)), None)
        if storage is None:
            return 404, {}, b""  # no storage of the project knows this URI
        key = uri.split("://", 1)[1].split("/", 1)[1]
        if storage.presigned is not None:
            # Signed without looking the object up: a missing one is the endpoint's 404.
            return (
                303,
                {
                    "Location": storage.presigned_url(key),
                    "Cache-Control": f"no-store, max-age={storage.presign_ttl * 60}",
                },
                b"",
            )
        return storage.proxied(key, request)


@dataclass
class FakeStorage:
    """One import storage as Label Studio keeps it: the URI scheme it answers for (``b2``...), its
    bucket, its objects, and how it hands them out: with ``presigned`` (a loopback FileServer
    playing the storage's own endpoint) a redirect to a signed URL there, else the bytes proxied
    through Label Studio. The endpoint refuses a request carrying Authorization, as S3 and B2 do
    a presigned URL with a second credential."""

    scheme: str
    bucket: str
    objects: dict[str, bytes] = field(default_factory=dict)
    presigned: FileServer | None = None
    #: minutes, as Label Studio's field
    presign_ttl: int = 1
    signed: int = 0

    def __post_init__(self) -> None:
        for key, body in list(self.objects.items()):
            self.put(key, body)

    def can_resolve(self, uri: str) -> bool:
        # storage_can_resolve_bucket_url: the scheme as written (case-sensitive), then the bucket.
        if not uri.startswith(self.scheme):
            return False
        try:
            scheme, rest = uri.split("://", 1)
            bucket, _path = rest.split("/", 1)
        except ValueError:
            return False
        return bucket == self.bucket

    def put(self, key: str, body: bytes) -> None:
        """Write (or overwrite) an object, and serve it at the endpoint when presigning."""
        self.objects[key] = body
        if self.presigned is not None:
            self.presigned.add(self._path(key), handler=lambda request: self._endpoint(key, request))

    def etag(self, key: str) -> str:
        return '"' + hashlib.md5(self.objects[key]).hexdigest() + '"'

    def presigned_url(self, key: str) -> str:
        assert self.presigned is not None
        self.signed += 1  # every link differs, as real signatures do
        return self.presigned.url(f"{self._path(key)}?X-Amz-Signature=sig{self.signed}&X-Amz-Expires=60")

    def proxied(self, key: str, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        if key not in self.objects:  # proxy_data_from_storage: the storage gave no stream
            return 424, {"Content-Type": "application/json"}, b'{"error": "Storage stream failed while proxying data"}'
        # prepare_headers: the ETag is the user's id and access, then the storage's own ETag.
        etag = '"11' + self.etag(key).strip('"') + '"'
        if request.headers.get("If-None-Match") == etag:
            return 304, {}, b""
        headers = {
            "Content-Type": mimetypes.guess_type(key)[0] or "application/octet-stream",
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, max-age=3600, must-revalidate",
        }
        return 200, headers, self.objects[key]

    def _path(self, key: str) -> str:
        return f"/{self.bucket}/{quote(key)}"

    def _endpoint(self, key: str, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        if "Authorization" in request.headers:
            return 400, {"Content-Type": "application/xml"}, b"<Error><Code>InvalidArgument</Code></Error>"
        if "X-Amz-Signature" not in request.path:
            return 403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>"
        etag = self.etag(key)
        if request.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return (
            200,
            {"ETag": etag, "Content-Type": mimetypes.guess_type(key)[0] or "application/octet-stream"},
            self.objects[key],
        )
