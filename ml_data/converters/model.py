"""One intermediate model of a Label Studio export: Task, Annotation, Region.

Read lazily, one task at a time, from a JSON list (streamed through a sliding window), JSON lines,
a single task object, a folder of ``<task id>.json`` files (target cloud storage, old
``completions/`` folders), or any iterable of task dicts (API pages). The legacy ``completions``
key reads as annotations. Every format reads from these objects, never from the raw JSON.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import msgspec
import orjson

from ml_data.errors import InvalidExport


class Region(NamedTuple):
    """One item of an annotation's ``result``.

    The model classes are named tuples: immutable and typed like frozen dataclasses, and several
    times cheaper to create (an export of 100k tasks holds millions of regions).
    """

    id: str | None
    from_name: str
    to_name: str
    type: str
    value: Mapping[str, Any]
    parent_id: str | None = None
    score: float | None = None
    original_width: int | None = None
    original_height: int | None = None
    image_rotation: float | None = None
    #: the result item as exported
    raw: Mapping[str, Any] | None = None


class Annotation(NamedTuple):
    """An annotation, or a prediction (``is_prediction``)."""

    id: int | None
    result: tuple[Region, ...]
    completed_by: Any = None
    created_at: str | None = None
    updated_at: str | None = None
    lead_time: float | None = None
    was_cancelled: bool = False
    ground_truth: bool = False
    history: Any = None
    is_prediction: bool = False
    model_version: str | None = None
    score: float | None = None
    raw: Mapping[str, Any] | None = None


class Task(NamedTuple):
    id: int | None
    data: Mapping[str, Any]
    annotations: tuple[Annotation, ...]
    predictions: tuple[Annotation, ...]
    #: the task as exported (the JSON format writes it back)
    raw: Mapping[str, Any]

    @property
    def agreement(self) -> Any:
        return self.raw.get("agreement")


def _region(item: Any, task_id: Any) -> Region:
    # isinstance(x, dict) first: the Mapping ABC check costs ten times as much, per region.
    if not isinstance(item, dict | Mapping):
        raise InvalidExport(f"a result item is {type(item).__name__}, not an object", task_id=task_id)
    get = item.get
    value = get("value")
    return Region(
        get("id"),
        str(get("from_name") or ""),
        str(get("to_name") or ""),
        str(get("type") or ""),
        value if isinstance(value, dict | Mapping) else {},
        get("parentID"),
        get("score"),
        get("original_width"),
        get("original_height"),
        get("image_rotation"),
        item,
    )


def _annotation(item: Any, task_id: Any, *, is_prediction: bool) -> Annotation:
    if not isinstance(item, dict | Mapping):
        kind = "a prediction" if is_prediction else "an annotation"
        raise InvalidExport(f"{kind} is {type(item).__name__}, not an object", task_id=task_id)
    result = item.get("result")
    result = [] if result is None else result
    if not isinstance(result, list):
        raise InvalidExport("an annotation's result is not a list", task_id=task_id)
    return Annotation(
        id=item.get("id"),
        result=tuple(_region(region, task_id) for region in result),
        completed_by=item.get("completed_by"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        lead_time=item.get("lead_time"),
        was_cancelled=bool(item.get("was_cancelled") or item.get("skipped")),
        ground_truth=bool(item.get("ground_truth")),
        history=item.get("history"),
        is_prediction=is_prediction,
        model_version=item.get("model_version"),
        score=item.get("score"),
        raw=item,
    )


def task_from_dict(raw: Any) -> Task:
    """A Task from one exported task object (``completions`` read as ``annotations``)."""
    if isinstance(raw, Unreadable):
        raise InvalidExport(f"unreadable task: {raw}")
    if not isinstance(raw, dict | Mapping):
        raise InvalidExport(f"a task is {type(raw).__name__}, not an object")
    task_id = raw.get("id")
    data = raw.get("data")
    if not isinstance(data, dict | Mapping):
        raise InvalidExport("task has no 'data' object", task_id=task_id)
    annotations = raw.get("annotations", raw.get("completions"))
    annotations = [] if annotations is None else annotations
    predictions = raw.get("predictions")
    predictions = [] if predictions is None else predictions
    if not isinstance(annotations, list) or not isinstance(predictions, list):
        raise InvalidExport("task annotations/predictions are not lists", task_id=task_id)
    return Task(
        id=task_id,
        data=data,
        annotations=tuple(_annotation(item, task_id, is_prediction=False) for item in annotations),
        # Label Studio's direct export lists predictions by id only: there is nothing to read in those.
        predictions=tuple(
            _annotation(item, task_id, is_prediction=True) for item in predictions if not isinstance(item, int)
        ),
        raw=raw,
    )


class TaskSource:
    """A re-iterable stream of raw task dicts; each iteration reads the source again.

    Formats whose header needs every task (CSV) iterate twice without holding the export in memory.
    """

    def __init__(self, source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> None:
        self._path: Path | None = None
        self._items: Iterable[Mapping[str, Any]] | None = None
        if isinstance(source, str | os.PathLike):
            self._path = Path(source)
        else:
            self._items = source
        if self._path is not None and not self._path.exists():
            raise InvalidExport(f"no such export file or folder: {self._path}")

    @property
    def name(self) -> str:
        return str(self._path) if self._path is not None else "<tasks>"

    def raw(self) -> Iterator[Mapping[str, Any]]:
        if self._path is None:
            assert self._items is not None
            yield from self._items
            return
        try:
            yield from _read_folder(self._path) if self._path.is_dir() else _read_file(self._path)
        except UnicodeDecodeError as exc:
            raise InvalidExport(
                f"{self._path} is not UTF-8 text (byte {exc.start}): not a Label Studio export"
            ) from None

    def __iter__(self) -> Iterator[Task]:
        for raw in self.raw():
            yield task_from_dict(raw)


def read_tasks(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> TaskSource:
    """Tasks from an export file, a folder of task files, or an iterable of task dicts.

    >>> for task in read_tasks("export.json"):  # doctest: +SKIP
    ...     print(task.id, len(task.annotations))
    """
    return TaskSource(source)


def first_char(path: Path) -> str:
    """The export's first character after a BOM and white space: ``[`` for a JSON list."""
    with open(path, "rb") as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:].lstrip()
            if stripped:
                return chr(stripped[0])
    return ""


