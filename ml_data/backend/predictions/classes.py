"""Class ids back to label names: a YOLO dataset's ``classes.txt`` or its ``data.yaml`` ``names``.

``data.yaml`` is read for its ``names`` only, in the forms Ultralytics and ml-data write: a block
mapping (``0: cat``), a block list (``- cat``) or a flow list (``[cat, 'dog']``), with plain,
single- or double-quoted names. No YAML library is needed for that, and nothing else in the file
is interpreted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ml_data.errors import InvalidExport

#: A class list file larger than this is not one (classes.txt has a line per class).
_MAX_BYTES = 16 * 1024 * 1024
_BLOCK_ITEM = re.compile(r"^\s+(?:-\s*(?P<item>.*)|(?P<index>\d+)\s*:\s*(?P<value>.*))$")


def read_class_names(folders: list[Path]) -> tuple[tuple[str, ...], Path] | None:
    """The class names (index = class id) from the first ``classes.txt`` or ``data.yaml`` found
    in ``folders``, and the file they came from; None when there is neither."""
    for folder in folders:
        for name, parse in (("classes.txt", _classes_txt), ("data.yaml", _data_yaml), ("data.yml", _data_yaml)):
            path = folder / name
            if path.is_file():
                text = _read(path)
                names = parse(text, path)
                if any(not label for label in names):
                    raise InvalidExport(f"{path} has an empty class name")
                return names, path
    return None


def _read(path: Path) -> str:
    if path.stat().st_size > _MAX_BYTES:
        raise InvalidExport(f"{path} is too large to be a list of classes")
    try:
        return path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidExport(f"{path} is not UTF-8 text") from None


def _classes_txt(text: str, path: Path) -> tuple[str, ...]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return tuple(line.strip() for line in lines)


def _data_yaml(text: str, path: Path) -> tuple[str, ...]:
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("names:"):
            continue
        rest = _strip_comment(line[len("names:") :]).strip()
        if rest.startswith("["):
            flow = rest
            for more in lines[number + 1 :]:
                if "]" in _unquoted(flow):
                    break
                flow += " " + _strip_comment(more).strip()
            return _flow_list(flow, path)
        if rest:
            raise InvalidExport(f"{path}: names must be a list or a mapping of class ids")
        return _block(lines[number + 1 :], path)
    raise InvalidExport(f"{path} has no names")


def _block(lines: list[str], path: Path) -> tuple[str, ...]:
    listed: list[str] = []
    numbered: dict[int, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _BLOCK_ITEM.match(line)
        if match is None:
            break  # the next top-level key
        if match.group("item") is not None:
            listed.append(_scalar(match.group("item"), path))
        else:
            numbered[int(match.group("index"))] = _scalar(match.group("value"), path)
    if listed and numbered:
        raise InvalidExport(f"{path}: names mixes a list and a mapping")
    if numbered:
        if sorted(numbered) != list(range(len(numbered))):
            raise InvalidExport(f"{path}: names must number the classes 0, 1, 2, ... without gaps")
        return tuple(numbered[index] for index in range(len(numbered)))
    return tuple(listed)


def _flow_list(text: str, path: Path) -> tuple[str, ...]:
    body = text.strip()
    if not body.startswith("[") or not body.endswith("]"):
        raise InvalidExport(f"{path}: names is not a closed list")
    items: list[str] = []
    current, quote, escaped = "", "", False
    for char in body[1:-1]:
        if quote:
            current += char
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            items.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        items.append(current)
    return tuple(_scalar(item, path) for item in items)


def _scalar(text: str, path: Path) -> str:
    value = _strip_comment(text).strip()
    try:
        if value.startswith('"'):
            parsed = json.loads(value)
            if not isinstance(parsed, str):
                raise ValueError
            return parsed
        if value.startswith("'"):
            if len(value) < 2 or not value.endswith("'"):
                raise ValueError
            return value[1:-1].replace("''", "'")
    except ValueError:
        raise InvalidExport(f"{path}: the class name {value[:60]!r} is not a well-formed string") from None
    return value


def _strip_comment(text: str) -> str:
    """``text`` without a trailing `` # comment`` (outside quotes)."""
    quote, escaped = "", False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[:index]
    return text


def _unquoted(text: str) -> str:
    return re.sub(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'", "", text)
