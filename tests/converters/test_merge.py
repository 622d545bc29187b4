"""Each format combines the files several shards of one dataset wrote (the distributed writer's
merge): the shards' outputs, merged by the format, hold what one conversion of all the tasks
writes; COCO ids stay unique, CoNLL keeps one -DOCSTART-, and what cannot be combined is a typed
error naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ml_data.converters import KNOWN_FORMATS, ConvertOptions, convert, get_format, parse_label_config
from ml_data.converters.base import FormatBase
from ml_data.converters.coco import merge_coco
from ml_data.errors import OutputError
from ml_data.fsutil import MARKER
from tests.support.exports import IMAGE_CONFIG, NER_CONFIG, tasks

ASR_CONFIG = "<View><Audio name='audio' value='$audio'/><TextArea name='transcription' toName='audio'/></View>"
_KINDS = {"image": IMAGE_CONFIG, "ner": NER_CONFIG, "audio": ASR_CONFIG}


def _audio_tasks(count: int) -> list[dict]:
    """Transcribed recordings: a whole transcript, and some with a timed segment too."""
    made = []
    for task_id in range(1, count + 1):
        result = [
            {"from_name": "transcription", "to_name": "audio", "type": "textarea", "value": {"text": [f"t{task_id}"]}}
        ]
        if task_id % 3 == 0:
            segment = {"start": 0.5, "end": 1.5, "text": [f"s{task_id}"]}
            result.append({"from_name": "transcription", "to_name": "audio", "type": "textarea", "value": segment})
        made.append(
            {"id": task_id, "data": {"audio": f"/data/upload/1/a{task_id}.wav"}, "annotations": [{"result": result}]}
        )
    return made


CASES = [
    (name, kind, layout)
    for kind, config in _KINDS.items()
    for name in KNOWN_FORMATS
    if get_format(name).check(parse_label_config(config)) is None
    for layout in ("label-studio", "standard")
]


def _files(folder: Path) -> dict[str, Path]:
    return {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and path.name != MARKER
    }


def merge_folders(name: str, shards: list[Path], building: Path) -> None:
    """What the distributed writer does with the shards' files: a file first seen is moved in, one
    the shards wrote alike is kept once, the rest go to the format's merge (all parts at once)."""
    others: dict[str, list[Path]] = {}
    for shard in shards:
        for relative, path in _files(shard).items():
            target = building / relative
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            elif target.read_bytes() != path.read_bytes():
                others.setdefault(relative, []).append(path)
    for relative, parts in others.items():
        get_format(name).merge(relative, building / relative, parts)


def _same_content(one: Path, other: Path) -> bool:
    """The same bytes, or the same JSON (a merged JSON file is written anew, indented its own way)."""
    if one.read_bytes() == other.read_bytes():
        return True
    try:
        return bool(json.loads(one.read_bytes()) == json.loads(other.read_bytes()))
    except ValueError:
        return False


@pytest.mark.parametrize(("name", "kind", "layout"), CASES)
def test_shards_merged_by_their_format_hold_what_one_conversion_writes(tmp_path, name, kind, layout):
    every = _audio_tasks(30) if kind == "audio" else list(tasks(kind, 30, seed=5))
    options = ConvertOptions(layout=layout)
    whole = tmp_path / "whole"
    convert(every, name, whole, config=_KINDS[kind], options=options)
    shards = []
    for number, part in enumerate((every[:7], every[7:19], every[19:])):
        shards.append(tmp_path / f"shard{number}")
        convert(part, name, shards[-1], config=_KINDS[kind], options=options)
    merged = tmp_path / "merged"
    merged.mkdir()
    merge_folders(name, shards, merged)
    expected, got = _files(whole), _files(merged)
    assert sorted(got) == sorted(expected)
    different = [relative for relative in expected if not _same_content(expected[relative], got[relative])]
    assert different == []


def test_coco_ids_are_unique_and_categories_matched_by_name():
    def coco(images: list[str], label: str) -> dict:
        return {
            "images": [{"id": index, "file_name": name} for index, name in enumerate(images)],
            "categories": [{"id": 0, "name": label}],
            "annotations": [
                {"id": index, "image_id": index, "category_id": 0, "bbox": [1, 2, 3, 4]} for index in range(len(images))
            ],
            "info": {"description": "x"},
        }

    merged = merge_coco([coco(["a.jpg", "b.jpg"], "cat"), coco(["c.jpg"], "dog")])
    assert [image["id"] for image in merged["images"]] == [0, 1, 2]
    assert [annotation["id"] for annotation in merged["annotations"]] == [0, 1, 2]
    names = {category["id"]: category["name"] for category in merged["categories"]}
    files = {image["id"]: image["file_name"] for image in merged["images"]}
    assert {(files[a["image_id"]], names[a["category_id"]]) for a in merged["annotations"]} == {
        ("a.jpg", "cat"),
        ("b.jpg", "cat"),
        ("c.jpg", "dog"),
    }
    assert merged["info"] == {"description": "x"}


def test_conll_shards_are_one_document(tmp_path):
    (tmp_path / "a.conll").write_bytes(b"-DOCSTART- -X- O O\n\nw O\n\n")
    (tmp_path / "b.conll").write_bytes(b"-DOCSTART- -X- O O\n\nv O\n\n")
    get_format("conll2003").merge("result.conll", tmp_path / "a.conll", [tmp_path / "b.conll"])
    assert (tmp_path / "a.conll").read_bytes() == b"-DOCSTART- -X- O O\n\nw O\n\nv O\n\n"


def test_the_default_combines_lists_tables_and_lines(tmp_path):
    base = FormatBase()
    cases = {
        "list.json": (b"[1, 2]", b"[3]", [1, 2, 3]),
        "rows.csv": (b"id,x\n1,2\n", b"id,x\n2,3", b"id,x\n1,2\n2,3"),
        "names.txt": (b"a\nb", b"c\n", b"a\nb\nc\n"),
    }
    for relative, (first, second, expected) in cases.items():
        (tmp_path / "one").mkdir(exist_ok=True)
        (tmp_path / "two").mkdir(exist_ok=True)
        (tmp_path / "one" / relative).write_bytes(first)
        (tmp_path / "two" / relative).write_bytes(second)
        base.merge(relative, tmp_path / "one" / relative, [tmp_path / "two" / relative])
        written = (tmp_path / "one" / relative).read_bytes()
        assert (json.loads(written) if relative.endswith(".json") else written) == expected, relative


@pytest.mark.parametrize(
    ("name", "relative", "first", "second", "message"),
    [
        ("json", "rows.csv", b"id,x\n1,2\n", b"id,y\n2,3\n", "different columns"),
        ("json", "notes.json", b'{"a": 1}', b'{"a": 2}', "different versions"),
        ("coco", "result.json", b'{"images": [], "annotations": []}', b"[1]", "different versions"),
        ("json", "result.json", b"[1]", b'[{"id": 2}', "not JSON"),
        ("yolo", "data.yaml", b"nc: 1\n", b"nc: 2\n", "different versions"),
        ("conll2003", "result.json", b"[1]", b"{", "not JSON"),
    ],
)
def test_what_cannot_be_combined_is_an_error_naming_the_file(tmp_path, name, relative, first, second, message):
    (tmp_path / "one").write_bytes(first)
    (tmp_path / "two").write_bytes(second)
    with pytest.raises(OutputError, match=rf"{relative}: .*{message}"):
        get_format(name).merge(relative, tmp_path / "one", [tmp_path / "two"])
