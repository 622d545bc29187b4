"""fetch --split with --stratify labels and --group-by data.<key>: options checked, part of the
dataset's identity, in the service's schema, and end to end through the CLI with manifest reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.errors import ConfigurationError
from ml_data.pipeline import DatasetOptions
from ml_data.service.schemas import DATASET
from tests.support.exports import NER_CONFIG, tasks

SPLIT = "train=0.8,val=0.2"


def test_options_are_checked_and_part_of_the_identity():
    options = DatasetOptions(split=SPLIT, stratify="labels", group_by="data.patient")
    assert options.group_key == "patient"
    assert options.fingerprint()["stratify"] == "labels" and options.fingerprint()["group_by"] == "data.patient"
    assert options.fingerprint() != DatasetOptions(split=SPLIT).fingerprint()
    for bad in ({"stratify": "classes"}, {"group_by": "patient"}, {"group_by": "data."}, {"group_by": 3}):
        with pytest.raises(ConfigurationError):
            DatasetOptions(split=SPLIT, **bad)
    with pytest.raises(ConfigurationError, match="give a split"):
        DatasetOptions(stratify="labels")


def test_the_service_schema_takes_them():
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(DATASET)
    assert validator.is_valid({"format": "json", "split": SPLIT, "stratify": "labels", "group_by": "data.doc"})
    assert not validator.is_valid({"format": "json", "stratify": "classes"})
    assert not validator.is_valid({"format": "json", "group_by": "doc"})


def _export(path: Path, count: int) -> Path:
    """Generated NER tasks, three of each document (task 300 shares one with tasks 301 and 302)."""
    task_list = list(tasks("ner", count, seed=7))
    for task in task_list:
        task["data"]["doc"] = f"doc-{task['id'] // 3}"
    path.write_text(json.dumps(task_list))
    return path


def _fetch(tmp_path: Path, export: Path, out: Path, *extra: str) -> dict:
    config = tmp_path / "config.xml"
    config.write_text(NER_CONFIG)
    args = ["fetch", "--export", str(export), "--config", str(config), "--format", "json", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--split", SPLIT, *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text())


def test_fetch_stratified_and_grouped_keeps_splits_as_the_project_grows(tmp_path, monkeypatch):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    extra = ("--stratify", "labels", "--group-by", "data.doc")
    first = _fetch(tmp_path, _export(tmp_path / "a.json", 300), tmp_path / "ds", *extra)
    assert first["settings"]["stratify"] == "labels" and first["settings"]["group_by"] == "data.doc"

    grown = _export(tmp_path / "b.json", 360)
    docs = {str(task["id"]): task["data"]["doc"] for task in json.loads(grown.read_text())}
    again = _fetch(tmp_path, grown, tmp_path / "ds", *extra)
    splits = {task_id: entry["split"] for task_id, entry in again["tasks"].items()}
    assert set(splits) == set(docs) and set(splits.values()) == {"train", "val"}
    assert all(splits[task_id] == entry["split"] for task_id, entry in first["tasks"].items())
    by_doc: dict[str, set[str]] = {}
    for task_id, name in splits.items():
        by_doc.setdefault(docs[task_id], set()).add(name)
    assert all(len(names) == 1 for names in by_doc.values())
    written = {name: len(json.loads((tmp_path / "ds" / name / "result.json").read_text())) for name in ("train", "val")}
    assert written == {name: sum(1 for split in splits.values() if split == name) for name in ("train", "val")}

    # The earlier manifest is what kept them: the grown project split afresh differs.
    fresh = _fetch(tmp_path, grown, tmp_path / "fresh", *extra)
    assert any(fresh["tasks"][task_id]["split"] != entry["split"] for task_id, entry in first["tasks"].items())
