"""One file written by several shards of a dataset, combined into one (for the distributed writer).

Each write task of a distributed run writes a complete dataset of its own tasks; a file more than
one shard wrote differently is combined by its format's ``merge``
(:meth:`~ml_data.converters.base.FormatBase.merge`). This module holds what that default does
with the files any format may write, and the small pieces formats build their own from:

- a JSON list: the shards' items, one list;
- a CSV/TSV table: one header (the shards must agree on the columns), every shard's rows;
- a file of lines (``.txt``, ``.jsonl``): concatenated, each part starting on a line of its own.

Anything else the shards wrote differently cannot be combined: an
:class:`~ml_data.errors.OutputError` naming the file.

>>> merge_files("labels.txt", Path("building/labels.txt"), [Path("shard-2/labels.txt")])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml_data.errors import OutputError
from ml_data.jsonio import dumps, loads

#: files whose lines are items: combined by concatenation
LINE_FILES = (".txt", ".jsonl")
TABLES = (".csv", ".tsv")


def merge_files(relative: str, target: Path, parts: Sequence[Path]) -> None:
    """Add ``parts`` (the file at ``relative`` as other shards wrote it) to ``target``: JSON lists,
    tables and line files; any other file the shards wrote differently is an error."""
    suffix = Path(relative).suffix.lower()
    if suffix == ".json":
        documents = [read_json(relative, path) for path in (target, *parts)]
        if not all(isinstance(document, list) for document in documents):
            raise different_versions(relative)
        write_json(target, [item for document in documents for item in document])
    elif suffix in TABLES:
        merge_tables(relative, target, parts)
    elif suffix in LINE_FILES:
        for part in parts:
            append(target, part.read_bytes())
    else:
        raise different_versions(relative)


def different_versions(relative: str) -> OutputError:
    return OutputError(f"{relative}: the shards wrote different versions of this file")


def read_json(relative: str, path: Path) -> Any:
    """A shard's JSON file; one that does not parse is an :class:`OutputError` naming it."""
    try:
        return loads(path.read_bytes())
    except ValueError:
        raise OutputError(f"{relative}: a shard wrote a file that is not JSON; it cannot be combined") from None


def write_json(target: Path, document: Any) -> None:
    """``document`` in place of ``target`` (written aside, then renamed over it)."""
    tmp = target.with_name(f".{target.name}.merging")
    tmp.write_bytes(dumps(document, indent=True))
    os.replace(tmp, target)


def merge_tables(relative: str, target: Path, parts: Sequence[Path]) -> None:
    """CSV/TSV: one header, every shard's rows; shards that found different columns are an error."""
    header = _first_line(target)
    for part in parts:
        if _first_line(part) != header:
            raise OutputError(f"{relative}: the shards found different columns; write tables from one shard")
        with open(part, "rb") as source:
            source.readline()
            append(target, source.read())


def append(target: Path, body: bytes, *, blank_line: bool = False) -> None:
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


__all__ = ["LINE_FILES", "TABLES", "append", "different_versions", "merge_files", "read_json", "write_json"]
