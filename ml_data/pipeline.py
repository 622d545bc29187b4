"""From a Label Studio project (or an export file) to a training-ready dataset folder.

The one orchestration in ml-data: tasks -> every referenced resource resolved in parallel (shared
cache) -> converted to the chosen format -> a dataset folder with the resources placed beside the
annotations (hard links where ml-data owns the file, copies otherwise) and a ``manifest.json``.

Re-running is incremental: the manifest records each task's fingerprint and every file's size and
sha256. An unchanged project rewrites nothing; otherwise only new or changed tasks have their
resources resolved (the others are taken from the previous dataset), and files whose content did
not change keep their inode. The new dataset is built beside the old one and swapped in only when
complete, so a failed run leaves the previous dataset intact.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from ml_data._version import __version__
from ml_data.config import Settings
from ml_data.converters import get_format, write_format
from ml_data.converters.base import ConversionReport, ConvertOptions, atomic_folder, select_annotations
from ml_data.converters.images import UniqueNames
from ml_data.converters.label_config import LabelConfig, parse_label_config
from ml_data.converters.model import read_tasks, task_from_dict
from ml_data.errors import (
    ConfigurationError,
    FormatNotSupported,
    InvalidExport,
    MlDataError,
    OutputError,
    ResourcesFailed,
)
from ml_data.hashing import file_sha256
from ml_data.http import DEFAULT_POOL_SIZE, HttpClient, new_session
from ml_data.redaction import redact_url
from ml_data.resolvers import Resolver, resolve_many
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.refs import looks_like_resource

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: Object tags whose value is always a file to fetch; any other tag counts when valueType="url".
MEDIA_TAGS = frozenset({"Image", "Audio", "AudioPlus", "Video", "Pdf", "TimeSeries"})
#: Formats that keep task data as it is: their resources go to media/, the URLs rewritten to match.
DATA_FORMATS = frozenset({"json", "json-min", "csv", "tsv"})
_SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")


# -- options and report ---------------------------------------------------------------------------


def parse_split(text: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """``train=0.8,val=0.2`` -> ``{"train": 0.8, "val": 0.2}``; the fractions must add up to 1."""
    if text is None or text == "":
        return None
    if isinstance(text, Mapping):
        parts = {str(name): float(value) for name, value in text.items()}
    else:
        parts = {}
        for item in text.split(","):
            name, sep, fraction = item.partition("=")
            name = name.strip()
            try:
                parts[name] = float(fraction)
            except ValueError:
                raise ConfigurationError(f"invalid split {item!r}: expected name=fraction, e.g. train=0.8") from None
            if not sep:
                raise ConfigurationError(f"invalid split {item!r}: expected name=fraction, e.g. train=0.8")
    for name, value in parts.items():
        if not _SPLIT_NAME.match(name):
            raise ConfigurationError(f"invalid split name {name!r}: letters, digits, - and _ only")
        if not 0 < value <= 1:
            raise ConfigurationError(f"split {name}={value}: a fraction must be in (0, 1]")
    if abs(sum(parts.values()) - 1.0) > 1e-6:
        raise ConfigurationError(f"split fractions add up to {sum(parts.values()):g}, not 1")
    return parts


def split_of(task_id: Any, split: Mapping[str, float]) -> str:
    """The split a task belongs to: a hash of its id, so the same task always lands in the same
    split whatever else the project holds."""
    digest = hashlib.sha256(f"ml-data-split:{task_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = 0.0
    names = list(split)
    for name in names:
        total += split[name]
        if point < total:
            return name
    return names[-1]


@dataclass(frozen=True)
class DatasetOptions:
    """What dataset to build: the format and the conversion choices, the split, and how to fail."""

    format: str = "json"
    annotations: str = "all"
    predictions: bool = False
    model_version: str | None = None
    #: "fail": a resource or task that cannot be used stops the run (the previous dataset stays);
    #: "skip": such tasks are left out and reported
    on_error: str = "fail"
    split: Mapping[str, float] | None = None
    category_order: str = "alphabetical"
    category_start: int | None = None
    split_sentences: bool = False
    #: "standard": the layout training tools read as it is (COCO annotations/ + images/<split>/,
    #: VOC JPEGImages/ + ImageSets/Main/, Ultralytics images/<split>/ + labels/<split>/);
    #: "label-studio": Label Studio's own export files, one folder per split
    layout: str = "standard"
    #: hard-link files ml-data owns (cache, previous dataset) instead of copying them
    link: bool = True
    workers: int = 16

    def convert_options(self, **extra: Any) -> ConvertOptions:
        return ConvertOptions(
            annotations=self.annotations,
            predictions=self.predictions,
            model_version=self.model_version,
            on_error=self.on_error,
            split_sentences=self.split_sentences,
            category_order=self.category_order,
            category_start=self.category_start,
            layout=self.layout,
            **extra,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What decides the dataset's content (not how it is built: workers, linking)."""
        return {
            "format": get_format(self.format).name,
            "annotations": self.annotations,
            "predictions": self.predictions,
            "model_version": self.model_version,
            "on_error": self.on_error,
            "split": dict(self.split) if self.split else None,
            "category_order": self.category_order,
            "category_start": self.category_start,
            "split_sentences": self.split_sentences,
            "layout": self.layout,
        }


