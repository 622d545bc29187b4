"""A dataset as a zip streamed to a client, read from a hard-linked snapshot of one version, so a
rebuild that swaps the folder meanwhile cannot break the download."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from ml_data.errors import UnsafePath
from ml_data.pipeline.report import MANIFEST

_ZIP_CHUNK = 1024 * 1024
#: Snapshots of downloads never read to the end are removed after this long.
STALE_DOWNLOAD_SECONDS = 6 * 3600


def remove_stale_snapshots(downloads: Path) -> None:
    """Snapshots of downloads that were never read to the end (a client that went away before the
    first byte leaves its snapshot behind)."""
    cutoff = time.time() - STALE_DOWNLOAD_SECONDS
    for leftover in downloads.glob("*") if downloads.is_dir() else ():
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)


def snapshot_dataset(folder: Path, target: Path, attempts: int = 3) -> tuple[Path | None, list[str]]:
    """Hard links to one complete version of the dataset, for the zip to read while a rebuild may
    swap a new version in: the folder is the same before and after linking, else it is tried
    again. (None, []) when there is no dataset."""
    for _attempt in range(attempts):
        shutil.rmtree(target, ignore_errors=True)
        try:
            before = folder.stat().st_ino
            target.mkdir(parents=True)
            os.link(folder / MANIFEST, target / MANIFEST)
            manifest = orjson.loads((target / MANIFEST).read_bytes())
            names = sorted(manifest.get("files") or {})
            for name in names:
                if not (folder / name).resolve().is_relative_to(folder.resolve()):
                    raise UnsafePath(f"refusing {name}: outside the dataset")
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                os.link(folder / name, target / name)
            if folder.stat().st_ino == before:
                return target, [*names, MANIFEST]
        except (OSError, orjson.JSONDecodeError):
            continue
    shutil.rmtree(target, ignore_errors=True)
    return None, []


class _Sink:
    """A write-only, unseekable file for zipfile: what is written is handed out in chunks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def zip_stream(folder: Path, names: list[str], *, remove_after: bool = False) -> Iterator[bytes]:
    sink = _Sink()
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[call-overload]
            for name in names:
                with open(folder / name, "rb") as source, archive.open(name, "w", force_zip64=True) as target:
                    while block := source.read(_ZIP_CHUNK):
                        target.write(block)
                        yield sink.take()
                yield sink.take()
        yield sink.take()
    finally:
        if remove_after:
            shutil.rmtree(folder, ignore_errors=True)


__all__ = ["STALE_DOWNLOAD_SECONDS", "remove_stale_snapshots", "snapshot_dataset", "zip_stream"]
