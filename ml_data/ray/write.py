"""A dataset from a Ray Dataset of tasks: a :class:`DatasetSink` whose write tasks each build a
complete dataset of their own tasks (the single-machine build, on the worker: conversion, files
placed from the cache, a manifest, cut into parts by :mod:`ml_data.ray.parts`); the driver then
merges the shards streaming (:mod:`ml_data.ray.merge`) and commits the dataset.

To a folder: shards are built in a staging folder beside the target, their files moved into the
new folder, which replaces the previous one in one rename. To object storage (``s3://``,
``gs://``, ``az://``; :mod:`ml_data.ray.objects`): shards are built in a local temporary folder and
uploaded into a folder of the run's own, and the manifest copied to the prefix last is the commit.

Nothing partial is ever visible: a write task that dies (or is retried) leaves only shards no write
result names, removed with the staging folder (or the run's folder); the dataset replaces the
previous one only once complete.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from ray.data import Dataset
from ray.data.block import Block, BlockAccessor
from ray.data.datasource import Datasink, WriteResult

from ml_data.config import Settings
from ml_data.converters import get_format
from ml_data.converters.naming import Renamed
from ml_data.errors import ConfigurationError, FormatNotSupported, NothingToWrite
from ml_data.fsutil import atomic_folder
from ml_data.jsonio import dumps, loads
from ml_data.labelstudio import LabelStudioClient
from ml_data.object_store import ObjectPrefix, new_run, parse_prefix
from ml_data.pipeline.build import Build, file_renames
from ml_data.pipeline.filters import project_filters, reader_filter
from ml_data.pipeline.manifest import check_target
from ml_data.pipeline.options import DatasetOptions, parse_split, with_format
from ml_data.pipeline.plan import prepare
from ml_data.pipeline.report import MANIFEST, DatasetReport, why_empty_dataset
from ml_data.ray.merge import LocalShards, Merged, ShardFiles, merge_manifests
from ml_data.ray.objects import RemoteShards, RunFolder, check_prefix
from ml_data.ray.parts import write_parts
from ml_data.ray.read import raw_task
from ml_data.ray.transfer import ShardFailure, gather_files
from ml_data.tasks.filtering import FilterCounts, TaskFilter
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.resources import resource_items, resource_keys

logger = logging.getLogger(__name__)


#: what a write task returns: its shard folder's name and its build's counts
ShardResult = dict[str, Any]
#: the counts of a shard's report that add up to the dataset's
_COUNTS = ("resources", "resources_resolved", "files_linked", "files_copied")


class DatasetSink(Datasink[ShardResult | None]):
    """Writes rows of :func:`ml_data.ray.read_tasks` (resolved or not) as one dataset: a folder,
    or a prefix in object storage (``out`` given as its URL)."""

    def __init__(
        self,
        out: Path | str,
        *,
        config: str | None,
        options: DatasetOptions,
        source: dict[str, Any],
        settings: Settings,
        renamed: Renamed | None = None,
        task_filter: TaskFilter | None = None,
        left_out: Mapping[str, int] | None = None,
    ) -> None:
        self.prefix: ObjectPrefix | None = parse_prefix(str(out)) if isinstance(out, str) else None
        self.out = Path(out).absolute() if self.prefix is None else Path(self.prefix.path)
        #: the file names decided for the whole dataset (each shard sees only its own tasks)
        self.renamed = renamed
        self.config = config
        self.options = options
        self.source = source
        self.settings = settings
        self.task_filter = task_filter if task_filter is not None else reader_filter(options)
        self.left_out = dict(left_out or {})
        self.staging = self.out.parent / f".{self.out.name}.shards-{uuid.uuid4().hex[:12]}"
        self.run: RunFolder | None = None
        self.report: DatasetReport | None = None

    @property
    def location(self) -> str:
        """Where the dataset is, as the manifest's conversion reports name it."""
        return self.run.url if self.run is not None else str(self.out)

    def on_write_start(self, schema: Any = None) -> None:
        if self.prefix is not None:
            check_prefix(self.prefix, self.settings)
            self.run = RunFolder(self.prefix, new_run(), self.settings)
            return
        check_target(self.out)
        self.staging.mkdir(parents=True)

    def write(self, blocks: Iterable[Block], ctx: Any) -> ShardResult | None:
        """Build this write task's shard (None when it had no rows)."""
        rows: list[Mapping[str, Any]] = []
        for block in blocks:
            rows.extend(BlockAccessor.for_block(block).iter_rows(public_row_format=False))
        if not rows:
            return None
        name = f"shard-{uuid.uuid4().hex[:12]}"
        if self.run is None:
            report = self._build(rows, self.staging, name)
            write_parts(self.staging / name, self.staging / f"{name}.parts")
        else:
            local = Path(tempfile.mkdtemp(prefix="ml-data-shard-"))
            try:
                report = self._build(rows, local, name)
                write_parts(local / name, local / f"{name}.parts")
                self.run.upload_shard(name, local / name, local / f"{name}.parts")
            finally:
                shutil.rmtree(local, ignore_errors=True)
        return {"shard": name, **{count: getattr(report, count) for count in _COUNTS}, "failures": report.failures}

    def _build(self, rows: list[Mapping[str, Any]], folder: Path, name: str) -> DatasetReport:
        """The single-machine build of ``rows``, as the dataset folder ``folder/name``."""
        export = folder / f".{name}.export.json"
        brought = folder / f".{name}.files"
        with open(export, "wb") as handle:
            handle.write(b"[")
            for number, row in enumerate(rows):
                handle.write((b",\n" if number else b"") + dumps(raw_task(row)))
            handle.write(b"]")
        try:
            prefetched = gather_files(rows, brought)
            plan = prepare(
                export,
                self.options,
                self.settings,
                out=folder / name,
                config=self.config,
                manifest_source=self.source,
                prefetched=prefetched,
                allow_empty=True,
                renamed=self.renamed,
                task_filter=self.task_filter,
            )
            return Build(plan, self.settings).run()
        finally:
            export.unlink(missing_ok=True)
            shutil.rmtree(brought, ignore_errors=True)

    def on_write_complete(self, write_result: WriteResult[ShardResult | None]) -> None:
        results = [result for result in write_result.write_returns if result]
        names = sorted(result["shard"] for result in results)
        if self.run is not None:
            try:
                merged = self._commit_run(self.run, names)
            except BaseException:
                self.run.remove()
                raise
        else:
            try:
                merged = self._commit_folder(names)
            finally:
                shutil.rmtree(self.staging, ignore_errors=True)
        self.report = _report(self.out, self.options.format, merged, results)
        if self.run is not None:
            self.report.location = self.run.url

    def _commit_folder(self, names: list[str]) -> Merged:
        with atomic_folder(self.out) as building:
            if not names:
                names = [self._empty(self.staging)]
            files = LocalShards([self.staging / name for name in names], building, format=self.options.format)
            merged = self._merge(names, self.staging, files, building / MANIFEST)
        return merged

    def _commit_run(self, run: RunFolder, names: list[str]) -> Merged:
        with tempfile.TemporaryDirectory(prefix="ml-data-merge-") as scratch:
            local = Path(scratch)
            if not names:
                names = [self._empty(local)]
                run.upload_shard(names[0], local / names[0], local / f"{names[0]}.parts")
            parts = run.download_parts(names, local / "parts")
            files = RemoteShards(run, names, local, format=self.options.format)
            manifest = local / MANIFEST
            merged = self._merge(names, local / "parts", files, manifest, parts_named=parts, root=run.root)
            run.commit(manifest)
        return merged

    def _merge(
        self,
        names: list[str],
        folder: Path,
        files: ShardFiles,
        manifest: Path,
        *,
        parts_named: list[Path] | None = None,
        root: str | None = None,
    ) -> Merged:
        """The shards' manifests merged into ``manifest`` (their files through ``files``); an
        empty dataset refused before anything is committed."""
        parts = parts_named or [folder / f"{name}.parts" for name in names]
        with open(manifest, "wb") as handle:
            merged = merge_manifests(
                parts,
                files,
                handle,
                output=self.location,
                root=root,
                left_out=self.left_out if self.options.filtered else None,
            )
        _refuse_empty(merged, self.prefix.url if self.prefix is not None else str(self.out))
        return merged

    def _empty(self, folder: Path) -> str:
        """A shard with no task (every write task had none): the format's files for no task."""
        export = _empty_export(folder)
        plan = prepare(
            export,
            self.options,
            self.settings,
            out=folder / "empty",
            config=self.config,
            manifest_source=self.source,
            task_filter=self.task_filter,
        )
        Build(plan, self.settings).run()
        write_parts(folder / "empty", folder / "empty.parts")
        return "empty"

    def on_write_failed(self, error: Exception) -> None:
        if self.run is not None:
            self.run.remove()
        else:
            shutil.rmtree(self.staging, ignore_errors=True)

    def get_name(self) -> str:
        return "LabelStudioDataset"


