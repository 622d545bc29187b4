"""Shard datasets into one: each write task of :mod:`ml_data.ray.write` builds a complete dataset of
its own tasks (files and ``manifest.json``, cut into parts by :mod:`ml_data.ray.parts`); this
module puts them together on the driver, streaming, so its memory does not grow with the project.

A file only one shard has is taken as it is (moved into place, or already uploaded). A file several
shards have is kept once when they agree (``classes.txt``, ``data.yaml``, ``labelmap.txt``); when
they differ (it lists tasks), the dataset's format combines them (its ``merge``: COCO renumbers
ids, CoNLL keeps one ``-DOCSTART-``, lists and tables are concatenated); this module knows no
format by name. A name several tasks share is decided for the whole dataset before the shards are
built (:func:`~ml_data.ray.write.dataset_names`), so shards never place different media at one name
for that; should they still (tasks without an id, named by each shard alone), one would be lost: that
is an :class:`~ml_data.errors.OutputError` naming the file. A task in two shards is an
:class:`~ml_data.errors.InvalidExport`.

The manifest is written as :func:`ml_data.jsonio.dumps` writes a whole one (indented, in the
manifest's order): the keys several shards have are found first by merging the shards' sorted key
lists (only those few are held), then each shard's lines are copied through in order.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ml_data.converters import get_format
from ml_data.errors import InvalidExport, OutputError
from ml_data.hashing import file_sha256
from ml_data.jsonio import dumps, loads
from ml_data.pipeline.report import MANIFEST
from ml_data.ray.parts import SECTIONS, by_key, ordered, read_head, read_lines

#: sorted part files merged at once; more shards are merged in rounds (open files stay bounded)
FAN_IN = 128


class ShardFiles(Protocol):
    """Where the shards' files are and how one reaches the dataset."""

    def take(self, shard: int, relative: str) -> None:
        """Put shard ``shard``'s file ``relative`` in the dataset (a no-op where it already is)."""

    def combine(self, relative: str, first: int, others: Sequence[int]) -> dict[str, Any]:
        """Put shard ``first``'s ``relative`` in the dataset, combined by the format with the
        ``others``' versions; returns its manifest entry (size, sha256, mtime_ns)."""


class LocalShards:
    """Shard folders on a file system the driver sees, moved into the folder being built."""

    def __init__(self, shards: Sequence[Path], building: Path, *, format: str) -> None:
        self.shards = list(shards)
        self.building = building
        self.format = get_format(format)
        self._made: set[Path] = set()

    def take(self, shard: int, relative: str) -> None:
        target = self.building / relative
        if target.parent not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            if len(self._made) > 10_000:  # a few folders per split; a cap all the same
                self._made.clear()
            self._made.add(target.parent)
        os.replace(self.shards[shard] / relative, target)

    def combine(self, relative: str, first: int, others: Sequence[int]) -> dict[str, Any]:
        self.take(first, relative)
        target = self.building / relative
        self.format.merge(relative, target, [self.shards[index] / relative for index in others])
        info = target.stat()
        return {"size": info.st_size, "sha256": file_sha256(target), "mtime_ns": info.st_mtime_ns}


@dataclass
class Merged:
    """What the driver keeps of the merged manifest: counts, not entries."""

    tasks: int = 0
    excluded: int = 0
    #: split name -> tasks in it
    splits: dict[str, int] = field(default_factory=dict)
    bytes_total: int = 0
    failures: dict[str, Any] = field(default_factory=dict)
    conversions: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    #: what the filters left out, as the manifest has it (empty without filters)
    left_out: dict[str, int] = field(default_factory=dict)
    regions_dropped: dict[str, int] = field(default_factory=dict)


