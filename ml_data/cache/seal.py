"""The seal: an entry's file carries its own size check and the time it was last confirmed.

A cache file appears under its final name only once complete (the rename is the commit), so a
first look at an entry needs no metadata where the metadata decides nothing: the file's
modification time is set, before the rename, to ``validated_at`` in whole seconds plus a number of
nanoseconds derived from the file's size. Any later write to the file (a crash that truncates
it, a hand edit) moves its mtime to the clock's current time, which breaks the seal: the lookup
then reads the metadata and compares sizes, as before. A file system that keeps coarser times
cannot hold a seal at all, and every lookup takes that path.

The seal proves the size, never the content: a damaged file of the same size is caught only by
``verify="hash"``, which never trusts a seal.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

_NS = 1_000_000_000


def seal_ns(size: int) -> int:
    """The nanoseconds of a sealed file of ``size`` bytes: odd, so the whole-tick times a coarse
    clock gives a write (multiples of a millisecond or more) never look sealed by chance."""
    return (size % (_NS // 2 - 1)) * 2 + 1


def sealed_mtime_ns(validated_at: float, size: int) -> int:
    """The mtime (ns) that seals a file of ``size`` bytes confirmed at ``validated_at``."""
    return int(validated_at) * _NS + seal_ns(size)


def seal(path: str, validated_at: float, size: int) -> None:
    """Set the seal of the file at ``path`` (OSError when the system refuses)."""
    mtime = sealed_mtime_ns(validated_at, size)
    os.utime(path, ns=(mtime, mtime))


def seal_time(info: os.stat_result) -> float | None:
    """When the sealed file ``info`` describes was last confirmed; None when it holds no seal
    (written to since, or a file system with coarse times) or is not a regular file."""
    mtime = info.st_mtime_ns
    if mtime % _NS != seal_ns(info.st_size) or not stat.S_ISREG(info.st_mode):
        return None
    return float(mtime // _NS)


@dataclass(frozen=True, slots=True)
class SealedHit:
    """A complete entry found by a stat of its file (sealed) and of its metadata (present):
    what a caller needs to decide, without the metadata's content."""

    key: str
    path: str
    size: int
    #: when the upstream last confirmed this content, to the second (rounded down)
    validated_at: float
