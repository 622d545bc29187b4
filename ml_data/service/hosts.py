"""Which names the service answers to, and the URL it gives out for itself.

A web page cannot send the bearer token, but without one (``serve --no-auth``) any page the user
opens could reach the service: a name the attacker controls first points at the attacker, then at
127.0.0.1 (DNS rebinding), and the browser treats the service's answers as the attacker's own
origin. The browser still sends the attacker's name as ``Host``, so a service without a token
answers only loopback addresses, ``localhost`` and the names it is told about. With a token, any
well-formed Host is answered unless ``ML_DATA_SERVICE_ALLOWED_HOSTS`` is set.

The Host is read with the same strict URL reader as every other URL (one spelling of an address,
no user information, no path), once per request; links the service builds for itself use that
checked value, or the configured public URL.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from ml_data.errors import ConfigurationError, UnsafeURL
from ml_data.service.errors import ApiError
from ml_data.urls import HttpURL, parse_http_url

# What a Host header may hold at all: a name, a dotted or bracketed address, a port.
_HOST_CHARS = re.compile(r"[A-Za-z0-9._\-:\[\]]{1,300}")


@functools.lru_cache(maxsize=256)  # pure, and a service hears the same few names on every request
def read_host(value: str, scheme: str = "http") -> HttpURL | None:
    """``host[:port]`` as one strict value (lower-case name, canonical address, default port for
    ``scheme`` when none is written); None when ``value`` is not exactly that.

    >>> read_host("LocalHost:8765").netloc
    'localhost:8765'
    >>> read_host("127.1") is None, read_host("evil.example/x") is None
    (True, True)
    """
    if not _HOST_CHARS.fullmatch(value):
        return None
    try:
        return parse_http_url(f"{scheme}://{value}/")
    except UnsafeURL:
        return None


def is_loopback_host(host: HttpURL) -> bool:
    """``localhost`` or a loopback address literal (127.0.0.0/8, ::1): names no one else can point
    somewhere."""
    if host.host == "localhost":
        return True
    return host.is_ip and ipaddress.ip_address(host.host).is_loopback


@dataclass(frozen=True)
class AllowedHost:
    """One entry of ``ML_DATA_SERVICE_ALLOWED_HOSTS``: a name, and a port when one was written."""

    host: str
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        """``name`` or ``name:port`` (an IPv6 address in brackets); ConfigurationError otherwise."""
        host = read_host(entry.strip())
        if host is None:
            raise ConfigurationError(
                f"ML_DATA_SERVICE_ALLOWED_HOSTS: {entry!r} is not a host name or address with an optional port"
            )
        # A port was written when a ':' follows the name (or the bracketed IPv6 address).
        written_port = ":" in entry.strip().rsplit("]", 1)[-1]
        return cls(host.host, host.port if written_port else None)

    def matches(self, host: HttpURL) -> bool:
        return host.host == self.host and (self.port is None or host.port == self.port)


@dataclass(frozen=True)
class HostPolicy:
    """The Host check of every request. ``restricted``: only loopback names and ``allowed``."""

    restricted: bool
    allowed: tuple[AllowedHost, ...] = ()

    @classmethod
    def create(cls, *, no_auth: bool, allowed_hosts: tuple[str, ...]) -> HostPolicy:
        allowed = tuple(AllowedHost.parse(entry) for entry in allowed_hosts)
        return cls(restricted=no_auth or bool(allowed), allowed=allowed)

    def check(self, header: str | None, scheme: str) -> HttpURL | None:
        """The request's Host, read and checked (an :class:`ApiError` 400 when refused); None when
        the request sent none (HTTP/1.0 clients: not a browser, which always sends one)."""
        if header is None:
            return None
        host = read_host(header, scheme)
        if host is None:
            raise ApiError(400, "bad_host", "the Host header is not a host name or address with an optional port")
        if self.restricted and not (is_loopback_host(host) or any(entry.matches(host) for entry in self.allowed)):
            raise ApiError(
                400,
                "host_not_allowed",
                f"this service does not answer to the name {host.netloc!r}: use a loopback address or "
                "localhost, or list the name in ML_DATA_SERVICE_ALLOWED_HOSTS",
            )
        return host


def public_base_url(text: str) -> str:
    """``ML_DATA_SERVICE_URL`` as the base of the service's own links: an http(s) URL, a path
    prefix allowed, no query; without a trailing slash.

    >>> public_base_url("https://Data.Example.com/ml-data/")
    'https://data.example.com/ml-data'
    """
    try:
        url = parse_http_url(text.strip())
    except UnsafeURL as exc:
        raise ConfigurationError(f"ML_DATA_SERVICE_URL must be an http(s) URL, got {text!r} ({exc.message})") from None
    if url.query or "#" in text:
        raise ConfigurationError(f"ML_DATA_SERVICE_URL must have no query or fragment, got {text!r}")
    return f"{url.scheme}://{url.netloc}{url.path.rstrip('/')}"
