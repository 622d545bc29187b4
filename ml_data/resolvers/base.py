"""What every fetcher shares: the result types, the fetcher shape, and the resolver context."""

from __future__ import annotations

import dataclasses
import functools
import mimetypes
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ml_data.errors import NotFound
from ml_data.hashing import descriptor_sha256
from ml_data.redaction import redact_url
from ml_data.resolvers.beneath import CheckedFile, open_beneath

if TYPE_CHECKING:
    from ml_data.cache import Cache, CacheEntry
    from ml_data.cache.seal import SealedHit
    from ml_data.resolvers.refs import Ref
    from ml_data.resolvers.resolver import Resolver


@dataclass(frozen=True)
class Announced:
    """What a source says about the object it is sending (an HTTP answer's headers, a cloud's
    object lookup): what arrives is checked against it, and it is stored with the file."""

    #: the length announced; None when unknown (a chunked answer)
    size: int | None
    #: the object's version: an HTTP or S3/Azure ETag, a GCS generation
    etag: str | None = None
    last_modified: str | None = None
    #: the media type as the source gave it (checked before it is stored)
    content_type: str | None = None
    #: the MD5 the store keeps for the object (hex), checked when known
    md5: str | None = None


class _FromMetadata:
    """The ``content_type`` field of :class:`LocalFile`: a cache hit found by its seal alone
    (:mod:`ml_data.cache.seal`) leaves it unread, and the entry's metadata is read the first
    time it is asked for, so a caller that only wants the path never pays for it."""

    def __get__(self, obj: LocalFile | None, owner: type | None = None) -> str | None:
        if obj is None:
            raise AttributeError("content_type")  # a required field: no default
        value = obj.__dict__["_content_type"]
        if value is _UNREAD:
            obj._read_details()
            value = obj.__dict__["_content_type"]
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: LocalFile, value: str | None) -> None:
        obj.__dict__["_content_type"] = value


#: A content type not read yet (see :class:`_FromMetadata`).
_UNREAD: str = "\0unread"


