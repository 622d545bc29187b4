"""An ML backend on label-studio-ml's own app (``init_app``), run by tests/support/servers/ml_backend.py in
its own virtual environment (scripts/install-ml-backend.sh), with ml-data from the source tree.

The model reads every image through ``ml_data.get_local_path`` (as a backend switching from
label_studio_tools would) and predicts one box over the whole image, labelled by the image's
dominant colour channel ("red", "green" or "blue"), with the image's width as the score: a
prediction that could only come from the task's own bytes. Text tasks get the text's length as
their label. Every request's path, headers and body are appended to $ML_BACKEND_LOG (JSON lines),
so tests can check what the backend was sent. $ML_BACKEND_DELAY slows each /predict call.

    python ml_backend_app.py PORT MODEL_DIR
"""

from __future__ import annotations

import json
import os
import sys
import time

from flask import request
from label_studio_ml.api import init_app
from label_studio_ml.model import LabelStudioMLBase
from PIL import Image

from ml_data import get_local_path


class ColourModel(LabelStudioMLBase):
    def predict(self, tasks, **kwargs):  # type: ignore[no-untyped-def]
        delay = float(os.environ.get("ML_BACKEND_DELAY") or 0)
        if delay:
            time.sleep(delay)
        return [self._one(task) for task in tasks]

    def _one(self, task):  # type: ignore[no-untyped-def]
        data = task["data"]
        if "text" in data:
            return {
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["long" if len(data["text"]) > 8 else "short"]},
                    }
                ],
                "score": min(len(data["text"]), 100) / 100,
            }
        path = get_local_path(data["image"], task_id=task["id"])
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            width, height = rgb.size
            sums = [sum(band.getdata()) for band in rgb.split()]
        colour = ("red", "green", "blue")[sums.index(max(sums))]
        return {
            "result": [
                {
                    "from_name": "label",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    "original_width": width,
                    "original_height": height,
                    "value": {"x": 0, "y": 0, "width": 100, "height": 100, "rectanglelabels": [colour]},
                }
            ],
            "score": width / 1000,
        }


def main() -> None:
    port, model_dir = int(sys.argv[1]), sys.argv[2]
    app = init_app(ColourModel, model_dir=model_dir)
    log = os.environ.get("ML_BACKEND_LOG")

    @app.before_request
    def _record() -> None:
        if log:
            entry = {"path": request.path, "headers": dict(request.headers), "body": request.get_data(as_text=True)}
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