def merge_manifests(
    parts: Sequence[Path],
    files: ShardFiles,
    out: IO[bytes],
    *,
    output: str,
    root: str | None = None,
    created_at: str | None = None,
    left_out: Mapping[str, int] | None = None,
) -> Merged:
    """Merge the shards whose manifest parts are in the folders ``parts`` (in the shards' order):
    their files through ``files``, their manifests into ``out`` (the dataset's ``manifest.json``).
    ``output``: where the dataset will be, named in its conversion reports; ``root``: the folder
    of the files, relative to the prefix the manifest is committed at (object storage only).
    ``left_out``: given when the run has filters, what the source left out before the shards
    (Label Studio's own filters), over the shards' counts of the same filters."""
    if not parts:
        raise OutputError("no shard to merge")
    heads = [read_head(folder) for folder in parts]
    first = heads[0]
    conversions: dict[str, dict[str, Any]] = {}
    for head in heads:
        for name, report in (head.get("conversions") or {}).items():
            conversions[name] = _add_reports(
                conversions.get(name), report, output if name == "all" else f"{output}/{name}"
            )
    merged = Merged(conversions=conversions, settings=first.get("settings") or {}, source=first.get("source") or {})
    filters = _filters(heads, left_out)
    merged.left_out = dict(filters.get("left_out") or {})
    merged.regions_dropped = dict(filters.get("regions_dropped") or {})
    split = merged.settings.get("split")
    if isinstance(split, Mapping):
        merged.splits = {str(name): 0 for name in split}
    with tempfile.TemporaryDirectory(prefix=".merge-", dir=parts[0].parent) as scratch:
        repeated = {section: _repeated(parts, section, Path(scratch)) for section in SECTIONS}
    for task_id in repeated["tasks"]:
        raise InvalidExport(f"task {task_id} appears twice in the dataset's tasks")
    combined = _combine_files(repeated["files"], files)

    def fields() -> Iterator[tuple[str, bytes]]:
        for key in ("manifest_version", "ml_data_version"):
            yield key, _render(first.get(key), 1)
        yield "created_at", _render(created_at or _now(), 1)
        for key in ("source", "settings", "label_config"):
            yield key, _render(first.get(key), 1)
        if root is not None:
            yield "root", _render(root, 1)

    _open(out)
    separator = b""
    for key, rendered in fields():
        out.write(separator + b"  " + dumps(key) + b": " + rendered)
        separator = b",\n"
    for section in SECTIONS:
        out.write(b",\n  " + dumps(section) + b": ")
        _write_section(out, _section(parts, section, repeated[section], combined, files, merged))
    out.write(b",\n  " + dumps("conversions") + b": " + _render(conversions, 1))
    for key, value in filters.items():
        out.write(b",\n  " + dumps(key) + b": " + _render(value, 1))
    out.write(b"\n}")
    return merged


def _filters(heads: Sequence[Mapping[str, Any]], left_out: Mapping[str, int] | None) -> dict[str, Any]:
    """What the filters left out, the shards' counts added up (nothing without filters), with
    ``left_out`` (the source's own counts) over them."""
    totals: dict[str, dict[str, int]] = {}
    for head in heads:
        for key in ("left_out", "regions_dropped"):
            for name, count in (head.get(key) or {}).items():
                totals.setdefault(key, {})[name] = totals.get(key, {}).get(name, 0) + int(count)
    found: dict[str, Any] = {}
    if "left_out" in totals:
        found = {"left_out": totals["left_out"], "regions_dropped": totals.get("regions_dropped", {})}
    if left_out is not None:
        found["left_out"] = {**(found.get("left_out") or {}), **left_out}
        found.setdefault("regions_dropped", {})
    return found


def _section(
    parts: Sequence[Path],
    section: str,
    repeated: Mapping[str, list[tuple[int, Any]]],
    combined: Mapping[str, dict[str, Any]],
    files: ShardFiles,
    merged: Merged,
) -> Iterator[tuple[str, Any]]:
    """A section's entries in the manifest's order: each shard's in turn, a key several shards have
    where the first has it (failures: with the last shard's message, as a dict update keeps it)."""
    for index, folder in enumerate(parts):
        for key, value in read_lines(folder / ordered(section)):
            if section == "files" and key == MANIFEST:
                continue
            occurrences = repeated.get(key)
            if occurrences is not None:
                if occurrences[0][0] != index:
                    continue
                value = combined[key] if section == "files" else occurrences[-1][1]
            elif section == "files":
                files.take(index, key)
            if section == "tasks":
                merged.tasks += 1
                if isinstance(value, Mapping):
                    merged.excluded += 1 if value.get("excluded") else 0
                    if value.get("split") in merged.splits:
                        merged.splits[value["split"]] += 1
            elif section == "files":
                merged.bytes_total += int(value.get("size") or 0) if isinstance(value, Mapping) else 0
            else:
                merged.failures[key] = value
            yield key, value


