"""The sha256 of a file, read in blocks (memory bounded whatever its size)."""

from __future__ import annotations

import hashlib
import os

_BLOCK = 1024 * 1024


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def descriptor_sha256(fd: int) -> str:
    """The sha256 of an open file from its start, read with pread: the descriptor's position is
    left alone (a caller may be streaming from it)."""
    digest = hashlib.sha256()
    offset = 0
    while block := os.pread(fd, _BLOCK, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()
