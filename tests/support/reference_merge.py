"""The merge of shard datasets as it was before it streamed: every shard's manifest read whole and
the dataset's manifest built in memory. Kept as the reference the streaming merge
(ml_data.ray.merge) must match byte for byte, and for the driver's memory in
benchmarks/bench_ray_driver.py."""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_data.converters import get_format
from ml_data.errors import InvalidExport, OutputError
from ml_data.hashing import file_sha256
from ml_data.jsonio import dumps, loads
from ml_data.pipeline.report import MANIFEST


def merge_shards(
    shards: list[Path], building: Path, out: Path, *, format: str, created_at: str | None = None
) -> dict[str, Any]:
    """Move the shards' files into ``building`` (the dataset's folder being built) and return the
    dataset's manifest, with ``out`` (where the dataset will be) in its conversion reports.
    ``format``: the dataset's format, whose ``merge`` combines a file the shards wrote differently."""
    fmt = get_format(format)
    manifests = [_read_manifest(shard) for shard in shards]
    files: dict[str, dict[str, Any]] = {}
    others: dict[str, list[Path]] = {}
    for shard, manifest in zip(shards, manifests, strict=True):
        for relative, entry in (manifest.get("files") or {}).items():
            source = shard / relative
            if relative not in files:
                target = building / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                files[relative] = dict(entry)
            elif files[relative].get("sha256") != entry.get("sha256"):
                if entry.get("source") or files[relative].get("source"):
                    raise OutputError(
                        f"{relative}: two tasks in different shards place different files at this name "
                        f"(tasks {files[relative].get('task')} and {entry.get('task')}); "
                        "write this dataset from one shard, or give the files distinct names"
                    )
                others.setdefault(relative, []).append(source)
    for relative, parts in others.items():
        target = building / relative
        fmt.merge(relative, target, parts)
        info = target.stat()
        files[relative] = {"size": info.st_size, "sha256": file_sha256(target), "mtime_ns": info.st_mtime_ns}
    return _manifest(manifests, files, out, created_at)


def _read_manifest(shard: Path) -> dict[str, Any]:
    try:
        manifest = loads((shard / MANIFEST).read_bytes())
    except (OSError, ValueError) as exc:
        raise OutputError(f"shard {shard} has no readable {MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict):
        raise OutputError(f"shard {shard} has no readable {MANIFEST}")
    return manifest


def _manifest(
    manifests: list[dict[str, Any]], files: dict[str, dict[str, Any]], out: Path, created_at: str | None
) -> dict[str, Any]:
    """One manifest for the dataset, from the shards' manifests and the files as merged."""
    first = manifests[0]
    tasks: dict[str, Any] = {}
    failures: dict[str, Any] = {}
    conversions: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        for task_id, entry in (manifest.get("tasks") or {}).items():
            if task_id in tasks:
                raise InvalidExport(f"task {task_id} appears twice in the dataset's tasks")
            tasks[task_id] = entry
        failures.update(manifest.get("failures") or {})
        for name, report in (manifest.get("conversions") or {}).items():
            conversions[name] = _add_reports(conversions.get(name), report, out if name == "all" else out / name)
    return {
        **{key: first.get(key) for key in ("manifest_version", "ml_data_version")},
        "created_at": created_at or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **{key: first.get(key) for key in ("source", "settings", "label_config")},
        "tasks": tasks,
        "files": {relative: entry for relative, entry in files.items() if relative != MANIFEST},
        "failures": failures,
        "conversions": conversions,
        **_filters(manifests),
    }


def _filters(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """What the shards' filters left out, added up (nothing without filters)."""
    totals: dict[str, dict[str, int]] = {}
    for manifest in manifests:
        for key in ("left_out", "regions_dropped"):
            for name, count in (manifest.get(key) or {}).items():
                totals.setdefault(key, {})[name] = totals.get(key, {}).get(name, 0) + int(count)
    if "left_out" not in totals:
        return {}
    return {"left_out": totals["left_out"], "regions_dropped": totals.get("regions_dropped", {})}


def _add_reports(total: dict[str, Any] | None, report: Mapping[str, Any], output: Path) -> dict[str, Any]:
    if total is None:
        return {**report, "output": str(output)}
    skipped = dict(total.get("skipped") or {})
    for reason, count in (report.get("skipped") or {}).items():
        skipped[reason] = skipped.get(reason, 0) + count
    return {
        **total,
        "tasks": total.get("tasks", 0) + report.get("tasks", 0),
        "items_written": total.get("items_written", 0) + report.get("items_written", 0),
        "skipped": skipped,
        "warnings": ((total.get("warnings") or []) + (report.get("warnings") or []))[:100],
        "examples": ((total.get("examples") or []) + (report.get("examples") or []))[:20],
    }


def write_manifest(building: Path, manifest: Mapping[str, Any]) -> None:
    (building / MANIFEST).write_bytes(dumps(manifest, indent=True))


__all__ = ["merge_shards", "write_manifest"]
