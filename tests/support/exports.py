"""Synthetic Label Studio exports, deterministic by seed: NER texts and images with boxes; brush
results of given masks.

Used by the differential tests (small) and the converter benchmarks (100k tasks).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

WORDS = "the a quick brown fox jumps over lazy dog in Paris with Anna and Google on Monday".split()
NER_LABELS = ["PER", "ORG", "LOC", "DATE"]
BOX_LABELS = ["cat", "dog", "car", "person", "bicycle"]

NER_CONFIG = (
    "<View><Text name='text' value='$text'/><Labels name='label' toName='text'>"
    + "".join(f"<Label value='{label}'/>" for label in NER_LABELS)
    + "</Labels><Choices name='sentiment' toName='text'><Choice value='pos'/><Choice value='neg'/></Choices></View>"
)
IMAGE_CONFIG = (
    "<View><Image name='image' value='$image'/><RectangleLabels name='label' toName='image'>"
    + "".join(f"<Label value='{label}'/>" for label in BOX_LABELS)
    + "</RectangleLabels></View>"
)


def _annotation(rng: random.Random, task_id: int, index: int, result: list) -> dict:
    return {
        "id": task_id * 10 + index,
        "completed_by": rng.choice([1, 2, {"id": 3, "email": "c@example.com"}]),
        "result": result,
        "was_cancelled": False,
        "ground_truth": index == 0,
        "created_at": f"2026-0{1 + index}-0{1 + task_id % 9}T10:00:00Z",
        "updated_at": f"2026-0{1 + index}-0{1 + task_id % 9}T11:00:00Z",
        "lead_time": round(rng.uniform(1, 60), 3),
    }


def ner_task(rng: random.Random, task_id: int, *, annotations: int = 1) -> dict:
    # Some punctuation, as real text has (it sends the tokenizer down its full Treebank path).
    words = [
        rng.choice(WORDS) + (rng.choice([",", ".", ""]) if rng.random() < 0.15 else "")
        for _ in range(rng.randint(5, 25))
    ]
    text = " ".join(words)
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    anns = []
    for index in range(annotations):
        result = []
        position = 0
        while position < len(words):
            if rng.random() < 0.3:
                length = rng.randint(1, 3)
                end_word = min(position + length, len(words)) - 1
                start, end = starts[position], starts[end_word] + len(words[end_word])
                result.append(
                    {
                        "id": f"r{task_id}_{index}_{position}",
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",
                        "value": {
                            "start": start,
                            "end": end,
                            "text": text[start:end],
                            "labels": [rng.choice(NER_LABELS)],
                        },
                    }
                )
                position = end_word + 2
            else:
                position += 1
        result.append(
            {
                "id": f"s{task_id}_{index}",
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [rng.choice(["pos", "neg"])]},
            }
        )
        anns.append(_annotation(rng, task_id, index, result))
    return {
        "id": task_id,
        "data": {"text": text, "meta": {"source": "gen", "n": task_id}},
        "annotations": anns,
        "predictions": [],
    }


def image_task(rng: random.Random, task_id: int, *, boxes: int = 5) -> dict:
    width, height = rng.choice([(640, 480), (1920, 1080), (800, 800)])
    result = [
        {
            "id": f"b{task_id}_{n}",
            "from_name": "label",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "value": {
                "x": round(rng.uniform(0, 80), 4),
                "y": round(rng.uniform(0, 80), 4),
                "width": round(rng.uniform(1, 20), 4),
                "height": round(rng.uniform(1, 20), 4),
                "rotation": 0,
                "rectanglelabels": [rng.choice(BOX_LABELS)],
            },
        }
        for n in range(boxes)
    ]
    return {
        "id": task_id,
        "data": {"image": f"/data/upload/1/img_{task_id:06d}.jpg"},
        "annotations": [_annotation(rng, task_id, 0, result)],
        "predictions": [],
    }


def brush_result(region_id: str, mask: Any, label: str, from_name: str = "brush") -> dict:
    """A ``brushlabels`` result on ``image`` holding ``mask`` (a 2-D uint8 array) as Label Studio's RLE."""
    from ml_data.converters.brush_rle import rle_from_mask

    height, width = mask.shape
    return {
        "id": region_id,
        "from_name": from_name,
        "to_name": "image",
        "type": "brushlabels",
        "original_width": width,
        "original_height": height,
        "value": {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": [label]},
    }


def tasks(kind: str, count: int, seed: int = 0, **kwargs: int) -> Iterator[dict]:
    rng = random.Random(seed)
    make = ner_task if kind == "ner" else image_task
    for task_id in range(1, count + 1):
        yield make(rng, task_id, **kwargs)


def write_export(path: Path, kind: str, count: int, seed: int = 0, **kwargs: int) -> Path:
    """Write a JSON-list export one task at a time (memory flat even for 100k tasks)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[")
        for index, task in enumerate(tasks(kind, count, seed, **kwargs)):
            handle.write(("," if index else "") + json.dumps(task))
        handle.write("]")
    return path
