"""What the service may fetch: no open proxy, no SSRF.

A URL is allowed when it is one of the files Label Studio serves (uploads, Local Files, the storage
proxy, resolve/presign links, and the objects of the storages only those links reach, such as
``b2://``: never its ``/api/``), is in the Local Files / upload folders (containment applies), is a
``data:`` URI, or names an allowlisted origin or bucket. The decision
is made twice on the same parsed values: once on the Ref before its fetcher runs (cloud SDK fetches
included), and by the HTTP client before every connection, redirects included, with the addresses
the host name resolved to. Those addresses are the ones connected to (the client pins them), so a
name that answers a public address to the check and a private one to the connection cannot get
through; an allowlisted host name must resolve only to globally routable addresses (see
:mod:`ml_data.service.addresses`), while IP addresses in the allowlist are taken as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_data.config import Settings
from ml_data.errors import URLNotAllowed
from ml_data.http_credentials import Origin
from ml_data.labelstudio.paths import is_token_path, is_token_refresh_path
from ml_data.resolvers import Resolver
from ml_data.resolvers.refs import CloudRef, HttpRef, Ref
from ml_data.resolvers.registry import STORAGE_KIND
from ml_data.service.addresses import is_public_address
from ml_data.urls import HttpURL, parse_http_url

_LOCAL_KINDS = frozenset({"local_files", "upload", "local_path", "data_uri"})

#: Whether an allowlisted host name may connect to this address.
AddressPolicy = Callable[[str], bool]


class UrlGuard:
    """The allow decision of the service, for parsed URLs and for each connection."""

    def __init__(
        self, settings: Settings, allow: tuple[str, ...], *, address_allowed: AddressPolicy = is_public_address
    ) -> None:
        base = parse_http_url(settings.label_studio_url) if settings.label_studio_url else None
        self.label_studio = Origin(*base.origin) if base is not None else None
        self.label_studio_prefix = base.path.rstrip("/") if base is not None else ""
        self.origins = {origin for origin in (Origin.of(item) for item in allow) if origin is not None}
        self.buckets = {item.lower() for item in allow if item.lower().startswith(("s3://", "gs://", "azure-blob://"))}
        self.address_allowed = address_allowed

    def __call__(self, ref: Ref) -> None:
        self.check_ref(ref)

    def check_ref(self, ref: Ref) -> None:
        """Refuse a parsed URL the service may not fetch (before any connection)."""
        if ref.kind in _LOCAL_KINDS or getattr(ref, "via", None) == "label-studio":
            return
        if ref.kind == STORAGE_KIND:
            return  # a storage ml-data has no client for: read only through Label Studio's resolve link
        if isinstance(ref, CloudRef):
            if f"{ref.scheme}://{ref.bucket}".lower() in self.buckets:
                return
            if ref.via == "presigned" and ref.target is not None and self._origin_allowed(ref.target, None):
                return
            raise URLNotAllowed(f"{ref.scheme}://{ref.bucket} is not an allowed bucket", url=ref.raw)
        if isinstance(ref, HttpRef):
            if self._is_label_studio(ref.target) and not self._is_label_studio_file(ref.target):
                raise URLNotAllowed("only the files Label Studio serves are fetched, never its API", url=ref.raw)
            if self._origin_allowed(ref.target, None):
                return
        raise URLNotAllowed("this origin is not allowed (see ML_DATA_SERVICE_ALLOW)", url=ref.raw)

    def check_hop(self, target: HttpURL, addresses: tuple[str, ...] | None) -> None:
        """The HTTP client's guard: called with every URL, redirects included, and the addresses
        that will be connected to (None behind a proxy), before connecting."""
        if self._is_label_studio(target):
            # The one API path: the client renews a personal access token through this same
            # guarded connection (task URLs naming it were refused by check_ref).
            if not self._is_label_studio_file(target) and not self._is_token_refresh(target):
                raise URLNotAllowed("refusing to fetch Label Studio's API", url=str(target))
            return
        if not self._origin_allowed(target, addresses):
            raise URLNotAllowed("refusing to connect to an origin that is not allowed", url=str(target))

    def _is_label_studio(self, target: HttpURL) -> bool:
        return self.label_studio is not None and Origin(*target.origin) == self.label_studio

    def _is_label_studio_file(self, target: HttpURL) -> bool:
        return is_token_path(target.path, prefix=self.label_studio_prefix)

    def _is_token_refresh(self, target: HttpURL) -> bool:
        return is_token_refresh_path(target.path, prefix=self.label_studio_prefix)

    def _origin_allowed(self, target: HttpURL, addresses: tuple[str, ...] | None) -> bool:
        if Origin(*target.origin) not in self.origins:
            return False
        if target.is_ip or addresses is None:
            return True
        return bool(addresses) and all(self.address_allowed(address) for address in addresses)


class GuardedResolver(Resolver):
    """A resolver that refuses, before any connection, every URL the guard does not allow; used for
    everything the service fetches (single resources, prefetch jobs, dataset jobs)."""

    def __init__(self, settings: Settings, guard: UrlGuard, **kwargs: Any) -> None:
        super().__init__(settings, guard=guard, **kwargs)
