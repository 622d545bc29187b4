"""What the readers find in a dataset's files, and what :func:`~ml_data.stats.dataset_stats` makes
of it: frozen values, and the stable JSON form of the result.

Readers give :class:`ImageEntry` (one image of a split, its objects measured in pixels) and
:class:`Problem` (what a file of the dataset gets wrong); :mod:`ml_data.stats.compute` turns them
into a :class:`DatasetStats`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The version of :meth:`DatasetStats.as_dict`'s schema: raised when a field changes meaning or
#: goes away (new fields may be added without it).
STATS_VERSION = 1

#: How many example files a finding keeps.
EXAMPLES = 10


# -- what the readers give -----------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """One object of an image as its annotation file gives it. ``width`` and ``height`` are its
    sides in pixels (a rotated box's own sides; a polygon's enclosing box), None where they cannot
    be measured (the image's size is unknown, or the geometry is unusable, said by a
    :class:`Problem`); ``outside`` says whether any of it lies beyond the image."""

    label: str
    width: float | None = None
    height: float | None = None
    outside: bool = False


@dataclass(frozen=True)
class ImageEntry:
    """One image of a split: its file (relative to the dataset folder), the sha256 of that file
    (None when it could not be read, said by a :class:`Problem`), and its objects."""

    split: str
    path: str
    sha256: str | None
    objects: tuple[Box, ...] = ()
    #: the image's segmentation mask, when the dataset has one for it: pixels per class
    #: (background and void left out)
    mask: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Problem:
    """What a file of the dataset gets wrong: ``reason`` is the kind of fault (findings group on
    it), ``detail`` this occurrence's particulars."""

    path: str
    reason: str
    split: str | None = None
    line: int | None = None
    detail: str | None = None

    def where(self) -> str:
        """``labels/train/a.txt:3 (class 7)``."""
        place = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{place} ({self.detail})" if self.detail else place


@dataclass(frozen=True)
class Listing:
    """A dataset as a reader sees it: its format, declared classes (in id order), split names
    (in order) and, read lazily, its images and problems."""

    format: str
    classes: tuple[str, ...]
    splits: tuple[str, ...]
    records: Iterable[ImageEntry | Problem]
    #: the layout has segmentation masks (their counts are given, zeros included)
    masks: bool = False


# -- what dataset_stats returns ------------------------------------------------------------------


@dataclass(frozen=True)
class SplitStats:
    """The counts of one split (or, as :attr:`DatasetStats.overall`, of all of them).

    ``instances`` has every class, 0 included; ``skew`` is the largest class's instances over the
    smallest's among the classes present (None without any object): a class with no instance is
    said by ``missing_classes`` instead. A box is small when a side is under the run's
    ``min_box_pixels``; ``unmeasured_boxes`` could not be measured (no image size)."""

    name: str
    images: int
    empty_images: int
    objects: int
    small_boxes: int
    outside_boxes: int
    unmeasured_boxes: int
    instances: Mapping[str, int]
    missing_classes: tuple[str, ...]
    skew: float | None
    #: images with a segmentation mask, and the mask pixels of each class (None: the dataset has
    #: no masks; VOC's ``SegmentationClass/``)
    mask_images: int | None = None
    mask_pixels: Mapping[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        masks = (
            {} if self.mask_pixels is None else {"mask_images": self.mask_images, "mask_pixels": dict(self.mask_pixels)}
        )
        return {
            "name": self.name,
            "images": self.images,
            "empty_images": self.empty_images,
            "objects": self.objects,
            "small_boxes": self.small_boxes,
            "outside_boxes": self.outside_boxes,
            "unmeasured_boxes": self.unmeasured_boxes,
            "instances": dict(self.instances),
            "missing_classes": list(self.missing_classes),
            "skew": self.skew,
            **masks,
        }


@dataclass(frozen=True)
class ItemRef:
    """An image of a split, by its file."""

    split: str
    path: str


@dataclass(frozen=True)
class DuplicateGroup:
    """Images whose files have the same content (sha256). A group spanning splits is a leak:
    the model is evaluated on what it was trained on."""

    sha256: str
    files: tuple[ItemRef, ...]

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.split for item in self.files))

    @property
    def leak(self) -> bool:
        return len(self.splits) > 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "leak": self.leak,
            "files": [{"split": item.split, "path": item.path} for item in self.files],
        }


@dataclass(frozen=True)
class Finding:
    """Something to look at before training. ``kind`` is one of :data:`FINDING_KINDS`; ``split``
    is None for what concerns the whole dataset; ``count`` is how many images, boxes, files or
    lines it concerns, ``examples`` some of them (at most :data:`EXAMPLES`)."""

    kind: str
    message: str
    split: str | None = None
    count: int = 1
    examples: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "split": self.split,
            "count": self.count,
            "message": self.message,
            "examples": list(self.examples),
        }


#: Every kind of finding, in the order they are listed.
FINDING_KINDS = (
    "malformed",
    "leak",
    "duplicate",
    "missing-class",
    "unused-class",
    "empty-images",
    "small-boxes",
    "outside-boxes",
    "skew",
)


@dataclass(frozen=True)
class DatasetStats:
    """A look at a dataset before training: see :func:`ml_data.stats.dataset_stats`."""

    path: str
    format: str
    #: the sha256s and split names came from the dataset's manifest.json
    manifest: bool
    min_box_pixels: float
    classes: tuple[str, ...]
    splits: tuple[SplitStats, ...]
    overall: SplitStats
    unused_classes: tuple[str, ...]
    duplicates: tuple[DuplicateGroup, ...]
    findings: tuple[Finding, ...]

    def split(self, name: str) -> SplitStats:
        """The split called ``name`` (KeyError if there is none)."""
        for split in self.splits:
            if split.name == name:
                return split
        raise KeyError(name)

    @property
    def leaks(self) -> tuple[DuplicateGroup, ...]:
        return tuple(group for group in self.duplicates if group.leak)

    def problems(self) -> tuple[Finding, ...]:
        """The ``malformed`` findings: files of the dataset that could not be read as they should."""
        return tuple(finding for finding in self.findings if finding.kind == "malformed")

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``ml-data stats --json``); its schema is versioned by ``stats_version``."""
        return {
            "stats_version": STATS_VERSION,
            "path": self.path,
            "format": self.format,
            "manifest": self.manifest,
            "min_box_pixels": self.min_box_pixels,
            "classes": list(self.classes),
            "splits": [split.as_dict() for split in self.splits],
            "overall": self.overall.as_dict(),
            "unused_classes": list(self.unused_classes),
            "duplicates": [group.as_dict() for group in self.duplicates],
            "findings": [finding.as_dict() for finding in self.findings],
        }


__all__ = [
    "EXAMPLES",
    "FINDING_KINDS",
    "STATS_VERSION",
    "Box",
    "DatasetStats",
    "DuplicateGroup",
    "Finding",
    "ImageEntry",
    "ItemRef",
    "Listing",
    "Problem",
    "SplitStats",
]
