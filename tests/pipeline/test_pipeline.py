"""The fetch pipeline from an export file: datasets, manifest, incremental runs, failures, splits."""

from __future__ import annotations

import hashlib
import io
import json
import os
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from ml_data.cli import main
from ml_data.errors import ConfigurationError, ResourcesFailed
from ml_data.pipeline import DatasetOptions, fetch_export, parse_split
from ml_data.tasks import split_of

CONFIG = (
    "<View><Image name='image' value='$image'/><RectangleLabels name='label' toName='image'>"
    "<Label value='cat'/><Label value='dog'/></RectangleLabels></View>"
)


def png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def box_task(task_id: int, url: str, label: str = "cat", *, updated: str = "2026-01-01T00:00:00Z", sized: bool = True):
    result = {
        "id": f"r{task_id}",
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "value": {"x": 10, "y": 20, "width": 50, "height": 40, "rotation": 0, "rectanglelabels": [label]},
    }
    if sized:
        result.update(original_width=40, original_height=30)
    return {
        "id": task_id,
        "data": {"image": url},
        "annotations": [{"id": task_id * 10, "result": [result], "updated_at": updated, "created_at": updated}],
        "predictions": [],
    }


@pytest.fixture
def images(file_server):
    bodies = {f"/img/{n}.png": png((n * 40 % 256, 10, 200)) for n in range(1, 6)}
    for path, body in bodies.items():
        file_server.add(path, body=body)
    return bodies


def write_export(path: Path, tasks: list[dict]) -> Path:
    path.write_text(json.dumps(tasks))
    return path


def run(export: Path, out: Path, settings, fmt: str = "yolo", **options):
    return fetch_export(
        export, format=fmt, out=out, config=CONFIG, settings=settings, options=DatasetOptions(format=fmt, **options)
    )


def tasks_for(file_server, count: int = 5) -> list[dict]:
    return [box_task(n, file_server.url(f"/img/{n}.png"), "cat" if n % 2 else "dog") for n in range(1, count + 1)]


def test_yolo_dataset_has_identical_images_labels_and_a_manifest(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server))
    out = tmp_path / "dataset"
    report = run(export, out, settings)
    assert report.tasks == 5 and report.tasks_changed == 5 and report.resources_resolved == 5
    for n in range(1, 6):
        assert (out / "images" / f"{n}.png").read_bytes() == images[f"/img/{n}.png"]
        label = (out / "labels" / f"{n}.txt").read_text().split()
        assert label[0] == ("0" if n % 2 else "1")
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["tasks"]) == {"1", "2", "3", "4", "5"}
    assert manifest["tasks"]["3"]["annotations"][0]["id"] == 30
    for relative, entry in manifest["files"].items():
        body = (out / relative).read_bytes()
        assert entry["size"] == len(body) and entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["files"]["images/2.png"]["source"] == file_server.url("/img/2.png")
    assert {"classes.txt", "data.yaml", "labels/1.txt"} <= set(manifest["files"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dataset")]


def test_images_are_hard_links_into_the_cache_unless_copy_is_asked(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 2))
    linked = run(export, tmp_path / "linked", settings)
    assert linked.files_linked == 2 and linked.files_copied == 0
    assert os.stat(tmp_path / "linked" / "images" / "1.png").st_nlink >= 2
    copied = run(export, tmp_path / "copied", settings, link=False)
    assert copied.files_copied == 2 and os.stat(tmp_path / "copied" / "images" / "1.png").st_nlink == 1


def test_second_run_on_unchanged_tasks_downloads_and_rewrites_nothing(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server))
    out = tmp_path / "dataset"
    run(export, out, settings)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    requests_before = len(file_server.requests)
    again = run(export, out, settings)
    assert again.unchanged and again.resources_resolved == 0
    assert len(file_server.requests) == requests_before
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()} == before


def test_a_changed_annotation_redoes_only_that_task(file_server, images, settings, tmp_path):
    tasks = tasks_for(file_server)
    export = write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "dataset"
    run(export, out, settings)
    inodes = {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("*") if p.is_file()}
    requests_before = len(file_server.requests)

    tasks[2] = box_task(3, file_server.url("/img/3.png"), "dog", updated="2026-02-01T00:00:00Z")
    write_export(export, tasks)
    report = run(export, out, settings)
    assert report.tasks_changed == 1 and not report.unchanged
    assert report.resources_resolved == 1 and report.resources_reused == 4
    assert len(file_server.requests) == requests_before  # the changed task's image came from the cache
    assert (out / "labels" / "3.txt").read_text().split()[0] == "1"
    after = {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("*") if p.is_file()}
    changed = {name for name in after if after[name] != inodes.get(name)}
    assert changed == {"labels/3.txt", "manifest.json"}  # the image is the same file as before
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"]["3"]["annotations"][0]["updated_at"] == "2026-02-01T00:00:00Z"


