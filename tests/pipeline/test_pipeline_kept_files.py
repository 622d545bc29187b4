"""What a re-run keeps from the previous dataset is what its manifest says: regular files with the
recorded size and time; and files read in place are placed from the descriptor checked beneath
their root. Either way, the manifest's sha256 is that of the file in the dataset."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ml_data import Resolver, Settings, UnsafePath
from ml_data.pipeline import DatasetOptions
from ml_data.pipeline.build import Build
from ml_data.pipeline.plan import prepare
from tests.pipeline.test_pipeline import CONFIG, box_task, png, run, tasks_for, write_export


@pytest.fixture
def images(file_server):
    bodies = {f"/img/{n}.png": png((n * 40 % 256, 10, 200)) for n in range(1, 4)}
    for path, body in bodies.items():
        file_server.add(path, body=body)
    return bodies


def assert_manifest_tells_the_truth(out: Path) -> None:
    """Every file the manifest lists is a regular file in the dataset with that size and sha256."""
    for relative, entry in json.loads((out / "manifest.json").read_text())["files"].items():
        path = out / relative
        assert not path.is_symlink() and path.is_file(), relative
        body = path.read_bytes()
        assert (len(body), hashlib.sha256(body).hexdigest()) == (entry["size"], entry["sha256"]), relative


def plant(path: Path, how: str, outside: Path) -> None:
    """Put something of the same size as ``path`` in its place: a symlink to a file outside the
    dataset, or other bytes (written with another modification time)."""
    size = path.stat().st_size
    replacement = path.with_name(".planted")
    if how == "symlink":
        outside.write_bytes(b"X" * size)
        replacement.symlink_to(outside)
    else:
        replacement.write_bytes(b"Y" * size)
        stamp = path.stat().st_mtime_ns + 5_000_000_000
        os.utime(replacement, ns=(stamp, stamp))
    os.replace(replacement, path)


@pytest.mark.parametrize("link", [True, False], ids=["linked", "copied"])
def test_a_symlink_planted_in_the_previous_dataset_is_not_kept(file_server, images, settings, tmp_path, link):
    """Regression: the planted link passed the size check (stat followed it) and was then hard
    linked as "kept", following it: the new dataset held the outside file under the old sha256."""
    tasks = tasks_for(file_server, 3)
    export = write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "dataset"
    run(export, out, settings, link=link)
    outside = tmp_path / "outside.png"
    plant(out / "images" / "1.png", "symlink", outside)
    tasks[1] = box_task(2, file_server.url("/img/2.png"), "cat", updated="2026-03-01T00:00:00Z")
    write_export(export, tasks)

    report = run(export, out, settings, link=link)

    assert report.tasks_changed == 1 and not report.unchanged
    assert (out / "images" / "1.png").read_bytes() == images["/img/1.png"]
    assert_manifest_tells_the_truth(out)
    assert outside.stat().st_nlink == 1 and outside.read_bytes() == b"X" * len(images["/img/1.png"])


@pytest.mark.parametrize("how", ["symlink", "rewritten"])
def test_a_dataset_with_a_planted_or_rewritten_file_is_not_unchanged(file_server, images, settings, tmp_path, how):
    """Regression: "unchanged" only compared sizes through stat; a same-size link or rewrite
    stayed, and the manifest kept the sha256 of the file that was there before."""
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 3))
    out = tmp_path / "dataset"
    run(export, out, settings)
    plant(out / "images" / "2.png", how, tmp_path / "outside.png")

    report = run(export, out, settings)

    assert not report.unchanged
    assert (out / "images" / "2.png").read_bytes() == images["/img/2.png"]
    assert_manifest_tells_the_truth(out)
    again = run(export, out, settings)  # and now it is unchanged again
    assert again.unchanged and again.resources_resolved == 0


def test_the_manifest_records_each_files_modification_time(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 2))
    out = tmp_path / "dataset"
    run(export, out, settings)
    for relative, entry in json.loads((out / "manifest.json").read_text())["files"].items():
        assert entry["mtime_ns"] == os.lstat(out / relative).st_mtime_ns, relative


@pytest.fixture
def local_files(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    body = png((1, 2, 3))
    (root / "photos" / "1.png").write_bytes(body)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "1.png").write_bytes(b"S" * len(body))
    return {"root": root, "outside": outside, "cache": tmp_path / "cache", "body": root / "photos" / "1.png"}


def test_local_files_are_copied_into_the_dataset_with_their_own_sha256(local_files, tmp_path):
    settings = Settings(local_files_root=local_files["root"], cache_dir=local_files["cache"], retries=0)
    export = write_export(tmp_path / "export.json", [box_task(1, "/data/local-files/?d=photos/1.png")])
    report = run(export, tmp_path / "dataset", settings)
    assert report.files_copied == 1
    assert (tmp_path / "dataset" / "images" / "1.png").read_bytes() == local_files["body"].read_bytes()
    assert_manifest_tells_the_truth(tmp_path / "dataset")


def test_a_local_folder_swapped_for_a_link_after_resolving_never_reaches_the_dataset(local_files, tmp_path):
    """Regression: the file was resolved (checked), then copied and hashed by path: a folder
    swapped for a link out of the root in between put the outside file in the dataset."""
    settings = Settings(local_files_root=local_files["root"], cache_dir=local_files["cache"], retries=0)
    url = "/data/local-files/?d=photos/1.png"
    export = write_export(tmp_path / "export.json", [box_task(1, url)])
    resolved = Resolver(settings).resolve(url, task_id=1)
    held = local_files["root"] / ".photos"
    os.rename(local_files["root"] / "photos", held)
    (local_files["root"] / "photos").symlink_to("../outside")
    out = tmp_path / "dataset"
    plan = prepare(export, DatasetOptions(format="yolo"), settings, out=out, config=CONFIG, prefetched={url: resolved})
    build = Build(plan, settings)
    with pytest.raises(UnsafePath):
        build.run()
    assert not out.exists()
