"""A model's output folder -> predictions on the project's tasks.

Read every item of the folder (:mod:`~.yolo`, :mod:`~.coco`, :mod:`~.voc`), match its image to a
task (:mod:`~.matching`), turn its detections into Label Studio results with the project's own
control names (:mod:`~.results`), and only then post them all (:mod:`~.post`) or write them to a
file (a dry run). With the error policy ``fail`` a bad item stops the run before anything is
posted; with ``skip`` it is left out and named in the report. What the project already holds
(:mod:`~.existing`) is not posted again, so a run repeated adds nothing.

A task that shows several images (Repeater pages, a ``valueList``) gets one prediction holding
the results of all its images, each on its own item.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_data.backend.predictions.classes import read_class_names
from ml_data.backend.predictions.coco import coco_files, read_coco
from ml_data.backend.predictions.existing import delete_prediction, existing_predictions, same_result
from ml_data.backend.predictions.matching import Candidate, TaskIndex, item_text
from ml_data.backend.predictions.model import ImageItem, Item, ItemProblem, Unreadable, shown
from ml_data.backend.predictions.post import Prediction, post_predictions
from ml_data.backend.predictions.report import ERROR_POLICIES, ImportReport
from ml_data.backend.predictions.results import Targets, prediction_results, prediction_score
from ml_data.backend.predictions.voc import read_voc
from ml_data.backend.predictions.yolo import VARIANTS, label_root, read_yolo
from ml_data.config import Settings
from ml_data.converters.base import check_choice
from ml_data.converters.categories import SHAPE_TAGS, categories
from ml_data.converters.images import image_tag
from ml_data.errors import ConfigurationError, NotFound, OutputError, UnknownFormat
from ml_data.jsonio import dumps
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline.manifest import read_manifest
from ml_data.tasks.label_config import LabelConfig, ObjectTag, parse_label_config
from ml_data.tasks.resources import object_items

FORMATS = (*VARIANTS, "coco", "voc")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def import_predictions(
    folder: str | os.PathLike[str],
    *,
    project: int,
    format: str,
    model_version: str | None = None,
    dataset: str | os.PathLike[str] | None = None,
    dry_run: str | os.PathLike[str] | None = None,
    on_error: str = "fail",
    replace: bool = False,
    settings: Settings | None = None,
) -> ImportReport:
    """Attach a model's output in ``folder`` (``format``: yolo, yolo-obb, yolo-seg, coco or voc) to
    the tasks of ``project`` as predictions of ``model_version``.

    ``dataset``: the dataset ml-data fetched that the model ran on (default: ``folder``), whose
    ``manifest.json`` maps images to tasks and whose ``classes.txt``/``data.yaml``/COCO file name
    the classes; without a manifest, images are matched by the file names of the tasks' images.
    ``dry_run``: write the predictions to this JSON file (what the import API takes) instead of
    posting them. A prediction whose task already holds one of the same ``model_version`` with an
    equal result is left out (``report.already_posted``); ``replace``: that version's predictions
    of the tasks imported are deleted first instead (``report.replaced``; a dry run deletes nothing).

    >>> report = import_predictions("runs/detect/predict", project=3, format="yolo",
    ...                             dataset="datasets/project-3-yolo", model_version="yolo11n")  # doctest: +SKIP
    >>> report.posted, dict(report.skipped)  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise UnknownFormat(f"cannot import predictions from {format!r}: the formats are {', '.join(FORMATS)}")
    check_choice("on_error", on_error, ERROR_POLICIES)
    source = Path(folder)
    if not source.exists():
        raise NotFound(f"no such folder or file: {source}")
    reference = Path(dataset) if dataset is not None else (source if source.is_dir() else source.parent)
    settings = settings or Settings.from_env()
    client = LabelStudioClient(settings)
    config_xml = client.project(project).label_config
    config = parse_label_config(config_xml)
    targets = Targets.from_config(config)  # before anything is read: the config must take boxes
    report = ImportReport(str(source), format, project, model_version, on_error=on_error)
    index = _task_index(client, project, reference, config, report)
    items = _items(source, format, reference, config, report)
    predictions = list(_predictions(items, index, targets, report, _Sizes(source, reference)))
    report.predictions = len(predictions)
    predictions = _not_yet_posted(client, project, predictions, report, replace=replace, dry_run=dry_run is not None)
    if dry_run is not None:
        _write(Path(dry_run), [prediction.body for prediction in predictions])
        report.dry_run = str(dry_run)
    else:
        post_predictions(client, project, predictions, report)
    return report


def _not_yet_posted(
    client: LabelStudioClient,
    project: int,
    predictions: list[Prediction],
    report: ImportReport,
    *,
    replace: bool,
    dry_run: bool,
) -> list[Prediction]:
    """The predictions still to post: the version's old ones deleted first (``replace``, not in
    a dry run), else those Label Studio already holds, the same result on the same task, left out."""
    held = existing_predictions(client, project, {prediction.task for prediction in predictions}, report.model_version)
    if replace:
        if not dry_run:
            for old in (old for olds in held.values() for old in olds):
                delete_prediction(client, old)
                report.replaced += 1
        return predictions
    kept = []
    for prediction in predictions:
        if any(same_result(prediction.body["result"], old.result) for old in held.get(prediction.task, ())):
            report.already_posted += 1
        else:
            kept.append(prediction)
    return kept


def _task_index(
    client: LabelStudioClient, project: int, reference: Path, config: LabelConfig, report: ImportReport
) -> TaskIndex:
    manifest = read_manifest(reference) if reference.is_dir() else None
    if manifest is not None:
        fetched_from = (manifest.get("source") or {}).get("project")
        if fetched_from is not None and fetched_from != project:
            raise ConfigurationError(
                f"the dataset {reference} was fetched from project {fetched_from}, not project {project}: "
                "its manifest maps images to another project's tasks"
            )
        index = TaskIndex.from_manifest(manifest)
    else:
        index = TaskIndex.from_tasks(_task_images(client, project, image_tag(config)))
    report.matched_by = index.by
    return index


