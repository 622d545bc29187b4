"""The URL kinds ml-data resolves: one row each, the fetcher imported on first use.

A row says which URL schemes name the kind, which optional extra lets its fetcher reach the source
itself (for the install hint), whether its content can ever change under one identity (the
freshness rule, applied by :func:`ml_data.cache.freshness.freshness_action`), and which module
fetches it. Importing this module imports no fetcher.

>>> KNOWN_KINDS["s3"].install_hint
"pip install 'ml-data[s3]'"
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from ml_data.errors import MissingDependency, UnsupportedURL

if TYPE_CHECKING:
    from ml_data.resolvers.base import Fetcher


@dataclass(frozen=True)
class UrlKind:
    """One URL kind: what names it, what it needs, how long its cached copy is trusted, who fetches it."""

    name: str
    #: URL schemes that name this kind (none for the kinds recognised by their path)
    schemes: tuple[str, ...]
    #: the optional extra (``pip install 'ml-data[extra]'``) whose SDK the fetcher uses when installed
    extra: str | None
    #: True when the content can never change under one identity: its cache entry is reused without
    #: asking. False: it is trusted for ``ML_DATA_CACHE_TTL``, then asked whether it changed.
    immutable: bool
    #: the module whose ``fetch(ref, resolver, task_id)`` resolves it
    fetcher: str

    @property
    def install_hint(self) -> str:
        return f"pip install 'ml-data[{self.extra}]'" if self.extra else "pip install ml-data"

    def missing(self, package: str) -> MissingDependency:
        """The error for this kind's SDK (``package``) not being installed: it says which extra brings it."""
        what = f"{self.schemes[0]}:// objects" if self.schemes else f"{self.name} URLs"
        return MissingDependency(f"{what} need {package}: {self.install_hint}")


_CLOUD = "ml_data.resolvers.cloud"
#: The kind of an object in a storage with no client of its own (any scheme but the rows' own)
STORAGE_KIND = "storage"

#: URL kind -> its row. A kind's name is what ``Ref.kind`` says and what a cache entry records.
KNOWN_KINDS = MappingProxyType(
    {
        row.name: row
        for row in (
            # Label Studio names an upload uniquely; it is never rewritten in place.
            UrlKind("upload", (), None, immutable=True, fetcher="ml_data.resolvers.upload"),
            UrlKind("local_files", (), None, immutable=False, fetcher="ml_data.resolvers.local_files"),
            UrlKind("local_path", ("file",), None, immutable=False, fetcher="ml_data.resolvers.local_path"),
            UrlKind("http", ("http", "https"), None, immutable=False, fetcher="ml_data.resolvers.http"),
            # The identity is the hash of the whole URI: other content is another identity.
            UrlKind("data_uri", ("data",), None, immutable=True, fetcher="ml_data.resolvers.data_uri"),
            # A cloud object can be overwritten under its name: one rule whichever way it is
            # reached (SDK, presigned URL, Label Studio link), since all share its identity.
            UrlKind("s3", ("s3",), "s3", immutable=False, fetcher=_CLOUD),
            UrlKind("gcs", ("gs",), "gcs", immutable=False, fetcher=_CLOUD),
            UrlKind("azure", ("azure-blob",), "azure", immutable=False, fetcher=_CLOUD),
            # Any other storage Label Studio knows (b2://bucket/key, ...): no client of its own, so
            # only Label Studio's resolve endpoint reads it; a storage object like the clouds' above.
            UrlKind(STORAGE_KIND, (), None, immutable=False, fetcher=_CLOUD),
        )
    }
)

#: URL scheme -> the kind it names (``gs`` -> ``gcs``)
KIND_BY_SCHEME = MappingProxyType({scheme: row.name for row in KNOWN_KINDS.values() for scheme in row.schemes})


def url_kind(name: str) -> UrlKind:
    """The row of a URL kind; UnsupportedURL listing the known kinds for any other name."""
    row = KNOWN_KINDS.get(name)
    if row is None:
        raise UnsupportedURL(f"no fetcher for URL kind {name!r}; known kinds: {', '.join(sorted(KNOWN_KINDS))}")
    return row


def missing_extra(kind: str, package: str) -> MissingDependency:
    """The error for a fetcher whose SDK is not installed, saying which extra brings it.

    >>> str(missing_extra("gcs", "google-cloud-storage"))
    "gs:// objects need google-cloud-storage: pip install 'ml-data[gcs]'"
    """
    return url_kind(kind).missing(package)


@functools.cache
def get_fetcher(kind: str) -> Fetcher:
    """The fetcher for a URL kind, imported on first use (an error listing the known kinds for an
    unknown one)."""
    return load_fetcher(url_kind(kind))


def load_fetcher(row: UrlKind) -> Fetcher:
    """``row``'s fetcher. A third-party module it cannot import is a missing extra: the error
    says what to install. A missing ml_data module is a bug, raised as it is."""
    try:
        module = importlib.import_module(row.fetcher)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if row.extra is None or missing.split(".")[0] in ("", "ml_data"):
            raise
        raise row.missing(missing) from None
    return module.fetch  # type: ignore[no-any-return]


__all__ = [
    "KIND_BY_SCHEME",
    "KNOWN_KINDS",
    "STORAGE_KIND",
    "UrlKind",
    "get_fetcher",
    "load_fetcher",
    "missing_extra",
    "url_kind",
]
