"""``ml-data fetch --engine ray``: the same dataset as single-machine ``fetch``, read, resolved and
written by a Ray cluster (:func:`read_tasks` -> :func:`resolve_resources` -> :func:`write_dataset`)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import ray

from ml_data.config import Settings
from ml_data.errors import ConfigurationError
from ml_data.labelstudio import LabelStudioClient
from ml_data.labelstudio.lookups import count_tasks
from ml_data.object_store import parse_prefix
from ml_data.pipeline.filters import project_filters, server_filter, server_left_out
from ml_data.pipeline.manifest import check_target
from ml_data.pipeline.options import DatasetOptions
from ml_data.pipeline.report import DatasetReport
from ml_data.ray.read import read_tasks
from ml_data.ray.resolve import resolve_resources
from ml_data.ray.write import write_dataset
from ml_data.tasks.filtering import parse_ids
from ml_data.tasks.model import read_tasks as read_export


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
    task_filter, left_out, filtered, ids = None, None, None, None
    try:
        if project is not None and server_filter(options):
            # Label Studio's own filters are a snapshot's: exported to a folder every node sees, then
            # read as an export file.
            filtered = _snapshot_path(target)
            client = LabelStudioClient(settings)
            task_filter = project_filters(client, project, options)
            info = client.project(project)
            total, config = info.task_count, info.label_config
            client.export(project, filtered, full_predictions=options.predictions, task_filter=server_filter(options))
            received = sum(1 for _task in read_export(filtered).raw())
            left_out = server_left_out(client, project, options, total, received)
        elif project is not None and options.ids:
            # Only the tasks asked for are read; the others, never exported, are counted by Label Studio.
            client = LabelStudioClient(settings)
            ids = parse_ids(options.ids)
            total, kept = client.project(project).task_count, count_tasks(client, project, ids=ids)
            if total is not None and kept is not None:
                left_out = {"ids": max(0, total - kept)}
            else:
                ids = None  # read every task, the write counts those it leaves out
        if filtered is not None:
            tasks = read_tasks(export=filtered, config=config, settings=settings)
        else:
            tasks = read_tasks(project=project, export=export, config=config, settings=settings, ids=ids)
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
            task_filter=task_filter,
            left_out=left_out,
        )
    finally:
        if filtered is not None:
            filtered.unlink(missing_ok=True)


def _snapshot_path(target: str | Path) -> Path:
    """Where the snapshot export of Label Studio's filters goes: beside a folder ``target`` (which
    every node sees); for object storage, a temporary folder, which every node sees only when the
    cluster is this machine alone (otherwise refused: no folder is known to be shared)."""
    name = f"export-{uuid.uuid4().hex[:12]}.json"
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.parent / f".{target.name}.{name}"
    if not _driver_node_only():
        raise ConfigurationError(
            f"view and finished (Label Studio's filters) write the filtered tasks to a file every node reads, and "
            f"with {target} as the output no folder is known to be shared by this cluster's nodes: write the "
            "dataset to a shared folder, or run on one machine"
        )
    return Path(tempfile.gettempdir()) / f"ml-data-{name}"


def _driver_node_only() -> bool:
    """Whether the cluster's only live node is the one this driver runs on."""
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return len(nodes) == 1 and nodes[0].get("NodeID") == ray.get_runtime_context().get_node_id()


__all__ = ["connect", "fetch_with_ray"]
