"""Decoding a video file with PyAV (the ``video`` extra): its frame count and frame rate as
decoded, and chosen frames as PNG images.

Frame ``N`` is the ``N``-th frame the decoder returns, counted from 1: Label Studio's frame
numbers. PyAV is imported on first use so that ml-data installs without FFmpeg.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any, BinaryIO

from ml_data.errors import InvalidExport, MissingDependency

INSTALL_HINT = "pip install 'ml-data[video]'"


@dataclass(frozen=True)
class VideoInfo:
    """What decoding the whole video found: ``frames`` decoded, the stream's average frame rate
    (None when the container gives none) and the frame size in pixels."""

    frames: int
    fps: float | None
    width: int
    height: int


def load_av() -> Any:
    """The ``av`` module, or the error saying which extra brings it."""
    try:
        import av
    except ImportError:
        raise MissingDependency(f"decoding video frames needs PyAV: {INSTALL_HINT}") from None
    return av


def decode(
    media: BinaryIO, wanted: Container[int], on_frame: Callable[[int, bytes], None], *, name: str, task_id: Any = None
) -> VideoInfo:
    """Decode every frame of the open video ``media`` once, hand the ``wanted`` ones to ``on_frame`` as PNG bytes,
    and return what was decoded. ``name`` (a redacted URL) names the video in errors.

    The whole video is decoded even when the wanted frames come early: its frame count is what
    the manifest compares with the annotation's ``framesCount``.
    """
    av = load_av()
    try:
        with av.open(media) as container:
            if not container.streams.video:
                raise InvalidExport(f"{name} has no video stream", url=name, task_id=task_id)
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frames come out in order whatever the threading
            rate = stream.average_rate
            count, width, height = 0, stream.codec_context.width, stream.codec_context.height
            for count, frame in enumerate(container.decode(stream), start=1):  # noqa: B007
                width, height = frame.width, frame.height
                if count in wanted:
                    image = io.BytesIO()
                    frame.to_image().save(image, format="PNG")
                    on_frame(count, image.getvalue())
    except av.FFmpegError as exc:
        raise InvalidExport(f"{name} cannot be decoded as a video: {exc}", url=name, task_id=task_id) from None
    return VideoInfo(frames=count, fps=float(rate) if rate else None, width=width, height=height)


__all__ = ["INSTALL_HINT", "VideoInfo", "decode", "load_av"]
