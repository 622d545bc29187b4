"""Which task keeps a file name several tasks use, decided from the names alone.

Images of the same name in different folders are common (``a/img.jpg``, ``b/img.jpg``); a dataset
folder holds one file per name. The rule: of the tasks whose file has the same name (stem), the
one with the lowest id keeps it, every other one gets ``<name>__task<id>``; should that be the
name of another file too, ``<name>__task<id>__3``, ``__4``, ... . It is decided from every
(task id, name) pair of the dataset before anything is written, so a dataset names its files the
same whatever the order of its tasks and however it is cut into shards (one machine or a Ray
cluster). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ml_data.fsutil import MAX_FILENAME_BYTES, safe_filename

#: (task id as text, the name's stem) -> the stem it is written under, for the pairs that do not
#: keep their name (every other pair keeps it)
Renamed = Mapping[tuple[str, str], str]

#: A stem's suffix (``__task<id>``) is cut to this many bytes, the rest of it to
#: :data:`~ml_data.fsutil.MAX_FILENAME_BYTES` with the suffix whole (so names stay distinct).
MAX_SUFFIX = 40


def task_key(task_id: Any) -> str:
    """A task id as the pipeline keys it (1 and "1" are one task)."""
    return str(task_id)


def renamed_stems(pairs: Iterable[tuple[Any, str]]) -> dict[tuple[str, str], str]:
    """The renames of (task id, stem) ``pairs`` (any order, repeats allowed; a None id is left
    out): each stem used by several tasks stays with the lowest id, the others are renamed.

    >>> renamed_stems([(7, "img"), (3, "img"), (5, "cat")])
    {('7', 'img'): 'img__task7'}
    """
    users: dict[str, set[str]] = {}
    for task_id, stem in pairs:
        if task_id is not None:
            users.setdefault(stem, set()).add(task_key(task_id))
    taken = set(users)
    renamed: dict[tuple[str, str], str] = {}
    for stem in sorted(stem for stem, ids in users.items() if len(ids) > 1):
        for key in sorted(users[stem], key=id_order)[1:]:
            suffix = "__task" + cut(safe_filename(key, fallback="id"), MAX_SUFFIX)
            name, number = with_suffix(stem, suffix), 2
            while name in taken:
                number += 1
                name = with_suffix(stem, f"{suffix}__{number}")
            taken.add(name)
            renamed[(key, stem)] = name
    return renamed


def id_order(key: str) -> tuple[int, int, str]:
    """Ids in numeric order (``9`` before ``10``), those that are no number after them."""
    try:
        return (0, int(key), key)
    except ValueError:
        return (1, 0, key)


def cut(text: str, size: int) -> str:
    """``text`` cut to ``size`` bytes of UTF-8 (whole characters), without a trailing dot or space."""
    return text.encode("utf-8")[:size].decode("utf-8", "ignore").rstrip(" .")


def with_suffix(stem: str, suffix: str) -> str:
    return cut(stem, MAX_FILENAME_BYTES - len(suffix.encode("utf-8"))) + suffix


__all__ = ["MAX_SUFFIX", "Renamed", "cut", "id_order", "renamed_stems", "task_key", "with_suffix"]
