"""The dataset's ``manifest.json``: reading the previous one, deciding what of it can be kept, and
writing the new one.

The manifest records the source, the label config, the options, each task's fingerprint,
annotations, split and resources, and every file with its size, sha256 and modification time: what
makes a re-run incremental, and a dataset checkable.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from ml_data._version import __version__
from ml_data.converters.output import check_output
from ml_data.jsonio import dumps
from ml_data.pipeline.options import DatasetOptions
from ml_data.pipeline.report import MANIFEST, RESOURCE_FAILED, DatasetReport
from ml_data.pipeline.tasks import TaskInfo
from ml_data.redaction import redact_url

MANIFEST_VERSION = 1


def settings_key(config: str | None, options: DatasetOptions) -> dict[str, Any]:
    """What, besides the tasks, decides a dataset's content: a change rebuilds it."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "ml_data_version": __version__,
        "label_config_sha256": hashlib.sha256((config or "").encode()).hexdigest(),
        **options.fingerprint(),
    }


def check_target(out: Path, inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = ()) -> Path:
    """The dataset folder is replaced as a whole: refuse a folder that holds something else, or
    that contains ``inputs`` (what each is, its path) or the working directory (see
    :func:`~ml_data.converters.output.check_output`). A dataset written before outputs had their
    marker is known by its manifest (a :data:`MANIFEST` file alone is not enough: other tools
    write files of that name). Returns the folder's real path."""
    return check_output(out, inputs=inputs, owned=lambda folder: read_manifest(folder) is not None, what="dataset")


def read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        manifest = orjson.loads((out / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        return None
    return manifest


def unchanged_file(path: Path, entry: Mapping[str, Any]) -> bool:
    """``path`` is still the file its manifest ``entry`` describes, as far as a cheap check can
    tell (no hashing): a regular file itself, not a link to one, with the recorded size and
    modification time (lstat). A file written since, or a link planted in its place, is not."""
    try:
        return described_by(os.lstat(path), entry)
    except OSError:
        return False


def described_by(info: os.stat_result, entry: Mapping[str, Any]) -> bool:
    """A regular file with the size and modification time that a manifest ``entry`` records."""
    size, mtime_ns = entry.get("size"), entry.get("mtime_ns")
    return stat.S_ISREG(info.st_mode) and info.st_size == size and info.st_mtime_ns == mtime_ns


def files_intact(out: Path, manifest: Mapping[str, Any]) -> bool:
    """Every file the manifest lists is there, unchanged (see :func:`unchanged_file`)."""
    return all(unchanged_file(out / relative, entry) for relative, entry in (manifest.get("files") or {}).items())


def reusable_files(
    out: Path, manifest: Mapping[str, Any] | None, unchanged: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(redacted URL, task id) -> the previous dataset's file of that resource, for unchanged tasks
    whose file is still there, unchanged (see :func:`unchanged_file`)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for relative, entry in ((manifest or {}).get("files") or {}).items():
        source, task = entry.get("source"), entry.get("task")
        if source is None or str(task) not in unchanged or not unchanged_file(out / relative, entry):
            continue
        found[(source, str(task))] = {**entry, "path": relative}
    return found


def fill_from_manifest(report: DatasetReport, manifest: Mapping[str, Any]) -> None:
    """An unchanged dataset's report, from its manifest."""
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


def manifest_bytes(
    *,
    source: dict[str, Any],
    settings: dict[str, Any],
    config: str | None,
    tasks: Mapping[str, TaskInfo],
    failed_tasks: set[str],
    files: dict[str, dict[str, Any]],
    report: DatasetReport,
) -> bytes:
    """The new ``manifest.json``."""
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "ml_data_version": __version__,
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "settings": settings,
        "label_config": config or None,
        "tasks": {
            task_id: {
                "fingerprint": info.fingerprint,
                "split": info.split,
                "annotations": info.annotations,
                "resources": [redact_url(url) for url in info.resources],
                **({"excluded": RESOURCE_FAILED} if task_id in failed_tasks else {}),
            }
            for task_id, info in tasks.items()
        },
        "files": files,
        "failures": report.failures,
        "conversions": {name: conversion.as_dict() for name, conversion in report.conversions.items()},
        **({"videos": report.videos} if report.videos else {}),
        **report.filters(),
    }
    return dumps(manifest, indent=True)


__all__ = [
    "MANIFEST",
    "MANIFEST_VERSION",
    "check_target",
    "described_by",
    "files_intact",
    "fill_from_manifest",
    "manifest_bytes",
    "read_manifest",
    "reusable_files",
    "settings_key",
    "unchanged_file",
]
