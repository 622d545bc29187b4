"""The way to a dataset: :func:`fetch` (a Label Studio project, or an export file on disk, to a
dataset folder, on this machine or a Ray cluster), and its wrappers."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from ml_data.config import Settings
from ml_data.errors import ConfigurationError
from ml_data.pipeline.build import Build
from ml_data.pipeline.filters import refuse_view
from ml_data.pipeline.options import DatasetOptions, with_format
from ml_data.pipeline.plan import Source, prepare
from ml_data.pipeline.report import DatasetReport
from ml_data.resolvers.resolver import Resolver

logger = logging.getLogger(__name__)


#: the engines :func:`fetch` runs on
ENGINES = ("local", "ray")


def fetch(
    source: Source,
    options: DatasetOptions | None = None,
    *,
    engine: str = "local",
    settings: Settings | None = None,
    out: str | os.PathLike[str] | None = None,
    config: str | None = None,
    format: str | None = None,
    snapshot: bool = False,
    progress: bool = False,
    resolver: Resolver | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
    address: str | None = None,
) -> DatasetReport:
    """The one way to a dataset: ``source`` (a Label Studio project id, or an export file with
    ``config``, its labeling config XML) -> the dataset folder ``out`` (default for a project
    ``datasets/project-<id>-<format>``), as ``options`` say.

    ``engine="ray"``: read, resolve and write on the Ray cluster at ``address`` (the ``ray`` extra).
    ``format=``: the options' format, given alone; naming another format than ``options`` is a
    :class:`~ml_data.errors.ConfigurationError`. ``resolver``: resolve resources with this one (the
    service passes its guarded resolver). ``out`` may not contain the export, the working
    directory or the files in ``protect``.

    >>> report = fetch(3, DatasetOptions(format="yolo"), out="data/yolo")  # doctest: +SKIP
    >>> report = fetch("export.json", DatasetOptions(format="coco"), out="data/coco", config=xml)  # doctest: +SKIP
    """
    options = with_format(options, format)
    settings = settings or Settings.from_env()
    project, export = (source, None) if isinstance(source, int) else (None, source)
    if engine not in ENGINES:
        raise ConfigurationError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if project is None and out is None:
        raise ConfigurationError("a dataset from an export file needs an output folder (out=, --out)")
    if project is None:
        refuse_view(options, export)
    if engine == "ray":
        from ml_data.ray.fetch import fetch_with_ray

        return fetch_with_ray(
            project=project,
            export=export,
            config=config if project is None else None,
            out=out,
            settings=settings,
            options=options,
            address=address,
            protect=protect,
        )
    plan = prepare(
        source,
        options,
        settings,
        out=out,
        config=config,
        protect=protect,
        resolver=resolver,
        snapshot=snapshot,
        progress=progress,
    )
    try:
        return Build(plan, settings, progress=progress).run()
    finally:
        plan.discard()


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
    dataset to ``out`` (default ``datasets/project-<id>-<format>``): :func:`fetch` of a project.

    >>> report = fetch_project(3, format="yolo", out="data/yolo")  # doctest: +SKIP
    >>> report.tasks, report.tasks_changed, report.manifest  # doctest: +SKIP
    """
    return fetch(
        project_id,
        options,
        format=format,
        out=out,
        settings=settings,
        snapshot=snapshot,
        progress=progress,
        resolver=resolver,
    )


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
    """The same dataset from an export file already on disk (``config``: the labeling config XML):
    :func:`fetch` of an export. ``out`` may not contain the export, the working directory or the
    files in ``protect`` (the config file the XML was read from).

    >>> fetch_export("export.json", format="voc", out="data/voc", config=xml)  # doctest: +SKIP
    """
    return fetch(
        export,
        options,
        format=format,
        out=out,
        config=config,
        settings=settings,
        progress=progress,
        protect=protect,
    )


__all__ = ["ENGINES", "fetch", "fetch_export", "fetch_project"]
