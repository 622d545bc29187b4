"""Which task keeps a file name several tasks use, decided from the names alone.

Images of the same name in different folders are common (``a/img.jpg``, ``b/img.jpg``); a dataset
folder holds one file per name. The rule: of the tasks whose file has the same name (stem), the
one with the lowest id keeps it, every other one gets ``<name>__task<id>``; should that be the
name of another file too, ``<name>__task<id>__3``, ``__4``, ... . A file that is one item of
several in its task (a page, a ``valueList`` entry: ``2``, ``0-3``) is owned by its task and item:
within a task the lowest item keeps the name, and a renamed item becomes
``<name>__task<id>__p<item>``. It is decided from every (task id, item, name) triple of the
dataset before anything is written, so a dataset names its files the
same whatever the order of its tasks and however it is cut into shards (one machine or a Ray
cluster). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ml_data.fsutil import MAX_FILENAME_BYTES, safe_filename

#: (task id as text, item or None, the name's stem) -> the stem it is written under, for the files
#: that do not keep their name (every other one keeps it)
Renamed = Mapping[tuple[str, str | None, str], str]

#: A stem's suffix (``__task<id>``) is cut to this many bytes, the rest of it to
#: :data:`~ml_data.fsutil.MAX_FILENAME_BYTES` with the suffix whole (so names stay distinct).
MAX_SUFFIX = 40


def task_key(task_id: Any) -> str:
    """A task id as the pipeline keys it (1 and "1" are one task)."""
    return str(task_id)


def renamed_stems(triples: Iterable[tuple[Any, str | None, str]]) -> dict[tuple[str, str | None, str], str]:
    """The renames of (task id, item, stem) ``triples`` (any order, repeats allowed; a None id is
    left out): each stem used by several files stays with the lowest id (of its items, the lowest),
    the others are renamed.

    >>> renamed_stems([(7, None, "img"), (3, None, "img"), (5, None, "cat"), (5, "1", "cat"), (5, "0", "cat")])
    {('5', '0', 'cat'): 'cat__task5__p0', ('5', '1', 'cat'): 'cat__task5__p1', ('7', None, 'img'): 'img__task7'}
    """
    users: dict[str, set[tuple[str, str | None]]] = {}
    for task_id, item, stem in triples:
        if task_id is not None:
            users.setdefault(stem, set()).add((task_key(task_id), item))
    taken = set(users)
    renamed: dict[tuple[str, str | None, str], str] = {}
    for stem in sorted(stem for stem, owners in users.items() if len(owners) > 1):
        for key, item in sorted(users[stem], key=owner_order)[1:]:
            suffix = "__task" + cut(safe_filename(key, fallback="id"), MAX_SUFFIX)
            if item is not None:
                suffix += "__p" + cut(safe_filename(item, fallback="item"), MAX_SUFFIX)
            name, number = with_suffix(stem, suffix), 2
            while name in taken:
                number += 1
                name = with_suffix(stem, f"{suffix}__{number}")
            taken.add(name)
            renamed[(key, item, stem)] = name
    return renamed


def owner_order(owner: tuple[str, str | None]) -> tuple[tuple[int, int, str], tuple[tuple[int, int, str], ...]]:
    """Files by task id (see :func:`id_order`), then item: a task's only file, then its items in
    order (``2`` before ``10``, ``0-3`` after ``0``)."""
    key, item = owner
    return id_order(key), tuple(id_order(part) for part in item.split("-")) if item is not None else ()


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


__all__ = ["MAX_SUFFIX", "Renamed", "cut", "id_order", "owner_order", "renamed_stems", "task_key", "with_suffix"]
