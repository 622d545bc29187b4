"""The resolver: one settings value, one HTTP client and one cache; each parsed URL goes to the
fetcher of its kind (:mod:`ml_data.resolvers.registry`)."""

from __future__ import annotations

import copy
import functools
import time
from typing import TYPE_CHECKING

from ml_data.cache import Cache
from ml_data.config import Settings
from ml_data.errors import MlDataError
from ml_data.fsutil import safe_filename
from ml_data.http import HttpClient
from ml_data.labelstudio import http_client
from ml_data.resolvers.base import LocalFile, OpenedFile
from ml_data.resolvers.parse import parse_ref
from ml_data.resolvers.refs import Ref
from ml_data.resolvers.registry import get_fetcher, url_kind

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.resolvers.base import RefGuard


class Resolver:
    """Resolves URLs with one settings value, one HTTP client (pooled) and one cache.

    >>> resolver = Resolver(Settings.from_env())  # doctest: +SKIP
    >>> resolver.resolve("/data/upload/3/x.jpg").path  # doctest: +SKIP
    PosixPath('/home/me/.cache/ml-data/objects/4f/4f.../x.jpg')
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: HttpClient | None = None,
        cache: Cache | None = None,
        allow_downloads: bool = True,
        refresh: bool = False,
        guard: RefGuard | None = None,
    ) -> None:
        self.settings = settings
        self.http = http or http_client(settings)
        self.cache = cache or Cache.from_settings(settings)
        #: When False, files not present locally or in the cache raise NotFound instead.
        self.allow_downloads = allow_downloads
        #: When True, cached remote files are revalidated (or downloaded again) whatever their age.
        self.refresh = refresh
        #: Called with every parsed URL before its fetcher runs (the service's SSRF guard); it
        #: raises to refuse one. Fetchers that reach a store by other means than the HTTP client
        #: (cloud SDKs) are covered by this decision too.
        self.guard = guard

    def _variant(self, **changes: object) -> Resolver:
        # A copy keeps the class and everything else (a guarded resolver stays guarded).
        variant = copy.copy(self)
        variant.__dict__.update(changes)
        return variant

    def without_downloads(self) -> Resolver:
        """The same resolver, but it only returns files that are local or already cached."""
        return self._variant(allow_downloads=False)

    def refreshing(self) -> Resolver:
        """The same resolver, but it revalidates every cached remote file it returns."""
        return self._variant(refresh=True)

    def cached(self, identity: str) -> CacheEntry | None:
        """The cache entry for ``identity``, checked as ``settings.cache_verify`` says (its size,
        or its sha256): fetchers read the cache only through here, so no kind skips the check."""
        return self.cache.get(identity, verify=self.settings.cache_verify)

    def sealed(self, ref: Ref) -> LocalFile | None:
        """The cached file for ``ref`` found by its seal alone (:meth:`Cache.sealed`: two
        ``stat`` calls), when the kind's freshness rule can be decided from the seal's time; None
        means look the full way (:meth:`cached`). Never with ``cache_verify="hash"``, which
        always reads and hashes, nor when refreshing."""
        if self.refresh or self.settings.cache_verify != "size" or not ref.filename:
            return None
        hit = self.cache.sealed(ref.identity, safe_filename(ref.filename))
        if hit is None:
            return None
        if not url_kind(ref.kind).immutable and time.time() - hit.validated_at >= self.settings.cache_ttl:
            return None  # due for revalidation: that needs the metadata's validators
        return LocalFile.from_sealed(hit, ref, self.cache)

    def parse(self, url: str) -> Ref:
        """The typed Ref for ``url`` (pure)."""
        return parse_ref(
            url, label_studio_url=self.settings.label_studio_url, s3_endpoint_url=self.settings.s3_endpoint_url
        )

    def resolve(self, url: str, *, task_id: int | None = None, refresh: bool = False) -> LocalFile:
        """The complete local file for ``url``; errors name the URL (redacted) and the task.

        ``refresh=True`` revalidates a cached remote file now instead of after the TTL. A file in
        place is checked on an open descriptor (a regular file beneath its root), which is then
        closed: to read it without a race against whoever can change its folder, use :meth:`open`.
        """
        if refresh and not self.refresh:
            return self.refreshing().resolve(url, task_id=task_id)
        found = self._fetch(url, task_id)
        if isinstance(found, OpenedFile):
            found.close()
            return found.local
        return found

    def open(self, url: str, *, task_id: int | None = None, refresh: bool = False) -> OpenedFile:
        """The file for ``url``, resolved as :meth:`resolve` does and open for reading. For a file
        in place this is the descriptor its checks were made on: what is read is what was checked,
        even if a folder on its path is swapped for a link meanwhile.

        >>> with resolver.open("/data/local-files/?d=photos/cat.jpg") as opened:  # doctest: +SKIP
        ...     body, size = opened.file.read(), opened.stat.st_size
        """
        if refresh and not self.refresh:
            return self.refreshing().open(url, task_id=task_id)
        found = self._fetch(url, task_id)
        if isinstance(found, OpenedFile):
            return found
        try:
            return OpenedFile.of(found)
        except MlDataError as exc:
            exc.task_id = task_id if exc.task_id is None else exc.task_id
            raise

    def _fetch(self, url: str, task_id: int | None) -> LocalFile | OpenedFile:
        try:
            ref = self.parse(url)
            if self.guard is not None:
                self.guard(ref)
            return get_fetcher(ref.kind)(ref, self, task_id)
        except MlDataError as exc:
            if exc.task_id is None:
                exc.task_id = task_id
            raise


@functools.lru_cache(maxsize=16)
def resolver_for(settings: Settings) -> Resolver:
    """A shared Resolver per settings value, so repeated calls reuse one connection pool."""
    return Resolver(settings)


def resolve(
    url: str, *, task_id: int | None = None, settings: Settings | None = None, refresh: bool = False
) -> LocalFile:
    """Resolve a task URL to a complete local file.

    Local files (Local Files storage, mounted uploads, allowed plain paths) are returned in place;
    everything else is downloaded once into the cache and verified.

    >>> resolve("/data/local-files/?d=photos/cat.jpg").path  # doctest: +SKIP
    PosixPath('/data/photos/cat.jpg')
    """
    return resolver_for(settings or Settings.from_env()).resolve(url, task_id=task_id, refresh=refresh)


def open_resource(
    url: str, *, task_id: int | None = None, settings: Settings | None = None, refresh: bool = False
) -> OpenedFile:
    """Resolve a task URL and open the file for reading (see :meth:`Resolver.open`): a file in
    place is read from the very descriptor that was checked beneath its root.

    >>> with open_resource("/data/local-files/?d=photos/cat.jpg") as opened:  # doctest: +SKIP
    ...     body = opened.file.read()
    """
    return resolver_for(settings or Settings.from_env()).open(url, task_id=task_id, refresh=refresh)
