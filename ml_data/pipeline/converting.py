"""``ml-data convert`` as a library call: an export to one format, the media a format asks about
resolved through the cache, and video tasks written as frame images exactly as ``fetch`` writes
them (COCO, YOLO, VOC with ``<Video>`` and ``<VideoRectangle>``).

A plain conversion (:func:`ml_data.converters.convert`) never touches the network. This one
resolves what it needs: audio for ``asr-manifest``, images whose results lack their size, and for
a video project each task's video, whose chosen frames are decoded once into the cache and then
linked (or copied) into the output where the format's files name them. No other media are placed:
``fetch --export`` does that.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml_data.config import Settings
from ml_data.converters import ConvertOptions, MediaHooks, convert, get_format, write_format
from ml_data.converters.base import ConversionReport
from ml_data.converters.output import check_output, path_inputs
from ml_data.errors import ConversionError, NothingToWrite, OutputError
from ml_data.fsutil import atomic_folder
from ml_data.pipeline.media import Warn, resolving_hooks
from ml_data.pipeline.placing import FilteredTasks, image_size
from ml_data.redaction import redact_url
from ml_data.resolvers import Resolver, resolve_many
from ml_data.resolvers.base import LocalFile
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.model import read_tasks
from ml_data.video.expand import FRAME_FORMATS, FramePlan, check_frames, expand_videos, frame_plan

#: an export: a file, a folder of task files, or task dicts (read twice for a video project)
Export = str | os.PathLike[str] | Sequence[Mapping[str, Any]]


def convert_export(
    export: Export,
    format: str,
    out: str | os.PathLike[str],
    *,
    config: str | None = None,
    options: ConvertOptions | None = None,
    frames: str = "keyframes",
    settings: Settings | None = None,
    resolver: Resolver | None = None,
    warn: Warn | None = None,
    progress: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> ConversionReport:
    """Convert ``export`` into ``format`` under ``out``, resolving the media the format needs.

    ``frames`` (``keyframes``, ``all``, ``every=N``): for a config with ``<Video>`` and
    ``<VideoRectangle>`` in COCO, YOLO or VOC, which frames of each video task are written, as
    images beside the annotations, with Label Studio's interpolated boxes (as ``fetch --frames``).
    A video that cannot be resolved fails the run, or leaves its task out with ``on_error="skip"``.
    ``warn`` hears what could not be resolved or measured (default: the report's warnings).
    ``out`` is replaced only when the conversion succeeds (see :func:`ml_data.converters.convert`).

    >>> report = convert_export("export.json", "yolo", "out/", config=xml, frames="every=5")  # doctest: +SKIP
    """
    check_frames(frames)
    options = options or ConvertOptions()
    if resolver is None:
        resolver = Resolver(settings or Settings.from_env())
    report_warnings: list[str] = []
    tell = warn or report_warnings.append
    hooks = resolving_hooks(resolver, tell)
    parsed = parse_label_config(config) if config else None
    plan = frame_plan(parsed, frames) if get_format(format).name in FRAME_FORMATS else None
    if plan is None:
        report = convert(
            export, format, out, config=parsed, options=options, media=hooks, progress=progress, protect=protect
        )
    else:
        report = _convert_frames(export, format, out, plan, options, hooks, resolver, progress, protect)
    for message in report_warnings:
        report.warn(message)
    return report


def _convert_frames(
    export: Export,
    format: str,
    out: str | os.PathLike[str],
    plan: FramePlan,
    options: ConvertOptions,
    hooks: MediaHooks,
    resolver: Resolver,
    progress: bool,
    protect: Iterable[str | os.PathLike[str]],
) -> ConversionReport:
    target = check_output(out, inputs=[*path_inputs(export), *(("an input of this run", path) for path in protect)])
    target.parent.mkdir(parents=True, exist_ok=True)
    with_video, total = _video_tasks(export, plan.key)
    videos, failed = _resolve_videos(with_video, resolver, options)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.frames-") as work:
        resolved: dict[str, LocalFile] = dict(videos)  # the frames join them, under their item URLs
        decoded: dict[str, Any] = {}
        expanded = dict.fromkeys({str(task_id) for task_id, _url in with_video} - set(failed))
        source = _as_path(export, Path(work))
        frames_export, parents = expand_videos(
            plan, source, Path(work) / "frames.json", expanded, resolved, resolver.cache, decoded
        )

        def size(url: str, task_id: Any) -> tuple[int, int] | None:
            found = resolved.get(url)
            if found is not None:
                return image_size(found)
            return hooks.image_size(url, task_id) if hooks.image_size else None

        # A frame without a box still needs its size (COCO lists every image with it).
        media = MediaHooks(local_path=hooks.local_path, image_size=size, places_media=True)
        tasks = FilteredTasks(frames_export, lambda task_id: parents.get(str(task_id), str(task_id)) not in failed)
        with atomic_folder(target) as building:
            report = write_format(
                tasks, format, building, config=plan.config, options=options, media=media, progress=progress
            )
            for task_id, reason in failed.values():
                report.skip(task_id, reason)
            report.tasks = total  # the export's tasks, not the frame items the format read
            _place_frames(building, report, resolved, videos)
            if report.nothing_written is not None:
                raise NothingToWrite(f"{report.nothing_written}; {out} is unchanged")
    report.videos = decoded
    for task_id, record in decoded.items():
        for warning in record["warnings"]:
            report.warn(f"task {task_id}: {warning}")
    report.output = Path(out)
    return report


def _video_tasks(export: Export, key: str) -> tuple[list[tuple[Any, str]], int]:
    """(task id, video URL) of every task with a video under ``key``, and how many tasks there are."""
    found, total = [], 0
    for raw in read_tasks(export).raw():  # type: ignore[arg-type]
        total += 1
        data = raw.get("data")
        url = data.get(key) if isinstance(data, Mapping) else None
        if isinstance(url, str) and url:
            found.append((raw.get("id"), url))
    return found, total


def _resolve_videos(
    wanted: list[tuple[Any, str]], resolver: Resolver, options: ConvertOptions
) -> tuple[dict[str, LocalFile], dict[str, tuple[Any, str]]]:
    """The videos of ``wanted`` (task id, URL) resolved, by URL, and the tasks whose video failed
    (their id as text -> the id and the reason): with ``on_error="fail"`` the first such task is
    a :class:`ConversionError` naming it."""
    result = resolve_many(
        [(url, task_id if isinstance(task_id, int) else None) for task_id, url in wanted],
        progress=False,
        resolver=resolver,
    )
    failed: dict[str, tuple[Any, str]] = {}
    for task_id, url in wanted:
        error = result.errors.get(url)
        if error is None:
            continue
        reason = f"the video {redact_url(url)} could not be resolved: {error}"
        if options.on_error == "fail":
            raise ConversionError(reason, task_id=task_id, url=url)
        failed[str(task_id)] = (task_id, reason)
    return dict(result.files), failed


def _as_path(export: Export, work: Path) -> Path:
    """The export as a file :func:`expand_videos` reads (task dicts are written out once)."""
    if isinstance(export, str | os.PathLike):
        return Path(export)
    from ml_data.jsonio import dumps

    path = work / "export.json"
    with open(path, "wb") as handle:
        handle.write(b"[" + b",\n".join(dumps(raw) for raw in export) + b"]")
    return path


def _place_frames(
    building: Path, report: ConversionReport, resolved: Mapping[str, LocalFile], videos: Mapping[str, LocalFile]
) -> None:
    """Link each frame image the output names from the cache (a copy where links cannot be made);
    the other media stay where they are, as in any conversion."""
    for url, _task_id, relative in report.placements:
        frame = resolved.get(url)
        if frame is None or url in videos:
            continue
        target = building / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(frame.path, target, follow_symlinks=False)
        except FileExistsError:
            continue  # one frame named twice (a task in two subsets is not possible; defensive)
        except OSError:
            try:
                shutil.copyfile(frame.path, target)
            except OSError as exc:
                raise OutputError(
                    f"cannot copy the frame {frame.path} into {building}: {exc.strerror or exc}"
                ) from None
    report.placements.clear()


__all__ = ["convert_export"]
