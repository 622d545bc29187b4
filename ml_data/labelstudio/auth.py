"""Label Studio's credentials: which kind a token is, where it may go, the personal access token's
exchange for short-lived access tokens, and what a refused token should tell the user.

A legacy token is sent as ``Authorization: Token <key>``. A personal access token is a JWT refresh
token, exchanged at ``POST /api/token/refresh/`` for access tokens sent as ``Bearer``; an access
token given directly (label-studio-ml's base class hands those out) is sent as it is. Tokens go
only to the configured origin, and there only to the resource paths ml-data reads (the API client
also to the API). :class:`LabelStudioAuth` is the :class:`~ml_data.http_credentials.Credentials` of an
:class:`~ml_data.http.HttpClient`, and :func:`http_client` the one way to make a client that
carries them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time

import requests

from ml_data import deadline as _deadline
from ml_data import errors
from ml_data.config import Settings
from ml_data.http import HttpClient, UrlGuard
from ml_data.http_credentials import Origin
from ml_data.http_pinned import HostResolver, resolve_host
from ml_data.labelstudio.paths import TOKEN_REFRESH_PATH, is_token_path
from ml_data.redaction import redact_secret, redact_url
from ml_data.urls import HttpURL, parse_http_url

logger = logging.getLogger(__name__)

#: Renew a personal-access-token's access token this many seconds before it expires.
_EXPIRY_MARGIN = 30.0


def _b64url_json(segment: str) -> dict | None:
    try:
        padded = segment + "=" * (-len(segment) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return value if isinstance(value, dict) else None


def is_personal_access_token(token: str) -> bool:
    """True if ``token`` is a JWT (Label Studio personal access token), False for a legacy token."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return False
    header = _b64url_json(parts[0])
    return header is not None and "alg" in header


#: How each token kind is named in messages.
TOKEN_KIND_NAMES = {"legacy": "legacy token", "refresh": "personal access token", "access": "access token"}


