"""Output folders: a run replaces only a folder that is new, empty or an earlier ml-data output, and
never one that holds its own inputs or the working directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.converters import convert
from ml_data.converters.output import check_output
from ml_data.errors import ConfigurationError
from ml_data.fsutil import MARKER, atomic_folder

CONFIG = (
    "<View><Image name='image' value='$image'/><RectangleLabels name='label' toName='image'>"
    "<Label value='cat'/></RectangleLabels></View>"
)
BOX = {
    "id": "r1",
    "from_name": "label",
    "to_name": "image",
    "type": "rectanglelabels",
    "original_width": 100,
    "original_height": 100,
    "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": ["cat"]},
}
TASK = {"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": [{"id": 1, "result": [BOX]}]}


def _project(folder: Path) -> Path:
    """A user's folder: the export, the config and something of their own."""
    folder.mkdir()
    (folder / "export.json").write_text(json.dumps([TASK]))
    (folder / "config.xml").write_text(CONFIG)
    (folder / "notes.txt").write_text("mine")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("spelling", [".", "..", "../data", "{abs}", "./sub/..", "{abs}/."])
def test_cli_convert_refuses_an_out_that_holds_the_export_the_config_or_the_working_directory(
    tmp_path, monkeypatch, spelling
):
    """Regression: ``convert data/export.json --out data`` deleted the export, the config and the
    user's files; ``--out .`` failed with EBUSY and left a hidden building folder behind."""
    data = _project(tmp_path / "data")
    monkeypatch.chdir(data)
    before = _snapshot(tmp_path)
    out = spelling.format(abs=data)
    result = CliRunner().invoke(
        main, ["convert", "export.json", "--config", "config.xml", "--format", "yolo", "--out", out]
    )
    assert result.exit_code == 1, result.output
    assert "ConfigurationError" in result.output and "Traceback" not in result.output
    assert _snapshot(tmp_path) == before
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["config.xml", "data", "export.json", "notes.txt"]


def test_cli_convert_refuses_an_out_that_holds_the_config_file(tmp_path):
    data = _project(tmp_path / "data")
    (data / "export.json").rename(tmp_path / "export.json")
    result = CliRunner().invoke(
        main,
        ["convert", str(tmp_path / "export.json"), "--config", str(data / "config.xml"), "--format", "yolo"]
        + ["--out", str(data)],
    )
    assert result.exit_code == 1 and "config.xml" in result.output
    assert (data / "config.xml").read_text() == CONFIG


def test_library_convert_refuses_a_folder_that_is_not_an_ml_data_output(tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigurationError, match="not an ml-data output") as info:
        convert([TASK], "yolo", precious, config=CONFIG)
    assert isinstance(info.value, ValueError)
    assert [path.name for path in precious.iterdir()] == ["thesis.tex"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home"]  # nothing built beside it
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="not a folder"):
        convert([TASK], "yolo", tmp_path / "file", config=CONFIG)


def test_library_convert_refuses_an_out_above_its_export(tmp_path):
    data = _project(tmp_path / "data")
    with pytest.raises(ConfigurationError, match="contains the export"):
        convert(data / "export.json", "yolo", tmp_path, config=CONFIG)
    with pytest.raises(ConfigurationError, match="contains an input"):
        convert([TASK], "yolo", tmp_path / "data", config=CONFIG, protect=[data / "config.xml"])
    assert (data / "notes.txt").read_text() == "mine"


def test_an_output_is_marked_and_replaced_by_the_next_run_in_a_new_or_empty_folder(tmp_path):
    out = tmp_path / "out"
    convert([TASK], "yolo", out, config=CONFIG)
    assert (out / MARKER).is_file()
    (out / "stale.txt").write_text("left by the last run")
    report = convert([TASK], "coco", out, config=CONFIG)
    assert report.items_written == 1 and not (out / "stale.txt").exists() and (out / MARKER).is_file()
    (tmp_path / "empty").mkdir()
    assert convert([TASK], "yolo", tmp_path / "empty", config=CONFIG).items_written == 1


def test_a_symbolic_link_replaces_the_folder_it_points_to(tmp_path):
    real = tmp_path / "real"
    convert([TASK], "yolo", real, config=CONFIG)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    convert([TASK], "coco", link, config=CONFIG)
    assert link.is_symlink() and (real / "result.json").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link", "real"]
    # A link to a folder that holds the export is refused like the folder itself.
    data = _project(tmp_path / "data")
    (tmp_path / "alias").symlink_to(data, target_is_directory=True)
    with pytest.raises(ConfigurationError, match="contains the export"):
        convert(data / "export.json", "yolo", tmp_path / "alias", config=CONFIG)


def test_check_output_compares_real_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "export.json").write_text("[]")
    for out in ("a", "a/b/..", "./a/./", str(tmp_path / "a" / "b")):
        with pytest.raises(ConfigurationError, match="contains the export"):
            check_output(out, inputs=[("the export", "a/b/export.json")])
    assert check_output("a/c", inputs=[("the export", "a/b/export.json")]) == tmp_path / "a" / "c"
    with pytest.raises(ConfigurationError, match="working directory"):
        check_output(os.path.join("a", ".."))


def test_atomic_folder_leaves_nothing_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "out") as building:
        (building / "half.txt").write_text("x")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_cannot_be_made_is_a_typed_error(tmp_path):
    from ml_data.errors import OutputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write beside") as info:
        convert([TASK], "yolo", tmp_path / "file" / "out", config=CONFIG)
    assert isinstance(info.value, OSError) and (tmp_path / "file").read_text() == "x"
