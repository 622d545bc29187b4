"""Audio and time series benchmark: durations, clips and labelled series, on generated files.

    .venv/bin/python -m benchmarks.bench_audio
    .venv/bin/python -m benchmarks.bench_audio --files 200 --minutes 10 --rows 100000
    .venv/bin/python -m benchmarks.bench_audio --files 1 --minutes 1 --rows 1000000 --ranges 100000

Durations: ``--files`` WAV, FLAC, OGG and MP3 files of 30 s each, read by ml-data
(``audio_info``) and, for WAV (the only format it reads), by the reference converter's
``get_audio_duration`` (label-studio-sdk). Clips: one mono 16 kHz recording of ``--minutes``
minutes in each format, cut into one clip every 3 s (``write_clips``, one decode per file); the
line gives the time and the audio seconds decoded per second. Time series: a CSV of ``--rows``
rows with ``--ranges`` ranges (200), labelled (``label_file``); the reference has no such export.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from ml_data.converters.audio import Clip, audio_info, write_clips
from ml_data.converters.timeseries import Range, Series, label_file

FORMATS = [
    ("WAV", "PCM_16", "wav"),
    ("FLAC", "PCM_16", "flac"),
    ("OGG", "VORBIS", "ogg"),
    ("MP3", "MPEG_LAYER_III", "mp3"),
]
RATE = 16000


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _write(path: Path, samples: np.ndarray, fmt: str, subtype: str) -> None:
    """Written in blocks: libsndfile's Vorbis encoder crashes on one long write."""
    with soundfile.SoundFile(str(path), "w", RATE, 1, subtype, format=fmt) as handle:
        for start in range(0, len(samples), 65536):
            handle.write(samples[start : start + 65536])


def bench_durations(folder: Path, files: int) -> None:
    from label_studio_sdk.converter.utils import get_audio_duration

    samples = _tone(30)
    for fmt, subtype, extension in FORMATS:
        paths = []
        for index in range(files):
            path = folder / f"d{index}.{extension}"
            _write(path, samples, fmt, subtype)
            paths.append(path)
        start = time.perf_counter()
        for path in paths:
            audio_info(path, name=path.name)
        ours = (time.perf_counter() - start) / files
        line = f"durations {fmt:<4} {files} files: ml-data {ours * 1e6:8.0f} us/file"
        if fmt == "WAV":
            start = time.perf_counter()
            for path in paths:
                get_audio_duration(str(path))
            theirs = (time.perf_counter() - start) / files
            line += f", reference {theirs * 1e6:.0f} us/file"
        else:
            line += ", reference: cannot read it"
        print(line, flush=True)


def bench_clips(folder: Path, minutes: float) -> None:
    samples = _tone(minutes * 60)
    for fmt, subtype, extension in FORMATS:
        source = folder / f"long.{extension}"
        _write(source, samples, fmt, subtype)
        info = audio_info(source, name=source.name)
        clips_folder = folder / f"clips-{extension}"
        clips_folder.mkdir()
        clips = [
            Clip(round(second * RATE), round((second + 2.5) * RATE), clips_folder / f"c{second}.wav")
            for second in range(0, int(minutes * 60) - 3, 3)
        ]
        start = time.perf_counter()
        write_clips(source, info, clips, name=source.name)
        took = time.perf_counter() - start
        speed = minutes * 60 / took
        line = f"clips     {fmt:<4} {minutes:g} min, {len(clips)} clips: {took:6.2f} s ({speed:5.0f}x real time)"
        print(line, flush=True)


def bench_series(folder: Path, rows: int, count: int) -> None:
    source = folder / "series.csv"
    generator = np.random.default_rng(1)
    with open(source, "w", encoding="utf-8") as handle:
        handle.write("time;a;b\n")
        for row in range(rows):
            handle.write(f"{row * 0.01:.2f};{generator.normal():.4f};{generator.normal():.4f}\n")
    ranges = []
    for index in range(count):
        begin = float(generator.uniform(0, rows * 0.01))
        ranges.append(Range(begin, begin + float(generator.uniform(0, 20)), "Run", f"r{index}", "label"))
    series = Series("ts", "csv", ("label",), "time", ";", None)
    start = time.perf_counter()
    label_file(source, folder / "labelled.csv", series, {"label": ranges}, name="series.csv", task_id=1)
    took = time.perf_counter() - start
    print(f"series    {rows} rows, {count} ranges: {took:6.2f} s ({rows / took:,.0f} rows/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--ranges", type=int, default=200, help="ranges on the time series")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        bench_durations(folder, args.files)
        bench_clips(folder, args.minutes)
        bench_series(folder, args.rows, args.ranges)


if __name__ == "__main__":
    main()
