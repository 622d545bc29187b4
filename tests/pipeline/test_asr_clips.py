"""``ml-data fetch --clips`` and ``ml-data convert --clips``: audio from a real HTTP server, each
labelled segment cut into its own WAV file, a segment-level manifest beside them."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.pipeline import DatasetOptions, fetch_export

soundfile = pytest.importorskip("soundfile")

CONFIG = (
    "<View><Audio name='audio' value='$audio'/>"
    "<Labels name='speaker' toName='audio'><Label value='A'/><Label value='B'/></Labels>"
    "<TextArea name='said' toName='audio' perRegion='true'/></View>"
)
RATE = 16000


def _flac(seconds: float) -> tuple[bytes, np.ndarray]:
    samples = (np.sin(np.arange(int(RATE * seconds)) / 7.0) * 10000).astype(np.int16)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format="FLAC")
    return buffer.getvalue(), samples


def _task(task_id: int, url: str, segments: list[tuple[str, float, float, str, str]]) -> dict:
    result = []
    for region, start, end, label, text in segments:
        span = {"start": start, "end": end, "channel": 0}
        result.append(
            {
                "id": region,
                "from_name": "speaker",
                "to_name": "audio",
                "type": "labels",
                "value": {**span, "labels": [label]},
            }
        )
        result.append(
            {
                "id": region,
                "from_name": "said",
                "to_name": "audio",
                "type": "textarea",
                "value": {**span, "text": [text]},
            }
        )
    return {"id": task_id, "data": {"audio": url}, "annotations": [{"id": task_id, "result": result}]}


@pytest.fixture
def export(file_server, tmp_path):  # type: ignore[no-untyped-def]
    first, first_samples = _flac(3.0)
    second, second_samples = _flac(1.0)
    file_server.add("/audio/meeting.flac", body=first)
    file_server.add("/other/meeting.flac", body=second)
    tasks = [
        _task(
            1,
            file_server.url("/audio/meeting.flac"),
            [("r1", 0.25, 1.5, "A", "hello there"), ("r2", 2.0, 2.5, "B", "hi")],
        ),
        _task(2, file_server.url("/other/meeting.flac"), [("r1", 0.0, 0.75, "B", "second file")]),
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    (tmp_path / "config.xml").write_text(CONFIG)
    return path, {1: first_samples, 2: second_samples}


def test_fetch_writes_a_clip_per_segment_and_lists_them(export, settings, tmp_path):
    path, samples = export
    out = tmp_path / "asr"
    fetch_export(
        path, out=out, config=CONFIG, settings=settings, options=DatasetOptions(format="asr-manifest", clips=True)
    )
    lines = [json.loads(line) for line in (out / "asr_manifest.json").read_text().splitlines()]
    assert lines == [
        {"audio_filepath": "audio/meeting__0.250-1.500.wav", "text": "hello there", "duration": 1.25, "labels": ["A"]},
        {"audio_filepath": "audio/meeting__2.000-2.500.wav", "text": "hi", "duration": 0.5, "labels": ["B"]},
        {
            "audio_filepath": "audio/meeting__task2__0.000-0.750.wav",
            "text": "second file",
            "duration": 0.75,
            "labels": ["B"],
        },
    ]
    for line, (task, start) in zip(lines, [(1, 0.25), (1, 2.0), (2, 0.0)], strict=True):
        clip, rate = soundfile.read(str(out / line["audio_filepath"]), dtype="int16")
        first = round(start * RATE)
        assert rate == RATE and np.array_equal(clip, samples[task][first : first + round(line["duration"] * RATE)])
    files = json.loads((out / "manifest.json").read_text())["files"]
    # the clips are the dataset's files; the whole recordings, which no line names, are not placed
    assert {name for name in files if name.startswith("audio/")} == {line["audio_filepath"] for line in lines}
    assert not any(name.startswith(".") or ".part" in name for name in files)


def test_cli_fetch_and_convert_take_clips(export, monkeypatch, tmp_path):
    path, _ = export
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    config = str(tmp_path / "config.xml")
    fetched = CliRunner().invoke(
        main,
        [
            "fetch",
            "--export",
            str(path),
            "--config",
            config,
            "--format",
            "asr-manifest",
            "--clips",
            "--out",
            str(tmp_path / "ds"),
        ],
    )
    assert fetched.exit_code == 0, fetched.output
    assert len((tmp_path / "ds" / "asr_manifest.json").read_text().splitlines()) == 3
    converted = CliRunner().invoke(
        main,
        [
            "convert",
            str(path),
            "--config",
            config,
            "--format",
            "asr-manifest",
            "--clips",
            "--out",
            str(tmp_path / "cv"),
        ],
    )
    assert converted.exit_code == 0, converted.output
    lines = [json.loads(line) for line in (tmp_path / "cv" / "manifest.json").read_text().splitlines()]
    assert [line["audio_filepath"] for line in lines] == [
        "audio/meeting__0.250-1.500.wav",
        "audio/meeting__2.000-2.500.wav",
        "audio/meeting__task2__0.000-0.750.wav",
    ]
    assert all((tmp_path / "cv" / line["audio_filepath"]).is_file() for line in lines)
