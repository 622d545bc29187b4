"""convert(): registry, error policy, atomic output, report, ASR manifests, and the CLI."""

from __future__ import annotations

import json
import wave

import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.converters import KNOWN_FORMATS, ConvertOptions, MediaHooks, convert
from ml_data.errors import ConversionError, FormatNotSupported, InvalidExport, UnknownFormat
from tests.support.exports import NER_CONFIG, ner_task, write_export

GOOD = {"id": 1, "data": {"text": "Anna runs"}, "annotations": [{"id": 1, "result": []}]}
BAD = {"id": 2, "data": "not an object"}


def test_unknown_format_lists_the_known_ones(tmp_path):
    with pytest.raises(UnknownFormat) as info:
        convert([GOOD], "parquet", tmp_path / "out")
    assert all(name in str(info.value) for name in KNOWN_FORMATS)
    assert isinstance(info.value, ValueError)


def test_format_names_are_case_and_dash_insensitive(tmp_path):
    for name in ("JSON_MIN", "json_min", "Json-Min"):
        assert convert([GOOD], name, tmp_path / name).format == "json-min"


def test_a_config_the_format_cannot_express_is_refused(tmp_path):
    with pytest.raises(FormatNotSupported, match="Labels"):
        convert([GOOD], "conll2003", tmp_path / "out", config="<View><Text name='t' value='$text'/></View>")


def test_fail_policy_names_the_task_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match="task 2"):
        convert([GOOD, BAD, GOOD], "json-min", out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no half-written folder beside it either


def test_a_failed_run_keeps_the_previous_output(tmp_path):
    out = tmp_path / "out"
    convert([GOOD], "csv", out)
    before = (out / "result.csv").read_bytes()
    with pytest.raises(ConversionError):
        convert([GOOD, BAD], "csv", out)
    assert (out / "result.csv").read_bytes() == before


def test_skip_policy_records_the_reason(tmp_path):
    report = convert(
        [GOOD, BAD, {"id": 3}, {**GOOD, "id": 4}], "json-min", tmp_path / "out", options=ConvertOptions(on_error="skip")
    )
    assert report.items_written == 2 and report.tasks == 4
    assert sum(report.skipped.values()) == 2
    assert {task_id for task_id, _ in report.examples} == {2, 3}
    assert len(json.loads((tmp_path / "out" / "result.json").read_text())) == 2


def test_invalid_json_is_an_error_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 1, "data": {}}, {"id": ')
    with pytest.raises(InvalidExport):
        convert(bad, "csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cancelled_and_unannotated_tasks_per_format(tmp_path):
    cancelled = {"id": 5, "data": {"text": "x y"}, "annotations": [{"id": 9, "was_cancelled": True, "result": []}]}
    empty = {"id": 6, "data": {"text": "x y"}, "annotations": []}
    report = convert([cancelled, empty], "json-min", tmp_path / "min", config=NER_CONFIG)
    records = json.loads((tmp_path / "min" / "result.json").read_text())
    assert [r["id"] for r in records] == [6]  # unannotated: data alone; cancelled: left out
    assert report.skipped == {"all annotations cancelled": 1}
    report = convert([cancelled, empty], "conll2003", tmp_path / "conll", config=NER_CONFIG)
    assert report.items_written == 0  # an unlabelled text is not "no entities"
    assert report.skipped == {"all annotations cancelled": 1, "no annotation": 1}
    report = convert([cancelled, empty], "json", tmp_path / "json")
    assert report.items_written == 2


def test_json_keeps_tasks_as_exported(tmp_path):
    import random

    task = ner_task(random.Random(1), 1, annotations=2)
    convert([task], "json", tmp_path / "all")
    assert json.loads((tmp_path / "all" / "result.json").read_text()) == [task]
    convert([task], "json", tmp_path / "latest", options=ConvertOptions(annotations="latest"))
    (latest,) = json.loads((tmp_path / "latest" / "result.json").read_text())
    assert [a["id"] for a in latest["annotations"]] == [task["annotations"][1]["id"]]


ASR = "<View><Audio name='audio' value='$audio'/><TextArea name='transcription' toName='audio'/></View>"


def _wav(path, seconds: float) -> str:  # type: ignore[no-untyped-def]
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * int(8000 * seconds))
    return str(path)


def test_asr_manifest(tmp_path):
    first, second = _wav(tmp_path / "a.wav", 1.5), _wav(tmp_path / "b.wav", 0.5)
    tasks = [
        {
            "id": 1,
            "data": {"audio": "/data/upload/1/a.wav"},
            "annotations": [
                {
                    "id": 1,
                    "result": [
                        {
                            "from_name": "transcription",
                            "to_name": "audio",
                            "type": "textarea",
                            "value": {"text": ["hello world"]},
                        }
                    ],
                }
            ],
        },
        {"id": 2, "data": {"audio": "/data/upload/1/b.wav"}, "annotations": [{"id": 2, "result": []}]},
        {
            "id": 3,
            "data": {"audio": "/data/upload/1/c.wav"},
            "annotations": [
                {
                    "id": 3,
                    "result": [
                        {
                            "from_name": "transcription",
                            "to_name": "audio",
                            "type": "textarea",
                            "value": {"start": 0.5, "end": 1.25, "text": ["segment"]},
                        }
                    ],
                }
            ],
        },
    ]
    paths = {"/data/upload/1/a.wav": first, "/data/upload/1/b.wav": second, "/data/upload/1/c.wav": first}
    report = convert(
        tasks,
        "asr-manifest",
        tmp_path / "out",
        config=ASR,
        media=MediaHooks(local_path=lambda url, task_id: paths[url]),
    )
    lines = [json.loads(line) for line in (tmp_path / "out" / "manifest.json").read_text().splitlines()]
    assert lines == [
        {"audio_filepath": first, "text": "hello world", "duration": 1.5},
        {"audio_filepath": first, "text": "segment", "offset": 0.5, "duration": 0.75},
    ]
    # The task without a transcript gets no line: the previous one's text is never carried over.
    assert report.items_written == 2


def test_asr_without_media_lookup_keeps_urls_and_warns(tmp_path):
    task = {
        "id": 1,
        "data": {"audio": "s3://b/a.wav"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {"from_name": "transcription", "to_name": "audio", "type": "textarea", "value": {"text": ["hi"]}}
                ],
            }
        ],
    }
    report = convert([task], "asr-manifest", tmp_path / "out", config=ASR)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == {
        "audio_filepath": "s3://b/a.wav",
        "text": "hi",
    }
    assert any("media lookup" in warning for warning in report.warnings)


