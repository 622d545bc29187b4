"""A model's output (YOLO, COCO or Pascal VOC files) attached to Label Studio tasks as predictions.

    from ml_data import import_predictions
    report = import_predictions("runs/detect/predict", project=3, format="yolo",
                                dataset="datasets/project-3-yolo", model_version="yolo11n")

Modules, one concern each: :mod:`~.model` (what a model said about an image, as fractions of it),
:mod:`~.folder` (reading the output folder), :mod:`~.yolo`, :mod:`~.coco`, :mod:`~.voc` (the
readers), :mod:`~.classes` (class ids to names), :mod:`~.matching` (image to task),
:mod:`~.results` (detections to Label Studio results), :mod:`~.existing` (what the project
already holds), :mod:`~.post`, :mod:`~.report`, and
:mod:`~.importer` (the whole run).
"""

from ml_data.backend.predictions.importer import FORMATS, import_predictions
from ml_data.backend.predictions.report import ImportReport

__all__ = ["FORMATS", "ImportReport", "import_predictions"]