@dataclass(frozen=True)
class LocalFile:
    """A resolved resource: a complete local file.

    ``cached`` is True for files in the ml-data cache and False for files returned in place
    (Local Files storage, mounted uploads, plain paths), which are never copied. ``source`` is the
    URL as given, redacted.

    A file in place was checked when it was resolved, on an open descriptor: a regular file
    beneath its root, ``path`` its real path then. Whoever can change that folder can change what
    ``path`` names afterwards; :meth:`open` (or :meth:`Resolver.open
    <ml_data.resolvers.Resolver.open>`) reads without that race.
    """

    path: Path
    size: int
    #: read from the cache metadata on first use, for a hit found by its seal (see below)
    content_type: str | None
    source: str
    kind: str
    cached: bool
    _sha256: str | None = field(default=None, repr=False, compare=False)
    #: the folder a file in place was checked beneath (None for cached files)
    _root: Path | None = field(default=None, repr=False, compare=False)
    #: for a hit found by its seal: reads (content type, sha256) from the entry's metadata
    _details: Callable[[], tuple[str | None, str] | None] | None = field(default=None, repr=False, compare=False)

    def _read_details(self) -> None:
        """Fill in what a sealed hit left unread. Metadata gone or describing another file (a
        rewrite under way) leaves no content type (served as opaque bytes) and the sha256 to be
        computed from the file itself."""
        found = self._details() if self._details is not None else None
        content_type, sha256 = found if found is not None else (None, None)
        self.__dict__["_content_type"] = content_type
        if self._sha256 is None:
            object.__setattr__(self, "_sha256", sha256)

    @property
    def sha256(self) -> str:
        """The file's sha256 (from the cache metadata; computed on first use for in-place files,
        from the file opened as :meth:`open` does)."""
        if self._sha256 is None and self.__dict__["_content_type"] is _UNREAD:
            self._read_details()
        if self._sha256 is None:
            with self.open() as handle:
                object.__setattr__(self, "_sha256", descriptor_sha256(handle.fileno()))
        assert self._sha256 is not None
        return self._sha256

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def open(self) -> BinaryIO:
        """The file, open for reading (binary). A file in place is opened again beneath the root
        it was resolved in, never through a link that leads out of it, and must still be a
        regular file; NotFound when it is not (UnsafePath when the path now leads outside).

        >>> with resolve("/data/local-files/?d=a.jpg").open() as handle:  # doctest: +SKIP
        ...     header = handle.read(16)
        """
        if not self.cached and self._root is not None:
            checked = open_beneath(self._root, self.path.relative_to(self._root).as_posix(), url=self.source)
            if checked is None:
                raise NotFound(f"{self.path} is no longer a regular file", url=self.source)
            return os.fdopen(checked.fd, "rb")
        # Cache entries are ml-data's own files; a file in place made by hand (no root known)
        # is at least never opened through a link at its last component.
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (0 if self.cached else getattr(os, "O_NOFOLLOW", 0))
        try:
            fd = os.open(self.path, flags)
        except OSError as exc:
            raise NotFound(f"cannot open {self.path}: {exc.strerror or exc}", url=self.source) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFound(f"{self.path} is not a regular file", url=self.source)
        return os.fdopen(fd, "rb")

    @classmethod
    def from_sealed(cls, hit: SealedHit, ref: Ref, cache: Cache) -> LocalFile:
        """A cache hit found by its seal: content type and sha256 read from the metadata when
        first asked for."""
        return cls(
            path=Path(hit.path),
            size=hit.size,
            content_type=_UNREAD,
            source=redact_url(ref.raw),
            kind=ref.kind,
            cached=True,
            _details=functools.partial(cache.details, hit.key, hit.path),
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


# Installed after the dataclass is made, so that the field stays required and typed as what it
# holds; the generated __init__ sets it through the descriptor.
setattr(LocalFile, "content_type", _FromMetadata())  # noqa: B010


class OpenedFile:
    """A resolved file, open for reading. ``file`` reads the very file that was checked (for a
    file in place, the descriptor its checks were made on); ``stat`` is that descriptor's
    ``fstat``; ``local`` describes it (its size from that ``fstat``). Close it, or use ``with``.

    >>> with resolver.open("/data/local-files/?d=a.jpg") as opened:  # doctest: +SKIP
    ...     body = opened.file.read()
    """

    def __init__(self, file: BinaryIO, local: LocalFile, stat_result: os.stat_result) -> None:
        self.file = file
        self.local = local
        self.stat = stat_result

    @classmethod
    def in_place(cls, checked: CheckedFile, root: Path, ref: Ref) -> OpenedFile:
        """A file in place, from the descriptor :func:`open_beneath` checked beneath ``root``."""
        local = LocalFile(
            path=checked.path,
            size=checked.stat.st_size,
            content_type=mimetypes.guess_type(checked.path.name)[0],
            source=redact_url(ref.raw),
            kind=ref.kind,
            cached=False,
            _root=root,
        )
        return cls(os.fdopen(checked.fd, "rb"), local, checked.stat)

    @classmethod
    def of(cls, local: LocalFile) -> OpenedFile:
        """``local`` opened (see :meth:`LocalFile.open`); a file in place that changed since it
        was resolved is described as it is now."""
        handle = local.open()
        info = os.fstat(handle.fileno())
        if not local.cached and info.st_size != local.size:
            local = dataclasses.replace(local, size=info.st_size, _sha256=None)
        return cls(handle, local, info)

    def sha256(self) -> str:
        """The sha256 of the bytes behind ``file`` (the cache's record for cached files; read
        from the descriptor, whatever its position, for files in place)."""
        if self.local.cached or self.local._sha256 is not None:
            return self.local.sha256
        digest = descriptor_sha256(self.file.fileno())
        object.__setattr__(self.local, "_sha256", digest)
        return digest

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Fetcher(Protocol):
    """One per URL kind: turn a parsed Ref into a local file. Kinds read in place hand back the
    file opened where it was checked, so that :meth:`Resolver.open` can read exactly that."""

    def __call__(self, ref: Ref, resolver: Resolver, task_id: int | None) -> LocalFile | OpenedFile: ...


#: Decides, before any connection, whether a parsed URL may be fetched; raises to refuse it.
RefGuard = Callable[["Ref"], None]
