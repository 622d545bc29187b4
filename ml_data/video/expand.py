"""Video tasks -> one image item per chosen frame, before conversion, so that the image formats
(COCO, YOLO, VOC) write video annotations unchanged.

Each item keeps its video task's id (so every frame of a video lands in its task's split), has
the cached frame image as its only data, and holds each track's box in that frame as a
``rectanglelabels`` result (Label Studio's rectangle value form, sized by the decoded frame). The
labeling config seen by the formats is the video's turned into ``<Image>`` + ``<RectangleLabels>``.
"""

from __future__ import annotations

import logging
import math
import posixpath
import re
from collections.abc import Container, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeXML

from ml_data.cache import Cache
from ml_data.converters.images import image_name
from ml_data.errors import ConfigurationError
from ml_data.jsonio import dumps
from ml_data.redaction import redact_url
from ml_data.resolvers.base import LocalFile
from ml_data.tasks.label_config import ControlTag, LabelConfig, ObjectTag
from ml_data.tasks.model import read_tasks
from ml_data.video.frame_cache import FrameCache
from ml_data.video.interpolation import FrameBox, parse_keyframes, track_boxes

logger = logging.getLogger(__name__)

#: the formats that get one image item per frame of a video task
FRAME_FORMATS = frozenset({"coco", "yolo", "voc"})

_EVERY = re.compile(r"every=([1-9][0-9]{0,6})\Z")


def check_frames(choice: str) -> str:
    """``keyframes``, ``all`` or ``every=N`` (N >= 1), else a ConfigurationError."""
    if choice in ("keyframes", "all") or (isinstance(choice, str) and _EVERY.match(choice)):
        return choice
    raise ConfigurationError(f"frames must be keyframes, all or every=N (N >= 1), got {choice!r}")


@dataclass(frozen=True)
class FramePlan:
    """How a project's video tasks become frame items (from its labeling config)."""

    video: ObjectTag
    rectangles: frozenset[str]
    config: LabelConfig
    frame_rate: float | None
    choice: str

    @property
    def key(self) -> str:
        assert self.video.value_key is not None
        return self.video.value_key

    def chosen(self, keyframes: set[int]) -> Container[int]:
        """The frame numbers to write, whatever the video's length (to decode them in one pass)."""
        if self.choice == "keyframes":
            return keyframes
        every = _EVERY.match(self.choice)
        return _Every(int(every.group(1)) if every is not None else 1)

    def numbers(self, count: int, keyframes: Iterable[int]) -> list[int]:
        """The frame numbers to write, of a video of ``count`` decoded frames."""
        if self.choice == "all":
            return list(range(1, count + 1))
        every = _EVERY.match(self.choice)
        if every is not None:
            return list(range(1, count + 1, int(every.group(1))))
        return sorted({number for number in keyframes if 1 <= number <= count})


@dataclass(frozen=True)
class _Every:
    """Frames 1, 1 + step, 1 + 2 * step, ..."""

    step: int

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and number >= 1 and (number - 1) % self.step == 0


def frame_plan(config: LabelConfig | None, choice: str) -> FramePlan | None:
    """The plan for a config with ``<Video>`` and ``<VideoRectangle>``; None for any other."""
    if config is None:
        return None
    boxes = config.controls_of_type("VideoRectangle")
    videos = [config.objects[name] for box in boxes for name in box.to_names if name in config.objects]
    video = next((tag for tag in videos if tag.type == "Video" and tag.value_key), None)
    if video is None:
        return None
    labels = tuple(
        label
        for control in config.controls_of_type("Labels", "VideoRectangle")
        if video.name in control.to_names
        for label in control.labels
    )
    name = boxes[0].name
    frame_config = LabelConfig(
        objects={video.name: ObjectTag(name=video.name, type="Image", value=video.value)},
        controls={name: ControlTag(name=name, type="RectangleLabels", to_names=(video.name,), labels=labels)},
        xml=config.xml,
    )
    return FramePlan(
        video=video,
        rectangles=frozenset(box.name for box in boxes),
        config=frame_config,
        frame_rate=_frame_rate(config.xml, video.name),
        choice=check_frames(choice),
    )


def _frame_rate(xml: str, name: str) -> float | None:
    """The ``frameRate`` of the ``<Video>`` named ``name`` (Label Studio's default is 24)."""
    try:
        root = SafeXML.fromstring(xml)
    except Exception:  # the config was parsed already; a rate is only compared, never relied on
        return None
    for element in root.iter("Video"):
        if element.attrib.get("name") == name:
            try:
                rate = float(element.attrib.get("frameRate", "24"))
            except ValueError:
                return None
            return rate if math.isfinite(rate) else None
    return None


