"""Where a broken export breaks, in the whole file: the line, the column and the byte, and
whether the file was cut short ("truncated") or holds something JSON does not allow.

Only errors pay for this: positions are found by reading the file again up to there.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from pathlib import Path
from typing import BinaryIO

import orjson

from ml_data.errors import InvalidExport

#: How much of the file is read at a time while counting.
_BLOCK = 8 * 1024 * 1024
BOM = b"\xef\xbb\xbf"


def first_byte_not_utf8(handle: BinaryIO) -> int:
    """Where the file stops being UTF-8 (the reader's error counts from its own window)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    handle.seek(0)
    read = 0
    while chunk := handle.read(_BLOCK):
        # The decoder holds back the start of a character cut by the window: its error counts
        # from those bytes.
        held = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return read - held + exc.start
        read += len(chunk)
    return read  # the file ends inside a character


def truncated(handle: BinaryIO, name: str, items: int, *, inside: bool) -> InvalidExport:
    """The error for a file that ends before its list of tasks closes, saying where it ends."""
    size = handle.seek(0, io.SEEK_END)
    where = f"inside task #{items + 1}, " if inside else f"after task #{items}, " if items else ""
    return InvalidExport(
        f"{name} is truncated: it ends {where}at {line_and_column(handle, size)}, before the list of tasks closes"
    )


#: What the end of the file leaves at the decoder's error position when it cuts a value short:
#: the start of a literal, of an escape (a surrogate pair's second half too), or of a number's
#: fraction or exponent (right after its digits).
_CUT_LITERAL = re.compile(r"-|t(r(u)?)?|f(a(l(s)?)?)?|n(u(l)?)?|N(a)?|-?I(n(f(i(n(i(t)?)?)?)?)?)?")
_CUT_ESCAPE = re.compile(r"u[0-9a-fA-F]{0,4}(\\(u[0-9a-fA-F]{0,3})?)?")
_CUT_NUMBER = re.compile(r"\.|[eE][+-]?")


def cut_off(exc: json.JSONDecodeError) -> bool:
    """Whether the decoder failed because its text ended inside the value (a truncated file)
    rather than at a character JSON does not allow there."""
    rest = exc.doc[exc.pos :]
    if not rest.strip() or exc.msg.startswith("Unterminated string") or _CUT_LITERAL.fullmatch(rest):
        return True
    if exc.msg.startswith("Invalid \\uXXXX escape"):
        return _CUT_ESCAPE.fullmatch(rest) is not None
    return exc.pos > 0 and exc.doc[exc.pos - 1] in "0123456789" and _CUT_NUMBER.fullmatch(rest) is not None


#: UTF-8 continuation bytes; every other byte starts a character.
_CONTINUATION = bytes(range(0x80, 0xC0))


def byte_of(handle: BinaryIO, encoding: str, start: int, characters: int) -> int:
    """The byte offset of the character ``characters`` characters (as the scan decoded them)
    after byte ``start``: found by decoding the file again, which only an error pays for."""
    if encoding == "latin-1":
        return start + characters
    handle.seek(start)
    if not (encoding == "utf-8-sig" and handle.read(3) == BOM):
        handle.seek(start)
    byte = handle.tell()
    # Everything before that character decoded cleanly in the scan; what comes after may not.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while characters > 0 and (chunk := handle.read(_BLOCK)):
        piece = decoder.decode(chunk)[:characters]
        byte += len(piece.encode("utf-8", "surrogatepass"))
        characters -= len(piece)
    return byte


def line_and_column(handle: BinaryIO, byte: int) -> str:
    """``line L, column C (byte B)`` for a byte offset of the file, as an editor counts them:
    lines end at a newline, columns count characters from 1 (a leading byte order mark is none)."""
    handle.seek(0)
    mark = handle.read(3) == BOM and byte >= 3
    handle.seek(0)
    line, column, read = 1, 1, 0
    while read < byte and (chunk := handle.read(min(_BLOCK, byte - read))):
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            line += chunk.count(b"\n")
            column = 1 + len(chunk[newline + 1 :].translate(None, _CONTINUATION))
        else:
            column += len(chunk.translate(None, _CONTINUATION))
        read += len(chunk)
    if line == 1 and mark:
        column -= 1
    return f"line {line}, column {column} (byte {byte})"


#: orjson's message for a text that ends inside its value.
ORJSON_END = "unexpected end of data"


def orjson_error(
    path: Path, exc: orjson.JSONDecodeError, *, at_byte: int, line: int, what: str | None, task: int | None = None
) -> InvalidExport:
    """The error for a JSON text (from ``at_byte``, on ``line`` of the file) orjson refused:
    "truncated" when it ends inside ``what``, else "not valid JSON", naming where."""
    if not exc.doc and "UTF-8" in exc.msg:  # orjson keeps no text, so no position, for bytes that are not
        on_line = f" (line {line})" if task is not None else ""
        return InvalidExport(f"{path} is not UTF-8 text{on_line}: not a Label Studio export")
    byte = at_byte + len(exc.doc[: exc.pos].encode("utf-8", "surrogatepass"))
    where = f"line {line + exc.lineno - 1}, column {exc.colno} (byte {byte})"
    if exc.msg == ORJSON_END and what is not None:
        return InvalidExport(f"{path} is truncated: it ends inside {what}, at {where}")
    in_task = f", in task #{task}" if task is not None else ""
    return InvalidExport(f"{path} is not valid JSON at {where}{in_task}: {exc.msg}")


__all__ = [
    "BOM",
    "ORJSON_END",
    "byte_of",
    "cut_off",
    "first_byte_not_utf8",
    "line_and_column",
    "orjson_error",
    "truncated",
]
