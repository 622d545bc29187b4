"""ASR_MANIFEST: NeMo's JSON-lines manifest, ``{"audio_filepath", "text", "duration"}`` per line.

The transcript is the TextArea text on the audio object; region-level transcripts (with start and
end) become one line each with ``offset`` and ``duration``. With ``clips``, every segment (a
Labels region on the audio, or a region-level transcript; the two joined by region id) is cut
into its own WAV file, ``audio/<name>__<start>-<end>.wav``, and listed alone with its text, its
labels and its duration: a segment-level manifest, as NeMo's segmenting scripts write it.

Audio URLs are turned into local paths by the caller's media lookup (the pipeline or the CLI
resolve them); without one the URL is kept and a warning says so. Where the caller places the
media (a fetched dataset, whose own ``manifest.json`` lists its files), the manifest is
``asr_manifest.json``. Durations are read from the
file (:mod:`ml_data.converters.audio`): a file that cannot be read is a warning naming the task and
the file, and its line has no duration. Each line is built from its own task only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeGuard

import orjson

from ml_data.converters.audio import AudioInfo, Clip, audio_info, write_clips
from ml_data.converters.base import Context, FormatBase, annotated_tasks
from ml_data.converters.images import UniqueNames
from ml_data.converters.merging import append
from ml_data.errors import ConfigurationError, InvalidExport
from ml_data.redaction import redact_url
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation, Task

#: NeMo's manifest: JSON lines, under the name NeMo's tools use
_MANIFEST = "manifest.json"
#: its name in a fetched dataset, whose ``manifest.json`` is the dataset's list of files
PLACED_MANIFEST = "asr_manifest.json"
_AUDIO_OBJECTS = ("Audio", "AudioPlus")


@dataclass
class Segment:
    """A stretch of the audio an annotation speaks of: its range in seconds, its transcript and
    its labels (a region id's TextArea and Labels results together)."""

    start: Any
    end: Any
    key: Any
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    #: the range was given by a TextArea result (the segments of a manifest without clips)
    transcribed: bool = False

    @property
    def text(self) -> str:
        return " ".join(text for text in self.texts if text)


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def segments_of(
    annotation: Annotation, text_controls: set[str], label_controls: set[str]
) -> tuple[list[str], list[Segment]]:
    """The whole-file transcripts and the segments of an annotation, segments in result order."""
    whole: list[str] = []
    found: dict[Any, Segment] = {}
    for position, region in enumerate(annotation.result):
        is_text = region.from_name in text_controls
        if not is_text and region.from_name not in label_controls:
            continue
        start, end = region.value.get("start"), region.value.get("end")
        text = " ".join(str(part) for part in region.value.get("text") or []).strip() if is_text else ""
        if is_text and start is None and end is None:
            # Label Studio's per-region transcripts always carry their range: this one is the file's.
            if text:
                whole.append(text)
            continue
        key = region.id if region.id is not None else ("position", position)
        segment = found.setdefault(key, Segment(start, end, key=region.id))
        if is_text:
            segment.texts.append(text)
            segment.transcribed = True
        else:
            segment.labels.extend(str(label) for label in region.value.get("labels") or [])
    return whole, list(found.values())


class AsrManifestFormat(FormatBase):
    name = "asr-manifest"

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "ASR_MANIFEST needs the labeling config (which audio the transcript is for)"
        if not config.controls_on(("TextArea",), _AUDIO_OBJECTS):
            return "ASR_MANIFEST needs a <TextArea> control on an <Audio> object"
        return None

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        targets = config.controls_on(("TextArea",), _AUDIO_OBJECTS)
        audio_name = next(iter(targets))
        key = config.objects[audio_name].value_key or ""
        text_controls = set(targets[audio_name])
        label_controls = set(config.controls_on(("Labels",), _AUDIO_OBJECTS).get(audio_name, []))
        if context.media.local_path is None:
            if context.options.clips:
                raise ConfigurationError("clips are cut from the audio files: the conversion needs a media lookup")
            context.report.warn("no media lookup: audio_filepath holds the task's URL, not a local path")
        names = UniqueNames()
        manifest = PLACED_MANIFEST if context.media.places_media else _MANIFEST
        with open(out / manifest, "wb") as handle:
            for task, url, selected in annotated_tasks(context, key, "audio URL", non_empty=True):
                with context.guard(task.id):
                    whole, segments = segments_of(selected[0], text_controls, label_controls)
                    lines = self._task_lines(context, out, task, url, whole, segments, names)
                    if lines is None:
                        continue
                    _write_lines(context, handle, lines)
                    if len(selected) > 1:
                        context.report.warn(f"task {task.id}: {len(selected)} annotations, the first one exported")

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """The shards' manifests are JSON lines (one object a line, though named ``.json``):
        concatenated."""
        if Path(relative).name not in (_MANIFEST, PLACED_MANIFEST):
            super().merge(relative, target, parts)
            return
        for part in parts:
            append(target, part.read_bytes())

    def _task_lines(
        self,
        context: Context,
        out: Path,
        task: Task,
        url: str,
        whole: list[str],
        segments: list[Segment],
        names: UniqueNames,
    ) -> list[dict[str, Any]] | None:
        """The manifest lines of one task (its clips written), or None when it was left out."""
        lookup = context.media.local_path
        local = lookup(url, task.id) if lookup is not None else url
        if local is None:
            context.fail_or_skip(task.id, f"audio could not be resolved to a local file: {redact_url(url)}")
            return None
        info: AudioInfo | None = None
        if lookup is not None and (whole or segments):
            try:
                info = audio_info(local, name=redact_url(url), task_id=task.id)
            except InvalidExport as exc:
                if context.options.clips and segments:
                    raise  # nothing to cut clips from: the task fails or is skipped by the policy
                context.report.warn(str(exc))
        stem = names.stem(url, task.id)
        path = local
        transcribed = not context.options.clips and any(segment.transcribed for segment in segments)
        if context.media.places_media and (whole or transcribed):
            path = context.place(url, task.id, f"audio/{stem}{UniqueNames.extension(url, default='.wav')}")
        lines: list[dict[str, Any]] = []
        if whole:
            entry: dict[str, Any] = {"audio_filepath": path, "text": " ".join(whole)}
            if info is not None:
                entry["duration"] = round(info.duration, 6)
            lines.append(entry)
        if not context.options.clips:
            ranged = [
                {"audio_filepath": path, "text": s.text, "offset": s.start, "duration": s.end - s.start}
                for s in segments
                if s.transcribed and _in_range(context, task, s, None)
            ]
            return lines + sorted(ranged, key=lambda line: line["offset"])
        if segments:
            assert info is not None
            lines += _clips(context, out, task, local, url, info, stem, segments)
        return lines


def _clips(
    context: Context,
    out: Path,
    task: Task,
    local: str,
    url: str,
    info: AudioInfo,
    stem: str,
    segments: list[Segment],
) -> list[dict[str, Any]]:
    """Cut the task's segments out of its audio, one WAV file each; their manifest lines, in time
    order. A segment whose range is not one within the audio is left out with a warning; one
    that runs past the audio's end is cut there, with a warning."""
    kept: list[tuple[Segment, Clip]] = []
    used: dict[str, int] = {}
    (out / "audio").mkdir(exist_ok=True)
    for segment in sorted(segments, key=lambda s: (s.start, s.end) if _number(s.start) and _number(s.end) else (0, 0)):
        if not _in_range(context, task, segment, info.duration):
            continue
        # A range past the audio's end is cut there, in its name too: the task's end (1e300 s)
        # would make a file name no file system takes, and an infinite frame number.
        start, end = segment.start, min(segment.end, info.duration)
        base = f"{stem}__{start:.3f}-{end:.3f}"
        number = used.get(base, 0) + 1
        used[base] = number
        name = base if number == 1 else f"{base}__{number}"
        first = round(start * info.sample_rate)
        last = min(round(end * info.sample_rate), info.frames)
        kept.append((segment, Clip(first, max(last, first), out / "audio" / f"{name}.wav")))
    if not kept:
        return []
    frames = write_clips(local, info, [clip for _, clip in kept], name=redact_url(url), task_id=task.id)
    lines = []
    for (segment, clip), count in zip(kept, frames, strict=True):
        line: dict[str, Any] = {
            "audio_filepath": f"audio/{clip.target.name}",
            "text": segment.text,
            "duration": round(count / info.sample_rate, 6),
        }
        if segment.labels:
            line["labels"] = segment.labels
        lines.append(line)
    return lines


def _in_range(context: Context, task: Task, segment: Segment, duration: float | None) -> bool:
    """Whether the segment's range is one within the audio (``duration`` seconds long, if known);
    if not, a warning names the task, the region and what is wrong. A range that runs past the
    audio's end is kept (a clip is cut there), with a warning."""
    where = f"task {task.id}: region {segment.key} ({segment.start!r}-{segment.end!r} s)"
    start, end = segment.start, segment.end
    if not (_number(start) and _number(end)):
        context.report.warn(f"{where} left out: its start and end are not numbers")
        return False
    long = f" ({duration:.3f} s long)" if duration is not None else ""
    if end <= start:
        context.report.warn(f"{where} left out: it ends before it starts")
        return False
    if start < 0 or (duration is not None and start >= duration):
        context.report.warn(f"{where} left out: it is not within the audio{long}")
        return False
    if duration is not None and end > duration:
        context.report.warn(f"{where} runs past the audio's end{long}: cut there")
    return True


def _write_lines(context: Context, handle: BinaryIO, lines: list[dict[str, Any]]) -> None:
    for line in lines:
        handle.write(orjson.dumps(line) + b"\n")
        context.report.items_written += 1
