"""The dataset folder, read without trusting it.

Every file is opened beneath the folder (:func:`~ml_data.resolvers.beneath.open_beneath`): a name
from an annotation file that climbs out (``../``, an absolute path, a link leading elsewhere), a
FIFO or a device is never read. An image's sha256 comes from the dataset's ``manifest.json`` only
while the file opened is still the one the manifest describes (same size and modification time);
otherwise the file is hashed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from ml_data.errors import InvalidDataset, MlDataError, NotFound
from ml_data.hashing import descriptor_sha256
from ml_data.pipeline import MANIFEST, MANIFEST_VERSION
from ml_data.pipeline.manifest import described_by
from ml_data.resolvers.beneath import CheckedFile, open_beneath
from ml_data.stats.model import Problem

_HEX = frozenset("0123456789abcdef")


class FileFault(Exception):
    """A file of the dataset that cannot be used as the layout says: never leaves
    :mod:`ml_data.stats` (the readers turn it into a :class:`~ml_data.stats.model.Problem`)."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason} ({detail})" if detail else reason)


@dataclass(frozen=True)
class Manifest:
    """What stats takes from ``manifest.json``: the format and layout written, the split names
    (in order, empty ones included) and each file's size, modification time and sha256."""

    format: str | None
    layout: str | None
    splits: tuple[str, ...]
    files: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class ImageFile:
    sha256: str
    #: from the image's header, when asked for
    size: tuple[int, int] | None = None


def parse_manifest(value: Any) -> Manifest | None:
    """The parts of a manifest stats uses, each checked; None when it is not an ml-data manifest
    of the version this ml-data writes. Entries whose size, time or sha256 are not what ml-data
    writes are left out (those files are hashed instead)."""
    if not isinstance(value, dict) or value.get("manifest_version") != MANIFEST_VERSION:
        return None
    settings: dict[str, Any] = value["settings"] if isinstance(value.get("settings"), dict) else {}
    split = settings.get("split")
    splits = tuple(name for name in split if isinstance(name, str)) if isinstance(split, dict) else ()
    files: dict[str, Mapping[str, Any]] = {}
    raw_files = value.get("files")
    for relative, entry in raw_files.items() if isinstance(raw_files, dict) else ():
        if not isinstance(entry, dict):
            continue
        sha256, size, mtime = entry.get("sha256"), entry.get("size"), entry.get("mtime_ns")
        if (
            isinstance(sha256, str)
            and len(sha256) == 64
            and set(sha256) <= _HEX
            and all(isinstance(number, int) and not isinstance(number, bool) for number in (size, mtime))
        ):
            files[relative] = {"sha256": sha256, "size": size, "mtime_ns": mtime}
    text = {key: settings.get(key) if isinstance(settings.get(key), str) else None for key in ("format", "layout")}
    return Manifest(format=text["format"], layout=text["layout"], splits=splits, files=files)


class DatasetFiles:
    """The files of one dataset folder (a real path), opened beneath it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest: Manifest | None = None
        #: a manifest.json that is there but could not be used
        self.manifest_problem: Problem | None = None

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> DatasetFiles:
        """The dataset folder at ``path``, with its manifest read if it has one."""
        root = Path(os.path.realpath(os.fspath(path)))
        if not root.is_dir():
            raise NotFound(f"no dataset folder at {os.fspath(path)}")
        files = cls(root)
        try:
            data = files.read(MANIFEST)
        except FileFault as fault:
            files.manifest_problem = Problem(MANIFEST, "the manifest cannot be read", detail=fault.detail)
            return files
        if data is not None:
            try:
                files.manifest = parse_manifest(orjson.loads(data))
            except orjson.JSONDecodeError as exc:
                files.manifest_problem = Problem(MANIFEST, "the manifest is not JSON", detail=str(exc)[:200])
            else:
                if files.manifest is None:
                    files.manifest_problem = Problem(MANIFEST, f"not an ml-data manifest (version {MANIFEST_VERSION})")
        return files

    def is_dir(self, relative: str) -> bool:
        """``relative`` is a folder inside the dataset folder (a link to elsewhere is not)."""
        path = os.path.realpath(self.root / relative)
        return os.path.isdir(path) and _beneath(path, self.root)

    def listing(self, relative: str) -> tuple[list[str], list[str]]:
        """(files, folders) in the folder ``relative``, sorted, hidden names left out; nothing for
        a folder that is not there or not inside the dataset folder."""
        if not self.is_dir(relative):
            return [], []
        files, folders = [], []
        with os.scandir(self.root / relative) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    folders.append(entry.name)
                elif entry.is_file():
                    files.append(entry.name)
        return sorted(files), sorted(folders)

    def read(self, relative: str) -> bytes | None:
        """The bytes of the file ``relative``; None when there is no regular file there."""
        checked = self._open(relative)
        if checked is None:
            return None
        with open(checked.fd, "rb") as handle:
            return handle.read()

    def image(self, relative: str, *, size: bool = False) -> ImageFile:
        """The sha256 of the image file ``relative`` (and, with ``size``, its width and height from
        its header); a :class:`FileFault` when it is missing or unusable."""
        checked = self._open(relative)
        if checked is None:
            raise FileFault("no image file there (missing, or not a regular file)")
        with open(checked.fd, "rb") as handle:
            entry = self.manifest.files.get(relative) if self.manifest is not None else None
            sha256 = entry["sha256"] if entry is not None and described_by(checked.stat, entry) else None
            if sha256 is None:
                sha256 = descriptor_sha256(checked.fd)
            return ImageFile(sha256, image_size(handle, relative) if size else None)

    def _open(self, relative: str) -> CheckedFile | None:
        try:
            return open_beneath(self.root, relative)
        except MlDataError as exc:  # UnsafePath, NotFound: leads out of the folder, or unreadable
            raise FileFault("the file cannot be read", exc.message) from None


def image_size(handle: Any, relative: str) -> tuple[int, int]:
    """Width and height from the image's header (the pixels are not decoded)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # A large image is measured, not decoded: Pillow's decompression bomb warning is moot.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FileFault("not an image whose size can be read", str(exc)[:120]) from None
    if width <= 0 or height <= 0:
        raise FileFault("not an image whose size can be read", f"{width}x{height}")
    return width, height


def member(folder: str, name: object) -> str:
    """``folder/name`` for a file name taken from an annotation file, refused (a
    :class:`FileFault`) when it is not a plain relative path staying in ``folder``."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise FileFault("no usable file name", repr(name)[:80])
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise FileFault("a file name that leaves its folder", name[:120])
    return f"{folder}/{path}" if folder else str(path)


def _beneath(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(str(root).rstrip("/") + "/")


def require(data: bytes | None, relative: str) -> bytes:
    """The bytes of a file the layout cannot do without: an :class:`InvalidDataset` naming it
    when it is not there."""
    if data is None:
        raise InvalidDataset(f"{relative} is missing")
    return data


__all__ = ["DatasetFiles", "FileFault", "ImageFile", "Manifest", "image_size", "member", "parse_manifest", "require"]
