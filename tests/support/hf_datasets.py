"""The datasets library reading a folder as its users do: ``load_dataset("imagefolder" |
"audiofolder", data_dir=...)``, its cache under the test's own folder.

datasets 5 encodes an Audio column through torchcodec (and torch) even when it only records the
file's path; neither is installed for the suite. Audio folders are therefore loaded with an
Audio feature that records the path without importing them: which folders are splits, how the
metadata is read and typed, and how ``file_name`` becomes the file's path are datasets' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

datasets = pytest.importorskip("datasets")


@dataclass
class PathAudio(datasets.Audio):  # type: ignore[misc,name-defined]
    """datasets' Audio feature, the path recorded without torchcodec (see the module)."""

    def encode_example(self, value: Any) -> dict[str, Any]:
        assert isinstance(value, str), value
        return {"bytes": None, "path": value}


def load_folder(kind: str, folder: Path, cache: Path) -> Any:
    """The ``DatasetDict`` datasets makes of ``folder`` (``kind``: imagefolder or audiofolder)."""
    datasets.disable_progress_bars()
    features = None
    if kind == "audiofolder":
        features = datasets.Features({"audio": PathAudio(decode=False), "transcription": datasets.Value("string")})
    return datasets.load_dataset(kind, data_dir=str(folder), cache_dir=str(cache), features=features)


def rows(split: Any) -> list[dict[str, Any]]:
    """A split's rows without decoding the media (paths only)."""
    column = "image" if "image" in split.features else "audio"
    kind = datasets.Image if column == "image" else PathAudio
    return list(split.cast_column(column, kind(decode=False)))
