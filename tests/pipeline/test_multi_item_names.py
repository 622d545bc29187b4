"""Files of one task that share a name (``page.png`` of three folders, under three keys or in two
lists): each gets its own ``media/`` copy, and the task data points at the right one."""

from __future__ import annotations

import json
from pathlib import Path

from ml_data.pipeline import DatasetOptions, fetch_export
from tests.support.multi_item import png


def test_three_files_of_one_task_with_one_name_get_three_media_copies(file_server, settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    bodies = {f"/{folder}/page.png": png(number) for number, folder in enumerate("abcde")}
    for path, body in bodies.items():
        file_server.add(path, body=body)
    url = file_server.url
    data = {
        "first": url("/a/page.png"),
        "second": url("/b/page.png"),
        "third": url("/c/page.png"),
        "left": [url("/d/page.png")],
        "right": [url("/e/page.png")],
    }
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": data, "annotations": [{"id": 1, "result": []}]}]))
    out = tmp_path / "out"
    fetch_export(export, format="json", out=out, settings=settings, options=DatasetOptions(format="json"))
    manifest = json.loads((out / "manifest.json").read_text())
    media = {path for path in manifest["files"] if path.startswith("media/")}
    assert len(media) == 5
    written = json.loads((out / "result.json").read_text())[0]["data"]
    for key, value in written.items():
        (path,) = [value] if isinstance(value, str) else value
        original = data[key] if isinstance(data[key], str) else data[key][0]
        assert path in media and (out / path).read_bytes() == bodies["/" + original.split("/", 3)[3]], key
