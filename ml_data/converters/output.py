"""Output folders: which folder a run may replace, and replacing it atomically.

A run's output folder (a conversion's, a dataset's) is built aside and swapped in whole, so the
folder it replaces is deleted. :func:`check_output` refuses, before anything is read or written,
every folder whose loss the user did not ask for:

- a folder that holds something and was not written by ml-data (it has no :data:`MARKER`, the
  file every output gets);
- a folder that contains the export, the labeling config or the working directory (real paths
  compared, so ``.``, ``..``, symbolic links and other spellings of the same folder are caught);
- a path that exists and is not a folder.

>>> with atomic_folder(check_output("data/yolo", inputs=[("the export", "export.json")])) as folder:  # doctest: +SKIP
...     (folder / "classes.txt").write_text("cat\n")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ml_data.errors import ConfigurationError, OutputError

#: The file in every output folder ml-data writes: such a folder may be replaced by the next run.
MARKER = ".ml-data-output"
_MARKER_TEXT = "Written by ml-data. The next run that writes here replaces this whole folder.\n"

InputPath = str | os.PathLike[str]


def check_output(
    out: InputPath,
    *,
    inputs: Iterable[tuple[str, InputPath | None]] = (),
    owned: Callable[[Path], bool] | None = None,
    what: str = "output",
) -> Path:
    """The real path of ``out`` once it is known that replacing it destroys nothing else.

    ``inputs``: (what it is, path) of the files the run reads (the export, the config file);
    ``owned``: also accept a non-empty folder this says ml-data wrote (datasets written before the
    marker existed); ``what``: the kind of folder, for the message.
    Raises :class:`ConfigurationError` naming the folder and what it would destroy.
    """
    real = Path(os.path.realpath(out))
    protected: list[tuple[str, InputPath | None]] = [*inputs, ("the working directory", _cwd())]
    for name, path in protected:
        if path is not None and _contains(real, Path(os.path.realpath(path))):
            raise ConfigurationError(
                f"{out} contains {name} ({path}): replacing the folder would delete it; choose another folder"
            )
    if real.exists():
        if not real.is_dir():
            raise ConfigurationError(f"{out} exists and is not a folder: choose a new or empty folder")
        try:
            holds_something = any(real.iterdir())
        except OSError as exc:
            raise OutputError(f"{out} cannot be read: {exc.strerror or exc}") from None
        if holds_something and not (real / MARKER).is_file() and not (owned is not None and owned(real)):
            raise ConfigurationError(
                f"{out} exists and is not an ml-data {what} (no {MARKER}); it would be replaced: "
                "choose a new or empty folder"
            )
    return real


def _cwd() -> Path | None:
    try:
        return Path.cwd()
    except OSError:  # the working directory was removed: nothing left there to protect
        return None


def _contains(folder: Path, path: Path) -> bool:
    return folder == path or folder in path.parents


def _mark(building: Path, out: Path) -> None:
    """Put the marker in the new folder: the previous output's own file where there is one (an
    incremental run leaves unchanged files as they were, inode included), else a new one."""
    with contextlib.suppress(OSError):
        os.link(out / MARKER, building / MARKER, follow_symlinks=False)
        return
    (building / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def path_inputs(source: object) -> list[tuple[str, InputPath | None]]:
    """The export as an input to protect, when it is a file or folder (not task dicts)."""
    return [("the export", source)] if isinstance(source, str | os.PathLike) else []


@contextlib.contextmanager
def atomic_folder(out: InputPath) -> Iterator[Path]:
    """A temporary folder beside ``out``, moved into place (with :data:`MARKER`) only when the
    block succeeds.

    A failed run leaves ``out`` as it was (the previous output, or nothing). ``out`` is taken by
    its real path: a symbolic link to a folder replaces that folder, never the link. Callers
    check ``out`` first with :func:`check_output`.
    """
    out = Path(os.path.realpath(out))
    tag = uuid.uuid4().hex[:12]
    building = out.parent / f".{out.name}.building-{tag}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write beside {out}: {exc.strerror or exc}") from None
    try:
        yield building
        _mark(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{tag}"
    if out.exists():
        out.rename(old)
    building.rename(out)
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["MARKER", "atomic_folder", "check_output", "path_inputs"]
