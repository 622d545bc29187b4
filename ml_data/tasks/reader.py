"""Reading an export file into raw task dicts, one at a time.

A JSON list is streamed through a sliding window (msgspec finds and decodes each task; the
standard library's decoder takes over for anything unusual and names what is broken), JSON
lines line by line, a folder of ``<task id>.json`` files file by file. Memory stays flat
whatever the number of tasks. :mod:`ml_data.tasks.model` turns the dicts into the model.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import orjson

from ml_data.errors import InvalidExport
from ml_data.tasks.json_errors import (
    BOM,
    ORJSON_END,
    byte_of,
    cut_off,
    first_byte_not_utf8,
    line_and_column,
    orjson_error,
    truncated,
)


def read_raw(path: Path) -> Iterator[Mapping[str, Any]]:
    """The raw task dicts of an export file or folder (anything else in it raises
    :class:`InvalidExport`, or stands in the stream as :class:`Unreadable`)."""
    try:
        yield from _read_folder(path) if path.is_dir() else _read_file(path)
    except UnicodeDecodeError:
        if path.is_dir():  # its files are decoded by orjson, whose errors name them
            raise InvalidExport(f"a file in {path} is not UTF-8 text: not a Label Studio export") from None
        with open(path, "rb") as handle:
            where = line_and_column(handle, first_byte_not_utf8(handle))
        raise InvalidExport(f"{path} is not UTF-8 text (at {where}): not a Label Studio export") from None


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
            whole = handle.read()
        mark = len(BOM) if whole.startswith(BOM) else 0
        try:
            task = orjson.loads(whole[mark:])
        except orjson.JSONDecodeError as exc:
            if not _is_json(whole[mark:].lstrip().split(b"\n", 1)[0]):
                # Not JSON lines either (its first line is no value): one task object, broken
                # where the decoder stopped.
                raise orjson_error(path, exc, at_byte=mark, line=1, what="the task object") from None
            yield from _json_lines(path)
            return
        yield task
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
        count = 0  # items read so far
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
                rest = _array_scan(handle, str(path), "utf-8", at_byte=skipped + position, items=count)
                yield from (item for item, _start, _end in rest)
                return
            item, position = found
            count += 1
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
    handle: BinaryIO, name: str, encoding: str, *, at_byte: int | None = None, items: int = 0
) -> Iterator[tuple[Any, int, int]]:
    """(item, start, end) of each item of the top-level JSON array in ``handle``; start and end
    count decoded characters from the beginning (bytes, for Latin-1). With ``at_byte``, the
    handle is inside the array at that byte, at an item or a separator, after ``items`` items.

    Broken JSON is an :class:`InvalidExport` that says where, in the whole file: a file that ends
    inside the list is "truncated", anything else "not valid JSON", each with the line, column
    and byte, and the task, counted from 1."""
    start = at_byte or 0
    decoder = codecs.getincrementaldecoder(encoding)()
    buffer = decoder.decode(handle.read(_CHUNK))
    position = 0 if at_byte is not None else buffer.index("[") + 1
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
                raise truncated(handle, name, items, inside=False)
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
                    begin, position = position, skipped
                    want = _CHUNK
                    items += 1
                    yield (
                        Unreadable(f"it is nested deeper than {sys.getrecursionlimit()} levels"),
                        offset + begin,
                        offset + skipped,
                    )
                    continue
            more = handle.read(want)
            if not more or len(buffer) - position > _MAX_ITEM:
                if not more and (isinstance(exc, RecursionError) or cut_off(exc)):
                    raise truncated(handle, name, items, inside=True) from None
                if isinstance(exc, RecursionError):
                    at, problem = position, "a task is nested too deeply"
                else:
                    at, problem = exc.pos, exc.msg
                where = line_and_column(handle, byte_of(handle, encoding, start, offset + at))
                raise InvalidExport(f"{name} is not valid JSON at {where}, in task #{items + 1}: {problem}") from None
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
        items += 1
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
        tasks = 0
        at_byte = 0
        for number, line in enumerate(handle, 1):
            start = len(BOM) if number == 1 and line.startswith(BOM) else 0
            if line.strip():
                try:
                    task = orjson.loads(line[start:])
                except orjson.JSONDecodeError as exc:
                    # A last line without its newline that ends inside its task: a cut file.
                    cut = exc.msg == ORJSON_END and not line.endswith(b"\n")
                    what = f"task #{tasks + 1}" if cut else None
                    raise orjson_error(
                        path, exc, at_byte=at_byte + start, line=number, what=what, task=tasks + 1
                    ) from None
                tasks += 1
                yield task
            at_byte += len(line)


def _is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _read_folder(folder: Path) -> Iterator[Mapping[str, Any]]:
    def order(path: Path) -> tuple[int, int | str]:
        return (0, int(path.stem)) if path.stem.isdigit() else (1, path.name)

    for path in sorted((p for p in folder.iterdir() if p.suffix == ".json" and p.is_file()), key=order):
        content = path.read_bytes()
        mark = len(BOM) if content.startswith(BOM) else 0
        try:
            item = orjson.loads(content[mark:])
        except orjson.JSONDecodeError as exc:
            raise orjson_error(path, exc, at_byte=mark, line=1, what="its JSON") from None
        if isinstance(item, list):
            yield from item
        else:
            # Files named after the task id carry it implicitly in old completions/ folders.
            if isinstance(item, dict) and "id" not in item and path.stem.isdigit():
                item = {**item, "id": int(path.stem)}
            yield item
