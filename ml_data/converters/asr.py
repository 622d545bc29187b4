"""ASR_MANIFEST: NeMo's JSON-lines manifest, ``{"audio_filepath", "text", "duration"}`` per line.

The transcript is the TextArea text on the audio object; region-level transcripts (with start and
end) become one line each with ``offset`` and ``duration``. Audio URLs are turned into local paths
by the caller's media lookup (the pipeline or the CLI resolve them); without one the URL is kept
and a warning says so. Each line is built from its own task only.
"""

from __future__ import annotations

import contextlib
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ml_data.converters.base import Context, FormatBase, annotated_tasks
from ml_data.converters.images import UniqueNames, unique_names
from ml_data.converters.merging import append
from ml_data.tasks.label_config import LabelConfig

#: NeMo's manifest: JSON lines, under the name NeMo's tools use
_MANIFEST = "manifest.json"


def wav_duration(path: str) -> float | None:
    """Seconds of a WAV file, read from its header; None for other files."""
    with contextlib.suppress(OSError, wave.Error, EOFError):
        with wave.open(path, "rb") as audio:
            rate = audio.getframerate()
            return audio.getnframes() / rate if rate else None
    return None


class AsrManifestFormat(FormatBase):
    name = "asr-manifest"

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "ASR_MANIFEST needs the labeling config (which audio the transcript is for)"
        if not self._targets(config):
            return "ASR_MANIFEST needs a <TextArea> control on an <Audio> object"
        return None

    @staticmethod
    def _targets(config: LabelConfig) -> dict[str, list[str]]:
        return config.controls_on(("TextArea",), ("Audio", "AudioPlus"))

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        targets = self._targets(config)
        audio_name = next(iter(targets))
        key = config.objects[audio_name].value_key or ""
        controls = set(targets[audio_name])
        if context.media.local_path is None:
            context.report.warn("no media lookup: audio_filepath holds the task's URL, not a local path")
        names = unique_names(context)
        with open(out / _MANIFEST, "wb") as handle:
            for task, url, selected in annotated_tasks(context, key, "audio URL", non_empty=True):
                with context.guard(task.id):
                    self._write_task(context, handle, task, url, selected, controls, names)

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """The shards' manifests are JSON lines (one object a line, though named ``.json``):
        concatenated."""
        if Path(relative).name != _MANIFEST:
            super().merge(relative, target, parts)
            return
        for part in parts:
            append(target, part.read_bytes())

    def _write_task(self, context, handle, task, url, selected, controls, names) -> None:  # type: ignore[no-untyped-def]
        lookup = context.media.local_path
        local = lookup(url, task.id) if lookup is not None else url
        if local is None:
            context.fail_or_skip(task.id, f"audio could not be resolved to a local file: {url}")
            return
        duration = wav_duration(local) if lookup is not None else None
        path = local
        if context.media.places_media:
            name = f"audio/{names.stem(url, task.id)}{UniqueNames.extension(url, default='.wav')}"
            path = context.place(url, task.id, name)
        lines = [orjson.dumps(entry) + b"\n" for entry in self._entries(selected[0], controls, path, duration)]
        for line in lines:
            handle.write(line)
            context.report.items_written += 1
        if len(selected) > 1:
            context.report.warn(f"task {task.id}: {len(selected)} annotations, the first one exported")

    @staticmethod
    def _entries(annotation: Any, controls: set[str], path: str, duration: float | None) -> list[dict[str, Any]]:
        whole: list[str] = []
        segments: list[dict[str, Any]] = []
        for region in annotation.result:
            if region.from_name not in controls:
                continue
            text = " ".join(str(part) for part in region.value.get("text") or []).strip()
            start, end = region.value.get("start"), region.value.get("end")
            if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
                segments.append({"audio_filepath": path, "text": text, "offset": start, "duration": end - start})
            elif text:
                whole.append(text)
        entries = []
        if whole:
            entry: dict[str, Any] = {"audio_filepath": path, "text": " ".join(whole)}
            if duration is not None:
                entry["duration"] = round(duration, 6)
            entries.append(entry)
        return entries + sorted(segments, key=lambda segment: segment["offset"])
