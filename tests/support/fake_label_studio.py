"""Label Studio's token and file endpoints on a loopback FileServer, for resolver tests.

The real Label Studio is exercised by the fetch tests; here the point is to control every answer
(expiry, revocation, redirects) and to see every header.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from tests.support.jwt_tokens import make_jwt, verify_jwt
from tests.support.servers.http_files import FileServer, Recorded, Route

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
