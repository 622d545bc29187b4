"""What a build works from, worked out once: :func:`prepare` -> :class:`Plan`.

The format is looked up once, the labeling config parsed once, the export read once to scan its
tasks (for a project, while it downloads, with its resources resolved meanwhile), the previous
manifest read once and the output folder checked once. :class:`~ml_data.pipeline.build.Build`
takes the Plan and works it out no more.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_data.config import Settings
from ml_data.converters import Format, get_format
from ml_data.errors import ConfigurationError, FormatNotSupported, MlDataError
from ml_data.http import DEFAULT_POOL_SIZE, new_session
from ml_data.labelstudio import LabelStudioClient, http_client
from ml_data.pipeline.filters import (
    FilterPass,
    project_filters,
    reader_filter,
    server_filter,
    server_left_out,
    write_tasks,
)
from ml_data.pipeline.manifest import check_target, read_manifest
from ml_data.pipeline.options import DatasetOptions
from ml_data.pipeline.prefetch import Prefetcher
from ml_data.pipeline.tasks import TaskInfo, TaskReader, assign_task_splits, scan_tasks
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.resolver import Resolver
from ml_data.tasks.filtering import TaskFilter, parse_ids
from ml_data.tasks.label_config import LabelConfig, parse_label_config
from ml_data.tasks.model import read_tasks
from ml_data.video.expand import FRAME_FORMATS, FramePlan, frame_plan

logger = logging.getLogger(__name__)

#: what a dataset is built from: a Label Studio project id, or an export file on disk
Source = int | str | os.PathLike[str]


@dataclass(frozen=True)
class Plan:
    """Everything a build needs that does not depend on converting: checked and read once."""

    #: the project id or the export path the caller gave
    source: int | Path
    #: the export file the conversion reads (for a project: a download beside ``out``)
    export: Path
    out: Path
    options: DatasetOptions
    format: Format
    #: the labeling config as text (recorded in the manifest) and parsed as the format sees it
    #: (video tasks: the config of their frame images)
    config_xml: str | None
    config: LabelConfig | None
    video: FramePlan | None
    #: the export's tasks, by id
    tasks: Mapping[str, TaskInfo]
    #: the previous dataset's manifest (None: no previous dataset)
    previous: Mapping[str, Any] | None
    #: what the manifest names as the dataset's source
    manifest_source: Mapping[str, Any]
    #: resources already resolved (while a project's export arrived, or by a Ray cluster)
    prefetched: Mapping[str, LocalFile | MlDataError] = field(default_factory=dict)
    #: the resolver for the rest (None: one from the settings)
    resolver: Resolver | None = None
    #: the export is a download of this run, removed when the build is done
    temporary_export: bool = False
    #: a dataset without any item is written, not refused (a shard of a larger dataset)
    allow_empty: bool = False
    #: what the filters left out (:meth:`~ml_data.pipeline.filters.FilterPass.summary`; empty
    #: without filters)
    filtered: Mapping[str, Any] = field(default_factory=dict)

    def discard(self) -> None:
        """Remove what preparing left behind (the downloaded export)."""
        if self.temporary_export:
            self.export.unlink(missing_ok=True)


def prepare(
    source: Source,
    options: DatasetOptions,
    settings: Settings,
    *,
    out: str | os.PathLike[str] | None = None,
    config: str | None = None,
    manifest_source: Mapping[str, Any] | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
    resolver: Resolver | None = None,
    prefetched: Mapping[str, LocalFile | MlDataError] | None = None,
    snapshot: bool = False,
    progress: bool = False,
    allow_empty: bool = False,
    task_filter: TaskFilter | None = None,
) -> Plan:
    """The :class:`Plan` of a dataset from ``source``: a project id (its export is downloaded and
    its resources resolved as it arrives) or an export file (with ``config``, its labeling config
    XML). ``out`` may not contain the export, the working directory or the files in ``protect``.
    ``task_filter``: the filter an export's tasks go through (default: the options' filters, all
    judged here; a ``view`` is refused, being a live project's).

    >>> options = DatasetOptions(format="coco")
    >>> plan = prepare("export.json", options, settings, out="data/coco", config=xml)  # doctest: +SKIP
    """
    fmt = get_format(options.format)
    if isinstance(source, int):
        return _prepare_project(int(source), options, settings, fmt, out, resolver, snapshot, progress)
    if out is None:
        raise ValueError("an export needs out=")
    export, target = Path(source), Path(out)
    parsed, video = _check_config(fmt, config, options)
    reader = TaskReader(
        parsed, options.convert_options(), options.split, stratify=bool(options.stratify), group_key=options.group_key
    )
    filtering = FilterPass(task_filter if task_filter is not None else reader_filter(options), options)
    # Filtered: the tasks kept (as kept: other labels' regions taken out) are what the build reads.
    converted = _filtered_copy(export, target, filtering) if filtering.filter.active else export
    try:
        tasks = scan_tasks(converted, reader)
        check_target(target, [("the export", export), *(("an input of this run", path) for path in protect)])
    except BaseException:
        if converted != export:
            converted.unlink(missing_ok=True)
        raise
    previous = read_manifest(target)
    assign_task_splits(tasks, options, previous)
    return Plan(
        source=export,
        export=converted,
        out=target,
        options=options,
        format=fmt,
        config_xml=config,
        config=video.config if video is not None else parsed,
        video=video,
        tasks=tasks,
        previous=previous,
        manifest_source=dict(manifest_source) if manifest_source is not None else {"export": export.name},
        prefetched=dict(prefetched or {}),
        resolver=resolver,
        temporary_export=converted != export,
        allow_empty=allow_empty,
        filtered=filtering.summary(),
    )


def _export_beside(target: Path) -> Path:
    """A temporary export file beside the dataset folder (on its file system, never inside it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.parent / f".{target.name}.export-{uuid.uuid4().hex[:12]}.json"


def _filtered_copy(export: Path, target: Path, filtering: FilterPass) -> Path:
    """The tasks of ``export`` that ``filtering`` keeps, in a temporary file beside ``target``."""
    copy = _export_beside(target)
    try:
        write_tasks(filtering.each(read_tasks(export).raw()), copy)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return copy


def _check_config(
    fmt: Format, config: str | None, options: DatasetOptions
) -> tuple[LabelConfig | None, FramePlan | None]:
    """The parsed config, and the frame plan of video tasks; a config the format cannot express is
    a :class:`FormatNotSupported`, split names it cannot write a :class:`ConfigurationError`,
    before anything is downloaded."""
    parsed = parse_label_config(config) if config else None
    # Video tasks are written as frame images: the formats see the config of those images.
    video = frame_plan(parsed, options.frames) if fmt.name in FRAME_FORMATS else None
    reason = fmt.check(video.config if video is not None else parsed)
    if reason is not None:
        raise FormatNotSupported(reason)
    reason = fmt.check_splits(list(options.split or ()))
    if reason is not None:
        raise ConfigurationError(reason)
    return parsed, video


def _prepare_project(
    project_id: int,
    options: DatasetOptions,
    settings: Settings,
    fmt: Format,
    out: str | os.PathLike[str] | None,
    resolver: Resolver | None,
    snapshot: bool,
    progress: bool,
) -> Plan:
    """Download the project's export beside ``out``, scanning its tasks and resolving their
    resources as they arrive."""
    client = LabelStudioClient(settings)
    project = client.project(project_id)
    target = Path(out) if out is not None else Path("datasets") / f"project-{project_id}-{fmt.name}"
    filtering = FilterPass(project_filters(client, project_id, options), options)
    server = server_filter(options)
    export = _export_beside(target)
    if resolver is None and options.workers <= DEFAULT_POOL_SIZE:
        resolver = Resolver(settings, http=client.http)
    if resolver is None:
        resolver = Resolver(
            settings, http=http_client(settings, session=new_session(settings, pool_maxsize=options.workers))
        )
    parsed, video = _check_config(fmt, project.label_config or None, options)
    check_target(target)
    previous = read_manifest(target)
    reader = TaskReader(
        parsed, options.convert_options(), options.split, stratify=bool(options.stratify), group_key=options.group_key
    )
    prefetcher = Prefetcher(reader, target, previous, resolver, workers=options.workers, progress=progress)
    started = time.monotonic()
    try:
        # How the tasks come: the direct export in chunks of ids lets resources download while the
        # server exports the rest (a first run). A snapshot is faster on the server but arrives
        # whole: used to update an existing dataset, where few resources are new, and with
        # predictions (the direct export lists them by id only). Label Studio's own filters (a
        # Data Manager tab, finished tasks) are a snapshot's.
        use_snapshot = snapshot or options.predictions or previous is not None or bool(server)
        within = parse_ids(options.ids) if options.ids else None
        chunks = None if use_snapshot else client.export_chunks(project_id, within=within)
        if chunks is None and not filtering.filter.active:
            client.export(
                project_id, export, snapshot=use_snapshot, full_predictions=options.predictions, task_filter=server
            )
            for raw in filtering.each(read_tasks(export).raw()):
                prefetcher.add(raw)
        elif chunks is None:
            # The tasks the filters keep, as kept, are what the build reads.
            whole = export.with_name(export.name + ".all")
            try:
                client.export(
                    project_id, whole, snapshot=use_snapshot, full_predictions=options.predictions, task_filter=server
                )
                write_tasks(_added(filtering.each(read_tasks(whole).raw()), prefetcher), export)
            finally:
                whole.unlink(missing_ok=True)
        else:
            # Written as one JSON array, which the converters read streaming.
            arriving = (raw for chunk in chunks for raw in chunk)
            write_tasks(_added(filtering.each(arriving), prefetcher), export)
        logger.info("export of project %s done after %.1f s", project_id, time.monotonic() - started)
        prefetched = prefetcher.results()
        logger.info("%d resources resolved after %.1f s", len(prefetched), time.monotonic() - started)
    except BaseException:
        export.unlink(missing_ok=True)
        raise
    finally:
        prefetcher.close()
    assign_task_splits(prefetcher.tasks, options, previous)
    asked = server_left_out(client, project_id, options, project.task_count, filtering.received)
    if chunks is not None and within is not None and project.task_count is not None:
        # The chunks asked only for these ids: the others were never exported.
        asked["ids"] = max(0, project.task_count - filtering.received)
    return Plan(
        source=project_id,
        export=export,
        out=target,
        options=options,
        format=fmt,
        config_xml=project.label_config,
        config=video.config if video is not None else parsed,
        video=video,
        tasks=prefetcher.tasks,
        previous=previous,
        manifest_source={"label_studio_url": client.base_url, "project": project.id, "title": project.title},
        prefetched=prefetched,
        resolver=resolver,
        temporary_export=True,
        filtered=filtering.summary(asked),
    )


def _added(tasks: Iterable[Mapping[str, Any]], prefetcher: Prefetcher) -> Iterator[Mapping[str, Any]]:
    """Each task handed to ``prefetcher`` (its resources start to resolve) as it passes."""
    for raw in tasks:
        prefetcher.add(raw)
        yield raw


__all__ = ["Plan", "Source", "prepare"]