def _task_images(
    client: LabelStudioClient, project: int, tag: ObjectTag | None
) -> Iterator[tuple[int, str, tuple[int, ...]]]:
    """(task id, image URL, item) of every image of every task of the project, page by page: the
    images of the config's first Image tag, as the image formats write them."""
    if tag is None:
        return
    page, seen = 1, 0
    while True:
        tasks, total = client.task_page(project, page=page, page_size=100)
        for task in tasks:
            task_id = task.get("id")
            if not isinstance(task_id, int) or isinstance(task_id, bool):
                continue
            for item, url in object_items(task.get("data"), tag):
                if isinstance(url, str):
                    yield task_id, url, item
        seen += len(tasks)
        if not tasks or seen >= total:
            return
        page += 1


def _items(source: Path, format: str, reference: Path, config: LabelConfig, report: ImportReport) -> Iterator[Item]:
    if format == "voc":
        return read_voc(source)
    if format == "coco":
        root = source if source.is_dir() else source.parent
        return read_coco(coco_files(source), root, coco_files(reference) if reference.exists() else [])
    return read_yolo(source, format, _class_names(source, reference, config, report))


def _class_names(source: Path, reference: Path, config: LabelConfig, report: ImportReport) -> tuple[str, ...]:
    """YOLO's class names: the folder's or the dataset's classes.txt / data.yaml, else the ids
    ml-data's YOLO export gives the config's labels (alphabetical)."""
    found = read_class_names(list(dict.fromkeys([source, reference])))
    if found is not None:
        names, path = found
        report.classes_from = str(path)
        return names
    ids = categories(config, tags=tuple(tag for tag in SHAPE_TAGS if tag != "KeyPointLabels"))
    by_id = {index: name for name, index in ids.items()}
    report.classes_from = "labeling config"
    report.warn(
        "no classes.txt or data.yaml: class ids read as ml-data's YOLO export numbers the config's labels "
        "(alphabetical, explicit category= kept)"
    )
    return tuple(by_id.get(index, "") for index in range(max(by_id, default=-1) + 1))


def _predictions(
    items: Iterator[Item], index: TaskIndex, targets: Targets, report: ImportReport, sizes: _Sizes
) -> Iterator[Prediction]:
    """One prediction per task, in the order tasks are first met, with the results of every image
    of the task (one image per item: a second one for the same item is that item's problem)."""
    taken: dict[tuple[int, tuple[int, ...]], str] = {}
    tasks: dict[int, list[tuple[ImageItem, list[dict[str, Any]]]]] = {}
    for item in items:
        report.items += 1
        if isinstance(item, Unreadable):
            report.problem(item.source, item.reason)
            continue
        try:
            candidate = index.match(item)
            place = (candidate.task, candidate.item)
            if place in taken:
                image = f"image {item_text(candidate.item)} of task" if candidate.item else "task"
                raise ItemProblem(f"{image} {candidate.task} already has a prediction from {shown(taken[place])}")
            size = item.size or sizes.of(item, candidate)
            results = prediction_results(item, size, targets, candidate.task, candidate.item)
        except ItemProblem as exc:
            report.problem(item.source, str(exc))
            continue
        taken[place] = item.source
        tasks.setdefault(candidate.task, []).append((item, results))
    for task, parts in tasks.items():
        results = [result for _item, found in parts for result in found]
        body: dict[str, Any] = {"task": task, "result": results}
        score = prediction_score(*(image for image, _found in parts))
        if score is not None:
            body["score"] = score
        if report.model_version is not None:
            body["model_version"] = report.model_version
        report.regions += len(results)
        sources = ", ".join(image.source for image, _found in parts)
        # A result named for a Repeater's page (labels_2 for labels_{{idx}}) is not a tag of the config as written.
        repeated = any(result["from_name"] not in targets.names for result in results)
        yield Prediction(sources, task, body, one_by_one=repeated)


@dataclass(frozen=True)
class _Sizes:
    """Image sizes for formats without them (YOLO): from the image file, the dataset's copy (by
    the manifest), else an image of the same stem in ``images/`` beside ``labels/`` or in the
    folder itself (where Ultralytics' predict writes its drawn images, of the same size)."""

    source: Path
    dataset: Path

    def of(self, item: ImageItem, candidate: Candidate) -> tuple[int, int] | None:
        paths: list[Path] = []
        if candidate.path is not None and _inside(candidate.path):
            paths.append(self.dataset / candidate.path)
        relative = Path(item.source)
        if self.source.is_dir() and label_root(self.source) != self.source and relative.parts[:1] == ("labels",):
            # images/ beside labels/ (a dataset), or the folder itself (Ultralytics' predict output)
            inner = relative.relative_to("labels")
            for folder in (self.source / "images", self.source):
                paths += [folder / inner.with_suffix(extension) for extension in _IMAGE_EXTENSIONS]
        for path in paths:
            size = _measure(path)
            if size is not None:
                return size
        return None


def _inside(relative: str) -> bool:
    """A manifest's file path that stays inside the dataset (no ``..``, not absolute)."""
    parts = relative.split("/")
    return not relative.startswith("/") and "\\" not in relative and ".." not in parts and "" not in parts


def _measure(path: Path) -> tuple[int, int] | None:
    """An image's width and height from its header (None when it is not a readable image)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _write(path: Path, predictions: list[Mapping[str, Any]]) -> None:
    """The dry run's file, complete or not at all (a temp file beside it, then renamed)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(dumps(predictions, indent=True))
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
