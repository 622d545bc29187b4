"""A shard's ``manifest.json`` cut into parts the driver can stream (:mod:`ml_data.ray.merge`).

A write task builds a whole dataset of its own tasks; its manifest grows with the shard, and the
dataset's with the project. So that the driver never holds a manifest, each write task writes,
beside its shard:

- ``head.json``: the small fields (versions, source, settings, label config, conversion reports,
  what the filters left out);
- for each of ``tasks``, ``files`` and ``failures``: ``<section>.jsonl``, one ``[key, value]`` a
  line in the manifest's order, and ``<section>.sorted.jsonl``, the same lines sorted by key.

The driver reads the sorted lines of every shard at once (a k-way merge) to find the keys more than
one shard has, and then copies the ordered lines through, one shard after the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ml_data.errors import OutputError
from ml_data.jsonio import dumps, loads
from ml_data.pipeline.report import MANIFEST

HEAD = "head.json"
#: the manifest's fields that grow with the tasks, in the manifest's order
SECTIONS = ("tasks", "files", "failures")
#: the manifest's fields that do not
HEAD_FIELDS = (
    "manifest_version",
    "ml_data_version",
    "source",
    "settings",
    "label_config",
    "conversions",
    "left_out",
    "regions_dropped",
)


def ordered(section: str) -> str:
    return f"{section}.jsonl"


def by_key(section: str) -> str:
    return f"{section}.sorted.jsonl"


def part_names() -> list[str]:
    return [HEAD, *(name for section in SECTIONS for name in (ordered(section), by_key(section)))]


def write_parts(shard: Path, parts: Path) -> None:
    """The parts of the dataset folder ``shard``'s manifest, written into the folder ``parts``
    (on the write task, whose memory already held the shard)."""
    manifest = read_shard_manifest(shard)
    parts.mkdir(parents=True, exist_ok=True)
    (parts / HEAD).write_bytes(dumps({key: manifest.get(key) for key in HEAD_FIELDS}))
    for section in SECTIONS:
        items = list((manifest.get(section) or {}).items())
        _write_lines(parts / ordered(section), items)
        items.sort(key=lambda item: item[0])
        _write_lines(parts / by_key(section), items)


def read_shard_manifest(shard: Path) -> dict[str, Any]:
    try:
        manifest = loads((shard / MANIFEST).read_bytes())
    except (OSError, ValueError) as exc:
        raise OutputError(f"shard {shard} has no readable {MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict):
        raise OutputError(f"shard {shard} has no readable {MANIFEST}")
    return manifest


def read_head(parts: Path) -> dict[str, Any]:
    try:
        head = loads((parts / HEAD).read_bytes())
    except (OSError, ValueError) as exc:
        raise OutputError(f"shard parts {parts} have no readable {HEAD}: {exc}") from None
    if not isinstance(head, dict):
        raise OutputError(f"shard parts {parts} have no readable {HEAD}")
    return head


def read_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """The ``[key, value]`` lines of a part file, one at a time."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise OutputError(f"cannot read the shard part {path}: {exc.strerror or exc}") from None
    with handle:
        for line in handle:
            key, value = loads(line)
            yield key, value


def _write_lines(path: Path, items: Iterable[tuple[str, Any]]) -> None:
    with open(path, "wb") as handle:
        for item in items:
            handle.write(dumps(list(item)) + b"\n")


__all__ = ["HEAD", "SECTIONS", "by_key", "ordered", "part_names", "read_head", "read_lines", "write_parts"]
