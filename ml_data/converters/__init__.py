"""Tasks -> dataset formats.

:func:`convert` reads an export (streamed), applies the annotation selection, and writes one
format into an output folder that appears only when complete. Formats live one per module behind
:data:`KNOWN_FORMATS`; an unknown name is an error listing the known ones.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tqdm import tqdm

from ml_data.converters.base import UNCONVERTIBLE, Context, ConversionReport, ConvertOptions, Format
from ml_data.converters.media import NO_MEDIA, MediaHooks
from ml_data.converters.output import check_output, path_inputs
from ml_data.errors import ConversionError, FormatNotSupported, MlDataError, NothingToWrite, UnknownFormat
from ml_data.fsutil import atomic_folder
from ml_data.tasks.label_config import LabelConfig, parse_label_config
from ml_data.tasks.model import Annotation, Region, Task, read_tasks

#: format name -> "module:attribute" of its Format; imported on first use.
KNOWN_FORMATS = MappingProxyType(
    {
        "json": "ml_data.converters.json_formats:JsonFormat",
        "json-min": "ml_data.converters.json_formats:JsonMinFormat",
        "csv": "ml_data.converters.tabular:CSV",
        "tsv": "ml_data.converters.tabular:TSV",
        "conll2003": "ml_data.converters.conll:ConllFormat",
        "asr-manifest": "ml_data.converters.asr:AsrManifestFormat",
        "coco": "ml_data.converters.coco:CocoFormat",
        "voc": "ml_data.converters.voc:VocFormat",
        "brush-png": "ml_data.converters.brush:BRUSH_PNG",
        "brush-numpy": "ml_data.converters.brush:BRUSH_NUMPY",
        "semantic-png": "ml_data.converters.semantic:SemanticPngFormat",
        "yolo": "ml_data.converters.yolo:YOLO",
        "yolo-obb": "ml_data.converters.yolo:YOLO_OBB",
        "yolo-seg": "ml_data.converters.yolo:YOLO_SEG",
        "yolo-pose": "ml_data.converters.yolo:YOLO_POSE",
        "timeline-csv": "ml_data.converters.timeline:TimelineCsvFormat",
        "hf-imagefolder": "ml_data.converters.hf_imagefolder:HfImageFolderFormat",
        "hf-audiofolder": "ml_data.converters.hf_audiofolder:HfAudioFolderFormat",
    }
)


def normalize_format_name(name: str) -> str:
    """``JSON_MIN``, ``json_min`` and ``json-min`` are the same format."""
    return name.strip().lower().replace("_", "-")


def get_format(name: str) -> Format:
    key = normalize_format_name(name)
    target = KNOWN_FORMATS.get(key)
    if target is None:
        raise UnknownFormat(f"unknown format {name!r}; known formats: {', '.join(KNOWN_FORMATS)}")
    module_name, attribute = target.split(":")
    found = getattr(importlib.import_module(module_name), attribute)
    return found() if isinstance(found, type) else found  # type: ignore[no-any-return]


def supported_formats(config: LabelConfig | None) -> dict[str, str | None]:
    """Every format with the reason it cannot express ``config`` (None where it can)."""
    return {name: get_format(name).check(config) for name in KNOWN_FORMATS}


def convert(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    format: str,
    out: str | os.PathLike[str],
    *,
    config: LabelConfig | str | None = None,
    options: ConvertOptions | None = None,
    media: MediaHooks | None = None,
    progress: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> ConversionReport:
    """Convert an export (file, folder of task files, or task dicts) into ``format`` under ``out``.

    ``out`` is replaced only when the conversion succeeds; a failure leaves it as it was. A run
    that writes no item at all fails (:class:`~ml_data.errors.NothingToWrite`: an empty export,
    every task left out), unless every task simply has nothing to export yet (no annotation,
    all cancelled, no ground truth): that empty dataset is a true result. ``out`` must
    be new, empty or an earlier ml-data output, and contain neither the export, the working
    directory nor the files in ``protect`` (the config file the XML was read from): otherwise a
    :class:`~ml_data.errors.ConfigurationError`, before anything is read. ``media``: what the
    caller knows about the media (:class:`MediaHooks`: local files, image sizes); none by default.

    >>> report = convert("export.json", "csv", "out/", config=open("config.xml").read())  # doctest: +SKIP
    >>> report.items_written, dict(report.skipped)  # doctest: +SKIP
    """
    inputs = [*path_inputs(source), *(("an input of this run", path) for path in protect)]
    target = check_output(out, inputs=inputs)
    with atomic_folder(target) as building:
        report = write_format(source, format, building, config=config, options=options, media=media, progress=progress)
        if report.nothing_written is not None:
            # Raised inside the block: an empty result never replaces the previous output.
            raise NothingToWrite(f"{report.nothing_written}; {out} is unchanged")
    report.output = Path(out)
    return report


def write_format(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    format: str,
    folder: Path,
    *,
    config: LabelConfig | str | None = None,
    options: ConvertOptions | None = None,
    media: MediaHooks | None = None,
    progress: bool = False,
) -> ConversionReport:
    """:func:`convert` into an existing empty ``folder``, without the atomic swap (for callers
    that build a larger folder atomically themselves, like the fetch pipeline)."""
    fmt = get_format(format)
    parsed = parse_label_config(config) if isinstance(config, str) else config
    reason = fmt.check(parsed)
    if reason is not None:
        raise FormatNotSupported(reason)
    options = options or ConvertOptions()
    report = ConversionReport(format=fmt.name, output=folder)
    bar = tqdm(unit=" tasks", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)
    context = Context(
        read_tasks(source), parsed, options, report, on_task=lambda: bar.update(1), media=media or NO_MEDIA
    )
    with bar, _no_cyclic_gc():
        try:
            fmt.write(context, folder)
        except MlDataError:
            raise
        except UNCONVERTIBLE as exc:
            # A format met task data it did not guard against: still a typed error, never a traceback.
            raise ConversionError(f"cannot convert the export ({type(exc).__name__}: {str(exc)[:200]})") from None
    return report


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Tasks are trees (no reference cycles), freed as soon as they are written; the cyclic
    collector would only rescan them, again and again, as millions are created."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = [
    "KNOWN_FORMATS",
    "Annotation",
    "ConversionReport",
    "ConvertOptions",
    "LabelConfig",
    "MediaHooks",
    "Region",
    "Task",
    "convert",
    "get_format",
    "parse_label_config",
    "read_tasks",
    "supported_formats",
    "write_format",
]