def expand_videos(
    plan: FramePlan,
    export: Path,
    out: Path,
    tasks: Mapping[str, Any],
    resolved: MutableMapping[str, LocalFile],
    cache: Cache,
    videos: MutableMapping[str, Any],
) -> tuple[Path, dict[str, str]]:
    """Write ``export`` with each video task as frame items to ``out``; add the frames to
    ``resolved`` (by their item URL) and what was decoded to ``videos`` (task id -> record).

    A frame item's id is ``<task id>#frame=<N>`` (the formats refuse repeated ids); the second
    value maps each to its task's id, whose split and error policy the frame shares."""
    parents: dict[str, str] = {}
    frames = FrameCache(cache)
    written = 0
    with open(out, "wb") as handle:
        handle.write(b"[")
        for raw in read_tasks(export).raw():
            url = (raw.get("data") or {}).get(plan.key) if isinstance(raw.get("data"), Mapping) else None
            video = resolved.get(url) if isinstance(url, str) and str(raw.get("id")) in tasks else None
            items = [raw] if video is None else _items(plan, raw, video, frames, resolved, videos)
            for item in items:
                if item is not raw:
                    parents[str(item["id"])] = str(raw.get("id"))
                handle.write((b",\n" if written else b"") + dumps(item))
                written += 1
        handle.write(b"]")
    return out, parents


def _items(
    plan: FramePlan,
    raw: Mapping[str, Any],
    video: LocalFile,
    frames: FrameCache,
    resolved: MutableMapping[str, LocalFile],
    videos: MutableMapping[str, Any],
) -> Iterator[dict[str, Any]]:
    task_id = raw.get("id")
    annotations = [ann for ann in raw.get("annotations") or [] if isinstance(ann, Mapping)]
    tracks = [
        (ann, region)
        for ann in annotations
        for region in ann.get("result") or []
        if isinstance(region, Mapping) and str(region.get("type", "")).lower() == "videorectangle"
    ]
    keyframes = {
        keyframe.frame
        for _ann, region in tracks
        for keyframe in parse_keyframes((region.get("value") or {}).get("sequence"), task_id=task_id)
    }
    info = frames.info(video, task_id=task_id, prefetch=plan.chosen(keyframes))
    numbers = plan.numbers(info.frames, keyframes)
    found, info = frames.frames(video, numbers, task_id=task_id)
    _record(plan, raw, video, info, tracks, videos)
    last = max(numbers, default=0)  # the frames written: no box is needed past them
    boxes = {
        id(region): _by_frame(track_boxes(region.get("value") or {}, task_id=task_id, last=last))
        for _a, region in tracks
    }
    stem = posixpath.splitext(image_name(video.source))[0] or "video"
    for number in numbers:
        entry = found[number]
        # Named by the video and its content, so that two videos of one name keep apart.
        url = f"video-frames/{stem}-{video.sha256[:8]}_frame{number:06d}.png"
        resolved[url] = LocalFile(
            path=entry.path,
            size=entry.size,
            content_type="image/png",
            source=url,
            kind="video-frame",
            cached=True,
            _sha256=entry.sha256,
        )
        item_annotations = []
        for ann in annotations:
            result = [
                _rectangle(plan, region, box, info.width, info.height)
                for other, region in tracks
                if other is ann
                for box in boxes[id(region)].get(number, ())
            ]
            item_annotations.append({**ann, "result": result})
        yield {
            "id": f"{task_id}#frame={number}",
            "data": {plan.key: url},
            "annotations": item_annotations,
            "meta": {"frame": number},
        }


def _by_frame(boxes: list[FrameBox]) -> dict[int, list[FrameBox]]:
    found: dict[int, list[FrameBox]] = {}
    for box in boxes:
        found.setdefault(box.frame, []).append(box)
    return found


def _rectangle(plan: FramePlan, region: Mapping[str, Any], box: FrameBox, width: int, height: int) -> dict[str, Any]:
    value = region.get("value") or {}
    return {
        "id": region.get("id"),
        "from_name": next(iter(plan.config.controls)),
        "to_name": plan.video.name,
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {**box.as_value(), "rectanglelabels": list(value.get("labels") or [])},
    }


def _record(
    plan: FramePlan,
    raw: Mapping[str, Any],
    video: LocalFile,
    info: Any,
    tracks: list[tuple[Mapping[str, Any], Mapping[str, Any]]],
    videos: MutableMapping[str, Any],
) -> None:
    """What was decoded beside what the config and the annotations say; a mismatch is a warning."""
    task_id = raw.get("id")
    counts = sorted({(region.get("value") or {}).get("framesCount") for _a, region in tracks} - {None}, key=str)
    warnings = []
    if any(count != info.frames for count in counts):
        warnings.append(f"framesCount {counts} differs from the {info.frames} frames decoded")
    if plan.frame_rate is not None and info.fps is not None and abs(plan.frame_rate - info.fps) > 1e-3:
        warnings.append(f"the config's frameRate {plan.frame_rate:g} differs from the {info.fps:g} fps decoded")
    for warning in warnings:
        logger.warning("task %s: %s (%s)", task_id, warning, redact_url(video.source))
    videos[str(task_id)] = {
        "video": redact_url(video.source),
        "decoded_frames": info.frames,
        "decoded_fps": info.fps,
        "config_frame_rate": plan.frame_rate,
        "frames_count": counts,
        "warnings": warnings,
    }


__all__ = ["FRAME_FORMATS", "FramePlan", "check_frames", "expand_videos", "frame_plan"]