def token_kind(token: str) -> str:
    """``"legacy"``, ``"refresh"`` (a personal access token) or ``"access"`` (a short-lived access
    token, as label-studio-ml's base class hands out after refreshing it itself), from the JWT's
    ``token_type`` claim, read without verifying the signature (Label Studio verifies it).

    >>> token_kind("0123456789abcdef")
    'legacy'
    """
    if not is_personal_access_token(token):
        return "legacy"
    parts = token.split(".")
    payload = _b64url_json(parts[1]) or {}
    return "access" if payload.get("token_type") == "access" else "refresh"


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (seconds since the epoch), read without verifying the signature."""
    parts = token.split(".")
    payload = _b64url_json(parts[1]) if len(parts) == 3 else None
    exp = payload.get("exp") if payload else None
    return float(exp) if isinstance(exp, (int, float)) else None


class LabelStudioAuth:
    """Label Studio credentials, bound to one origin (the :class:`~ml_data.http_credentials.Credentials` of its
    HTTP client).

    A legacy token is sent as ``Authorization: Token <key>``. A personal access token is a JWT
    refresh token: it is exchanged at ``POST /api/token/refresh/`` for a short-lived access token,
    sent as ``Authorization: Bearer <access>``, and renewed shortly before it expires or after a 401.
    An access token given directly (a JWT whose ``token_type`` is ``access``) is sent as it is: it
    cannot be renewed here, so when it expires the 401 says what to pass instead.
    """

    def __init__(self, base_url: str, token: str) -> None:
        try:
            base = parse_http_url(base_url)
        except errors.UnsupportedURL:
            raise errors.ConfigurationError(f"invalid Label Studio URL {redact_url(base_url)!r}") from None
        self.base_url = base_url.rstrip("/")
        self.origin = Origin(*base.origin)
        #: the path Label Studio is served under ("" at the root, "/label-studio" behind a prefix)
        self.prefix = base.path.rstrip("/")
        #: where the personal access token is exchanged
        self.refresh_url = f"{base.scheme}://{base.netloc}{self.prefix}{TOKEN_REFRESH_PATH}"
        self._token = token
        #: "legacy", "refresh" (a personal access token) or "access"
        self.token_kind = token_kind(token)
        #: a JWT, sent as Bearer (a personal access token, or an access token made from one)
        self.is_personal_access_token = self.token_kind != "legacy"
        #: whether a 401 can be cured by exchanging the token for a new access token
        self.can_renew = self.token_kind == "refresh"
        self._access: str | None = token if self.token_kind == "access" else None
        self._access_expiry = 0.0
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """Which kind of token this is, for messages."""
        return TOKEN_KIND_NAMES[self.token_kind]

    def applies_to(self, url: str | HttpURL, *, api: bool = False) -> bool:
        """True if the token goes to ``url``: exactly the Label Studio origin (scheme, host and port)
        and one of the resource paths ml-data reads (any path of Label Studio's with ``api``, for
        the calls the API client makes itself)."""
        target = url if isinstance(url, HttpURL) else _strict_or_none(url)
        if target is None or Origin(*target.origin) != self.origin:
            return False
        return api or is_token_path(target.path, prefix=self.prefix)

    def headers(self, client: HttpClient) -> dict[str, str]:
        """The Authorization header, renewing the access token through ``client`` when needed."""
        if self.token_kind == "legacy":
            return {"Authorization": f"Token {self._token}"}
        if self.token_kind == "access":
            return {"Authorization": f"Bearer {self._token}"}
        with self._lock:
            if self._access is None or time.time() >= self._access_expiry - _EXPIRY_MARGIN:
                self._refresh(client)
            return {"Authorization": f"Bearer {self._access}"}

    def invalidate(self) -> None:
        """Forget the access token (after a 401), so the next request gets a new one."""
        if not self.can_renew:
            return
        with self._lock:
            self._access = None

    def redact(self, text: str) -> str:
        """``text`` with this token and its access token removed."""
        return redact_secret(redact_secret(text, self._token), self._access)

    def rejected_hint(self, *, sent: bool) -> str:
        """What a 401 tells the user: which token was refused and what to pass instead, or that
        none was sent."""
        if not sent:
            return NO_TOKEN_SENT
        if self.token_kind == "access":
            return ACCESS_TOKEN_EXPIRED
        return (
            f"Label Studio rejected the {self.kind}; check LABEL_STUDIO_API_KEY "
            "(a legacy token or a personal access token from Account & Settings)"
        )

    def _refresh(self, client: HttpClient) -> None:
        """Exchange the personal access token for an access token, through the client that needs
        it: the same pinned connections, guard and deadline, no credentials, no redirects (the
        refresh token goes to the configured origin only)."""
        url = self.refresh_url
        try:
            response = client.request(
                "POST",
                url,
                json_body={"refresh": self._token},
                stream=False,
                authenticate=False,
                follow_redirects=False,
                deadline=_deadline.current(),  # the request that needs the token bounds its renewal
            )
        except (errors.AuthenticationFailed, errors.AccessDenied) as exc:
            raise errors.AuthenticationFailed(
                f"Label Studio refused the personal access token (HTTP {exc.status_code}): it "
                "may be expired or revoked; create a new one under Account & Settings, or use the "
                "legacy token instead",
                status_code=exc.status_code,
                url=url,
                response=exc.response,
            ) from None
        access = _access_token(response)
        if access is None:
            raise errors.UpstreamError("Label Studio's token refresh answer has no access token", url=url)
        self._access = access
        self._access_expiry = jwt_expiry(access) or (time.time() + 60.0)
        logger.debug("renewed Label Studio access token for %s", self.origin)


class NoLabelStudioToken:
    """The credentials of a client when no Label Studio token is configured: nothing is sent, and a
    401 says what to set."""

    origin = None
    can_renew = False

    def applies_to(self, url: HttpURL, *, api: bool = False) -> bool:
        return False

    def headers(self, client: HttpClient) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        return None

    def rejected_hint(self, *, sent: bool) -> str:
        return NO_TOKEN_SENT


def http_client(
    settings: Settings,
    *,
    session: requests.Session | None = None,
    url_guard: UrlGuard | None = None,
    resolve_host: HostResolver = resolve_host,
) -> HttpClient:
    """The HTTP client for anything that reads from Label Studio: it carries the configured token
    (:class:`LabelStudioAuth`), or says on a 401 that none is configured.

    >>> client = http_client(Settings.from_env())  # doctest: +SKIP
    """
    credentials: LabelStudioAuth | NoLabelStudioToken = NoLabelStudioToken()
    if settings.label_studio_url and settings.api_key:
        credentials = LabelStudioAuth(settings.label_studio_url, settings.api_key)
    return HttpClient(
        settings, session=session, credentials=credentials, url_guard=url_guard, resolve_host=resolve_host
    )


def _access_token(response: requests.Response) -> str | None:
    """The ``access`` of a token refresh answer (None when it has none, or is not JSON)."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        return None
    access = body.get("access") if isinstance(body, dict) else None
    return access if isinstance(access, str) and access else None


def _strict_or_none(url: str) -> HttpURL | None:
    try:
        return parse_http_url(url)
    except errors.UnsupportedURL:
        return None


ACCESS_TOKEN_EXPIRED = (
    "Label Studio rejected the access token: access tokens expire after minutes; pass the personal "
    "access token itself (the refresh token from Account & Settings), which ml-data renews as needed, "
    "or the legacy token"
)
NO_TOKEN_SENT = "no Label Studio token was sent to this origin (set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)"


__all__ = [
    "ACCESS_TOKEN_EXPIRED",
    "NO_TOKEN_SENT",
    "TOKEN_KIND_NAMES",
    "LabelStudioAuth",
    "NoLabelStudioToken",
    "http_client",
    "is_personal_access_token",
    "jwt_expiry",
    "token_kind",
]
