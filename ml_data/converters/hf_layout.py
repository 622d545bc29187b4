"""What the Hugging Face folder formats share: one folder per split, each with its own
``metadata.jsonl``, as ``datasets.load_dataset("imagefolder" | "audiofolder", data_dir=...)``
reads them.

- The split folders: ``datasets`` takes a folder for a split only by its name (``train``,
  ``validation``/``val``/..., ``test``/...; :data:`SPLIT_NAMES`), so other names are refused up
  front (:func:`check_split_names`): a folder it does not recognise would be silently left out.
  Without a split the rows go to ``train/``: at the top of the folder, a file whose name holds
  ``val``/``test`` between separators (``COCO_val2014_1.jpg``) would be taken for a split of its
  own. A split without rows gets no folder (``datasets`` refuses an empty split).
- The rows: ``datasets`` types the columns from each split's first rows, and every split must
  come out the same. An empty list (an image without objects) says nothing of its items' type,
  so such rows are written after the first row whose lists have items (:class:`SplitRows`), and
  shards are merged with such a row first (:func:`merge_metadata`).
- The file names: the media sit in a folder of their own (``images/``, ``audio/``) under their
  split, never named like a metadata file (``datasets`` would read one as metadata).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ml_data.converters.images import UniqueNames
from ml_data.converters.merging import append
from ml_data.errors import OutputError

METADATA = "metadata.jsonl"
#: the class names, one a line (line n: class id n)
CLASSES = "classes.txt"
#: where the rows go when the dataset has no split
DEFAULT_SPLIT = "train"
#: the folder names ``datasets`` reads as each split (``datasets.data_files.SPLIT_KEYWORDS``)
SPLIT_NAMES: Mapping[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_READ_AS = {name: split for split, names in SPLIT_NAMES.items() for name in names}


def check_split_names(format_name: str, names: Iterable[str]) -> str | None:
    """Why ``datasets`` would not load these split folders as one split each (None: it would).

    >>> check_split_names("hf-imagefolder", ["train", "val"]) is None
    True
    >>> print(check_split_names("hf-imagefolder", ["train", "val", "validation"]))
    hf-imagefolder: splits 'val' and 'validation' are both the validation split to datasets; name them apart
    """
    seen: dict[str, str] = {}
    for name in names:
        split = _READ_AS.get(name)
        if split is None:
            known = ", ".join(_READ_AS)
            return (
                f"{format_name} writes a folder per split, and datasets reads a folder as a split only "
                f"by its name ({known}): split {name!r} would be left out; rename it"
            )
        if split in seen:
            return (
                f"{format_name}: splits {seen[split]!r} and {name!r} are both the {split} split to datasets; "
                "name them apart"
            )
        seen[split] = name
    return None


def media_names() -> UniqueNames:
    """Unique media names in which no file is named like a metadata file (``metadata.csv`` from
    a URL becomes ``metadata__task<id>.csv``)."""
    names = UniqueNames()
    names.stem("metadata", _RESERVED)
    return names


_RESERVED = object()


class SplitRows:
    """One split's ``metadata.jsonl``, written as rows come: rows with ``typed`` first, the others
    (whose lists are empty) aside, appended after them at :meth:`close`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / METADATA
        self._aside_path = folder / f".{METADATA}.untyped"
        self._main = open(self.path, "wb")
        self._aside: Any = None
        self.rows = 0
        #: rows with ``typed``: none means ``datasets`` types this split's lists apart from the others'
        self.typed = 0

    def add(self, row: Mapping[str, Any], *, typed: bool) -> None:
        line = orjson.dumps(row) + b"\n"
        if typed or self._main.tell():
            self._main.write(line)
        else:
            if self._aside is None:
                self._aside = open(self._aside_path, "w+b")
            self._aside.write(line)
        self.rows += 1
        self.typed += typed

    def close(self) -> None:
        if self._aside is not None:
            self._aside.seek(0)
            shutil.copyfileobj(self._aside, self._main)
            self._aside.close()
            self._aside = None
            os.unlink(self._aside_path)
        self._main.close()


class SplitFolders:
    """The split folders of one run, each made when its first row comes."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.splits: dict[str, SplitRows] = {}

    def rows(self, split: str) -> SplitRows:
        found = self.splits.get(split)
        if found is None:
            found = self.splits[split] = SplitRows(self.out / split)
        return found

    def close(self) -> None:
        for rows in self.splits.values():
            rows.close()

    def empty(self, declared: Sequence[str]) -> list[str]:
        """The declared splits that got no row (and so no folder)."""
        return [name for name in declared if name not in self.splits]

    def untyped(self) -> list[str]:
        """The splits none of whose rows is typed, when another split has such rows: ``datasets``
        then types their columns differently and refuses to load the folder as one dataset."""
        if all(not rows.typed for rows in self.splits.values()):
            return []
        return [name for name, rows in self.splits.items() if not rows.typed]


def write_classes(out: Path, ids: Mapping[str, int]) -> None:
    """``classes.txt``: line n is the name of class id n (``unused_n`` for a gap in explicit ids)."""
    names = {index: name for name, index in ids.items()}
    lines = [names.get(index, f"unused_{index}") for index in range(max(names, default=-1) + 1)]
    (out / CLASSES).write_text("".join(name + "\n" for name in lines), encoding="utf-8")


def merge_metadata(relative: str, target: Path, parts: Sequence[Path], typed: Callable[[Any], bool]) -> None:
    """Shards' ``metadata.jsonl`` of one split as one: concatenated, a shard whose first row is
    ``typed`` first (so the merged file starts with a row ``datasets`` can type its columns by)."""
    files = [target, *parts]
    first = next((index for index, path in enumerate(files) if typed(_first_row(relative, path))), 0)
    if first == 0:
        for part in parts:
            append(target, part.read_bytes())
        return
    ordered = [files[first], *files[:first], *files[first + 1 :]]
    aside = target.with_name(f".{target.name}.merging")
    aside.write_bytes(b"")
    for path in ordered:
        append(aside, path.read_bytes())
    os.replace(aside, target)


def _first_row(relative: str, path: Path) -> Any:
    with open(path, "rb") as handle:
        line = handle.readline()
    try:
        return orjson.loads(line) if line.strip() else None
    except orjson.JSONDecodeError:
        raise OutputError(f"{relative}: a shard wrote a line that is not JSON; it cannot be combined") from None


__all__ = [
    "CLASSES",
    "DEFAULT_SPLIT",
    "METADATA",
    "SPLIT_NAMES",
    "SplitFolders",
    "SplitRows",
    "check_split_names",
    "media_names",
    "merge_metadata",
    "write_classes",
]
