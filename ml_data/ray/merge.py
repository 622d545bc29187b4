"""Shard folders into one dataset: each write task of :mod:`ml_data.ray.write` builds a complete
dataset of its own tasks (files and ``manifest.json``); this module puts them together.

A file only one shard has is moved into place. A file several shards have is kept once when they
agree (``classes.txt``, ``data.yaml``, ``labelmap.txt``) and combined when it lists tasks:
COCO JSON (ids renumbered so they are unique across the dataset, categories matched by name),
JSON lists, CSV/TSV with the same columns, CoNLL, JSON lines and plain lists (VOC's
``ImageSets``). Two shards that place different media at the same name cannot be combined: that
is an :class:`~ml_data.errors.OutputError` naming the file.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_data.converters.conll import DOCSTART
from ml_data.errors import InvalidExport, OutputError
from ml_data.hashing import file_sha256
from ml_data.jsonio import dumps, loads
from ml_data.pipeline.report import MANIFEST

#: files whose lines are items: combined by concatenation
_LINE_FILES = (".txt", ".jsonl", ".conll")
_TABLES = (".csv", ".tsv")


def merge_shards(shards: list[Path], building: Path, out: Path) -> dict[str, Any]:
    """Move the shards' files into ``building`` (the dataset's folder being built) and return the
    dataset's manifest, with ``out`` (where the dataset will be) in its conversion reports."""
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
        combine(relative, target, parts)
        info = target.stat()
        files[relative] = {"size": info.st_size, "sha256": file_sha256(target), "mtime_ns": info.st_mtime_ns}
    return _manifest(manifests, files, out)


def combine(relative: str, target: Path, parts: list[Path]) -> None:
    """Add ``parts`` (the same file from other shards) to ``target``."""
    suffix = Path(relative).suffix.lower()
    if suffix == ".json":
        documents = [loads(target.read_bytes()), *(loads(part.read_bytes()) for part in parts)]
        if all(isinstance(document, list) for document in documents):
            merged: Any = [item for document in documents for item in document]
        elif all(_is_coco(document) for document in documents):
            merged = merge_coco(documents)
        else:
            raise OutputError(f"{relative}: the shards wrote different versions of this file")
        tmp = target.with_name(f".{target.name}.merging")
        tmp.write_bytes(dumps(merged, indent=True))
        os.replace(tmp, target)
        return
    if suffix in _TABLES:
        header = _first_line(target)
        for part in parts:
            if _first_line(part) != header:
                raise OutputError(f"{relative}: the shards found different columns; write tables from one shard")
            with open(part, "rb") as source:
                source.readline()
                _append(target, source.read())
        return
    if suffix in _LINE_FILES:
        for part in parts:
            body = part.read_bytes()
            if suffix == ".conll" and body.startswith(DOCSTART.encode()):
                body = body[len(DOCSTART) :]
            _append(target, body, blank_line=suffix == ".conll")  # CoNLL documents end on a blank line
        return
    raise OutputError(f"{relative}: the shards wrote different versions of this file")


def _append(target: Path, body: bytes, *, blank_line: bool = False) -> None:
    """Append ``body`` to ``target``, starting on a line of its own (after a blank line with
    ``blank_line``)."""
    if not body:
        return
    ending = b"\n\n" if blank_line else b"\n"
    with open(target, "r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        if end:
            handle.seek(max(0, end - len(ending)))
            tail = handle.read()
            present = max(n for n in range(len(ending) + 1) if tail.endswith(b"\n" * n))
            missing = len(ending) - present
            handle.write(b"\n" * missing)
        handle.write(body)


def _first_line(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.readline()


def _is_coco(document: Any) -> bool:
    return isinstance(document, Mapping) and isinstance(document.get("images"), list) and "annotations" in document


def merge_coco(documents: list[Mapping[str, Any]]) -> dict[str, Any]:
    """COCO documents into one: image and annotation ids numbered on from the lowest any of them
    uses (the writer's own start), so they are unique across all; categories matched by name (the
    first document's ids kept, new names numbered after)."""
    image_start = min((image["id"] for document in documents for image in document.get("images") or ()), default=0)
    annotation_start = min(
        (annotation["id"] for document in documents for annotation in document.get("annotations") or ()), default=0
    )
    categories: list[dict[str, Any]] = []
    by_name: dict[str, Any] = {}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for document in documents:
        category_ids = {}
        for category in document.get("categories") or ():
            name = category.get("name")
            if name not in by_name:
                used = {item["id"] for item in categories}
                new_id = category["id"] if category["id"] not in used else max(used, default=-1) + 1
                by_name[name] = new_id
                categories.append({**category, "id": new_id})
            category_ids[category["id"]] = by_name[name]
        image_ids = {}
        for image in document.get("images") or ():
            image_ids[image["id"]] = image_start + len(images)
            images.append({**image, "id": image_start + len(images)})
        for annotation in document.get("annotations") or ():
            annotations.append(
                {
                    **annotation,
                    "id": annotation_start + len(annotations),
                    "image_id": image_ids[annotation["image_id"]],
                    "category_id": category_ids.get(annotation["category_id"], annotation["category_id"]),
                }
            )
    first = documents[0]
    merged = {key: value for key, value in first.items() if key not in ("images", "categories", "annotations")}
    return {"images": images, "categories": categories, "annotations": annotations, **merged}


def _read_manifest(shard: Path) -> dict[str, Any]:
    try:
        manifest = loads((shard / MANIFEST).read_bytes())
    except (OSError, ValueError) as exc:
        raise OutputError(f"shard {shard} has no readable {MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict):
        raise OutputError(f"shard {shard} has no readable {MANIFEST}")
    return manifest


def _manifest(manifests: list[dict[str, Any]], files: dict[str, dict[str, Any]], out: Path) -> dict[str, Any]:
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
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **{key: first.get(key) for key in ("source", "settings", "label_config")},
        "tasks": tasks,
        "files": {relative: entry for relative, entry in files.items() if relative != MANIFEST},
        "failures": failures,
        "conversions": conversions,
    }


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


__all__ = ["combine", "merge_coco", "merge_shards", "write_manifest"]