def _refuse_empty(merged: Merged, out: str) -> None:
    """The rule single-machine fetch applies, to the merged dataset: no item at all is a
    :class:`NothingToWrite` (the shards, each alone, may hold nothing)."""
    empty = why_empty_dataset(
        merged.tasks,
        merged.conversions.values(),
        excluded=merged.excluded,
        failures=merged.failures,
        left_out=merged.left_out,
    )
    if empty is not None:
        raise NothingToWrite(f"{empty}; {out} is unchanged")


def _report(out: Path, format: str, merged: Merged, results: list[ShardResult]) -> DatasetReport:
    """The dataset's report: counts from the merge and the shards' builds."""
    report = DatasetReport(out=out, format=format, source=merged.source)
    report.tasks = report.tasks_changed = merged.tasks
    for count in _COUNTS:
        setattr(report, count, sum(int(result.get(count) or 0) for result in results))
    report.bytes_total = merged.bytes_total
    report.failures = dict(merged.failures)
    report.splits = dict(merged.splits)
    report.left_out = dict(merged.left_out)
    report.regions_dropped = dict(merged.regions_dropped)
    return report


def dataset_names(
    ds: Dataset, keys: list[str] | None, task_filter: TaskFilter | None = None
) -> dict[tuple[str, str | None, str], str]:
    """The renamed file stems of the dataset of ``ds``'s rows, decided as single-machine ``fetch``
    decides them (:func:`~ml_data.pipeline.build.file_renames`): from the tasks ``task_filter``
    keeps, each resource with its item (``keys``: the config's resource keys)."""
    active = task_filter is not None and task_filter.active
    counts = FilterCounts()

    def triples() -> Iterator[tuple[Any, str | None, str]]:
        rows = ds if active else ds.select_columns(["id", "data"])
        for batch in rows.iter_batches(batch_format="pyarrow", batch_size=4096):
            assert isinstance(batch, pa.Table)
            for row in batch.to_pylist():
                if task_filter is not None and active:
                    kept = task_filter.apply(raw_task(row), counts)
                    data = kept.get("data") if kept is not None else None
                else:
                    data = loads(row["data"])
                for item, url in resource_items(data, keys) if data is not None else ():
                    yield row["id"], item, url

    return file_renames(triples())