@dataclass
class DatasetReport:
    """What a fetch did."""

    out: Path
    format: str
    source: dict[str, Any]
    tasks: int = 0
    #: tasks new or changed since the previous dataset (all of them on a first run)
    tasks_changed: int = 0
    tasks_removed: int = 0
    #: nothing was rewritten: the dataset was already up to date
    unchanged: bool = False
    resources: int = 0
    resources_resolved: int = 0
    resources_reused: int = 0
    files_linked: int = 0
    files_copied: int = 0
    #: files whose content did not change and that were kept as they were
    files_kept: int = 0
    bytes_total: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    conversions: dict[str, ConversionReport] = field(default_factory=dict)

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": self.format,
            "source": self.source,
            "tasks": self.tasks,
            "tasks_changed": self.tasks_changed,
            "tasks_removed": self.tasks_removed,
            "unchanged": self.unchanged,
            "resources": self.resources,
            "resources_resolved": self.resources_resolved,
            "resources_reused": self.resources_reused,
            "files_linked": self.files_linked,
            "files_copied": self.files_copied,
            "files_kept": self.files_kept,
            "bytes_total": self.bytes_total,
            "failures": self.failures,
            "splits": self.splits,
            "conversions": {name: report.as_dict() for name, report in self.conversions.items()},
            "manifest": str(self.manifest),
        }


# -- entry points ---------------------------------------------------------------------------------


