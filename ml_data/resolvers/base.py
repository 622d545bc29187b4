"""What every fetcher shares: the result type, the fetcher shape, and the resolver context."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ml_data.hashing import file_sha256
from ml_data.redaction import redact_url

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.resolvers.refs import Ref
    from ml_data.resolvers.resolver import Resolver


@dataclass(frozen=True)
class LocalFile:
    """A resolved resource: a complete local file.

    ``cached`` is True for files in the ml-data cache and False for files returned in place
    (Local Files storage, mounted uploads, plain paths), which are never copied. ``source`` is the
    URL as given, redacted.
    """

    path: Path
    size: int
    content_type: str | None
    source: str
    kind: str
    cached: bool
    _sha256: str | None = field(default=None, repr=False, compare=False)

    @property
    def sha256(self) -> str:
        """The file's sha256 (from the cache metadata; computed on first use for in-place files)."""
        if self._sha256 is None:
            object.__setattr__(self, "_sha256", file_sha256(self.path))
        assert self._sha256 is not None
        return self._sha256

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @classmethod
    def in_place(cls, path: Path, ref: Ref) -> LocalFile:
        return cls(
            path=path,
            size=path.stat().st_size,
            content_type=mimetypes.guess_type(path.name)[0],
            source=redact_url(ref.raw),
            kind=ref.kind,
            cached=False,
        )

    @classmethod
    def from_entry(cls, entry: CacheEntry, ref: Ref) -> LocalFile:
        return cls(
            path=entry.path,
            size=entry.size,
            content_type=entry.content_type,
            source=redact_url(ref.raw),
            kind=ref.kind,
            cached=True,
            _sha256=entry.sha256,
        )


class Fetcher(Protocol):
    """One per URL kind: turn a parsed Ref into a local file."""

    def __call__(self, ref: Ref, resolver: Resolver, task_id: int | None) -> LocalFile: ...


#: Decides, before any connection, whether a parsed URL may be fetched; raises to refuse it.
RefGuard = Callable[["Ref"], None]
