"""A look at a dataset before training: ``dataset_stats(path)`` and ``ml-data stats DATASET``.

For a dataset folder in the standard layout ml-data writes (COCO, the four YOLO variants, VOC,
hf-imagefolder): per split, the images, the instances of each class, the images without objects,
the boxes with a side under ``min_box_pixels`` or reaching outside their image, the classes
missing from a split that others have, and the class skew; across splits, the files with the same content (sha256), a
file in two splits being a leak. The dataset's ``manifest.json``, when it has one, gives the
format, the split names and the sha256s (of the files it still describes); otherwise the layout
is read as it is.

Nothing in the folder is trusted: files are opened beneath it (:mod:`~ml_data.stats.files`), the
XML is parsed with defusedxml, and what a file gets wrong is a ``malformed`` finding naming it, or
an :class:`~ml_data.errors.InvalidDataset` when the layout itself cannot be read.

Modules: :mod:`~ml_data.stats.model` (the frozen results and their JSON form), one reader per
format (:mod:`~ml_data.stats.coco`, :mod:`~ml_data.stats.yolo`, :mod:`~ml_data.stats.voc`,
:mod:`~ml_data.stats.hf_imagefolder`) and :mod:`~ml_data.stats.layout` choosing among them,
:mod:`~ml_data.stats.compute` (the counting), :mod:`~ml_data.stats.rules` (``--fail-on``).
"""

from __future__ import annotations

import math
import os

from ml_data.errors import ConfigurationError
from ml_data.stats.compute import SKEW_FINDING, compute
from ml_data.stats.files import DatasetFiles
from ml_data.stats.layout import READERS, read_listing
from ml_data.stats.model import (
    FINDING_KINDS,
    STATS_VERSION,
    DatasetStats,
    DuplicateGroup,
    Finding,
    ItemRef,
    SplitStats,
)
from ml_data.stats.rules import RULES, Fired, Rule, check, parse_rule

#: A box with a side under this many pixels is small: on most images a slip of the mouse, not an
#: object (and under a pixel once a detector scales a 1920-pixel image to 640).
DEFAULT_MIN_BOX_PIXELS = 4.0


def dataset_stats(path: str | os.PathLike[str], *, min_box_pixels: float = DEFAULT_MIN_BOX_PIXELS) -> DatasetStats:
    """The statistics and findings of the dataset folder at ``path``.

    >>> stats = dataset_stats("datasets/project-3-coco")  # doctest: +SKIP
    >>> stats.split("val").missing_classes, [group.splits for group in stats.leaks]  # doctest: +SKIP
    (('bird',), [('train', 'val')])
    """
    if isinstance(min_box_pixels, bool) or not isinstance(min_box_pixels, int | float):
        raise ConfigurationError(f"min_box_pixels must be a number, got {min_box_pixels!r}")
    if not math.isfinite(min_box_pixels) or min_box_pixels < 0:
        raise ConfigurationError(f"min_box_pixels must be 0 or more, got {min_box_pixels!r}")
    files = DatasetFiles.at(path)
    listing = read_listing(files)
    return compute(
        listing, path=str(files.root), manifest=files.manifest is not None, min_box_pixels=float(min_box_pixels)
    )


__all__ = [
    "DEFAULT_MIN_BOX_PIXELS",
    "FINDING_KINDS",
    "READERS",
    "RULES",
    "SKEW_FINDING",
    "STATS_VERSION",
    "DatasetStats",
    "DuplicateGroup",
    "Finding",
    "Fired",
    "ItemRef",
    "Rule",
    "SplitStats",
    "check",
    "dataset_stats",
    "parse_rule",
]
