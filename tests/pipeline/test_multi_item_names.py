"""Files of one task that share a name (``page.png`` of three folders, under three keys or in two
lists): each gets its own ``media/`` copy, and the task data points at the right one."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.pipeline import DatasetOptions, fetch_export
from ml_data.pipeline.placing import MediaLinks
from ml_data.pipeline.tasks import TaskInfo
from ml_data.tasks.resources import find_resources, task_resources
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


URLS = st.builds("s3://b/{}/{}".format, st.sampled_from("abc"), st.sampled_from(["page.png", "page.jpg", "p.png"]))
DATA = st.recursive(
    URLS | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["k", "l", "m.n", "[0]"]), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["image", "pages", "x.y"]), DATA, min_size=1), min_size=1, max_size=3))
def test_every_file_of_every_task_has_a_media_path_of_its_own(datas):
    tasks = {
        str(number): TaskInfo("f", [], task_resources(data, None), None, True) for number, data in enumerate(datas)
    }
    links = MediaLinks(tasks, None, lambda url, task: True)
    owner: dict[str, tuple[str, int]] = {}
    for number, data in enumerate(datas):
        rewritten = links.rewrite({"id": number, "data": data})["data"]
        before = dict(find_resources(data, None))
        for path, value in _placed(rewritten, before):
            assert owner.setdefault(value, (before[path], number)) == (before[path], number)


def _placed(rewritten, before):  # type: ignore[no-untyped-def]
    """(where, media path) of each value the rewrite put in place of a URL."""
    for path in before:
        node = rewritten
        for step in path:
            node = node[step]
        assert node.startswith("media/")
        yield path, node
