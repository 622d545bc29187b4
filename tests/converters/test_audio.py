"""Audio read for the ASR manifest: durations of every format libsndfile or FFmpeg reads, and
segments cut into WAV clips (``clips``), checked against the samples the test encoded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ml_data.converters import ConvertOptions, MediaHooks, convert
from ml_data.converters.audio import Clip, audio_info, write_clips
from ml_data.errors import ConfigurationError, ConversionError, InvalidExport

av = pytest.importorskip("av")
soundfile = pytest.importorskip("soundfile")

#: (libsndfile format, subtype, extension)
ENCODINGS = [
    ("FLAC", "PCM_16", "flac"),
    ("OGG", "VORBIS", "ogg"),
    ("MP3", "MPEG_LAYER_III", "mp3"),
    ("WAV", "PCM_16", "wav"),
]
ASR = (
    "<View><Audio name='audio' value='$audio'/>"
    "<Labels name='speaker' toName='audio'><Label value='A'/><Label value='B'/></Labels>"
    "<TextArea name='said' toName='audio' perRegion='true'/></View>"
)


def _tone(frames: int, rate: int, channels: int = 1) -> np.ndarray:
    """A 440 Hz tone with a ramp, as int16 (frames, channels): every sample tells where it is."""
    t = np.arange(frames) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * (np.arange(frames) / frames)
    return np.round(np.stack([mono * (1 - 0.3 * c) for c in range(channels)], axis=1) * 32767).astype(np.int16)


def _encode(path: Path, frames: int, rate: int, fmt: str = "WAV", subtype: str = "PCM_16", channels: int = 1) -> Path:
    soundfile.write(str(path), _tone(frames, rate, channels), rate, format=fmt, subtype=subtype)
    return path


@pytest.mark.parametrize("fmt,subtype,extension", ENCODINGS)
@pytest.mark.parametrize("rate,frames", [(16000, 16000 * 3 + 77), (44100, 44100 * 2 + 1), (22050, 10_001)])
def test_durations_within_a_millisecond_of_the_encoders(tmp_path, fmt, subtype, extension, rate, frames):
    path = _encode(tmp_path / f"tone.{extension}", frames, rate, fmt, subtype)
    info = audio_info(path, name=path.name)
    assert info.sample_rate == rate and info.channels == 1
    assert abs(info.duration - frames / rate) < 0.001


def test_what_libsndfile_cannot_open_ffmpeg_measures(tmp_path):
    """Matroska audio: libsndfile does not read it, PyAV does (its durations are in milliseconds)."""
    path = tmp_path / "tone.mka"
    samples = _tone(32123, 16000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.info(str(path))
    info = audio_info(path, name="tone.mka")
    assert abs(info.duration - 32123 / 16000) < 0.001
    # and FFmpeg decodes it for clips, sample for sample
    target = tmp_path / "clip.wav"
    assert write_clips(path, info, [Clip(1000, 5000, target)], name="tone.mka") == [4000]
    clip, rate = soundfile.read(str(target), dtype="int16")
    assert rate == 16000 and np.array_equal(clip, samples[1000:5000, 0])


def test_an_unreadable_file_is_a_typed_error_naming_the_task_and_file(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(b"not audio at all" * 100)
    with pytest.raises(InvalidExport) as info:
        audio_info(path, name="https://host/noise.mp3", task_id=7)
    assert info.value.task_id == 7 and "noise.mp3" in str(info.value) and "task 7" in str(info.value)


def test_without_soundfile_wav_is_still_read_and_flac_names_the_extra(tmp_path, monkeypatch):
    wav = _encode(tmp_path / "tone.wav", 8000, 8000)
    flac = _encode(tmp_path / "tone.flac", 8000, 8000, "FLAC")
    # ``import soundfile`` fails as it does where the extra is not installed
    monkeypatch.setitem(sys.modules, "soundfile", None)
    monkeypatch.setitem(sys.modules, "av", None)
    assert audio_info(wav, name="tone.wav").duration == 1.0
    target = tmp_path / "clip.wav"
    assert write_clips(wav, audio_info(wav, name="tone.wav"), [Clip(10, 20, target)], name="tone.wav") == [10]
    with pytest.raises(InvalidExport, match=r"ml-data\[audio\]"):
        audio_info(flac, name="tone.flac")


def _region(region_id: str, start: object, end: object, text: str | None, label: str | None) -> list[dict]:
    """A segment as Label Studio exports it: a Labels result and its per-region TextArea, one id."""
    results = []
    if label is not None:
        value = {"start": start, "end": end, "channel": 0, "labels": [label]}
        results.append({"id": region_id, "from_name": "speaker", "to_name": "audio", "type": "labels", "value": value})
    if text is not None:
        value = {"start": start, "end": end, "channel": 0, "text": [text]}
        results.append({"id": region_id, "from_name": "said", "to_name": "audio", "type": "textarea", "value": value})
    return results


def _task(task_id: int, url: str, *regions: list[dict]) -> dict:
    result = [item for region in regions for item in region]
    return {"id": task_id, "data": {"audio": url}, "annotations": [{"id": task_id, "result": result}]}


@pytest.mark.parametrize("fmt,subtype,extension", ENCODINGS)
def test_clips_have_the_segments_samples_and_the_manifest_lists_them(tmp_path, fmt, subtype, extension):
    rate, frames = 16000, 16000 * 4
    source = _encode(tmp_path / f"talk.{extension}", frames, rate, fmt, subtype, channels=2)
    task = _task(
        1,
        f"https://host/talk.{extension}",
        _region("b", 2.25, 3.5, "second part", "B"),
        _region("a", 0.5, 1.0, "first part", "A"),
        _region("c", 3.0, 3.125, None, "A"),  # labelled, not transcribed: a clip with empty text
    )
    out = tmp_path / "out"
    report = convert(
        [task],
        "asr-manifest",
        out,
        config=ASR,
        options=ConvertOptions(clips=True),
        media=MediaHooks(local_path=lambda url, task_id: str(source)),
    )
    lines = [json.loads(line) for line in (out / "manifest.json").read_text().splitlines()]
    assert lines == [
        {"audio_filepath": "audio/talk__0.500-1.000.wav", "text": "first part", "duration": 0.5, "labels": ["A"]},
        {"audio_filepath": "audio/talk__2.250-3.500.wav", "text": "second part", "duration": 1.25, "labels": ["B"]},
        {"audio_filepath": "audio/talk__3.000-3.125.wav", "text": "", "duration": 0.125, "labels": ["A"]},
    ]
    assert report.items_written == 3 and report.warnings == []
    decoded, _ = soundfile.read(str(source), dtype="int16", always_2d=True)
    for line, (start, end) in zip(lines, [(0.5, 1.0), (2.25, 3.5), (3.0, 3.125)], strict=True):
        clip, clip_rate = soundfile.read(str(out / line["audio_filepath"]), dtype="int16", always_2d=True)
        assert clip_rate == rate and clip.shape == (round((end - start) * rate), 2)
        # the clip holds the source's own samples, as libsndfile decodes them (MP3 is decoded by
        # FFmpeg, which rounds a sample now and then the other way)
        expected = decoded[round(start * rate) : round(end * rate)]
        assert np.abs(clip.astype(int) - expected).max() <= (1 if fmt == "MP3" else 0)
    assert sorted(path.name for path in (out / "audio").iterdir()) == [
        Path(line["audio_filepath"]).name for line in lines
    ]


def test_bad_ranges_are_reported_and_left_out(tmp_path):
    source = _encode(tmp_path / "talk.flac", 16000 * 2, 16000, "FLAC")
    task = _task(
        9,
        "https://host/talk.flac",
        _region("ok", 0.0, 0.5, "fine", "A"),
        _region("reversed", 1.0, 0.5, "backwards", "A"),
        _region("outside", 5.0, 6.0, "after the end", "B"),
        _region("words", "one", "two", "not numbers", None),
        _region("long", 1.5, 9.0, "past the end", "B"),
    )
    out = tmp_path / "out"
    report = convert(
        [task],
        "asr-manifest",
        out,
        config=ASR,
        options=ConvertOptions(clips=True),
        media=MediaHooks(local_path=lambda url, task_id: str(source)),
    )
    lines = [json.loads(line) for line in (out / "manifest.json").read_text().splitlines()]
    assert [line["text"] for line in lines] == ["fine", "past the end"]
    assert lines[1] == {
        "audio_filepath": "audio/talk__1.500-2.000.wav",
        "text": "past the end",
        "duration": 0.5,
        "labels": ["B"],
    }
    assert len(soundfile.read(str(out / lines[1]["audio_filepath"]))[0]) == 8000
    warnings = "\n".join(report.warnings)
    for region in ("reversed", "outside", "words", "long"):
        assert f"task 9: region {region}" in warnings
    assert "ends before it starts" in warnings and "not within the audio" in warnings and "cut there" in warnings
    assert "not numbers" in warnings
    assert not (out / "audio" / "talk__1.000-0.500.wav").exists()


@pytest.mark.parametrize("end", [1e300, 1e308])
def test_a_huge_end_is_cut_at_the_audios_end_in_the_clip_and_its_name(tmp_path, end):
    source = _encode(tmp_path / "talk.wav", 16000, 16000)
    task = _task(3, "https://host/talk.wav", _region("r", 0.5, end, "to the end of time", "A"))
    out = tmp_path / "out"
    report = convert(
        [task],
        "asr-manifest",
        out,
        config=ASR,
        options=ConvertOptions(clips=True),
        media=MediaHooks(local_path=lambda url, task_id: str(source)),
    )
    lines = [json.loads(line) for line in (out / "manifest.json").read_text().splitlines()]
    assert lines == [
        {
            "audio_filepath": "audio/talk__0.500-1.000.wav",
            "text": "to the end of time",
            "duration": 0.5,
            "labels": ["A"],
        }
    ]
    assert not report.skipped and any("cut there" in warning for warning in report.warnings)
    assert len(soundfile.read(str(out / lines[0]["audio_filepath"]))[0]) == 8000


def test_a_task_with_more_segments_than_open_files_allowed_gets_every_clip(tmp_path):
    resource = pytest.importorskip("resource")
    source = _encode(tmp_path / "talk.wav", 16000 * 2, 16000)
    count = 300
    regions = [_region(f"r{i}", i / 1000, 1.5, f"part {i}", "A") for i in range(count)]
    task = _task(5, "https://host/talk.wav", *regions)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    try:
        report = convert(
            [task],
            "asr-manifest",
            tmp_path / "out",
            config=ASR,
            options=ConvertOptions(clips=True),
            media=MediaHooks(local_path=lambda url, task_id: str(source)),
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.items_written == count
    decoded = _tone(16000 * 2, 16000)
    for line in map(json.loads, (tmp_path / "out" / "manifest.json").read_text().splitlines()):
        start = int(line["text"].split()[1]) * 16
        clip, _ = soundfile.read(str(tmp_path / "out" / line["audio_filepath"]), dtype="int16", always_2d=True)
        assert np.array_equal(clip, decoded[start:24000])
    assert len(list((tmp_path / "out" / "audio").iterdir())) == count


def test_clips_of_an_undecodable_file_fail_the_task_by_the_policy_and_leave_nothing(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\xff\xfb" + b"junk" * 500)
    good = _encode(tmp_path / "good.flac", 16000, 16000, "FLAC")
    tasks = [
        _task(1, "https://host/broken.mp3", _region("r", 0.1, 0.2, "x", "A")),
        _task(2, "https://host/good.flac", _region("r", 0.1, 0.2, "y", "A")),
    ]
    paths = {"https://host/broken.mp3": str(bad), "https://host/good.flac": str(good)}
    hooks = MediaHooks(local_path=lambda url, task_id: paths[url])
    with pytest.raises(ConversionError, match="broken.mp3") as info:
        convert(tasks, "asr-manifest", tmp_path / "fail", config=ASR, options=ConvertOptions(clips=True), media=hooks)
    assert info.value.task_id == 1 and not (tmp_path / "fail").exists()
    options = ConvertOptions(clips=True, on_error="skip")
    report = convert(tasks, "asr-manifest", tmp_path / "skip", config=ASR, options=options, media=hooks)
    assert report.items_written == 1 and report.examples[0][0] == 1
    assert [path.name for path in (tmp_path / "skip" / "audio").iterdir()] == ["good__0.100-0.200.wav"]


def test_an_unreadable_duration_is_a_warning_not_a_crash(tmp_path):
    bad = tmp_path / "broken.ogg"
    bad.write_bytes(b"OggS" + b"\0" * 100)
    said = {"from_name": "said", "to_name": "audio", "type": "textarea", "value": {"text": ["hello"]}}
    task = {"id": 4, "data": {"audio": "https://host/broken.ogg"}, "annotations": [{"result": [said]}]}
    report = convert(
        [task], "asr-manifest", tmp_path / "out", config=ASR, media=MediaHooks(lambda url, task_id: str(bad))
    )
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == {"audio_filepath": str(bad), "text": "hello"}
    assert any("task 4" in warning and "broken.ogg" in warning for warning in report.warnings)


def test_clips_need_the_audio_files(tmp_path):
    task = _task(1, "https://host/a.wav", _region("r", 0.1, 0.2, "x", "A"))
    with pytest.raises(ConfigurationError, match="media lookup"):
        convert([task], "asr-manifest", tmp_path / "out", config=ASR, options=ConvertOptions(clips=True))


def test_without_clips_transcribed_segments_are_offsets_into_the_whole_file(tmp_path):
    source = _encode(tmp_path / "talk.flac", 16000 * 2, 16000, "FLAC")
    task = _task(
        2,
        "https://host/talk.flac",
        _region("b", 1.0, 1.5, "later", "B"),
        _region("a", 0.25, 0.5, "first", "A"),
        _region("c", 0.5, 0.75, None, "A"),  # labelled only: no transcript, no line
        _region("d", 1.5, 1.0, "backwards", None),
    )
    report = convert(
        [task],
        "asr-manifest",
        tmp_path / "out",
        config=ASR,
        media=MediaHooks(local_path=lambda url, task_id: str(source)),
    )
    lines = [json.loads(line) for line in (tmp_path / "out" / "manifest.json").read_text().splitlines()]
    assert lines == [
        {"audio_filepath": str(source), "text": "first", "offset": 0.25, "duration": 0.25},
        {"audio_filepath": str(source), "text": "later", "offset": 1.0, "duration": 0.5},
    ]
    assert not (tmp_path / "out" / "audio").exists()
    assert any("task 2: region d" in warning and "ends before it starts" in warning for warning in report.warnings)
