"""Predict functions for ``ml-data predict --model tests.support.predict_models:NAME``."""

from __future__ import annotations

import os


def by_size(tasks):  # type: ignore[no-untyped-def]
    """One choice per task from its local file's size: proves the function was given a local path."""
    answers = []
    for task in tasks:
        path = task["data"]["image"]
        assert os.path.isabs(path) and os.path.isfile(path), path
        answers.append(
            {
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "rectanglelabels",
                        "original_width": 64,
                        "original_height": 48,
                        "value": {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["red"]},
                    }
                ],
                "score": min(1.0, os.path.getsize(path) / 10_000),
            }
        )
    return answers