def _read_file(path: Path) -> Iterator[Mapping[str, Any]]:
    first = first_char(path)
    if first == "[":
        # Streamed: memory stays flat whatever the number of tasks.
        yield from _array_items(path)
    elif first == "{":
        with open(path, "rb") as handle:
            head = handle.read()
        try:
            yield orjson.loads(head)
        except orjson.JSONDecodeError:
            yield from _json_lines(path)
    elif first:
        raise InvalidExport(f"{path} is not a Label Studio export (JSON list, object or JSON lines)")


_CHUNK = 8 * 1024 * 1024
#: Largest single task accepted; past it the file is taken as broken rather than read on.
_MAX_ITEM = 512 * 1024 * 1024
_DECODER = json.JSONDecoder()
_SPACE = frozenset(" \t\r\n")
_NUMBER_TAIL = re.compile(r"[0-9.eE+-]*")


#: msgspec skips a value without building it and, when bytes follow, says where they start.
_SKIP = msgspec.json.Decoder(msgspec.Raw)
_DECODE = msgspec.json.Decoder()
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_SEPARATORS = re.compile(rb"[ \t\r\n,]*")


def _array_items(path: Path) -> Iterator[Any]:
    """The items of a top-level JSON array, one at a time, from a sliding window of the file.

    Each task's bytes are found by msgspec skipping the value (no objects built), then decoded by
    msgspec into the same dicts the standard library makes, several times faster. Anything the
    fast path does not take as it is (a non-object item, NaN, a lone surrogate, a number out of
    float range, a task over a window in size, broken JSON) hands the rest of the file, from that
    item on, to the standard library's decoder (:func:`_array_scan`), which reads what it
    accepts and names what it does not. Separators between items are read leniently.
    """
    with open(path, "rb") as handle:
        buffer = handle.read(_CHUNK)
        if buffer.startswith(b"\xef\xbb\xbf"):
            buffer = buffer[3:]
            skipped = 3
        else:
            skipped = 0
        opening = buffer.find(b"[")
        if opening < 0 or buffer[:opening].strip():
            handle.seek(0)
            yield from (item for item, _start, _end in _array_scan(handle, str(path), "utf-8-sig"))
            return
        position = opening + 1
        while True:
            position = _after_separators(buffer, position)
            if position < len(buffer) and buffer[position] == 0x5D:  # "]"
                return
            found = _next_item(buffer, position) if position < len(buffer) else None
            if found is None:
                # The window ends inside the separators or the item: slide it along, unless the
                # file ends here or the item is a window long (the standard library's reader
                # then names the problem, or reads the item by growing its own window).
                chunk = handle.read(_CHUNK) if len(buffer) - position < _CHUNK else b""
                if chunk:
                    skipped += position
                    buffer, position = buffer[position:] + chunk, 0
                    continue
                found = _NOT_HERE
            if found is _NOT_HERE:
                handle.seek(skipped + position)
                for item, _start, _end in _array_scan(handle, str(path), "utf-8", at_byte=skipped + position):
                    yield item
                return
            item, position = found
            yield item


