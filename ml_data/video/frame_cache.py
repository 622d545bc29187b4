"""Decoded frames in the shared cache, so that a video is decoded once for every run and process.

A video is known by its content (``video:sha256:<hex>``): the same bytes under another URL share
their frames, and a changed video never serves old ones. Each frame is the cache entry
``<video identity>#frame=<N>`` (a PNG); what decoding found (frame count, fps, size) is the entry
``<video identity>#info``. Frames missing from the cache are decoded in one pass under the video's
lock, each committed whole through a :class:`~ml_data.cache.PendingFile`.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ml_data.cache import Cache, CacheEntry
from ml_data.config import Settings
from ml_data.errors import InvalidExport
from ml_data.redaction import redact_url
from ml_data.resolvers.base import LocalFile
from ml_data.video import decode as decoding
from ml_data.video.decode import VideoInfo

_KIND = "video-frame"


def video_identity(video: LocalFile) -> str:
    """The cache identity of a video: its content."""
    return f"video:sha256:{video.sha256}"


def frame_identity(video: LocalFile, number: int) -> str:
    return f"{video_identity(video)}#frame={number}"


class FrameCache:
    """Frames of resolved videos, decoded at most once into ``cache``."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def info(self, video: LocalFile, *, task_id: Any = None, prefetch: Container[int] = ()) -> VideoInfo:
        """Frame count, fps and size as decoded. The first time, the video is decoded, and the
        frames in ``prefetch`` cached on the way (the frames the caller will ask for next)."""
        known = self._info(video)
        if known is not None:
            return known
        with self.cache.locked(video_identity(video) + "#decode"):
            known = self._info(video)
            return known if known is not None else self._decode(video, prefetch, {}, task_id)

    def frames(
        self, video: LocalFile, numbers: Iterable[int], *, task_id: Any = None
    ) -> tuple[dict[int, CacheEntry], VideoInfo]:
        """The cache entries of frames ``numbers`` (1-based) of ``video``, and the video's info.

        A frame beyond the video's last decoded frame is an error naming the task and the video.
        """
        wanted = sorted(set(numbers))
        found, info = self._cached(video, wanted)
        if info is None or len(found) < len(wanted):
            with self.cache.locked(video_identity(video) + "#decode"):
                # Another process may have decoded them while this one waited for the lock.
                found, info = self._cached(video, wanted)
                if info is None or len(found) < len(wanted):
                    info = self._decode(video, [n for n in wanted if n not in found], found, task_id)
        beyond = [n for n in wanted if n not in found]
        if beyond:
            raise InvalidExport(
                f"frame {beyond[0]} is beyond the {info.frames} frames decoded from {redact_url(video.source)}",
                url=video.source,
                task_id=task_id,
            )
        return found, info

    def _cached(self, video: LocalFile, wanted: list[int]) -> tuple[dict[int, CacheEntry], VideoInfo | None]:
        found = {}
        for number in wanted:
            entry = self.cache.get(frame_identity(video, number))
            if entry is not None:
                found[number] = entry
        return found, self._info(video)

    def _info(self, video: LocalFile) -> VideoInfo | None:
        entry = self.cache.get(video_identity(video) + "#info")
        if entry is None:
            return None
        try:
            return VideoInfo(**json.loads(entry.path.read_bytes()))
        except (OSError, ValueError, TypeError):
            return None  # unreadable: decoded again, and the entry replaced

    def _decode(
        self, video: LocalFile, missing: Container[int], found: dict[int, CacheEntry], task_id: Any
    ) -> VideoInfo:
        source = redact_url(video.source)

        def keep(number: int, png: bytes) -> None:
            with self.cache.pending(frame_identity(video, number)) as pending:
                pending.write(png)
                found[number] = pending.commit(
                    f"frame_{number:06d}.png", source=f"{source}#frame={number}", kind=_KIND, content_type="image/png"
                )

        with video.open() as handle:
            # Read through the file opened as the resolver checked it, not by its path again.
            info = decoding.decode(handle, missing, keep, name=source, task_id=task_id)
        with self.cache.pending(video_identity(video) + "#info") as pending:
            pending.write(json.dumps(asdict(info)).encode())
            pending.commit("info.json", source=source, kind=_KIND, content_type="application/json")
        return info


def frames(
    url: str, *, task_id: int | None = None, frames: Iterable[int], settings: Settings | None = None
) -> Iterator[Path]:
    """Paths of the cached frames ``frames`` (1-based, Label Studio's numbering) of the video at
    ``url``, in the order asked. The video is resolved and what is not cached yet decoded before
    this returns, so errors (a frame beyond the video's end, an undecodable file) come from the call.

    >>> for path in frames(task["data"]["video"], task_id=task["id"], frames=[1, 25]):  # doctest: +SKIP
    ...     predict(Image.open(path))
    """
    from ml_data.resolvers.resolver import resolver_for

    settings = settings or Settings.from_env()
    resolver = resolver_for(settings)
    video = resolver.resolve(url, task_id=task_id)
    numbers = list(frames)
    found, _info = FrameCache(resolver.cache).frames(video, numbers, task_id=task_id)
    return iter([found[number].path for number in numbers])


__all__ = ["FrameCache", "frame_identity", "frames", "video_identity"]