def test_new_and_removed_tasks(file_server, images, settings, tmp_path):
    tasks = tasks_for(file_server, 3)
    export = write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "dataset"
    run(export, out, settings)
    tasks = tasks[1:] + [box_task(4, file_server.url("/img/4.png"))]
    write_export(export, tasks)
    report = run(export, out, settings)
    assert report.tasks_changed == 1 and report.tasks_removed == 1
    assert not (out / "images" / "1.png").exists() and (out / "images" / "4.png").exists()
    assert set(json.loads((out / "manifest.json").read_text())["tasks"]) == {"2", "3", "4"}


def test_a_failed_resource_stops_the_run_and_keeps_the_previous_dataset(file_server, images, settings, tmp_path):
    tasks = tasks_for(file_server, 3)
    export = write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "dataset"
    run(export, out, settings)
    manifest_before = (out / "manifest.json").read_bytes()
    tasks.append(box_task(9, file_server.url("/img/missing.png?X-Amz-Signature=SECRET")))
    write_export(export, tasks)
    with pytest.raises(ResourcesFailed) as caught:
        run(export, out, settings)
    assert "task 9" in str(caught.value) and "SECRET" not in str(caught.value)
    assert (out / "manifest.json").read_bytes() == manifest_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "dataset", "export.json"]


def test_skip_policy_leaves_out_tasks_whose_resource_failed(file_server, images, settings, tmp_path):
    tasks = tasks_for(file_server, 2) + [box_task(9, file_server.url("/img/missing.png"))]
    export = write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "dataset"
    report = run(export, out, settings, on_error="skip")
    assert list(report.failures) == [file_server.url("/img/missing.png")]
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["1.txt", "2.txt"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"]["9"]["excluded"]


def test_sizes_missing_from_results_are_read_from_the_images(file_server, images, settings, tmp_path):
    task = box_task(1, file_server.url("/img/1.png"), sized=False)
    export = write_export(tmp_path / "export.json", [task])
    out = tmp_path / "dataset"
    run(export, out, settings, fmt="coco")
    coco = json.loads((out / "annotations" / "instances_default.json").read_text())
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (40, 30)
    assert (out / "images" / coco["images"][0]["file_name"]).read_bytes() == images["/img/1.png"]


def test_split_is_deterministic_by_task_id_and_yolo_gets_a_data_yaml(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server))
    out = tmp_path / "dataset"
    report = run(export, out, settings, split={"train": 0.6, "val": 0.4})
    assert sum(report.splits.values()) == 5
    for n in range(1, 6):
        split = split_of(n, {"train": 0.6, "val": 0.4})
        assert (out / "images" / split / f"{n}.png").exists() and (out / "labels" / split / f"{n}.txt").exists()
    data = (out / "data.yaml").read_text()
    assert 'train: "images/train"' in data and 'val: "images/val"' in data and '0: "cat"' in data
    assert "path:" not in data  # Ultralytics then resolves the folders against the yaml's own folder


def test_label_studio_layout_keeps_a_folder_per_split(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server))
    out = tmp_path / "dataset"
    run(export, out, settings, split={"train": 0.6, "val": 0.4}, layout="label-studio")
    for n in range(1, 6):
        split = split_of(n, {"train": 0.6, "val": 0.4})
        assert (out / split / "images" / f"{n}.png").exists() and (out / split / "labels" / f"{n}.txt").exists()
    data = (out / "data.yaml").read_text()
    assert "train: train/images" in data and "val: val/images" in data and "path:" not in data
    assignments = [split_of(n, {"train": 0.8, "val": 0.2}) for n in range(10_000)]
    assert 0.78 < assignments.count("train") / 10_000 < 0.82


