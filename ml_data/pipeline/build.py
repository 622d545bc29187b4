"""Tasks of an export -> the dataset folder: plan what changed, resolve what is missing, convert,
place the files, write the manifest. The new dataset is built beside the old one and swapped in
only when complete, so a failed run leaves the previous dataset intact."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_data.cache import Cache
from ml_data.config import Settings
from ml_data.converters import Format, MediaHooks, write_format
from ml_data.errors import MlDataError, NothingToWrite, OutputError, ResourcesFailed
from ml_data.fsutil import atomic_folder
from ml_data.jsonio import dumps
from ml_data.pipeline.manifest import (
    files_intact,
    fill_from_manifest,
    manifest_bytes,
    reusable_files,
    settings_key,
)
from ml_data.pipeline.options import DatasetOptions
from ml_data.pipeline.placing import FilteredTasks, MediaLinks, Placement, image_size, place_and_record
from ml_data.pipeline.plan import Plan, prepare
from ml_data.pipeline.report import MANIFEST, DatasetReport, why_empty_dataset
from ml_data.pipeline.tasks import TaskInfo
from ml_data.redaction import redact_url
from ml_data.resolvers import resolve_many
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.resolver import Resolver
from ml_data.tasks.identity import task_id_value
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import read_tasks
from ml_data.tasks.resources import resource_keys
from ml_data.video.expand import FramePlan, expand_videos

logger = logging.getLogger(__name__)


def build_dataset(
    export: Path,
    out: Path,
    *,
    config: str | None,
    settings: Settings,
    options: DatasetOptions,
    source: dict[str, Any],
    resolver: Resolver | None = None,
    progress: bool = False,
) -> DatasetReport:
    """The tasks of ``export`` -> the dataset folder ``out`` (see :mod:`ml_data.pipeline`).

    >>> build_dataset(Path("export.json"), Path("data"), config=xml, settings=settings,
    ...               options=DatasetOptions(format="coco"), source={"export": "export.json"})  # doctest: +SKIP
    """
    plan = prepare(export, options, settings, out=out, config=config, manifest_source=source, resolver=resolver)
    return Build(plan, settings, progress=progress).run()


class Build:
    """One build of a :class:`~ml_data.pipeline.plan.Plan`: what changed, resolve what is missing,
    convert, place the files, write the manifest."""

    def __init__(self, plan: Plan, settings: Settings, *, progress: bool = False) -> None:
        self.plan = plan
        self.settings = settings
        self.progress = progress
        # shorthands for what the steps read most
        self.out = plan.out
        self.options = plan.options
        self.resolver = plan.resolver

    def run(self) -> DatasetReport:
        plan = self.plan
        fmt, tasks, previous = plan.format, plan.tasks, plan.previous
        report = DatasetReport(out=self.out, format=fmt.name, source=dict(plan.manifest_source))
        report.tasks = len(tasks)
        report.left_out = dict(plan.filtered.get("left_out") or {})
        report.regions_dropped = dict(plan.filtered.get("regions_dropped") or {})
        key = settings_key(plan.config_xml, self.options)
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
            and previous.get("settings") == key
            and report.tasks_changed == 0
            and report.tasks_removed == 0
            and files_intact(self.out, previous)
        ):
            report.unchanged = True
            fill_from_manifest(report, previous)
            return report
        reusable = reusable_files(self.out, previous, unchanged) if previous else {}
        resolved, failed_tasks = self._resolve(tasks, reusable, report)
        with atomic_folder(self.out) as building:
            placed_from = self._convert(
                building, fmt, plan.config, tasks, resolved, reusable, failed_tasks, report, video=plan.video
            )
            empty = why_empty_dataset(
                report.tasks,
                [conversion.as_dict() for conversion in report.conversions.values()],
                excluded=len(failed_tasks),
                failures=report.failures,
                left_out=report.left_out,
            )
            if empty is not None and not plan.allow_empty:
                # Raised inside the block: an empty dataset never replaces the previous one.
                raise NothingToWrite(f"{empty}; {self.out} is unchanged")
            files = place_and_record(building, self.out, previous, placed_from, link=self.options.link, report=report)
            (building / MANIFEST).write_bytes(
                manifest_bytes(
                    source=dict(plan.manifest_source),
                    settings=key,
                    config=plan.config_xml,
                    tasks=tasks,
                    failed_tasks=failed_tasks,
                    files=files,
                    report=report,
                )
            )
        return report

    def _resolve(
        self,
        tasks: Mapping[str, TaskInfo],
        reusable: Mapping[tuple[str, str], Mapping[str, Any]],
        report: DatasetReport,
    ) -> tuple[dict[str, LocalFile], set[str]]:
        """Resources: the previous dataset holds those of unchanged tasks; the rest are resolved.
        Returns the resolved files by URL and the tasks left out (policy skip)."""
        wanted: dict[tuple[str, str], None] = {}
        for task_id, info in tasks.items():
            if info.selected:
                for url in info.resources:
                    wanted[(url, task_id)] = None
        report.resources = len(wanted)
        to_resolve = [
            (url, task_id_value(task_id)) for url, task_id in wanted if (redact_url(url), task_id) not in reusable
        ]
        report.resources_reused = len(wanted) - len(to_resolve)
        outcomes = dict(self.plan.prefetched)
        missing = [(url, task_id) for url, task_id in to_resolve if url not in outcomes]
        if missing:
            result = resolve_many(
                missing,
                workers=self.options.workers,
                progress=self.progress,
                settings=self.settings,
                resolver=self.resolver,
            )
            outcomes.update(result.files)
            outcomes.update(result.errors)
        needed = {url for url, _task_id in to_resolve}
        resolved = {url: found for url, found in outcomes.items() if url in needed and isinstance(found, LocalFile)}
        errors = {url: found for url, found in outcomes.items() if url in needed and isinstance(found, MlDataError)}
        report.resources_resolved = len(resolved)
        if not errors:
            return resolved, set()
        for url, error in errors.items():
            report.failures[redact_url(url)] = str(error)
        if self.options.on_error == "fail":
            first = "; ".join(str(error) for error in list(errors.values())[:5])
            raise ResourcesFailed(
                f"{len(errors)} of {len(to_resolve)} resources could not be resolved "
                f"(nothing written; --on-error skip leaves their tasks out): {first}",
                failures={redact_url(url): error for url, error in errors.items()},
            )
        return resolved, {task_id for url, task_id in wanted if url in errors}

    def _convert(
        self,
        building: Path,
        fmt: Format,
        parsed: LabelConfig | None,
        tasks: Mapping[str, TaskInfo],
        resolved: Mapping[str, LocalFile],
        reusable: Mapping[tuple[str, str], Mapping[str, Any]],
        failed_tasks: set[str],
        report: DatasetReport,
        video: FramePlan | None = None,
    ) -> dict[str, Placement]:
        """Write the format into ``building`` and say where each resource goes."""
        started = time.monotonic()

        def local_path(url: str, task_id: Any) -> Path | None:
            found = resolved.get(url)
            if found is not None:
                return found.path
            old = reusable.get((redact_url(url), str(task_id)))
            if old is not None:
                return self.out / old["path"]
            # a value the media links rewrote (formats that keep the task data): its URL's file
            source = media.source_of(url, task_id) if media is not None else None
            return local_path(source, task_id) if source is not None and source != url else None

        split = self.options.split
        # Formats with a standard layout of their own write every split in one pass (their files
        # name the split), and so do those that have no other; the others get a folder per split.
        one_pass = "standard" in fmt.layouts and (self.options.layout == "standard" or len(fmt.layouts) == 1)
        split_names: list[str | None] = list(split) if split and not one_pass else [None]
        subsets = tuple(split) if split and one_pass else ()
        media = (
            MediaLinks(tasks, resource_keys(parsed), lambda url, task_id: local_path(url, task_id) is not None)
            if fmt.keeps_task_data
            else None
        )
        # What the format may ask about media: built once, the same for every split.
        hooks = MediaHooks(
            local_path=lambda url, task_id: _as_str(local_path(url, task_id)),
            image_size=lambda url, task_id: image_size(resolved.get(url) or local_path(url, task_id)),
            subset_of=lambda task_id: tasks[str(task_id)].split,
            places_media=True,
        )
        placed_from: dict[str, Placement] = {}
        # With a folder per split, each split's tasks are first put in a file of their own: one
        # pass over the export instead of one per split.
        with tempfile.TemporaryDirectory(dir=building.parent, prefix=f".{self.out.name}.splits-") as parts:
            export = self.plan.export
            if video is not None:
                resolved = dict(resolved)  # the frames join the resolved files, under their item URLs
                cache = self.resolver.cache if self.resolver is not None else Cache.from_settings(self.settings)
                export, parents = expand_videos(
                    video, export, Path(parts) / "frames.json", tasks, resolved, cache, report.videos
                )
                tasks = {**tasks, **{frame: tasks[task] for frame, task in parents.items()}}
            sources = split_exports(export, tasks, split_names, Path(parts))
            for split_name in split_names:
                folder = building / split_name if split_name else building
                folder.mkdir(exist_ok=True)

                def keep(task_id: Any, split_name: str | None = split_name) -> bool:
                    key = str(task_id)
                    info = tasks.get(key)
                    return info is not None and key not in failed_tasks and split_name in (None, info.split)

                conversion = write_format(
                    FilteredTasks(sources[split_name], keep, media),
                    fmt.name,
                    folder,
                    config=parsed,
                    options=self.options.convert_options(subsets=subsets),
                    media=hooks,
                    progress=self.progress,
                )
                conversion.output = self.out / split_name if split_name else self.out
                report.conversions[split_name or "all"] = conversion
                if split_name:
                    report.splits[split_name] = conversion.tasks
                elif subsets:
                    counted = [tasks[key].split for key in tasks if keep(key)]
                    report.splits = {name: counted.count(name) for name in subsets}
                prefix = f"{split_name}/" if split_name else ""
                if media is not None:
                    conversion.placements.extend((url, task_id, path) for (url, task_id), path in media.placed.items())
                    conversion.placed_items.update(media.items)
                    media.placed.clear()
                    media.sources.clear()
                    media.items.clear()
                for url, task_id, relative in conversion.placements:
                    target = prefix + relative
                    local = resolved.get(url)
                    old = reusable.get((redact_url(url), str(task_id)))
                    path = local.path if local is not None else (self.out / old["path"] if old else None)
                    if path is None:
                        raise OutputError(f"no local file for {redact_url(url)} (task {task_id}) to place at {target}")
                    placed_from[target] = (path, local, old, task_id, conversion.placed_items.get(relative))
        if split and not one_pass:
            fmt.finish_splits(building, list(split))
        logger.info("converted to %s in %.1f s", fmt.name, time.monotonic() - started)
        return placed_from


def split_exports(
    export: Path, tasks: Mapping[str, TaskInfo], split_names: list[str | None], folder: Path
) -> dict[str | None, Path]:
    """Each split's tasks in a file of its own, from one pass over the export (the conversions then
    read only their own tasks, not the whole export once per split). With no splits, the export."""
    if split_names == [None]:
        return {None: export}
    paths = {name: folder / f"{name}.json" for name in split_names}
    handles = {name: open(path, "wb") for name, path in paths.items()}
    written = dict.fromkeys(split_names, 0)
    try:
        for raw in read_tasks(export).raw():
            info = tasks.get(str(raw.get("id")))
            name = info.split if info is not None else None
            if name in handles:
                # A JSON array, read back by the standard library's exact decoder (big integers).
                handles[name].write((b",\n" if written[name] else b"[") + dumps(raw))
                written[name] += 1
    finally:
        for name, handle in handles.items():
            handle.write(b"]" if written[name] else b"[]")
            handle.close()
    return dict(paths)


def _as_str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


__all__ = ["Build", "build_dataset"]
