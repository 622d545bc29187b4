"""Which reader reads a dataset folder: the manifest's format when the dataset has one, otherwise
what its files show. One row per format, as the converters' registry."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from types import MappingProxyType

from ml_data.errors import InvalidDataset
from ml_data.stats.coco import read_coco
from ml_data.stats.files import DatasetFiles
from ml_data.stats.hf_imagefolder import read_hf_imagefolder, split_folders
from ml_data.stats.model import Listing
from ml_data.stats.voc import read_voc
from ml_data.stats.yolo import read_yolo

#: format -> its reader (the standard layouts fetch writes)
READERS: Mapping[str, Callable[[DatasetFiles, str], Listing]] = MappingProxyType(
    {
        "coco": read_coco,
        "voc": read_voc,
        "yolo": read_yolo,
        "yolo-obb": read_yolo,
        "yolo-seg": read_yolo,
        "yolo-pose": read_yolo,
        "hf-imagefolder": read_hf_imagefolder,
    }
)


def read_listing(files: DatasetFiles) -> Listing:
    """The dataset in ``files``, read by the reader of its format; an :class:`InvalidDataset`
    saying why when there is none."""
    manifest = files.manifest
    if manifest is not None and manifest.layout == "label-studio":
        raise InvalidDataset(
            f"{files.root} has Label Studio's layout; stats reads the standard one (fetch's default, "
            "or convert --layout standard)"
        )
    name = manifest.format if manifest is not None and manifest.format else detect(files)
    reader = READERS.get(name)
    if reader is None:
        raise InvalidDataset(f"stats reads {', '.join(READERS)} datasets; {files.root} is {name}")
    listing = reader(files, name)
    if files.manifest_problem is None:
        return listing
    return dataclasses.replace(listing, records=itertools.chain((files.manifest_problem,), listing.records))


def detect(files: DatasetFiles) -> str:
    """The format a folder without a manifest has, by the files its standard layout has."""
    if any(name.startswith("instances_") and name.endswith(".json") for name in files.listing("annotations")[0]):
        return "coco"
    if files.is_dir("Annotations") and files.is_dir("ImageSets/Main"):
        return "voc"
    top = files.listing("")[0]
    if files.is_dir("labels") or (files.is_dir("images") and ("classes.txt" in top or "data.yaml" in top)):
        return "yolo"
    if "classes.txt" in top and split_folders(files):
        return "hf-imagefolder"
    if "result.json" in top or files.is_dir("Annotations"):
        raise InvalidDataset(
            f"{files.root} has Label Studio's layout; stats reads the standard one (fetch's default, "
            "or convert --layout standard)"
        )
    raise InvalidDataset(
        f"{files.root} is not a COCO (annotations/instances_*.json), VOC (Annotations/, ImageSets/Main/), "
        "YOLO (images/, labels/) or hf-imagefolder (<split>/metadata.jsonl, classes.txt) dataset in the "
        "standard layout"
    )


__all__ = ["READERS", "detect", "read_listing"]
