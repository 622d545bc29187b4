"""``hf-audiofolder``: audio files and one ``metadata.jsonl`` per split, as the ``datasets``
library's AudioFolder reads them (``load_dataset("audiofolder", data_dir=...)``: one split per
folder; the split folders and their rules: :mod:`ml_data.converters.hf_layout`).

One row per task, ``{"file_name": "audio/<name>", "transcription": "..."}``: the TextArea text on
the audio object, as ``asr-manifest`` reads it. Texts of the whole recording come first; a task
transcribed only in timed regions gets their texts joined in time order (a row is one file,
not a segment). A task without any text is left out, reported. The first selected annotation
is exported (more are reported). The audio is never read: its duration is not a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml_data.converters.base import Context, FormatBase, annotated_tasks
from ml_data.converters.hf_layout import DEFAULT_SPLIT, METADATA, SplitFolders, check_split_names, media_names
from ml_data.converters.images import UniqueNames
from ml_data.converters.merging import append
from ml_data.errors import ConfigurationError, InvalidExport
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation

_AUDIO_TAGS = ("Audio", "AudioPlus")


class HfAudioFolderFormat(FormatBase):
    name = "hf-audiofolder"
    layouts = ("standard",)

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return f"{self.name} needs the labeling config (which audio the transcription is for)"
        if not config.controls_on(("TextArea",), _AUDIO_TAGS):
            return f"{self.name} needs a <TextArea> control on an <Audio> object"
        return None

    def check_splits(self, names: Sequence[str]) -> str | None:
        return check_split_names(self.name, names)

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        reason = self.check_splits(context.options.subsets)
        if reason is not None:
            raise ConfigurationError(reason)
        targets = config.controls_on(("TextArea",), _AUDIO_TAGS)
        audio_name = next(iter(targets))
        key = config.objects[audio_name].value_key or ""
        controls = set(targets[audio_name])
        folders = SplitFolders(out)
        names = media_names()
        try:
            for task, url, selected in annotated_tasks(context, key, "audio URL", non_empty=True):
                with context.guard(task.id):
                    text = transcription(selected[0], controls)
                    if not text:
                        context.report.skip(task.id, "no transcription")
                        continue
                    split = context.subset(task.id) or DEFAULT_SPLIT
                    file_name = f"audio/{names.stem(url, task.id)}{UniqueNames.extension(url, default='.wav')}"
                    folders.rows(split).add({"file_name": file_name, "transcription": text}, typed=True)
                    context.place(url, task.id, f"{split}/{file_name}")
                    context.report.items_written += 1
                    if len(selected) > 1:
                        context.report.warn(f"task {task.id}: {len(selected)} annotations, the first one exported")
        finally:
            folders.close()
        report = context.report
        for name in folders.empty(context.options.subsets):
            report.warn(f"split {name!r} has no recording: no folder written (datasets refuses an empty split)")
        if report.items_written and not context.media.places_media:
            report.warn("the audio is not in the output: file_name is where fetch places it (audio/<name>)")

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """A split's ``metadata.jsonl`` as the shards wrote it: concatenated (every row types its
        columns alike)."""
        if Path(relative).name != METADATA:
            super().merge(relative, target, parts)
            return
        for part in parts:
            append(target, part.read_bytes())


def transcription(annotation: Annotation, controls: set[str]) -> str:
    """The recording's text: the whole-recording texts, else the timed regions' in time order."""
    whole: list[str] = []
    timed: list[tuple[float, str]] = []
    for region in annotation.result:
        if region.from_name not in controls:
            continue
        text = _text(region.value.get("text"), region.id)
        if not text:
            continue
        start, end = _seconds(region.value.get("start")), _seconds(region.value.get("end"))
        if start is not None and end is not None and end > start:
            timed.append((start, text))
        else:
            whole.append(text)
    if whole:
        return " ".join(whole)
    return " ".join(text for _start, text in sorted(timed, key=lambda item: item[0]))


def _text(value: Any, region_id: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return " ".join(value).strip()
    raise InvalidExport(f"result {str(region_id)[:40]} has a text that is not a list of strings")


def _seconds(value: Any) -> float | None:
    """A region's start or end, or None when it has none (or not a number: the whole recording)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return None
