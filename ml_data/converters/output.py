"""Output folders: which folder a run may replace.

A run's output folder (a conversion's, a dataset's) is built aside and swapped in whole
(:func:`ml_data.fsutil.atomic_folder`), so the folder it replaces is deleted.
:func:`check_output` refuses, before anything is read or written, every folder whose loss the
user did not ask for:

- a folder that holds something and was not written by ml-data (it has no :data:`MARKER`, the
  file every output gets);
- a folder that contains the export, the labeling config or the working directory (real paths
  compared, so ``.``, ``..``, symbolic links and other spellings of the same folder are caught);
- a path that exists and is not a folder.

>>> with atomic_folder(check_output("data/yolo", inputs=[("the export", "export.json")])) as folder:  # doctest: +SKIP
...     (folder / "classes.txt").write_text("cat\n")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ml_data.errors import ConfigurationError, OutputError
from ml_data.fsutil import MARKER

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


def path_inputs(source: object) -> list[tuple[str, InputPath | None]]:
    """The export as an input to protect, when it is a file or folder (not task dicts)."""
    return [("the export", source)] if isinstance(source, str | os.PathLike) else []


__all__ = ["check_output", "path_inputs"]
