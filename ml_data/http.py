"""All network access goes through here: one session factory and one client.

Why a client of our own rather than bare ``requests.get``: the reference resolver hung forever on a
stalled server (no timeouts), retried nothing, and sent the Label Studio token wherever a redirect
pointed. Here every request has connect and read timeouts (and a download one deadline over all of
it: :mod:`ml_data.deadline`), connection errors, 429 and 5xx are retried with backoff, redirects are
followed hop by hop so credentials are attached only to their exact origin (scheme, host and port)
and never again once a redirect has left it, and every failure becomes a typed
:mod:`ml_data.errors` exception with the URL redacted (:mod:`ml_data.http_errors`).

Every hop is one :class:`~ml_data.urls.HttpURL`, read once. Its host name is resolved once; the
guard (if any) sees those addresses, and the connection is made to exactly those addresses (pinned
in the connection pool, the Host header and TLS server name staying the name:
:mod:`ml_data.http_pinned`): the socket goes where the check said, whatever a second DNS answer or
another URL parser would say. Retries are bounded by the deadline (:mod:`ml_data.http_retry`).

This module knows nothing of whose credentials it carries: a
:class:`~ml_data.http_credentials.Credentials` value decides where it applies, what it sends,
whether a 401 can be cured by renewing it, and what a 401 should tell the user (Label Studio's are
:class:`ml_data.labelstudio.auth.LabelStudioAuth`, and :func:`ml_data.labelstudio.auth.http_client`
makes the client that carries them).
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from urllib3 import exceptions as urllib3_exceptions

from ml_data import deadline as _deadline
from ml_data import errors
from ml_data._version import __version__
from ml_data.config import Settings
from ml_data.deadline import Deadline
from ml_data.http_credentials import Credentials, Origin
from ml_data.http_errors import (
    REDIRECT_STATUSES,
    is_success,
    raise_for_response,
    raise_for_transfer_coding,
    translate_exception,
)
from ml_data.http_pinned import PINNED, HostResolver, PinnedAdapter, resolve_host
from ml_data.http_retry import BoundedRetry
from ml_data.redaction import redact_url
from ml_data.urls import HttpURL, parse_http_url

logger = logging.getLogger(__name__)

USER_AGENT = f"ml-data/{__version__}"
CHUNK_SIZE = 1024 * 1024
#: Connections kept per origin: enough for the default 16 bulk workers and then some.
DEFAULT_POOL_SIZE = 32
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def make_session(settings: Settings, *, pool_maxsize: int = DEFAULT_POOL_SIZE) -> requests.Session:
    """A pooled ``requests.Session`` that retries connection errors, 429 and 5xx with backoff.

    Read timeouts are not retried here (a stalled server should fail within one timeout), and
    redirects are not followed by the session: :class:`HttpClient` follows them itself.
    """
    retry = BoundedRetry(
        total=settings.retries,
        connect=settings.retries,
        read=0,
        status=settings.retries,
        other=0,
        redirect=0,
        backoff_factor=settings.backoff_factor,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = PinnedAdapter(pool_connections=16, pool_maxsize=pool_maxsize, max_retries=retry)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    # Servers must send files as stored: a transparently compressed body could not be checked
    # against its Content-Length.
    session.headers["Accept-Encoding"] = "identity"
    # The environment (proxies, CA bundle) comes from Settings, read once; requests would otherwise
    # re-read it on every request (costly) and add ~/.netrc credentials to any host.
    session.trust_env = False
    session.verify = (settings.ca_bundle or True) if settings.verify_ssl else False
    return session


#: ``factory(settings, pool_maxsize=N)`` -> a session whose http(s) adapters are
#: :class:`PinnedAdapter` (HttpClient mounts one where they are not).
SessionFactory = Callable[..., requests.Session]
_session_factory: SessionFactory = make_session


def set_session_factory(factory: SessionFactory | None) -> None:
    """Replace how every session of ml-data is made (e.g. to add a client certificate or mount a
    test adapter); None restores the default. The factory is called as
    ``factory(settings, pool_maxsize=N)``.

    >>> set_session_factory(lambda settings, pool_maxsize: my_session(settings))  # doctest: +SKIP
    """
    global _session_factory
    _session_factory = factory or make_session


def new_session(settings: Settings, *, pool_maxsize: int = DEFAULT_POOL_SIZE) -> requests.Session:
    """A session from the current factory, with connections for ``pool_maxsize`` threads per origin."""
    return _session_factory(settings, pool_maxsize=pool_maxsize)


def is_identity_encoded(response: requests.Response) -> bool:
    """True when the body is sent as stored (no gzip or other Content-Encoding)."""
    return response.headers.get("Content-Encoding", "identity").strip().lower() in ("", "identity")


#: Called before every connection with the URL and the addresses it resolved to (None when a proxy
#: connects); raises to refuse it. The service's SSRF guard is one.
UrlGuard = Callable[[HttpURL, "tuple[str, ...] | None"], None]


class HttpClient:
    """Typed, origin-safe requests over one pooled session.

    ``credentials`` (optional) go only where they apply, on their origin. ``url_guard``
    (optional) is called with every URL, redirects included, and the addresses its host resolved
    to, before a connection is made; it raises to refuse one. ``resolve_host`` is how host names
    become addresses (the resolver's answer is taken once per request and pinned).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        credentials: Credentials | None = None,
        url_guard: UrlGuard | None = None,
        resolve_host: HostResolver = resolve_host,
    ) -> None:
        self.settings = settings
        self.session = session or new_session(settings)
        for prefix in ("http://", "https://"):
            if not isinstance(self.session.adapters.get(prefix), PinnedAdapter):
                # Without it, connections would resolve host names again, after the checks.
                self.session.mount(prefix, PinnedAdapter(max_retries=_adapter_retries(self.session, prefix)))
        self.credentials = credentials
        self.url_guard = url_guard
        self.resolve_host = resolve_host
        self._proxies = dict(settings.proxies)
        self._bypass: dict[str, bool] = {}

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    def proxies_for(self, url: str | HttpURL) -> dict[str, str]:
        """The proxies to use for ``url``: none for hosts in no_proxy (decided once per host)."""
        if not self._proxies:
            return {}
        host = url.host if isinstance(url, HttpURL) else (Origin.of(url) or Origin("", "", 0)).host
        bypass = self._bypass.get(host)
        if bypass is None:
            bypass = bool(self.settings.no_proxy) and bool(
                urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                    host, {"no": self.settings.no_proxy}
                )
            )
            self._bypass[host] = bypass
        return {} if bypass else self._proxies

    def get(
        self,
        url: str | HttpURL,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = True,
        deadline: Deadline | None = None,
    ) -> requests.Response:
        """GET ``url``, following redirects; the response is a success or a typed error is raised.

        The credentials go only where they apply on their exact origin, and to none after a
        redirect has left that origin (a presigned cloud URL must never see a token).
        """
        return self.request("GET", url, headers=headers, stream=stream, deadline=deadline)

    def request(
        self,
        method: str,
        url: str | HttpURL,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        stream: bool = True,
        read_timeout: float | None = None,
        api: bool = False,
        authenticate: bool = True,
        follow_redirects: bool = True,
        answer_redirect: bool = False,
        deadline: Deadline | None = None,
    ) -> requests.Response:
        """Like :meth:`get` for any method; a 303 (or 301/302 after a POST) continues as a GET
        without the body, as browsers do; 307/308 repeat the method and body.

        ``read_timeout`` overrides the configured one (a server that builds a whole export before
        its first byte needs longer than a file server). ``api`` is handed to the credentials'
        :meth:`~Credentials.applies_to` (their server's API client's own calls);
        ``authenticate=False`` sends no credentials at all (a renewal's own request).
        ``follow_redirects=False`` makes a redirect a typed error; ``answer_redirect=True`` answers the
        first redirect itself (closed: its ``Location`` is the point), for a caller that hands the
        target on rather than fetching it. ``deadline`` bounds the whole
        call: every connect, header line and redirect, and the body when it is read later
        (whatever the per-read timeouts allow, :class:`UpstreamTimeout` once it passes).

        The answer is a 2xx (a 304 too when ``headers`` make the request conditional) framed as
        plain or chunked; anything else is a typed error."""
        with _deadline.applied(deadline):
            return self._request(
                method,
                url,
                headers or {},
                json_body=json_body,
                stream=stream,
                read_timeout=read_timeout,
                credentials=self.credentials if authenticate else None,
                api=api,
                follow_redirects=follow_redirects,
                answer_redirect=answer_redirect,
            )

    def _request(
        self,
        method: str,
        url: str | HttpURL,
        headers: Mapping[str, str],
        *,
        json_body: Any,
        stream: bool,
        read_timeout: float | None,
        credentials: Credentials | None,
        api: bool,
        follow_redirects: bool,
        answer_redirect: bool,
    ) -> requests.Response:
        deadline = _deadline.current()
        current = url if isinstance(url, HttpURL) else parse_http_url(url)
        first = current
        left_origin = False
        retried_auth = False
        conditional = any(name.lower() in ("if-none-match", "if-modified-since") for name in headers)
        for _hop in range(self.settings.max_redirects + 1):
            if deadline is not None and deadline.expired():
                raise deadline.error(str(current))
            proxies = self.proxies_for(current)
            addresses = None if proxies else self._addresses(current)
            if self.url_guard is not None:
                self.url_guard(current, addresses)
            send_auth = credentials is not None and not left_origin and credentials.applies_to(current, api=api)
            request_headers = dict(headers)
            if send_auth:
                assert credentials is not None
                request_headers.update(credentials.headers(self))
            try:
                response = self._send(
                    method,
                    current,
                    request_headers,
                    addresses=addresses,
                    proxies=proxies,
                    json_body=json_body,
                    stream=stream,
                    read_timeout=read_timeout,
                )
            except requests.RequestException as exc:
                raise translate_exception(exc, str(current), deadline=deadline) from None
            redirect = response.status_code in REDIRECT_STATUSES and "Location" in response.headers
            if redirect and answer_redirect:
                response.close()
                return response
            if redirect and not follow_redirects:
                response.close()
                raise_for_response(response, str(current), hint="a redirect, not followed for this request")
            if redirect:
                location = response.headers["Location"]
                response.close()
                try:
                    target = current.join(location)
                except errors.UnsupportedURL as exc:
                    raise errors.UnsafeURL(
                        f"refusing a redirect to {redact_url(location)}: {exc.message}", url=str(first)
                    ) from None
                if credentials is None or Origin(*target.origin) != credentials.origin:
                    left_origin = True
                logger.debug("redirect %s -> %s", redact_url(str(current)), redact_url(str(target)))
                if response.status_code in (301, 302, 303) and method != "HEAD":
                    method, json_body = "GET", None
                current = target
                continue
            if (
                response.status_code == 401
                and send_auth
                and credentials is not None
                and credentials.can_renew
                and not retried_auth
            ):
                # What was sent may have been revoked or expired early: renew it once.
                response.close()
                credentials.invalidate()
                retried_auth = True
                continue
            if not is_success(response.status_code, conditional=conditional):
                response.close()
                hint = ""
                if response.status_code == 401 and credentials is not None:
                    hint = credentials.rejected_hint(sent=send_auth)
                raise_for_response(response, str(current), hint=hint, conditional=conditional)
            raise_for_transfer_coding(response, str(current))
            return response
        raise errors.TooManyRedirects(f"more than {self.settings.max_redirects} redirects", url=str(first))

    def _addresses(self, target: HttpURL) -> tuple[str, ...]:
        try:
            addresses = self.resolve_host(target.host, target.port)
        except OSError as exc:
            raise errors.UpstreamUnavailable(
                f"cannot resolve host {target.host} ({type(exc).__name__})", url=str(target)
            ) from None
        if not addresses:
            raise errors.UpstreamUnavailable(f"host {target.host} has no address", url=str(target))
        return addresses

    def _send(
        self,
        method: str,
        target: HttpURL,
        headers: Mapping[str, str],
        *,
        addresses: tuple[str, ...] | None,
        proxies: dict[str, str],
        json_body: Any = None,
        stream: bool,
        read_timeout: float | None = None,
    ) -> requests.Response:
        """One request, prepared here and sent on the session, its connection pinned to
        ``addresses``.

        ``Session.get`` would also merge cookies and environment settings on every call (a third of
        the client's cost per small file); ml-data uses neither, its settings being read once.
        """
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=str(target), headers={**self.session.headers, **headers}, json=json_body)
        pins = None if addresses is None else {(target.host, target.port): addresses}
        token = PINNED.set(pins)
        try:
            return self.session.send(
                prepared,
                stream=stream,
                timeout=self.timeout if read_timeout is None else (self.settings.connect_timeout, read_timeout),
                allow_redirects=False,
                proxies=proxies,
                verify=self.session.verify,
            )
        finally:
            PINNED.reset(token)

    def iter_body(
        self,
        response: requests.Response,
        url: str,
        *,
        max_bytes: int | None = None,
        deadline: Deadline | None = None,
        decode: bool = False,
    ) -> Iterator[bytes]:
        """The body in chunks (memory bounded whatever the size), with failures typed.

        Files are stored as sent: a body with a ``Content-Encoding`` is refused (expanding it
        could turn kilobytes on the wire into gigabytes on disk), unless ``decode`` (API answers).
        ``max_bytes`` caps the size; ``deadline`` (the one the request was sent under, whose reads
        it already bounds) makes a timeout after it has passed say so.
        """
        received = 0
        try:
            if not is_identity_encoded(response) and not decode:
                raise errors.UnacceptableResponse(
                    f"the server compressed the body (Content-Encoding: {response.headers.get('Content-Encoding')}) "
                    "although it was asked for the file as stored",
                    url=url,
                )
            if is_identity_encoded(response) and hasattr(response.raw, "read1"):
                # read1 hands over every byte that arrived, so a transfer that breaks off keeps
                # all it received and can resume from there (iter_content drops a partial chunk).
                chunks: Iterator[bytes] = iter(lambda: response.raw.read1(CHUNK_SIZE), b"")
            else:
                chunks = response.iter_content(CHUNK_SIZE)
            for chunk in chunks:
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise errors.ResourceTooLarge(
                        f"larger than the {max_bytes:,}-byte limit (ML_DATA_MAX_FILE_SIZE)", url=url
                    )
                if deadline is not None and deadline.expired():
                    raise deadline.error(url)
                yield chunk
        except (requests.RequestException, urllib3_exceptions.HTTPError, OSError) as exc:
            raise translate_exception(exc, url, deadline=deadline) from None
        finally:
            response.close()


def _adapter_retries(session: requests.Session, prefix: str) -> Any:
    adapter = session.adapters.get(prefix)
    return getattr(adapter, "max_retries", 0)
