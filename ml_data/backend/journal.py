"""The changes heard since the last dataset, in a file every process sharing the folder appends to.

Several workers of one ML backend (or several hosts) each hear some of Label Studio's events; the
count that decides a training must be of all of them, so it is kept in the folder, not in memory.
Lines are JSON (:class:`~ml_data.backend.changes.Change`), appended under a short file lock; after
a build, the lines the new manifest shows are dropped (the file is rewritten aside and renamed).
A torn or foreign line is skipped when read.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
import orjson

from ml_data.backend.changes import Change, pending
from ml_data.errors import OutputError

#: How long an append or a rewrite waits for another process's.
LOCK_TIMEOUT = 60.0


class Journal:
    """``changes.jsonl`` in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "changes.jsonl"
        self._lock = filelock.FileLock(str(folder / "changes.lock"), timeout=LOCK_TIMEOUT)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._lock:
                yield
        except filelock.Timeout:
            raise OutputError(f"waited {LOCK_TIMEOUT:.0f} s for the lock {self._lock.lock_file}") from None

    def append(self, changes: Iterable[Change]) -> None:
        lines = b"".join(orjson.dumps(change.as_dict()) + b"\n" for change in changes)
        if not lines:
            return
        with self._locked():
            try:
                with open(self.path, "ab") as handle:
                    handle.write(lines)
            except OSError as exc:
                raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def read(self) -> list[Change]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutputError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        found = []
        for line in data.splitlines():
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            change = Change.from_dict(raw) if isinstance(raw, dict) else None
            if change is not None:
                found.append(change)
        return found

    def compact(self, manifest: Mapping[str, Any] | None) -> None:
        """Keep only the changes ``manifest`` does not show (latest one per annotation)."""
        with self._locked():
            kept = pending(self.read(), manifest)
            partial = self.folder / f".changes.{uuid.uuid4().hex[:12]}.partial"
            try:
                partial.write_bytes(b"".join(orjson.dumps(change.as_dict()) + b"\n" for change in kept))
                os.replace(partial, self.path)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise OutputError(f"cannot rewrite {self.path}: {exc.strerror or exc}") from None


__all__ = ["Journal"]
