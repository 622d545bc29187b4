"""What the service may fetch: no open proxy, no SSRF.

A URL is allowed when it is served by Label Studio (its configured origin), is in Local Files /
upload folders (containment applies), is a ``data:`` URI, or names an allowlisted origin or bucket.
Every request the HTTP client makes, redirects included, is checked again before it connects, and
an allowlisted host name must not resolve to a loopback, link-local or private address (DNS
rebinding); IP addresses in the allowlist are taken as they are.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from ml_data.config import Settings
from ml_data.errors import URLNotAllowed
from ml_data.http import Origin
from ml_data.resolvers import LocalFile, Resolver
from ml_data.resolvers.refs import CloudRef, HttpRef, Ref

_LOCAL_KINDS = frozenset({"local_files", "upload", "local_path", "data_uri"})


class UrlGuard:
    def __init__(self, settings: Settings, allow: tuple[str, ...]) -> None:
        self.label_studio = Origin.of(settings.label_studio_url) if settings.label_studio_url else None
        self.origins = {origin for origin in (Origin.of(item) for item in allow) if origin is not None}
        self.buckets = {item.lower() for item in allow if item.lower().startswith(("s3://", "gs://", "azure-blob://"))}

    def check_ref(self, ref: Ref) -> None:
        """Refuse a parsed URL the service may not fetch (before any connection)."""
        if ref.kind in _LOCAL_KINDS or getattr(ref, "via", None) == "label-studio":
            return
        if isinstance(ref, CloudRef):
            if f"{ref.scheme}://{ref.bucket}".lower() in self.buckets:
                return
            if ref.via == "presigned" and ref.url is not None and self._origin_allowed(ref.url):
                return
            raise URLNotAllowed(f"{ref.scheme}://{ref.bucket} is not an allowed bucket", url=ref.raw)
        if isinstance(ref, HttpRef) and self._origin_allowed(ref.url):
            return
        raise URLNotAllowed("this origin is not allowed (see ML_DATA_SERVICE_ALLOW)", url=ref.raw)

    def check_hop(self, url: str) -> None:
        """The HTTP client's guard: called with every URL, redirects included, before connecting."""
        if not self._origin_allowed(url):
            raise URLNotAllowed("refusing to connect to an origin that is not allowed", url=url)

    def _origin_allowed(self, url: str) -> bool:
        origin = Origin.of(url)
        if origin is None:
            return False
        if origin == self.label_studio:
            return True
        if origin not in self.origins:
            return False
        return _is_ip(origin.host) or _resolves_publicly(origin.host)


class GuardedResolver(Resolver):
    """A resolver that refuses, before any connection, every URL the guard does not allow; used for
    everything the service fetches (single resources, prefetch jobs, dataset jobs)."""

    def __init__(self, settings: Settings, guard: UrlGuard, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.guard = guard

    def resolve(self, url: str, *, task_id: int | None = None, refresh: bool = False) -> LocalFile:
        self.guard.check_ref(self.parse(url))
        return super().resolve(url, task_id=task_id, refresh=refresh)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _resolves_publicly(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved or ip.is_unspecified:
            return False
    return bool(addresses)
