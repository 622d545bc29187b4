"""The entry points: a Label Studio project, or an export file on disk, to a dataset folder."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_data.config import Settings
from ml_data.converters import get_format
from ml_data.errors import FormatNotSupported
from ml_data.http import DEFAULT_POOL_SIZE, new_session
from ml_data.jsonio import dumps
from ml_data.labelstudio import LabelStudioClient, http_client
from ml_data.pipeline.build import Build
from ml_data.pipeline.manifest import check_target, read_manifest
from ml_data.pipeline.options import DatasetOptions, with_format
from ml_data.pipeline.prefetch import Prefetcher
from ml_data.pipeline.report import DatasetReport
from ml_data.pipeline.tasks import TaskReader
from ml_data.resolvers.resolver import Resolver
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.model import read_tasks

logger = logging.getLogger(__name__)


def fetch_project(
    project_id: int,
    *,
    format: str | None = None,
    out: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    options: DatasetOptions | None = None,
    snapshot: bool = False,
    progress: bool = False,
    resolver: Resolver | None = None,
) -> DatasetReport:
    """Pull project ``project_id`` from Label Studio (URL and token from ``settings``) and write a
    ``format`` dataset to ``out`` (default ``datasets/project-<id>-<format>``).

    ``resolver``: resolve resources with this one (the service passes its guarded resolver).

    >>> report = fetch_project(3, format="yolo", out="data/yolo")  # doctest: +SKIP
    >>> report.tasks, report.tasks_changed, report.manifest  # doctest: +SKIP
    """
    settings = settings or Settings.from_env()
    options = with_format(options, format)
    client = LabelStudioClient(settings)
    project = client.project(project_id)
    fmt = get_format(options.format)
    target = Path(out) if out is not None else Path("datasets") / f"project-{project_id}-{fmt.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    export = target.parent / f".{target.name}.export-{uuid.uuid4().hex[:12]}.json"
    if resolver is None and options.workers <= DEFAULT_POOL_SIZE:
        resolver = Resolver(settings, http=client.http)
    if resolver is None:
        resolver = Resolver(
            settings, http=http_client(settings, session=new_session(settings, pool_maxsize=options.workers))
        )
    config = parse_label_config(project.label_config) if project.label_config else None
    reason = fmt.check(config)  # before anything is downloaded
    if reason is not None:
        raise FormatNotSupported(reason)
    check_target(target)
    previous = read_manifest(target)
    reader = TaskReader(config, options.convert_options(), options.split)
    prefetcher = Prefetcher(reader, target, previous, resolver, workers=options.workers, progress=progress)
    started = time.monotonic()
    try:
        # How the tasks come: the direct export in chunks of ids lets resources download while the
        # server exports the rest (a first run). A snapshot is faster on the server but arrives
        # whole: used to update an existing dataset, where few resources are new, and with
        # predictions (the direct export lists them by id only).
        use_snapshot = snapshot or options.predictions or previous is not None
        chunks = None if use_snapshot else client.export_chunks(project_id)
        if chunks is None:
            client.export(project_id, export, snapshot=use_snapshot, full_predictions=options.predictions)
            for raw in read_tasks(export).raw():
                prefetcher.add(raw)
        else:
            # Written as one JSON array, which the converters read streaming.
            with open(export, "wb") as handle:
                separator = b"["
                for chunk in chunks:
                    for raw in chunk:
                        handle.write(separator + dumps(raw))
                        separator = b",\n"
                        prefetcher.add(raw)
                handle.write(b"[]" if separator == b"[" else b"]")
        logger.info("export of project %s done after %.1f s", project_id, time.monotonic() - started)
        prefetched = prefetcher.results()
        logger.info("%d resources resolved after %.1f s", len(prefetched), time.monotonic() - started)
        prefetcher.close()
        source = {"label_studio_url": client.base_url, "project": project.id, "title": project.title}
        build = Build(export, target, project.label_config, settings, options, source, resolver, progress)
        build.previous, build.previous_read = previous, True
        build.tasks, build.prefetched = prefetcher.tasks, prefetched
        build.parsed, build.checked = config, True
        return build.run()
    finally:
        prefetcher.close()
        export.unlink(missing_ok=True)


def project_resources(project_id: int, settings: Settings) -> Iterator[tuple[str, int | None]]:
    """(URL, task id) of every resource the project's tasks reference, as the export arrives."""
    client = LabelStudioClient(settings)
    project = client.project(project_id)
    config = parse_label_config(project.label_config) if project.label_config else None
    reader = TaskReader(config, DatasetOptions().convert_options())
    chunks = client.export_chunks(project_id)
    if chunks is None:
        for raw in whole_export(client, project_id):
            yield from reader.resources(raw)
        return
    for chunk in chunks:
        for raw in chunk:
            yield from reader.resources(raw)


def whole_export(client: LabelStudioClient, project_id: int) -> Iterator[Mapping[str, Any]]:
    """Every task of the project from one export, read streaming from a temporary file (removed
    when the iteration ends)."""
    with tempfile.TemporaryDirectory(prefix="ml-data-export-") as folder:
        export = client.export(project_id, Path(folder) / "export.json")
        yield from read_tasks(export).raw()


def fetch_export(
    export: str | os.PathLike[str],
    *,
    format: str | None = None,
    out: str | os.PathLike[str],
    config: str | None = None,
    settings: Settings | None = None,
    options: DatasetOptions | None = None,
    progress: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> DatasetReport:
    """The same dataset from an export file already on disk (``config``: the labeling config XML).
    ``out`` may not contain the export, the working directory or the files in ``protect`` (the
    config file the XML was read from).

    >>> fetch_export("export.json", format="voc", out="data/voc", config=xml)  # doctest: +SKIP
    """
    settings = settings or Settings.from_env()
    options = with_format(options, format)
    source = {"export": Path(export).name}
    build = Build(Path(export), Path(out), config, settings, options, source, progress=progress, protect=tuple(protect))
    return build.run()


__all__ = ["fetch_export", "fetch_project", "project_resources", "whole_export"]