def fetch_project(
    project_id: int,
    *,
    format: str = "json",
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
    from ml_data.labelstudio import LabelStudioClient

    settings = settings or Settings.from_env()
    options = _with_format(options, format)
    client = LabelStudioClient(settings)
    project = client.project(project_id)
    target = Path(out) if out is not None else Path("datasets") / f"project-{project_id}-{get_format(format).name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    export = target.parent / f".{target.name}.export-{uuid.uuid4().hex[:12]}.json"
    if resolver is None and options.workers <= DEFAULT_POOL_SIZE:
        resolver = Resolver(settings, http=client.http)
    if resolver is None:
        resolver = Resolver(
            settings, http=HttpClient(settings, session=new_session(settings, pool_maxsize=options.workers))
        )
    config = parse_label_config(project.label_config) if project.label_config else None
    reason = get_format(options.format).check(config)
    if reason is not None:
        raise FormatNotSupported(reason)
    _check_target(target)
    previous = _read_manifest(target)
    prefetcher = _Prefetcher(config, options, target, previous, resolver, progress=progress)
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
                        handle.write(separator + orjson.dumps(raw))
                        separator = b",\n"
                        prefetcher.add(raw)
                handle.write(b"[]" if separator == b"[" else b"]")
        logger.info("export of project %s done after %.1f s", project_id, time.monotonic() - started)
        prefetched = prefetcher.results()
        logger.info("%d resources resolved after %.1f s", len(prefetched), time.monotonic() - started)
        prefetcher.close()
        source = {"label_studio_url": client.base_url, "project": project.id, "title": project.title}
        return build_dataset(
            export,
            target,
            config=project.label_config,
            settings=settings,
            options=options,
            source=source,
            resolver=resolver,
            prefetched=prefetched,
            scanned=prefetcher.tasks,
            previous=previous,
            progress=progress,
        )
    finally:
        prefetcher.close()
        export.unlink(missing_ok=True)


def project_resources(project_id: int, settings: Settings) -> Iterator[tuple[str, int | None]]:
    """(URL, task id) of every resource the project's tasks reference, as the export arrives."""
    from ml_data.labelstudio import LabelStudioClient

    client = LabelStudioClient(settings)
    project = client.project(project_id)
    reader = _TaskReader(parse_label_config(project.label_config) if project.label_config else None, DatasetOptions())
    chunks = client.export_chunks(project_id)
    if chunks is None:
        with tempfile.TemporaryDirectory(prefix="ml-data-export-") as folder:
            export = client.export(project_id, Path(folder) / "export.json")
            for raw in read_tasks(export).raw():
                yield from ((url, _task_id_value(str(raw.get("id")))) for url in reader.info(raw).resources)
        return
    for chunk in chunks:
        for raw in chunk:
            yield from ((url, _task_id_value(str(raw.get("id")))) for url in reader.info(raw).resources)


def fetch_export(
    export: str | os.PathLike[str],
    *,
    format: str = "json",
    out: str | os.PathLike[str],
    config: str | None = None,
    settings: Settings | None = None,
    options: DatasetOptions | None = None,
    progress: bool = False,
) -> DatasetReport:
    """The same dataset from an export file already on disk (``config``: the labeling config XML)."""
    settings = settings or Settings.from_env()
    options = _with_format(options, format)
    return build_dataset(
        Path(export),
        Path(out),
        config=config,
        settings=settings,
        options=options,
        source={"export": Path(export).name},
        progress=progress,
    )


def _with_format(options: DatasetOptions | None, format: str) -> DatasetOptions:
    options = options or DatasetOptions(format=format)
    if options.format != format:
        options = DatasetOptions(**{**options.__dict__, "format": format})
    get_format(options.format)  # an unknown name fails now, before any download
    return options


# -- the build ------------------------------------------------------------------------------------


#: ``build_dataset``'s default: the previous manifest is read from the output folder
_UNREAD = object()

#: where a placed file comes from: its local path, the resolved file (or None), the previous
#: dataset's entry (or None), and the task id
_Placement = tuple[Path, "LocalFile | None", "Mapping[str, Any] | None", Any]


@dataclass
class _TaskInfo:
    fingerprint: str
    annotations: list[dict[str, Any]]
    resources: list[str]
    split: str | None
    selected: bool


def build_dataset(
    export: Path,
    out: Path,
    *,
    config: str | None,
    settings: Settings,
    options: DatasetOptions,
    source: dict[str, Any],
    resolver: Resolver | None = None,
    prefetched: Mapping[str, LocalFile | MlDataError] | None = None,
    scanned: dict[str, _TaskInfo] | None = None,
    previous: Mapping[str, Any] | None | object = _UNREAD,
    progress: bool = False,
) -> DatasetReport:
    """Tasks of ``export`` -> the dataset folder ``out`` (see the module docstring).

    ``prefetched``: outcomes of resources already resolved (while the export was arriving);
    ``scanned``: the tasks already read from ``export`` (else it is read once more here);
    ``previous``: the manifest of the dataset in ``out``, if the caller already read it."""
    fmt = get_format(options.format)
    parsed = parse_label_config(config) if config else None
    reason = fmt.check(parsed)
    if reason is not None:
        raise FormatNotSupported(reason)
    report = DatasetReport(out=out, format=fmt.name, source=source)
    started = time.monotonic()
    tasks = scanned if scanned is not None else _scan(export, parsed, options)
    report.tasks = len(tasks)
    settings_key = {
        "manifest_version": MANIFEST_VERSION,
        "ml_data_version": __version__,
        "label_config_sha256": hashlib.sha256((config or "").encode()).hexdigest(),
        **options.fingerprint(),
    }
    if previous is _UNREAD:
        _check_target(out)
        previous = _read_manifest(out)
    assert previous is None or isinstance(previous, Mapping)
    old_tasks: Mapping[str, Any] = previous.get("tasks", {}) if previous else {}
    unchanged = {
        task_id
        for task_id, info in tasks.items()
        if (old_tasks.get(task_id) or {}).get("fingerprint") == info.fingerprint
    }
    report.tasks_changed = len(tasks) - len(unchanged)
    report.tasks_removed = len(set(old_tasks) - set(tasks))
    if (
        previous is not None
        and previous.get("settings") == settings_key
        and report.tasks_changed == 0
        and report.tasks_removed == 0
        and _files_intact(out, previous)
    ):
        report.unchanged = True
        _fill_from_manifest(report, previous)
        return report

    # Resources: the previous dataset holds those of unchanged tasks; the rest are resolved.
    reusable = _reusable_files(out, previous, unchanged) if previous else {}
    wanted: dict[tuple[str, str], None] = {}
    for task_id, info in tasks.items():
        if info.selected:
            for url in info.resources:
                wanted[(url, task_id)] = None
    report.resources = len(wanted)
    to_resolve = [
        (url, _task_id_value(task_id)) for url, task_id in wanted if (redact_url(url), task_id) not in reusable
    ]
    report.resources_reused = len(wanted) - len(to_resolve)
    outcomes = {url: outcome for url, outcome in (prefetched or {}).items()}
    missing = [(url, task_id) for url, task_id in to_resolve if url not in outcomes]
    if missing:
        result = resolve_many(missing, workers=options.workers, progress=progress, settings=settings, resolver=resolver)
        outcomes.update(result.files)
        outcomes.update(result.errors)
    needed = {url for url, _task_id in to_resolve}
    resolved = {url: found for url, found in outcomes.items() if url in needed and isinstance(found, LocalFile)}
    errors = {url: found for url, found in outcomes.items() if url in needed and isinstance(found, MlDataError)}
    report.resources_resolved = len(resolved)
    failed_tasks: set[str] = set()
    if errors:
        for url, error in errors.items():
            report.failures[redact_url(url)] = str(error)
        if options.on_error == "fail":
            first = "; ".join(str(error) for error in list(errors.values())[:5])
            raise ResourcesFailed(
                f"{len(errors)} of {len(to_resolve)} resources could not be resolved "
                f"(nothing written; --on-error skip leaves their tasks out): {first}",
                failures={redact_url(url): error for url, error in errors.items()},
            )
        failed_tasks = {task_id for url, task_id in wanted if url in errors}

    def local_path(url: str, task_id: Any) -> Path | None:
        found = resolved.get(url)
        if found is not None:
            return found.path
        old = reusable.get((redact_url(url), str(task_id)))
        return out / old["path"] if old is not None else None

    placed_from: dict[str, _Placement] = {}
    with atomic_folder(out) as building:
        # Formats with a standard layout of their own write every split in one pass (their files
        # name the split); the others get a folder per split.
        one_pass = options.layout == "standard" and "standard" in getattr(fmt, "layouts", ())
        split_names = list(options.split) if options.split and not one_pass else [None]
        subsets = tuple(options.split) if options.split and one_pass else ()
        media = (
            _MediaLinks(tasks, lambda url, task_id: local_path(url, task_id) is not None)
            if fmt.name in DATA_FORMATS
            else None
        )
        for split_name in split_names:
            folder = building / split_name if split_name else building
            folder.mkdir(exist_ok=True)
            keep = _task_filter(tasks, split_name, failed_tasks)
            conversion = write_format(
                _FilteredTasks(export, keep, media),
                fmt.name,
                folder,
                config=parsed,
                options=options.convert_options(
                    media=lambda url, task_id: _as_str(local_path(url, task_id)),
                    image_sizes=lambda url, task_id: _image_size(local_path(url, task_id)),
                    place_media=True,
                    subsets=subsets,
                    subset_of=lambda task_id: tasks[str(task_id)].split,
                ),
                progress=progress,
            )
            conversion.output = out / split_name if split_name else out
            report.conversions[split_name or "all"] = conversion
            if split_name:
                report.splits[split_name] = conversion.tasks
            elif subsets:
                counted = [tasks[key].split for key in tasks if keep(key)]
                report.splits = {name: counted.count(name) for name in subsets}
            prefix = f"{split_name}/" if split_name else ""
            if media is not None:
                conversion.placements.extend((url, task_id, path) for (url, task_id), path in media.placed.items())
                media.placed.clear()
            for url, task_id, relative in conversion.placements:
                target = prefix + relative
                local = resolved.get(url)
                old = reusable.get((redact_url(url), str(task_id)))
                path = local.path if local is not None else (out / old["path"] if old else None)
                if path is None:
                    raise OutputError(f"no local file for {redact_url(url)} (task {task_id}) to place at {target}")
                placed_from[target] = (path, local, old, task_id)
        if fmt.name.startswith("yolo") and options.split and not one_pass:
            _write_yolo_split_yaml(building, list(options.split))
        logger.info("converted to %s in %.1f s", fmt.name, time.monotonic() - started)
        files = _place_and_record(building, out, previous, placed_from, options, report)
        logger.info("files placed and listed after %.1f s", time.monotonic() - started)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "ml_data_version": __version__,
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source": source,
            "settings": settings_key,
            "label_config": config or None,
            "tasks": {
                task_id: {
                    "fingerprint": info.fingerprint,
                    "split": info.split,
                    "annotations": info.annotations,
                    "resources": [redact_url(url) for url in info.resources],
                    **({"excluded": "a resource could not be resolved"} if task_id in failed_tasks else {}),
                }
                for task_id, info in tasks.items()
            },
            "files": files,
            "failures": report.failures,
            "conversions": {name: conversion.as_dict() for name, conversion in report.conversions.items()},
        }
        (building / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return report


def _scan(export: Path, config: LabelConfig | None, options: DatasetOptions) -> dict[str, _TaskInfo]:
    """One streaming pass over the export: per task, its fingerprint, annotations, resources and split."""
    tasks: dict[str, _TaskInfo] = {}
    reader = _TaskReader(config, options)
    for raw in read_tasks(export).raw():
        reader.add(tasks, raw, export.name)
    return tasks


def task_fingerprint(raw: Mapping[str, Any]) -> str:
    """What of a task decides its part of a dataset: its data and meta, its annotations (results,
    state, author), and which predictions it has. The rest (counters, drafts, the export's own
    choices, such as users by id or whole) is left out, so a snapshot and a direct export of the
    same task agree. Predictions count by id, or whole where the export has them whole (it has
    them so only when they are exported)."""

    def ident(value: Any) -> Any:
        return value.get("id") if isinstance(value, Mapping) else value

    annotations = [
        {
            key: ident(item.get(key)) if key == "completed_by" else item.get(key)
            for key in ("id", "result", "updated_at", "was_cancelled", "ground_truth", "completed_by")
        }
        for item in raw.get("annotations") or ()
        if isinstance(item, Mapping)
    ]
    view = {
        "id": raw.get("id"),
        "data": raw.get("data"),
        "meta": raw.get("meta") or None,
        "annotations": annotations,
        "predictions": sorted(
            (
                orjson.dumps([item.get("id"), item.get("updated_at"), item.get("result")]).decode()
                if isinstance(item, Mapping)
                else str(item)
            )
            for item in raw.get("predictions") or ()
        ),
    }
    return hashlib.sha256(orjson.dumps(view, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


class _TaskReader:
    """What the pipeline needs to know of one raw task (see :class:`_TaskInfo`)."""

    def __init__(self, config: LabelConfig | None, options: DatasetOptions) -> None:
        self.keys = _resource_keys(config)
        self.select = options.convert_options()
        self.split = options.split

    def add(self, tasks: dict[str, _TaskInfo], raw: Mapping[str, Any], source: str) -> _TaskInfo:
        """Read ``raw`` into ``tasks`` (by id); a task without an id, or twice, is an error."""
        task_id = raw.get("id")
        if task_id is None:
            raise InvalidExport(f"a task in {source} has no id; ml-data needs exports from Label Studio")
        key = str(task_id)
        if key in tasks:
            raise InvalidExport(f"task {task_id} appears twice in {source}")
        info = tasks[key] = self.info(raw)
        return info

    def info(self, raw: Mapping[str, Any]) -> _TaskInfo:
        try:
            selected = bool(select_annotations(task_from_dict(raw), self.select)[0])
        except MlDataError:
            selected = True  # the conversion reports it, by the error policy
        data = raw.get("data")
        if not isinstance(data, Mapping):
            data = {}
        annotations = [
            {
                "id": item.get("id"),
                "updated_at": item.get("updated_at"),
                "was_cancelled": bool(item.get("was_cancelled")),
            }
            for item in raw.get("annotations") or ()
            if isinstance(item, Mapping)
        ]
        return _TaskInfo(
            fingerprint=task_fingerprint(raw),
            annotations=annotations,
            resources=_resources(data, self.keys),
            split=split_of(raw.get("id"), self.split) if self.split else None,
            selected=selected,
        )


class _Prefetcher:
    """Resolves the resources of tasks as they arrive, while the server still exports the rest.

    Skips what the previous dataset already holds for an unchanged task; the build later resolves
    only what is still missing.
    """

    def __init__(
        self,
        config: LabelConfig | None,
        options: DatasetOptions,
        out: Path,
        previous: Mapping[str, Any] | None,
        resolver: Resolver,
        *,
        progress: bool,
    ) -> None:
        self.reader = _TaskReader(config, options)
        #: every task read so far (the build uses them instead of reading the export again)
        self.tasks: dict[str, _TaskInfo] = {}
        self.resolver = resolver
        self.old_tasks: Mapping[str, Any] = (previous or {}).get("tasks") or {}
        self.reusable = _reusable_files(out, previous, set(self.old_tasks)) if previous else {}
        self.pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="ml-data-fetch")
        self.futures: dict[str, Future[LocalFile]] = {}
        self.bar = tqdm(unit=" files", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)

    def add(self, raw: Mapping[str, Any]) -> None:
        info = self.reader.add(self.tasks, raw, "the export")
        if not info.selected:
            return
        task_id = str(raw.get("id"))
        unchanged = (self.old_tasks.get(task_id) or {}).get("fingerprint") == info.fingerprint
        for url in info.resources:
            if url in self.futures or (unchanged and (redact_url(url), task_id) in self.reusable):
                continue
            future = self.pool.submit(self.resolver.resolve, url, task_id=_task_id_value(task_id))
            future.add_done_callback(lambda _done: self.bar.update(1))
            self.futures[url] = future

    def results(self) -> dict[str, LocalFile | MlDataError]:
        """Every resolution's outcome, once all are done."""
        outcomes: dict[str, LocalFile | MlDataError] = {}
        for url, future in self.futures.items():
            try:
                outcomes[url] = future.result()
            except MlDataError as exc:
                outcomes[url] = exc
        return outcomes

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.bar.close()


def _resource_keys(config: LabelConfig | None) -> list[str] | None:
    """The task data keys that hold files: media object tags and tags with valueType="url"."""
    if config is None:
        return None
    keys = []
    for tag in config.objects.values():
        if tag.value_key and (tag.type in MEDIA_TAGS or (tag.value_type or "").lower() == "url"):
            if tag.value_key not in keys:
                keys.append(tag.value_key)
    return keys


def _resources(data: Mapping[str, Any], keys: list[str] | None) -> list[str]:
    found: list[str] = []
    if keys is None:
        values: Iterable[Any] = data.values()
        # Without a labeling config: the values that look like URLs or Label Studio paths.
        strings = [value for value in values if looks_like_resource(value)]
    else:
        strings = []
        for key in keys:
            value = data.get(key)
            items = value if isinstance(value, list) else [value]
            strings += [item for item in items if isinstance(item, str) and item.strip()]
    for url in strings:
        if url not in found:
            found.append(url)
    return found


def _task_id_value(task_id: str) -> int | None:
    return int(task_id) if task_id.isdigit() else None


def _task_filter(tasks: Mapping[str, _TaskInfo], split_name: str | None, excluded: set[str]) -> Callable[[Any], bool]:
    def keep(task_id: Any) -> bool:
        key = str(task_id)
        info = tasks.get(key)
        return info is not None and key not in excluded and (split_name is None or info.split == split_name)

    return keep


class _FilteredTasks:
    """The export's raw tasks that ``keep`` accepts, their resource URLs pointed at the dataset's
    copies by ``media`` if given; re-iterable (formats may read tasks twice)."""

    def __init__(self, export: Path, keep: Callable[[Any], bool], media: _MediaLinks | None = None) -> None:
        self.export = export
        self.keep = keep
        self.media = media

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for raw in read_tasks(self.export).raw():
            if self.keep(raw.get("id")):
                yield self.media.rewrite(raw) if self.media is not None else raw


class _MediaLinks:
    """For formats that keep task data as it is (JSON, CSV): each resolved resource is placed at
    ``media/<name>`` and its URL in the task data replaced by that relative path."""

    def __init__(self, tasks: Mapping[str, _TaskInfo], available: Callable[[str, Any], bool]) -> None:
        self.tasks = tasks
        self.available = available
        self.names = UniqueNames()
        #: (URL, task id) -> its path in the dataset
        self.placed: dict[tuple[str, Any], str] = {}

    def rewrite(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        info = self.tasks.get(str(raw.get("id")))
        data = raw.get("data")
        if info is None or not info.resources or not isinstance(data, Mapping):
            return raw
        task_id = raw.get("id")
        links = {url: self._path(url, task_id) for url in info.resources if self.available(url, task_id)}
        if not links:
            return raw
        rewritten = {
            key: (
                [links.get(item, item) if isinstance(item, str) else item for item in value]
                if isinstance(value, list)
                else links.get(value, value)
                if isinstance(value, str)
                else value
            )
            for key, value in data.items()
        }
        return {**raw, "data": rewritten}

    def _path(self, url: str, task_id: Any) -> str:
        path = self.placed.get((url, task_id))
        if path is None:
            path = f"media/{self.names.stem(url, task_id)}{UniqueNames.extension(url, default='')}"
            self.placed[(url, task_id)] = path
        return path


def _as_str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _image_size(path: Path | None) -> tuple[int, int] | None:
    """The size from the image's header (only for results that lack original_width/height)."""
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        return None


# -- the previous dataset -------------------------------------------------------------------------


def _check_target(out: Path) -> None:
    """The dataset folder is replaced as a whole: refuse a folder that holds something else."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise ConfigurationError(
            f"{out} exists and is not an ml-data dataset (no {MANIFEST}); it would be replaced: "
            "choose a new or empty folder"
        )


def _read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        manifest = orjson.loads((out / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        return None
    return manifest


def _files_intact(out: Path, manifest: Mapping[str, Any]) -> bool:
    """Every file the manifest lists is there with its size (a cheap check; no hashing)."""
    for relative, entry in (manifest.get("files") or {}).items():
        try:
            if (out / relative).stat().st_size != entry.get("size"):
                return False
        except OSError:
            return False
    return True


def _reusable_files(
    out: Path, manifest: Mapping[str, Any] | None, unchanged: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(redacted URL, task id) -> the previous dataset's file of that resource, for unchanged tasks
    whose file is still there with its size."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for relative, entry in ((manifest or {}).get("files") or {}).items():
        source, task = entry.get("source"), entry.get("task")
        if source is None or str(task) not in unchanged:
            continue
        try:
            if (out / relative).stat().st_size != entry.get("size"):
                continue
        except OSError:
            continue
        found[(source, str(task))] = {**entry, "path": relative}
    return found


def _fill_from_manifest(report: DatasetReport, manifest: Mapping[str, Any]) -> None:
    files = manifest.get("files") or {}
    report.files_kept = len(files)
    report.bytes_total = sum(int(entry.get("size") or 0) for entry in files.values())
    report.resources = sum(1 for entry in files.values() if entry.get("source"))
    report.resources_reused = report.resources
    split = (manifest.get("settings") or {}).get("split")
    if isinstance(split, Mapping):
        report.splits = {name: 0 for name in split}
    for info in (manifest.get("tasks") or {}).values():
        if info.get("split") in report.splits:
            report.splits[info["split"]] += 1


# -- placing files and the manifest ---------------------------------------------------------------


def _place_and_record(
    building: Path,
    out: Path,
    previous: Mapping[str, Any] | None,
    placed_from: Mapping[str, _Placement],
    options: DatasetOptions,
    report: DatasetReport,
) -> dict[str, dict[str, Any]]:
    """Place the resources, keep unchanged files as they were, and list every file with its size
    and sha256 (the manifest's ``files``)."""
    old_files: Mapping[str, Any] = (previous or {}).get("files") or {}
    files: dict[str, dict[str, Any]] = {}
    for relative, (path, local, old, task) in placed_from.items():
        target = building / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if old is not None:
            sha256, size, source = old["sha256"], int(old["size"]), old["source"]
        else:
            assert local is not None
            sha256, size = local.sha256, local.size
            source = local.source
        previous_entry = old_files.get(relative)
        if previous_entry and previous_entry.get("sha256") == sha256 and _link(out / relative, target):
            report.files_kept += 1
        elif (old is not None or (local is not None and local.cached)) and options.link and _link(path, target):
            report.files_linked += 1
        else:
            _copy(path, target)
            report.files_copied += 1
        files[relative] = {"size": size, "sha256": sha256, "source": source, "task": task}
        report.bytes_total += size
    for path in sorted(building.rglob("*")):
        relative = path.relative_to(building).as_posix()
        if relative in files or not path.is_file():
            continue
        size = path.stat().st_size
        sha256 = file_sha256(path)
        previous_entry = old_files.get(relative)
        if previous_entry and previous_entry.get("sha256") == sha256 and previous_entry.get("size") == size:
            # The same content: keep the previous file (its inode and time) instead of the new copy.
            if _link(out / relative, path, replace=True):
                report.files_kept += 1
        files[relative] = {"size": size, "sha256": sha256}
        report.bytes_total += size
    return files


def _link(source: Path, target: Path, *, replace: bool = False) -> bool:
    """Hard-link ``source`` at ``target``; False where the file system cannot (then copy)."""
    try:
        if replace:
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
            os.link(source, temporary)
            os.replace(temporary, target)
        else:
            os.link(source, target)
        return True
    except OSError:
        return False


def _copy(source: Path, target: Path) -> None:
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise OutputError(f"cannot copy {source} into the dataset: {exc.strerror or exc}") from None


def _write_yolo_split_yaml(building: Path, splits: list[str]) -> None:
    """A top-level data.yaml naming each split's images folder (the classes are the same in all)."""
    first = building / splits[0] / "data.yaml"
    names = first.read_text().split("names:\n", 1)[1] if first.exists() else ""
    lines = []
    for split in splits:
        key = "val" if split in ("val", "valid", "validation") else split
        lines.append(f"{key}: {split}/images")
    if not any(line.startswith("val:") for line in lines):
        lines.append(f"val: {splits[-1]}/images")
    (building / "data.yaml").write_text("\n".join(lines) + "\nnames:\n" + names)