def test_cli_convert(tmp_path):
    export = write_export(tmp_path / "export.json", "ner", 20, seed=2)
    config = tmp_path / "config.xml"
    config.write_text(NER_CONFIG)
    result = CliRunner().invoke(
        main,
        [
            "convert",
            str(export),
            "--config",
            str(config),
            "--format",
            "CONLL2003",
            "--out",
            str(tmp_path / "o"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["items_written"] == 20 and report["format"] == "conll2003"
    assert (tmp_path / "o" / "result.conll").exists()


def test_cli_convert_errors_are_clean(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([GOOD, BAD]))
    result = CliRunner().invoke(main, ["convert", str(export), "--format", "csv", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "ConversionError" in result.output and "task 2" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(
        main, ["convert", str(export), "--format", "csv", "--out", str(tmp_path / "o"), "--on-error", "skip"]
    )
    assert result.exit_code == 0 and "skipped 1" in result.output


def test_cli_resolves_images_without_sizes(tmp_path, monkeypatch):
    from PIL import Image

    (tmp_path / "media").mkdir()
    Image.new("RGB", (80, 40)).save(tmp_path / "media" / "a.png")
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(tmp_path / "media"))
    config = tmp_path / "config.xml"
    config.write_text(
        "<View><Image name='i' value='$image'/><RectangleLabels name='b' toName='i'><Label value='x'/></RectangleLabels></View>"
    )
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "data": {"image": "/data/local-files/?d=a.png"},
                    "annotations": [
                        {
                            "id": 1,
                            "result": [
                                {
                                    "from_name": "b",
                                    "to_name": "i",
                                    "type": "rectanglelabels",
                                    "value": {"x": 50, "y": 50, "width": 25, "height": 50, "rectanglelabels": ["x"]},
                                }
                            ],
                        }
                    ],
                }
            ]
        )
    )
    result = CliRunner().invoke(
        main, ["convert", str(export), "--config", str(config), "--format", "coco", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "o" / "result.json").read_text())
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (80, 40)
    assert coco["annotations"][0]["bbox"] == [40, 20, 20, 20]