@pytest.mark.parametrize(
    ("text", "message"),
    [("train=0.8,val=0.3", "add up"), ("train", "name=fraction"), ("tr ain=1", "split name"), ("a=x", "name=fraction")],
)
def test_bad_split_specs_are_refused(text, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_split(text)


def test_asr_manifest_places_audio_and_refers_to_it_relatively(file_server, settings, tmp_path):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 8000)
    file_server.add("/a/one.wav", body=buffer.getvalue())
    config = "<View><Audio name='audio' value='$audio'/><TextArea name='text' toName='audio'/></View>"
    task = {
        "id": 1,
        "data": {"audio": file_server.url("/a/one.wav")},
        "annotations": [
            {
                "id": 1,
                "result": [{"from_name": "text", "to_name": "audio", "type": "textarea", "value": {"text": ["hello"]}}],
            }
        ],
    }
    export = write_export(tmp_path / "export.json", [task])
    out = tmp_path / "asr"
    fetch_export(export, format="asr-manifest", out=out, config=config, settings=settings)
    # The dataset's own manifest.json is the file list; the ASR manifest, the format's output, is
    # asr_manifest.json beside it.
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert files["audio/one.wav"]["size"] == len(buffer.getvalue())
    assert json.loads((out / "asr_manifest.json").read_text()) == {
        "audio_filepath": "audio/one.wav",
        "text": "hello",
        "duration": 1.0,
    }
    assert files["asr_manifest.json"]["size"] == (out / "asr_manifest.json").stat().st_size


def test_cli_fetch_from_an_export(file_server, images, monkeypatch, tmp_path):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 2))
    (tmp_path / "config.xml").write_text(CONFIG)
    args = ["fetch", "--export", str(export), "--config", str(tmp_path / "config.xml"), "--format", "coco"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "ds"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tasks_changed"] == 2
    again = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "ds")])
    assert again.exit_code == 0 and "up to date" in again.output


def test_cli_fetch_needs_exactly_one_source(tmp_path):
    assert "either --project" in CliRunner().invoke(main, ["fetch"]).output
    export = write_export(tmp_path / "e.json", [])
    both = CliRunner().invoke(main, ["fetch", "--project", "3", "--export", str(export)])
    assert both.exit_code == 2 and "either --project" in both.output


def test_fingerprint_ignores_how_the_export_was_made_but_not_what_changed():
    from ml_data.tasks import task_fingerprint

    direct = box_task(1, "http://h/1.png")
    direct.update(predictions=[7], drafts=[], total_annotations=1)
    direct["annotations"][0]["completed_by"] = 3
    snapshot = json.loads(json.dumps(direct))
    snapshot.update(drafts=[12], total_annotations=1, cancelled_annotations=0)
    snapshot["annotations"][0]["completed_by"] = {"id": 3, "email": "a@example.com"}
    assert task_fingerprint(direct) == task_fingerprint(snapshot)
    relabelled = json.loads(json.dumps(direct))
    relabelled["annotations"][0]["result"][0]["value"]["rectanglelabels"] = ["dog"]
    moved = json.loads(json.dumps(direct))
    moved["data"]["image"] = "http://h/2.png"
    repredicted = dict(direct, predictions=[8])
    fingerprints = {task_fingerprint(task) for task in (direct, relabelled, moved, repredicted)}
    assert len(fingerprints) == 4


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_data_formats_place_resources_under_media_and_point_at_them(file_server, images, settings, tmp_path, fmt):
    tasks = tasks_for(file_server, 2) + [{"id": 3, "data": {"image": file_server.url("/img/3.png")}, "annotations": []}]
    export = write_export(tmp_path / "export.json", tasks)
    out = tmp_path / fmt
    run(export, out, settings, fmt=fmt)
    if fmt == "json":
        written = {task["id"]: task["data"]["image"] for task in json.loads((out / "result.json").read_text())}
    else:
        import csv

        with open(out / "result.csv", newline="") as handle:
            written = {int(row["id"]): row["image"] for row in csv.DictReader(handle)}
    assert written[1] == "media/1.png" and written[2] == "media/2.png"
    assert written[3] == file_server.url("/img/3.png")  # not annotated: not fetched, left as it was
    for n in (1, 2):
        assert (out / "media" / f"{n}.png").read_bytes() == images[f"/img/{n}.png"]


def test_data_formats_point_only_the_configs_files_at_media(file_server, images, settings, tmp_path):
    """The task data is rewritten where the resource walk found the file (the config's media
    keys), nowhere else: the same URL kept as text under another key stays the task's text."""
    task = box_task(1, file_server.url("/img/1.png"))
    task["data"] = {"source": task["data"]["image"], **task["data"], "seen": [task["data"]["image"]]}
    out = tmp_path / "json"
    run(write_export(tmp_path / "export.json", [task]), out, settings, fmt="json")
    (written,) = json.loads((out / "result.json").read_text())
    url = file_server.url("/img/1.png")
    assert written["data"] == {"source": url, "image": "media/1.png", "seen": [url]}