def _combine_files(repeated: Mapping[str, list[tuple[int, Any]]], files: ShardFiles) -> dict[str, dict[str, Any]]:
    """The manifest entry of each file several shards wrote: kept once when they agree, combined by
    the format when they differ; different media at one name are refused."""
    combined: dict[str, dict[str, Any]] = {}
    for relative, occurrences in repeated.items():
        (first, entry), *rest = occurrences
        others = []
        for index, other in rest:
            if other.get("sha256") == entry.get("sha256"):
                continue
            if other.get("source") or entry.get("source"):
                raise OutputError(
                    f"{relative}: two tasks in different shards place different files at this name "
                    f"(tasks {entry.get('task')} and {other.get('task')}); "
                    "names are decided for the whole dataset only for tasks with an id: give each task one, "
                    "or write this dataset from one shard"
                )
            others.append(index)
        if relative == MANIFEST:
            continue
        if others:
            combined[relative] = files.combine(relative, first, others)
        else:
            files.take(first, relative)
            combined[relative] = dict(entry)
    return combined


def _repeated(parts: Sequence[Path], section: str, scratch: Path) -> dict[str, list[tuple[int, Any]]]:
    """The keys of ``section`` more than one shard has, with each shard's value, in shard order."""
    streams = [_tagged(read_lines(folder / by_key(section)), index) for index, folder in enumerate(parts)]
    rounds = 0
    while len(streams) > FAN_IN:  # merge in rounds, each into a sorted file of its own
        rounds += 1
        merged_files = []
        for number in range(0, len(streams), FAN_IN):
            path = scratch / f"{section}.{rounds}.{number}.jsonl"
            with open(path, "wb") as handle:
                for item in heapq.merge(*streams[number : number + FAN_IN], key=_first):
                    handle.write(dumps(list(item)) + b"\n")
            merged_files.append(path)
        streams = [_read_tagged(path) for path in merged_files]
    found: dict[str, list[tuple[int, Any]]] = {}
    for key, group in itertools.groupby(heapq.merge(*streams, key=_first), key=_first):
        items = list(group)
        if len(items) > 1:
            found[key] = sorted(((index, value) for _key, index, value in items), key=_first)
    return found


def _tagged(lines: Iterator[tuple[str, Any]], index: int) -> Iterator[tuple[str, int, Any]]:
    for key, value in lines:
        yield key, index, value


def _read_tagged(path: Path) -> Iterator[tuple[str, int, Any]]:
    with open(path, "rb") as handle:
        for line in handle:
            key, index, value = loads(line)
            yield key, index, value


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _open(out: IO[bytes]) -> None:
    out.write(b"{\n")


def _write_section(out: IO[bytes], entries: Iterator[tuple[str, Any]]) -> None:
    """``{"key": value, ...}`` as an indented dict one level down, one entry at a time."""
    separator = b"{\n    "
    for key, value in entries:
        out.write(separator + dumps(key) + b": " + _render(value, 2))
        separator = b",\n    "
    out.write(b"{}" if separator == b"{\n    " else b"\n  }")


def _render(value: Any, depth: int) -> bytes:
    """``value`` as it appears ``depth`` levels down in an indented document (JSON strings hold no
    raw newline, so every newline is a line of the layout)."""
    return dumps(value, indent=True).replace(b"\n", b"\n" + b"  " * depth)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _add_reports(total: dict[str, Any] | None, report: Mapping[str, Any], output: str) -> dict[str, Any]:
    if total is None:
        return {**report, "output": output}
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


__all__ = ["FAN_IN", "LocalShards", "Merged", "ShardFiles", "merge_manifests"]
