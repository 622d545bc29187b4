"""Disk faults for tests: ENOSPC injected at the n-th step that needs room under a folder.

Patches the public boundary only (``open``, ``os.open``, ``os.write``, ``os.mkdir``, ``os.replace``,
``os.rename``), so the code under test is exercised as it runs against a full disk.
"""

from __future__ import annotations

import builtins
import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def temp_files(cache_dir: Path) -> list[Path]:
    """Temp files (downloads, metadata) left in a cache folder."""
    tmp = cache_dir / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


class Faults:
    """ENOSPC at the ``fail_at``-th write step into ``root`` (None: count the steps only).

    Steps are the system calls that need room: creating a file or folder, writing, renaming;
    and, for files opened with ``open``, each write, flush and close (which flushes).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path, fail_at: int | None) -> None:
        self.root, self.fail_at, self.steps = os.fspath(root), fail_at, 0
        self.fds: set[int] = set()
        real_open, real_os_open, real_write = builtins.open, os.open, os.write
        real_mkdir, real_replace, real_rename = os.mkdir, os.replace, os.rename

        def ours(path: object) -> bool:
            if not isinstance(path, str | os.PathLike):
                return False
            text = os.fspath(path)
            return text == self.root or text.startswith(self.root + os.sep)

        def os_open(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
            if ours(path) and flags & os.O_CREAT and not os.path.exists(path):
                self.step()
            fd = real_os_open(path, flags, mode, dir_fd=dir_fd)
            if ours(path):
                self.fds.add(fd)
            return fd

        def write(fd, data):  # type: ignore[no-untyped-def]
            if fd in self.fds:
                self.step()
            return real_write(fd, data)

        def open_(path, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
            if ours(path) and any(flag in mode for flag in "wxa+"):
                self.step()
                return _FaultyFile(real_open(path, mode, *args, **kwargs), self.step)
            return real_open(path, mode, *args, **kwargs)

        def step_before(real: Callable[..., object]) -> Callable[..., object]:
            def call(*args, **kwargs):  # type: ignore[no-untyped-def]
                if ours(args[0]):
                    self.step()
                return real(*args, **kwargs)

            return call

        def mkdir(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if ours(path) and not os.path.exists(path):  # an existing folder is EEXIST, full or not
                self.step()
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "mkdir", mkdir)
        monkeypatch.setattr(os, "replace", step_before(real_replace))
        monkeypatch.setattr(os, "rename", step_before(real_rename))

    def step(self) -> None:
        self.steps += 1
        if self.steps == self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FaultyFile:
    """A file object whose writes, flushes and close are steps (close still closes on failure)."""

    def __init__(self, real, step: Callable[[], None]) -> None:  # type: ignore[no-untyped-def]
        self._real, self._step = real, step

    def write(self, data: bytes) -> int:
        self._step()
        return self._real.write(data)  # type: ignore[no-any-return]

    def flush(self) -> None:
        self._step()
        self._real.flush()

    def close(self) -> None:
        if self._real.closed:
            return
        try:
            self._step()
        finally:
            self._real.close()

    def __enter__(self) -> _FaultyFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def count_steps(monkeypatch: pytest.MonkeyPatch, root: Path, action: Callable[[], object]) -> int:
    with monkeypatch.context() as patch:
        faults = Faults(patch, root, None)
        action()
    return faults.steps


__all__ = ["Faults", "count_steps", "temp_files"]