def test_a_server_that_is_down_leaves_the_previous_dataset(file_server, images, settings, tmp_path):
    from ml_data.errors import UpstreamUnavailable
    from ml_data.pipeline import fetch_project
    from tests.support.servers.processes import free_port

    export = write_export(tmp_path / "export.json", tasks_for(file_server, 2))
    out = tmp_path / "dataset"
    run(export, out, settings)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    down = settings.with_changes(label_studio_url=f"http://127.0.0.1:{free_port()}", api_key="x" * 20, retries=0)
    with pytest.raises(UpstreamUnavailable):
        fetch_project(3, format="yolo", out=out, settings=down)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "dataset", "export.json"]


def test_a_folder_that_is_not_a_dataset_is_never_replaced(file_server, images, settings, tmp_path):
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 1))
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigurationError, match="not an ml-data dataset"):
        run(export, precious, settings)
    assert (precious / "thesis.tex").read_text() == "years of work"
    (tmp_path / "empty").mkdir()
    assert run(export, tmp_path / "empty", settings).tasks == 1


def test_skip_policy_survives_hostile_resources(file_server, images, settings, tmp_path):
    """Regression: one bad resource (a URL ending in %2e%2e, a 300-character name) aborted
    fetch --on-error skip."""
    root = tmp_path / "root"
    root.mkdir()
    hostile = [
        box_task(20, file_server.url("/img/%2e%2e")),
        box_task(21, "/data/local-files/?d=" + "x" * 300 + ".png"),
        box_task(22, file_server.url("/" + "y" * 300 + ".png")),
        box_task(23, "/data/local-files/?d=a%00b.png"),
    ]
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 2) + hostile)
    out = tmp_path / "dataset"
    report = run(export, out, settings.with_changes(local_files_root=root), on_error="skip")
    assert len(report.failures) == 4
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["1.txt", "2.txt"]
    assert file_server.gets("/img/%2e%2e") == 0 and file_server.gets("/img/..") == 0


