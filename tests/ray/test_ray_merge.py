"""Merging shard datasets (ml_data.ray.merge) and the sink's commit, without a cluster: files the
shards wrote differently combined by the dataset's format (COCO ids made unique, CoNLL one document,
tables concatenated), clashing media refused, a shard no write result names (a killed or retried
write task's) never reaching the dataset, and the streaming merge writing the very bytes of the
merge that held every manifest (tests/ray/reference_merge.py). Each format's own merge:
tests/converters/test_merge.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")

from ray.data.datasource import WriteResult  # noqa: E402

from ml_data.errors import OutputError  # noqa: E402
from ml_data.hashing import file_sha256  # noqa: E402
from ml_data.pipeline.options import DatasetOptions  # noqa: E402
from ml_data.ray.merge import LocalShards, merge_manifests  # noqa: E402
from ml_data.ray.parts import write_parts  # noqa: E402
from ml_data.ray.write import DatasetSink  # noqa: E402


def merge_shards(shards: list[Path], building: Path, out: Path, *, format: str) -> dict:
    """The shards' parts written (as their write tasks write them), then merged into ``building``."""
    parts = [shard.with_name(f"{shard.name}.parts") for shard in shards]
    for shard, folder in zip(shards, parts, strict=True):
        write_parts(shard, folder)
    with open(building / "manifest.json", "wb") as handle:
        merge_manifests(parts, LocalShards(shards, building, format=format), handle, output=str(out))
    return json.loads((building / "manifest.json").read_bytes())


def _shard(folder: Path, files: dict[str, bytes], tasks: dict[str, dict], media: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    entries = {}
    for relative, body in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(body)
        entries[relative] = {"size": len(body), "sha256": file_sha256(folder / relative)}
        if relative in media:
            entries[relative].update(source=f"https://h/{relative}", task=1)
    manifest = {"manifest_version": 1, "source": {"export": "e"}, "settings": {}, "tasks": tasks, "files": entries}
    manifest["conversions"] = {
        "all": {"format": "coco", "output": str(folder), "tasks": len(tasks), "items_written": 1}
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _coco(images: list[str], label: str) -> bytes:
    return json.dumps(
        {
            "images": [{"id": index, "file_name": name} for index, name in enumerate(images)],
            "categories": [{"id": 0, "name": label}],
            "annotations": [
                {"id": index, "image_id": index, "category_id": 0, "bbox": [1, 2, 3, 4]} for index in range(len(images))
            ],
            "info": {"description": "x"},
        }
    ).encode()


def test_shards_merge_into_one_dataset_with_one_manifest(tmp_path):
    one = _shard(
        tmp_path / "s1",
        {
            "result.json": _coco(["a.jpg"], "cat"),
            "images/a.jpg": b"A",
            "classes.txt": b"cat\n",
            "list.csv": b"id,x\n1,2\n",
        },
        {"1": {"fingerprint": "f1"}},
        media=("images/a.jpg",),
    )
    two = _shard(
        tmp_path / "s2",
        {
            "result.json": _coco(["b.jpg"], "cat"),
            "images/b.jpg": b"B",
            "classes.txt": b"cat\n",
            "list.csv": b"id,x\n2,3\n",
        },
        {"2": {"fingerprint": "f2"}},
        media=("images/b.jpg",),
    )
    building = tmp_path / "building"
    building.mkdir()
    manifest = merge_shards([one, two], building, tmp_path / "out", format="coco")
    assert set(manifest["tasks"]) == {"1", "2"}
    assert manifest["conversions"]["all"]["tasks"] == 2 and manifest["conversions"]["all"]["output"] == str(
        tmp_path / "out"
    )
    assert (building / "classes.txt").read_bytes() == b"cat\n"
    assert (building / "list.csv").read_bytes() == b"id,x\n1,2\n2,3\n"
    coco = json.loads((building / "result.json").read_text())
    assert sorted(image["file_name"] for image in coco["images"]) == ["a.jpg", "b.jpg"]
    for relative, entry in manifest["files"].items():
        assert file_sha256(building / relative) == entry["sha256"], relative


def test_the_dataset_format_combines_what_the_shards_wrote_differently(tmp_path):
    """The same bytes merged as CoNLL (one -DOCSTART-) or refused by a format that writes no such
    file: the merge asks the format, it knows none by name."""
    for number, body in enumerate((b"-DOCSTART- -X- O O\n\nw O\n", b"-DOCSTART- -X- O O\n\nv O\n")):
        for name in ("conll", "coco"):
            _shard(tmp_path / f"{name}{number}", {"result.conll": body}, {str(number): {}})
    (tmp_path / "conll").mkdir()
    merge_shards([tmp_path / "conll0", tmp_path / "conll1"], tmp_path / "conll", tmp_path / "out", format="CONLL2003")
    assert (tmp_path / "conll" / "result.conll").read_bytes() == b"-DOCSTART- -X- O O\n\nw O\n\nv O\n"
    (tmp_path / "coco").mkdir()
    with pytest.raises(OutputError, match="result.conll"):
        merge_shards([tmp_path / "coco0", tmp_path / "coco1"], tmp_path / "coco", tmp_path / "out", format="coco")


def test_two_shards_placing_different_media_at_one_name_is_an_error(tmp_path):
    one = _shard(tmp_path / "s1", {"images/x.jpg": b"one"}, {"1": {}}, media=("images/x.jpg",))
    two = _shard(tmp_path / "s2", {"images/x.jpg": b"two"}, {"2": {}}, media=("images/x.jpg",))
    (tmp_path / "building").mkdir()
    with pytest.raises(OutputError, match="images/x.jpg"):
        merge_shards([one, two], tmp_path / "building", tmp_path / "out", format="yolo")


def test_the_commit_takes_only_the_shards_the_write_results_name(tmp_path, settings):
    sink = DatasetSink(
        tmp_path / "out", config=None, options=DatasetOptions(format="json"), source={"export": "e"}, settings=settings
    )
    sink.on_write_start()
    for name, files, tasks in (
        ("shard-kept", {"result.json": b"[1]"}, {"1": {}}),
        ("shard-orphan", {"result.json": b"[2]", "stray.txt": b"x"}, {"2": {}}),
    ):
        write_parts(_shard(sink.staging / name, files, tasks), sink.staging / f"{name}.parts")
    sink.on_write_complete(WriteResult(num_rows=1, size_bytes=0, write_returns=[{"shard": "shard-kept"}, None]))
    assert json.loads((tmp_path / "out" / "result.json").read_text()) == [1]
    assert not (tmp_path / "out" / "stray.txt").exists()
    assert set(json.loads((tmp_path / "out" / "manifest.json").read_text())["tasks"]) == {"1"}
    assert not sink.staging.exists()
    assert sink.report is not None and sink.report.tasks == 1