def _after_separators(buffer: bytes, position: int) -> int:
    match = _SEPARATORS.match(buffer, position)
    return match.end() if match else position


#: _next_item's answer for an item the fast path leaves to the standard library's decoder.
_NOT_HERE: Any = object()


def _next_item(buffer: bytes, position: int) -> tuple[Any, int] | None:
    """(item, where it ends) for the object starting at ``position``; None when it runs past the
    window (or the window ends right after it), :data:`_NOT_HERE` when it is not for msgspec."""
    if buffer[position] != 0x7B:  # "{"
        return _NOT_HERE
    view = memoryview(buffer)[position:]
    try:
        _SKIP.decode(view)
    except msgspec.DecodeError as exc:
        message = str(exc)
        match = _TRAILING.search(message)
        if match is None:
            return None if "truncated" in message else _NOT_HERE
        # The first byte after the value (and any white space) is at byte N - 1.
        end = int(match.group(1)) - 1
    except RecursionError:
        return _NOT_HERE
    else:
        return None  # nothing after it yet: whether a separator follows is in the next read
    try:
        return _DECODE.decode(view[:end]), position + end
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return _NOT_HERE


def array_item_spans(path: str | os.PathLike[str]) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of each item of the export's top-level JSON array, read in one
    streaming pass: a distributed reader hands ranges of them to its workers, which then parse
    only their own bytes (:func:`array_items_of`).

    The scan decodes as Latin-1, where a character is a byte, so positions are byte offsets; the
    JSON structure is all ASCII, which UTF-8 never reuses inside a multi-byte character.
    """
    with open(path, "rb") as handle:
        for _item, start, end in _array_scan(handle, os.fspath(path), "latin-1"):
            yield start, end


def array_items_of(items: bytes, name: str) -> Iterator[Any]:
    """The tasks in ``items``: a run of whole array items with their separators, as one span of
    :func:`array_item_spans` to another cuts them out of an export."""
    yield from (item for item, _start, _end in _array_scan(io.BytesIO(b"[" + items + b"]"), name, "utf-8"))


def _array_scan(
    handle: BinaryIO, name: str, encoding: str, *, at_byte: int | None = None
) -> Iterator[tuple[Any, int, int]]:
    """(item, start, end) of each item of the top-level JSON array in ``handle``; start and end
    count decoded characters from the beginning (bytes, for Latin-1). With ``at_byte``, the
    handle is inside the array at that byte, at an item or a separator."""
    decoder = codecs.getincrementaldecoder(encoding)()
    buffer = decoder.decode(handle.read(_CHUNK))
    position = 0 if at_byte is not None else buffer.index("[") + 1
    after = "" if at_byte is None else f" after byte {at_byte}"
    offset = 0  # how many characters precede buffer[0]
    want = _CHUNK
    while True:
        while position < len(buffer) and (buffer[position] in _SPACE or buffer[position] == ","):
            position += 1
        if position < len(buffer) and buffer[position] == "]":
            return
        if position >= len(buffer):
            chunk = handle.read(want)
            if not chunk:
                raise InvalidExport(f"{name} is not valid JSON: the list is not closed")
            offset += len(buffer)
            buffer, position = decoder.decode(chunk), 0
            continue
        try:
            item, end = _DECODER.raw_decode(buffer, position)
        except (RecursionError, json.JSONDecodeError) as exc:
            if isinstance(exc, RecursionError):
                # Valid JSON nested deeper than the decoder goes: that task is reported as
                # unreadable (skipped or failed by the policy), and reading goes on after it.
                skipped = _value_end(buffer, position)
                if skipped is not None:
                    start, position = position, skipped
                    want = _CHUNK
                    yield (
                        Unreadable(f"a task nested deeper than {sys.getrecursionlimit()} levels"),
                        offset + start,
                        offset + skipped,
                    )
                    continue
                problem = "an item is nested too deeply"
            else:
                problem = f"{exc.msg} (character {offset + exc.pos}{after})"
            more = handle.read(want)
            if not more or len(buffer) - position > _MAX_ITEM:
                raise InvalidExport(f"{name} is not valid JSON: {problem}") from None
            # The item runs past the window: keep its start, read more (doubling for huge items).
            offset += position
            buffer = buffer[position:] + decoder.decode(more)
            position = 0
            want = min(want * 2, 256 * 1024 * 1024)
            continue
        if end == len(buffer) or (type(item) in (int, float) and _NUMBER_TAIL.fullmatch(buffer, end)):
            # A number that ends with the window may go on in the next read ("0." of "0.5").
            more = handle.read(want)
            if more:
                offset += position
                buffer = buffer[position:] + decoder.decode(more)
                position = 0
                continue
        want = _CHUNK
        yield item, offset + position, offset + end
        position = end


class Unreadable(str):
    """Stands in the task stream for a task that could not be read (not an object, so reading it
    as a task raises :class:`InvalidExport` with this text)."""


def _value_end(buffer: str, position: int) -> int | None:
    """Where the JSON value starting at ``position`` ends, found without recursion; None when it
    runs past the buffer."""
    depth = 0
    index = position
    in_string = False
    length = len(buffer)
    while index < length:
        char = buffer[index]
        if in_string:
            if char == "\\":
                index += 2
                continue
            if char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def _json_lines(path: Path) -> Iterator[Mapping[str, Any]]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InvalidExport(f"{path}, line {number}: not valid JSON ({exc})") from None


def _read_folder(folder: Path) -> Iterator[Mapping[str, Any]]:
    def order(path: Path) -> tuple[int, int | str]:
        return (0, int(path.stem)) if path.stem.isdigit() else (1, path.name)

    for path in sorted((p for p in folder.iterdir() if p.suffix == ".json" and p.is_file()), key=order):
        try:
            item = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InvalidExport(f"{path} is not valid JSON: {exc}") from None
        if isinstance(item, list):
            yield from item
        else:
            # Files named after the task id carry it implicitly in old completions/ folders.
            if isinstance(item, dict) and "id" not in item and path.stem.isdigit():
                item = {**item, "id": int(path.stem)}
            yield item