@pytest.mark.parametrize("fmt", ["yolo", "coco", "json", "csv"])
@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_fetch_survives_values_orjson_refuses(settings, tmp_path, fmt, policy):
    """Integers beyond 64 bits and lone surrogates in task data, or as ids, once stopped fetch with
    an untyped TypeError (fingerprints, the manifest)."""
    from ml_data.errors import MlDataError

    image = "data:image/png;base64,iVBORw0KGgo="
    tasks = [
        {**box_task(2**70, image), "id": 2**70},
        {**box_task(2, image), "data": {"image": image, "n": 2**70, "t": "\ud800", "x": float("nan")}},
        box_task(3, image),
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / "dataset"
    try:
        report = run(export, out, settings, fmt=fmt, on_error=policy)
    except MlDataError:
        assert policy == "fail" and not out.exists()
        return
    manifest = (out / "manifest.json").read_text()
    assert report.tasks == 3 and "NaN" not in manifest
    assert str(2**70) in manifest


IMAGE = "data:image/png;base64,iVBORw0KGgo="


def test_fetch_refuses_an_out_that_holds_its_export_config_or_working_directory(settings, tmp_path, monkeypatch):
    """Regression: fetch replaced any folder holding the export or the working directory, and
    took any folder with a file named manifest.json (a NeMo or web manifest) for a dataset."""
    data = tmp_path / "data"
    data.mkdir()
    export = write_export(data / "export.json", [box_task(1, IMAGE)])
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.xml").write_text(CONFIG)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "manifest.json").write_text('{"name": "my web app"}')
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    before = _tree(tmp_path)
    for out in (data, data / "..", Path("."), Path("../data/")):
        with pytest.raises(ConfigurationError):
            run(export, out, settings)
    for out, what in ((".", "working directory"), ("../conf", "config.xml"), ("../data/.", "export")):
        result = CliRunner().invoke(
            main, ["fetch", "--export", str(export), "--config", str(conf / "config.xml"), "--out", out]
        )
        assert result.exit_code == 1 and "ConfigurationError" in result.output and what in result.output
    with pytest.raises(ConfigurationError, match="not an ml-data dataset"):
        run(export, tmp_path / "site", settings, fmt="json")
    assert _tree(tmp_path) == before


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def test_fetch_replaces_its_own_datasets_marked_or_written_before_the_marker(settings, tmp_path):
    from ml_data.fsutil import MARKER

    export = write_export(tmp_path / "export.json", [box_task(1, IMAGE)])
    out = tmp_path / "dataset"
    run(export, out, settings)
    assert (out / MARKER).is_file() and MARKER not in json.loads((out / "manifest.json").read_text())["files"]
    (out / MARKER).unlink()  # a dataset from before outputs were marked: known by its manifest
    write_export(export, [box_task(1, IMAGE, "dog")])
    assert run(export, out, settings).tasks_changed == 1 and (out / MARKER).is_file()


def test_fetch_skip_policy_leaves_a_duplicate_task_out_and_says_so(settings, tmp_path):
    """Regression: fetch stopped at a duplicate task id whatever the error policy."""
    from ml_data.errors import InvalidExport

    export = write_export(tmp_path / "export.json", [box_task(1, IMAGE), box_task(1, IMAGE, "dog"), box_task(2, IMAGE)])
    with pytest.raises(InvalidExport, match="task 1 appears twice"):
        run(export, tmp_path / "failed", settings)
    report = run(export, tmp_path / "dataset", settings, on_error="skip")
    conversion = report.conversions["all"]
    assert report.tasks == 2 and conversion.skipped == {"duplicate task id": 1} and conversion.items_written == 2
    first = [path for path in (tmp_path / "dataset" / "labels").iterdir() if "__task2" not in path.name]
    assert [path.read_text()[:2] for path in first] == ["0 "]  # the first task 1, a cat


def test_fetch_that_would_write_nothing_fails_and_keeps_the_previous_dataset(settings, tmp_path):
    """Regression: an empty export, or ``--on-error skip`` with every resource failed, exited 0
    and replaced the dataset with an empty one."""
    from ml_data.errors import NothingToWrite

    root = tmp_path / "root"
    root.mkdir()
    settings = settings.with_changes(local_files_root=root)
    export = write_export(tmp_path / "export.json", [box_task(1, IMAGE)])
    out = tmp_path / "dataset"
    run(export, out, settings)
    before = _tree(out)
    missing = [box_task(2, "/data/local-files/?d=gone.png"), box_task(3, "/data/local-files/?d=lost.png")]
    write_export(export, missing)
    with pytest.raises(NothingToWrite, match=r"from 2 tasks: a resource could not be resolved \(2\).*first failure"):
        run(export, out, settings, on_error="skip")
    write_export(export, [])
    with pytest.raises(NothingToWrite, match="the export holds no tasks"):
        run(export, out, settings, fmt="json")
    assert _tree(out) == before
    result = CliRunner().invoke(main, ["fetch", "--export", str(export), "--format", "json", "--out", str(out)])
    assert result.exit_code == 1 and "NothingToWrite: the export holds no tasks" in result.output
    # An unlabelled project is a true empty dataset, written and reported.
    write_export(export, [{**box_task(4, IMAGE), "annotations": []}])
    report = run(export, out, settings)
    assert report.conversions["all"].items_written == 0 and report.conversions["all"].skipped == {"no annotation": 1}


def test_the_options_are_the_one_source_of_the_format(file_server, images, settings, tmp_path):
    """A ``format=`` keyword naming another format than the options is refused (naming both) before
    anything is written; options alone decide the format; a keyword alone, or the same format in
    another spelling, still works."""
    export = write_export(tmp_path / "export.json", tasks_for(file_server, 2))
    common = {"config": CONFIG, "settings": settings}
    with pytest.raises(ConfigurationError, match=r"format='yolo'.*options\.format='coco'"):
        fetch_export(export, format="yolo", out=tmp_path / "both", options=DatasetOptions(format="coco"), **common)
    assert not (tmp_path / "both").exists()
    assert (
        fetch_export(export, out=tmp_path / "options", options=DatasetOptions(format="coco"), **common).format == "coco"
    )
    assert (tmp_path / "options" / "annotations").is_dir()
    same = fetch_export(export, format="COCO", out=tmp_path / "same", options=DatasetOptions(format="coco"), **common)
    assert same.format == "coco"
    assert fetch_export(export, format="voc", out=tmp_path / "keyword", **common).format == "voc"
