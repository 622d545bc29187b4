"""fetch names files several tasks share as convert does, whatever the order of the export: the
lowest task id keeps the name, the others get ``__task<id>`` (their label files, their images,
and the ``media/`` copies of formats that keep the task data)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ml_data.pipeline import fetch_export
from tests.support.label_studio_project import CONFIG, png
from tests.support.servers.http_files import FileServer, Route


def _task(task_id: int, url: str) -> dict:
    box = {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0, "rectanglelabels": ["cat"]}
    region = {"id": "r", "from_name": "label", "to_name": "image", "type": "rectanglelabels", "value": box}
    region.update(original_width=16, original_height=12)
    return {"id": task_id, "data": {"image": url}, "annotations": [{"id": task_id, "result": [region]}]}


def _dataset(out: Path) -> dict[str, tuple]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {name: (entry["sha256"], entry.get("task")) for name, entry in manifest["files"].items()}


@pytest.mark.parametrize("fmt", ["yolo", "json"])
def test_shared_names_do_not_depend_on_the_order_of_the_export(tmp_path, settings, fmt):
    ids = random.Random(3).sample(range(1, 1000), 12)
    with FileServer() as files:
        tasks = []
        for number, task_id in enumerate(ids):
            files.add(f"/f{number}/a.png", Route(body=png((number * 20, 5, 5), (16, 12))))
            tasks.append(_task(task_id, files.url(f"/f{number}/a.png")))
        results = []
        for attempt in range(3):
            random.Random(attempt).shuffle(tasks)
            export = tmp_path / f"export{attempt}.json"
            export.write_text(json.dumps(tasks))
            fetch_export(export, format=fmt, out=tmp_path / f"out{attempt}", config=CONFIG, settings=settings)
            results.append(_dataset(tmp_path / f"out{attempt}"))
    media = "images" if fmt == "yolo" else "media"
    assert results[0][f"{media}/a.png"][1] == min(ids)
    assert {f"{media}/a__task{task_id}.png" for task_id in ids if task_id != min(ids)} <= set(results[0])
    # Every file the same, at the same name, from the same task; JSON's list follows the export.
    same = [{name: entry for name, entry in result.items() if name != "result.json"} for result in results]
    assert same[1:] == [same[0], same[0]]
    if fmt == "yolo":
        assert results[1:] == [results[0], results[0]]
