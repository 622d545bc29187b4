"""``ml-data fetch --engine ray``: the same dataset as single-machine ``fetch``, read, resolved and
written by a Ray cluster (:func:`read_tasks` -> :func:`resolve_resources` -> :func:`write_dataset`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import ray

from ml_data.config import Settings
from ml_data.object_store import parse_prefix
from ml_data.pipeline.manifest import check_target
from ml_data.pipeline.options import DatasetOptions
from ml_data.pipeline.report import DatasetReport
from ml_data.ray.read import read_tasks
from ml_data.ray.resolve import resolve_resources
from ml_data.ray.write import write_dataset


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` ("auto": the one this machine belongs to); without an
    address, a Ray already initialised in this process or a local one."""
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)


def fetch_with_ray(
    *,
    project: int | None = None,
    export: str | os.PathLike[str] | None = None,
    config: str | None = None,
    out: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    options: DatasetOptions | None = None,
    address: str | None = None,
    concurrency: int | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> DatasetReport:
    """Write the dataset of ``project`` (or of the ``export`` file, with its ``config``) to ``out``
    (a folder, or an ``s3://``, ``gs://`` or ``az://`` prefix) on the Ray cluster at ``address``.
    ``concurrency``: resolving actors (default: one per CPU of the cluster). A folder ``out`` may
    not contain the export or the files in ``protect``."""
    settings = settings or Settings.from_env()
    options = options or DatasetOptions()
    if out is None:
        if project is None:
            raise ValueError("an export needs out=")
        out = Path("datasets") / f"project-{project}-{options.format}"
    target: str | Path = str(out) if parse_prefix(str(out)) is not None else Path(out)
    if isinstance(target, Path):
        # Refused before the cluster starts; the sink checks the folder again when writing begins.
        check_target(target, [("the export", export), *(("an input of this run", path) for path in protect)])
    connect(address)
    actors = concurrency or max(1, int(ray.cluster_resources().get("CPU", 1)))
    tasks = read_tasks(project=project, export=export, config=config, settings=settings)
    resolved = resolve_resources(tasks, concurrency=actors, threads=options.workers, settings=settings)
    source = None if project is not None else {"export": Path(export or "").name}
    return write_dataset(
        resolved,
        target,
        format=options.format,
        project=project,
        config=config,
        source=source,
        options=options,
        settings=settings,
    )


__all__ = ["connect", "fetch_with_ray"]
