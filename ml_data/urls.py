"""One strict reading of http(s) URLs: the value the guard checks, the token decision and the
connection all use.

Why not ``urllib.parse.urlsplit``: it and urllib3 (which opens the socket) read some strings
differently. ``http://127.0.0.1:8001\\@127.0.0.1:8000/x`` is host 8000 to the first and host 8001 to
the second; ``http://h/a/../b`` asks for ``/b``; ``http://2130706433/`` is 127.0.0.1 to the
resolver. A checker and a connector that disagree let a task send the Label Studio token, or the
service's requests, wherever it likes. So every string that could be read two ways is refused:
backslashes, control and white-space characters in the authority, user information (``@``), IPv4
addresses not in canonical dotted-quad form, empty host labels, dot segments (also percent-encoded,
which proxies decode). What is accepted is normalised once (lower-case scheme and host, IDNA host,
spaces and non-ASCII in the path and query percent-encoded) into an :class:`HttpURL`, and later
layers pass that value on rather than a string.

>>> str(parse_http_url("HTTP://Example.COM:80/a b.jpg?x=1#top"))
'http://example.com/a%20b.jpg?x=1'
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, unquote

from ml_data.errors import UnsafeURL

DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REG_NAME_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_IPV4_LOOKING = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
# Characters left as they are in a path or query (RFC 3986 pchar, '/', '?' and '%'); everything
# else (spaces, non-ASCII, quotes, ...) is percent-encoded the way requests and urllib3 would.
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986 appendix B, with the scheme grammar of section 3.1: every part optional, so every string
# matches (DOTALL: a newline is text like any other).
_GENERIC = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):)?(?://(?P<authority>[^/?#]*))?(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?(?:#.*)?",
    re.DOTALL,
)


class URLParts(NamedTuple):
    """A URL reference split into its parts, nothing decoded or checked. ``authority`` and
    ``query`` are None when the text has none (``//`` or ``?`` absent)."""

    scheme: str
    authority: str | None
    path: str
    query: str | None


def split_url(text: str) -> URLParts:
    """Split any string into scheme, authority, path and query; never raises.

    Why not ``urllib.parse.urlsplit``: it raises a bare ``ValueError`` for ``file://[x`` or
    ``foo://]`` (it checks bracketed hosts), and silently deletes tabs and newlines, so a string
    and its parts would not say the same thing. Here nothing is removed and nothing refused: the
    caller decides what the parts may hold.

    >>> split_url("file://[x/a.jpg?v=1#top")
    URLParts(scheme='file', authority='[x', path='/a.jpg', query='v=1')
    >>> split_url("/data/local-files/?d=a.jpg")
    URLParts(scheme='', authority=None, path='/data/local-files/', query='d=a.jpg')
    """
    match = _GENERIC.fullmatch(text)
    assert match is not None  # every part of the pattern is optional
    return URLParts(match["scheme"] or "", match["authority"], match["path"], match["query"])


@dataclass(frozen=True)
class HttpURL:
    """An absolute http(s) URL as it will be requested. ``host`` is lower-case ASCII (IDNA), an
    IPv6 address without brackets; ``path`` starts with ``/``; ``query`` has no leading ``?``."""

    scheme: str
    host: str
    port: int
    path: str = "/"
    query: str = ""

    @property
    def netloc(self) -> str:
        """``host[:port]`` as written in a URL and a Host header (default ports left out)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """Scheme, host and port: the unit credentials are bound to."""
        return (self.scheme, self.host, self.port)

    @property
    def target(self) -> str:
        """The request target: path and query."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def is_ip(self) -> bool:
        return is_ip_address(self.host)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"

    def join(self, reference: str) -> HttpURL:
        """Resolve a redirect's ``Location`` against this URL, as strictly as any other URL.

        >>> parse_http_url("http://h/a/b.jpg").join("c.jpg").path
        '/a/c.jpg'
        """
        if not isinstance(reference, str) or not reference:
            raise UnsafeURL("empty redirect location", url=str(self))
        if _CONTROL.search(reference) or "\\" in reference:
            raise UnsafeURL("redirect location contains control characters or backslashes", url=str(self))
        if _SCHEME.match(reference):
            return parse_http_url(reference)
        if reference.startswith("//"):
            return parse_http_url(f"{self.scheme}:{reference}")
        base = f"{self.scheme}://{self.netloc}"
        if reference.startswith("/"):
            return parse_http_url(base + reference)
        if reference.startswith("?"):
            return parse_http_url(base + self.path + reference)
        if reference.startswith("#"):
            return self
        directory = self.path.rsplit("/", 1)[0]
        return parse_http_url(f"{base}{directory}/{reference}")


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_http_url(text: str) -> HttpURL:
    """Read ``text`` as an absolute http(s) URL, or raise :class:`UnsafeURL` (also a ValueError)
    when it is not one, or could be read as more than one.

    >>> parse_http_url("http://127.0.0.1:8001\\\\@127.0.0.1:8000/x")
    Traceback (most recent call last):
    ...
    ml_data.errors.UnsafeURL: URL contains a backslash [url http://127.0.0.1:8001\\@127.0.0.1:8000/x]
    """
    if not isinstance(text, str):
        raise UnsafeURL(f"expected a URL string, got {type(text).__name__}")
    _check_text(text)
    match = _SCHEME.match(text)
    if match is None or match["scheme"].lower() not in DEFAULT_PORTS or text[match.end() : match.end() + 2] != "//":
        raise UnsafeURL("not an absolute http(s) URL", url=text)
    scheme = match["scheme"].lower()
    rest = text[match.end() + 2 :]
    rest = rest.split("#", 1)[0]
    end = min((index for index in (rest.find("/"), rest.find("?")) if index >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    host, port = _parse_authority(authority, scheme, text)
    path, _, query = remainder.partition("?")
    path = _normalise_component(path or "/", _SAFE_PATH, text)
    query = _normalise_component(query, _SAFE_QUERY, text)
    if not path.startswith("/"):
        path = "/" + path
    _check_path(path, text)
    return HttpURL(scheme=scheme, host=host, port=port, path=path, query=query)


def reject_lone_surrogates(text: str) -> None:
    """A lone surrogate (a JSON ``"\\ud800"``) is no text any parser, file system or server reads
    the same way: refused before anything else looks at the URL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeURL(
            "URL contains a lone surrogate (not valid text)", url=text.encode("utf-8", "replace").decode()
        ) from None


def _check_text(text: str) -> None:
    if "\\" in text:
        raise UnsafeURL("URL contains a backslash", url=text)
    if _CONTROL.search(text):
        raise UnsafeURL("URL contains control characters", url=text)
    reject_lone_surrogates(text)


def _parse_authority(authority: str, scheme: str, text: str) -> tuple[str, int]:
    try:
        return _authority(authority, scheme)
    except _Refused as exc:
        raise UnsafeURL(str(exc), url=text) from None


class _Refused(ValueError):
    """Why an authority is refused (the caller adds the URL)."""


@functools.lru_cache(maxsize=1024)
def _authority(authority: str, scheme: str) -> tuple[str, int]:
    """Host and port of an authority; pure, so remembered: a task's URLs share a few hosts."""
    if not authority:
        raise _Refused("URL has no host")
    if "@" in authority:
        raise _Refused("URLs with user information (user@host) are not accepted")
    if any(char.isspace() for char in authority) or "%" in authority:
        raise _Refused("URL host contains spaces or percent-encoding")
    if authority.startswith("["):
        closing = authority.find("]")
        if closing < 0:
            raise _Refused("unclosed IPv6 address in URL")
        literal, after = authority[1:closing], authority[closing + 1 :]
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError:
            raise _Refused("not a valid IPv6 address in URL") from None
        host = str(address)
        port_text = after[1:] if after.startswith(":") else None
        if after and port_text is None:
            raise _Refused("unexpected text after the IPv6 address")
    else:
        host_text, colon, port_text_or_empty = authority.partition(":")
        port_text = port_text_or_empty if colon else None
        host = _parse_host(host_text)
    if port_text is None:
        return host, DEFAULT_PORTS[scheme]
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536 or len(port_text) > 5:
        raise _Refused("URL port must be a number from 1 to 65535")
    return host, int(port_text)


def _parse_host(host_text: str) -> str:
    if not host_text:
        raise _Refused("URL has no host")
    try:
        host = host_text.encode("idna").decode("ascii").lower() if not host_text.isascii() else host_text.lower()
    except UnicodeError:
        raise _Refused("URL host is not a valid domain name") from None
    labels = host.split(".")
    if _IPV4_LOOKING.match(labels[-1]):
        # A host whose last label is numeric is an IPv4 address to browsers and resolvers, which
        # also accept 127.1, 0x7f.1, 017700000001 and 2130706433: only the one spelling is taken.
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise _Refused("IPv4 addresses must be written as four decimal numbers (a.b.c.d)") from None
        if str(address) != host:
            raise _Refused("IPv4 addresses must be written as four decimal numbers (a.b.c.d)")
        return host
    if len(host) > 253 or not all(_REG_NAME_LABEL.match(label) for label in labels):
        raise _Refused("URL host is not a valid host name")
    return host


def _normalise_component(component: str, safe: str, text: str) -> str:
    if _BAD_PERCENT.search(component):
        raise UnsafeURL("URL has a '%' that does not start a percent-encoded byte", url=text)
    return quote(component, safe=safe)


def _check_path(path: str, text: str) -> None:
    # Servers and proxies in front of them decode %2e and %2f and then remove dot segments; the
    # path asked for must be the path received, so none is accepted, encoded or not.
    decoded = unquote(path, errors="replace") if "%" in path else path
    for segment in decoded.split("/"):
        if segment in (".", ".."):
            raise UnsafeURL("URL path contains '.' or '..' segments", url=text)
    if "\x00" in decoded or "\\" in decoded:
        raise UnsafeURL("URL path contains an encoded NUL or backslash", url=text)


__all__ = ["DEFAULT_PORTS", "HttpURL", "URLParts", "is_ip_address", "parse_http_url", "split_url"]