def _empty_export(staging: Path) -> Path:
    export = staging / ".empty.export.json"
    export.write_bytes(b"[]")
    return export


def write_dataset(
    ds: Dataset,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    split: str | Mapping[str, float] | None = None,
    project: int | None = None,
    config: str | None = None,
    source: dict[str, Any] | None = None,
    options: DatasetOptions | None = None,
    settings: Settings | None = None,
    concurrency: int | None = None,
    num_cpus: float = 0.5,
    task_filter: TaskFilter | None = None,
    left_out: Mapping[str, int] | None = None,
) -> DatasetReport:
    """Write ``ds`` (rows of :func:`read_tasks`, after :func:`resolve_resources` or not: a row's
    unresolved resources are resolved by its write task) as a ``format`` dataset at ``path``, with
    the ``manifest.json`` single-machine ``fetch`` writes.

    ``project``: the Label Studio project the tasks come from (its labeling config and the
    manifest's source); or ``config`` (the labeling config XML) and ``source``.
    ``path`` is a folder every worker sees (a shared volume on a cluster), or a prefix in object
    storage (``s3://bucket/datasets/p3``, ``gs://``, ``az://``; see :mod:`ml_data.object_store`
    for its layout: the files go to a run folder of their own, ``report.location``, and the
    manifest copied to ``<prefix>/manifest.json`` last commits them). The cache need not be shared:
    a write task has the files other nodes resolved sent over (:mod:`ml_data.ray.transfer`).
    ``ds`` is materialized first (its rows kept in Ray's object store until the dataset is
    written): the file names of every shard depend on all the tasks. ``num_cpus``: what each
    write task reserves. The options' filters are judged on the rows (a ``view`` is refused:
    the rows are read already; ``fetch(project, engine="ray")`` asks Label Studio for a tab's
    tasks); ``task_filter`` replaces them, ``left_out`` adds what the source left out already.

    >>> write_dataset(resolve_resources(read_tasks(project=3)), "data/yolo", format="yolo",
    ...               split="train=0.8,val=0.2", project=3)  # doctest: +SKIP
    """
    settings = settings or Settings.from_env()
    options = with_format(options, format)
    if split is not None:
        options = dataclasses.replace(options, split=parse_split(split))
    if options.stratify or options.group_by:
        # Each write task sees only its shard: a split of all the tasks cannot be decided there.
        raise ConfigurationError("stratify and group_by are not supported with Ray yet: use the local engine")
    if task_filter is None and options.view is not None:
        raise ConfigurationError(
            "view: write_dataset gets tasks already read; fetch(project, engine='ray') asks Label Studio "
            "for a Data Manager tab's tasks"
        )
    if project is not None:
        client = LabelStudioClient(settings)
        if task_filter is None:
            task_filter = project_filters(client, project, options, server=False)
        info = client.project(project)
        config = config if config is not None else info.label_config
        source = source or {"label_studio_url": client.base_url, "project": info.id, "title": info.title}
    if source is None:
        raise ConfigurationError("write_dataset needs project= or source= (what the manifest names as the source)")
    fmt = get_format(options.format)
    reason = fmt.check(parse_label_config(config) if config else None)
    if reason is not None:
        raise FormatNotSupported(reason)
    target = path if isinstance(path, str) else Path(path)
    sink = DatasetSink(
        target,
        config=config,
        options=options,
        source=source,
        settings=settings,
        task_filter=task_filter,
        left_out=left_out,
    )
    # The names of the files depend on every task (which has the lowest id of a shared name):
    # the rows are read and resolved once, their names decided, then the shards written.
    ds = ds.materialize()
    sink.renamed = dataset_names(ds, resource_keys(parse_label_config(config) if config else None), sink.task_filter)
    ds.write_datasink(sink, concurrency=concurrency, ray_remote_args={"num_cpus": num_cpus})
    assert sink.report is not None
    return sink.report


__all__ = ["DatasetSink", "ShardFailure", "dataset_names", "write_dataset"]
