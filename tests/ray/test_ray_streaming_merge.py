"""The streaming merge of shard manifests (ml_data.ray.merge) against the merge that held every
manifest in memory (tests/support/reference_merge.py), on shards the single-machine build wrote
from a generated project: the same files and the same manifest, byte for byte, in every format
family (files moved, files kept once, files the format combines, failures in several shards)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ml_data.errors import InvalidExport
from ml_data.hashing import file_sha256
from ml_data.pipeline.build import build_dataset
from ml_data.pipeline.options import DatasetOptions, parse_split
from ml_data.ray import merge as streaming
from ml_data.ray.merge import LocalShards, merge_manifests
from ml_data.ray.parts import write_parts
from tests.support import exports
from tests.support.label_studio_project import png
from tests.support.reference_merge import merge_shards as reference_merge

CREATED = "2026-12-07T17:00:00+00:00"
BROKEN = "data:image/png;base64,@@@"  # no image: a failure recorded by the shard that had it


def _project(count: int) -> list[dict]:
    tasks = list(exports.tasks("image", count, seed=7, boxes=3))
    for task in tasks:
        body = png((task["id"] * 7 % 256, 40, 90), (6 + task["id"] % 5, 5))
        task["data"]["image"] = "data:image/png;base64," + base64.b64encode(body).decode()
    for task in tasks[5::11]:
        task["data"]["image"] = BROKEN  # the same failing URL in several shards
    return tasks


def _shards(tmp_path: Path, tasks: list[dict], fmt: str, settings, count: int = 3, **filters: object) -> list[Path]:
    options = DatasetOptions(format=fmt, split=parse_split("train=0.6,val=0.4"), on_error="skip", **filters)
    shards = []
    for number in range(count):
        export = tmp_path / f"export-{number}.json"
        export.write_text(json.dumps(tasks[number::count]))
        shard = tmp_path / "staging" / f"shard-{number}"
        build_dataset(
            export, shard, config=exports.IMAGE_CONFIG, settings=settings, options=options, source={"export": "e"}
        )
        shards.append(shard)
    return shards


def _tree(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }


def _mtimes_true(folder: Path, manifest: bytes) -> bytes:
    """Every file's recorded mtime is its own; then those numbers left out (a file the format
    combined is written at merge time, so it differs between any two merges)."""
    for relative, entry in json.loads(manifest)["files"].items():
        assert os.lstat(folder / relative).st_mtime_ns == entry["mtime_ns"], relative
    return re.sub(rb'"mtime_ns": \d+', b'"mtime_ns": 0', manifest)


@pytest.mark.parametrize("fmt", ["yolo", "coco", "json", "voc"])
def test_the_streaming_merge_writes_what_the_in_memory_merge_wrote(tmp_path, settings, fmt):
    shards = _shards(tmp_path, _project(40), fmt, settings)
    copies = {}
    for side in ("reference", "streaming"):
        copies[side] = tmp_path / side
        shutil.copytree(tmp_path / "staging", copies[side] / "staging")
        (copies[side] / "out").mkdir()
    out = tmp_path / "dataset"
    old = reference_merge(
        [copies["reference"] / "staging" / shard.name for shard in shards],
        copies["reference"] / "out",
        out,
        format=fmt,
        created_at=CREATED,
    )
    (copies["reference"] / "out" / "manifest.json").write_bytes(streaming.dumps(old, indent=True))
    staged = [copies["streaming"] / "staging" / shard.name for shard in shards]
    parts = [shard.with_name(f"{shard.name}.parts") for shard in staged]
    for shard, folder in zip(staged, parts, strict=True):
        write_parts(shard, folder)
    with open(copies["streaming"] / "out" / "manifest.json", "wb") as handle:
        merged = merge_manifests(
            parts,
            LocalShards(staged, copies["streaming"] / "out", format=fmt),
            handle,
            output=str(out),
            created_at=CREATED,
        )
    assert _tree(copies["streaming"] / "out") == _tree(copies["reference"] / "out")
    new_bytes = (copies["streaming"] / "out" / "manifest.json").read_bytes()
    old_bytes = (copies["reference"] / "out" / "manifest.json").read_bytes()
    assert _mtimes_true(copies["streaming"] / "out", new_bytes) == _mtimes_true(copies["reference"] / "out", old_bytes)
    assert len(old["failures"]) == 1 and len(old["tasks"]) == 40
    assert merged.tasks == 40 and merged.failures == old["failures"]
    assert merged.excluded == sum(1 for info in old["tasks"].values() if info.get("excluded")) == 4
    assert merged.splits == {
        name: sum(1 for info in old["tasks"].values() if info.get("split") == name) for name in ("train", "val")
    }
    assert merged.bytes_total == sum(entry["size"] for entry in old["files"].values())


def test_many_shards_are_merged_in_rounds_with_the_same_result(tmp_path, settings, monkeypatch):
    """More shards than files merged at once: the sorted keys go through intermediate files."""
    shards = _shards(tmp_path, _project(30), "yolo", settings, count=7)
    results = []
    for fan_in in (64, 2):
        monkeypatch.setattr(streaming, "FAN_IN", fan_in)
        side = tmp_path / f"fan-in-{fan_in}"
        shutil.copytree(tmp_path / "staging", side / "staging")
        (side / "out").mkdir()
        staged = [side / "staging" / shard.name for shard in shards]
        parts = [shard.with_name(f"{shard.name}.parts") for shard in staged]
        for shard, folder in zip(staged, parts, strict=True):
            write_parts(shard, folder)
        with open(side / "out" / "manifest.json", "wb") as handle:
            merge_manifests(
                parts, LocalShards(staged, side / "out", format="yolo"), handle, output="o", created_at=CREATED
            )
        results.append(((side / "out" / "manifest.json").read_bytes(), _tree(side / "out")))
    assert results[0] == results[1]
    assert len(json.loads(results[0][0])["tasks"]) == 30


def test_a_task_in_two_shards_is_an_error(tmp_path, settings):
    tasks = _project(6)
    shards = []
    for number, chosen in enumerate((tasks[:4], tasks[3:])):  # task 4 in both
        export = tmp_path / f"export-{number}.json"
        export.write_text(json.dumps(chosen))
        shard = tmp_path / f"shard-{number}"
        build_dataset(
            export,
            shard,
            config=exports.IMAGE_CONFIG,
            settings=settings,
            options=DatasetOptions(format="yolo", on_error="skip"),
            source={"export": "e"},
        )
        write_parts(shard, tmp_path / f"shard-{number}.parts")
        shards.append(shard)
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / "manifest.json", "wb") as handle, pytest.raises(InvalidExport, match="task 4"):
        merge_manifests(
            [tmp_path / "shard-0.parts", tmp_path / "shard-1.parts"],
            LocalShards(shards, tmp_path / "out", format="yolo"),
            handle,
            output="o",
        )


def test_the_filters_counts_are_added_up_as_the_in_memory_merge_added_them(tmp_path, settings):
    """Shards built with filters: ``left_out`` and ``regions_dropped`` summed over the shards, after
    ``conversions``, byte for byte as before; the source's own counts (Label Studio's filters) over them."""
    shards = _shards(tmp_path, _project(40), "yolo", settings, labels=("cat", "dog"), ids="1-30")
    heads = [json.loads((shard / "manifest.json").read_bytes()) for shard in shards]
    assert all(head["left_out"] for head in heads)
    shutil.copytree(tmp_path / "staging", tmp_path / "reference" / "staging")
    (tmp_path / "reference" / "out").mkdir()
    old = reference_merge(
        [tmp_path / "reference" / "staging" / shard.name for shard in shards],
        tmp_path / "reference" / "out",
        tmp_path / "dataset",
        format="yolo",
        created_at=CREATED,
    )
    assert old["left_out"]["ids"] == 10 and sum(old["regions_dropped"].values()) > 0
    assert list(old)[-3:] == ["conversions", "left_out", "regions_dropped"]
    for side, source in (("plain", None), ("with-source", {"finished": 4, "ids": 99})):
        shutil.copytree(tmp_path / "staging", tmp_path / side / "staging")
        (tmp_path / side / "out").mkdir()
        staged = [tmp_path / side / "staging" / shard.name for shard in shards]
        parts = [shard.with_name(f"{shard.name}.parts") for shard in staged]
        for shard, folder in zip(staged, parts, strict=True):
            write_parts(shard, folder)
        with open(tmp_path / side / "out" / "manifest.json", "wb") as handle:
            merged = merge_manifests(
                parts,
                LocalShards(staged, tmp_path / side / "out", format="yolo"),
                handle,
                output=str(tmp_path / "dataset"),
                created_at=CREATED,
                left_out=source,
            )
        expected = dict(old)
        if source is not None:  # as the driver put the source's counts over the merged manifest
            expected["left_out"] = {**old["left_out"], **source}
        written = (tmp_path / side / "out" / "manifest.json").read_bytes()
        assert re.sub(rb'"mtime_ns": \d+', b"", written) == re.sub(
            rb'"mtime_ns": \d+', b"", streaming.dumps(expected, indent=True)
        )
        assert merged.left_out == expected["left_out"] and merged.regions_dropped == old["regions_dropped"]


def test_no_filters_no_filter_counts(tmp_path, settings):
    """Without filters the manifest ends with ``conversions``, as before."""
    shards = _shards(tmp_path, _project(12), "yolo", settings)
    staged = [tmp_path / "staging" / shard.name for shard in shards]
    parts = [shard.with_name(f"{shard.name}.parts") for shard in staged]
    for shard, folder in zip(staged, parts, strict=True):
        write_parts(shard, folder)
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / "manifest.json", "wb") as handle:
        merged = merge_manifests(
            parts, LocalShards(staged, tmp_path / "out", format="yolo"), handle, output="o", created_at=CREATED
        )
    assert list(json.loads((tmp_path / "out" / "manifest.json").read_bytes()))[-1] == "conversions"
    assert merged.left_out == {} and merged.regions_dropped == {}
