"""What dataset to build: one options type for the library, the CLI and the service.

:class:`DatasetOptions` is validated once, when it is made; the CLI's choices and the service's
JSON Schema are both derived from :data:`CHOICES` (themselves the converters' registries), so a new
format or annotation policy appears everywhere at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ml_data.config import DEFAULT_WORKERS
from ml_data.converters import KNOWN_FORMATS, get_format, normalize_format_name
from ml_data.converters.base import (
    ANNOTATION_CHOICES,
    CATEGORY_ORDERS,
    ERROR_POLICIES,
    LAYOUTS,
    ConvertOptions,
    check_choice,
)
from ml_data.errors import ConfigurationError
from ml_data.tasks.filtering import ONLY_OR_EXCLUDE, format_ids, parse_ids, parse_names, parse_since
from ml_data.video.expand import check_frames

_SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")

#: The options with a fixed set of values, and those values: the CLI's choices and the service's
#: enums come from here.
CHOICES: Mapping[str, tuple[Any, ...]] = {
    "format": tuple(KNOWN_FORMATS),
    "annotations": ANNOTATION_CHOICES,
    "on_error": ERROR_POLICIES,
    "category_order": CATEGORY_ORDERS,
    "category_start": (0, 1),
    "layout": LAYOUTS,
    "stratify": ("labels",),
    "finished": ONLY_OR_EXCLUDE,
    "reviewed": ONLY_OR_EXCLUDE,
}

#: The options that choose which tasks (and regions) a dataset takes: see
#: :mod:`ml_data.tasks.filtering` and :mod:`ml_data.pipeline.filters`.
FILTERS = ("view", "finished", "reviewed", "labels", "annotator", "since", "ids")

#: ``data.<key>``: the task data value that makes a group (the key as it is, not a path)
_GROUP_BY = re.compile(r"data\.(.{1,200})\Z", re.DOTALL)


def parse_split(text: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """``train=0.8,val=0.2`` -> ``{"train": 0.8, "val": 0.2}``; the fractions must add up to 1."""
    if text is None or text == "":
        return None
    if isinstance(text, Mapping):
        try:
            parts = {str(name): float(value) for name, value in text.items()}
        except (TypeError, ValueError):
            raise ConfigurationError('split fractions must be numbers, e.g. {"train": 0.8}') from None
    elif isinstance(text, str):
        parts = {}
        for item in text.split(","):
            name, sep, fraction = item.partition("=")
            name = name.strip()
            try:
                parts[name] = float(fraction)
            except ValueError:
                raise ConfigurationError(f"invalid split {item!r}: expected name=fraction, e.g. train=0.8") from None
            if not sep:
                raise ConfigurationError(f"invalid split {item!r}: expected name=fraction, e.g. train=0.8")
    else:
        raise ConfigurationError(f"a split is text such as train=0.8,val=0.2, not {type(text).__name__}")
    for name, value in parts.items():
        if not _SPLIT_NAME.match(name):
            raise ConfigurationError(f"invalid split name {name!r}: letters, digits, - and _ only")
        if not 0 < value <= 1:
            raise ConfigurationError(f"split {name}={value}: a fraction must be in (0, 1]")
    if abs(sum(parts.values()) - 1.0) > 1e-6:
        raise ConfigurationError(f"split fractions add up to {sum(parts.values()):g}, not 1")
    return parts


_DEFAULT_FRAMES = "keyframes"


@dataclass(frozen=True)
class DatasetOptions:
    """What dataset to build: the format and the conversion choices, the split, and how to fail.

    Checked when made: an unknown format or choice is a :class:`ConfigurationError` naming the
    known ones, before anything is downloaded.

    >>> DatasetOptions(format="YOLO", split="train=0.8,val=0.2").split
    {'train': 0.8, 'val': 0.2}
    """

    format: str = "json"
    annotations: str = "all"
    predictions: bool = False
    model_version: str | None = None
    #: "fail": a resource or task that cannot be used stops the run (the previous dataset stays);
    #: "skip": such tasks are left out and reported
    on_error: str = "fail"
    split: Mapping[str, float] | None = None
    category_order: str = "alphabetical"
    category_start: int | None = None
    split_sentences: bool = False
    #: "standard": the layout training tools read as it is (COCO annotations/ + images/<split>/,
    #: VOC JPEGImages/ + ImageSets/Main/, Ultralytics images/<split>/ + labels/<split>/);
    #: "label-studio": Label Studio's own export files, one folder per split
    layout: str = "standard"
    #: hard-link files ml-data owns (cache, previous dataset) instead of copying them
    link: bool = True
    workers: int = DEFAULT_WORKERS
    #: video tasks (COCO, YOLO, VOC): the frames written, "keyframes", "all" or "every=N"
    frames: str = _DEFAULT_FRAMES
    #: "labels": each class keeps about its overall share in every split (needs ``split``)
    stratify: str | None = None
    #: ``data.<key>``: tasks with one value of that key (a patient, a video) share a split
    group_by: str | None = None
    #: ASR manifest: each labelled segment cut into its own WAV file, one manifest line each
    clips: bool = False
    #: a Data Manager tab of the project: only the tasks its filters show (a live project only)
    view: int | None = None
    #: "only" / "exclude" the tasks Label Studio counts as finished (``is_labeled``)
    finished: str | None = None
    #: "only" / "exclude" the tasks with a review
    reviewed: str | None = None
    #: only tasks with a region of these labels; other labels' regions are taken out (``"a,b"``
    #: or a list)
    labels: tuple[str, ...] | None = None
    #: only this annotator's annotations (an email or a user id; several separated by commas)
    annotator: str | None = None
    #: only tasks created, updated or annotated at or after this ISO date or date and time (UTC
    #: unless it names its zone)
    since: str | None = None
    #: only these task ids: ``1-900,1200``
    ids: str | None = None

    def __post_init__(self) -> None:
        name = normalize_format_name(self.format) if isinstance(self.format, str) else self.format
        check_choice("format", name, CHOICES["format"])
        object.__setattr__(self, "format", name)
        object.__setattr__(self, "split", parse_split(self.split))
        for option in ("annotations", "on_error", "category_order", "layout"):
            check_choice(option, getattr(self, option), CHOICES[option])
        check_choice("category_start", self.category_start, (None, *CHOICES["category_start"]))
        for flag in ("predictions", "split_sentences", "link", "clips"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigurationError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        check_frames(self.frames)
        self._check_split_choices()
        if self.model_version is not None and not isinstance(self.model_version, str):
            raise ConfigurationError(f"model_version must be text, got {self.model_version!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 1 <= self.workers <= 256:
            raise ConfigurationError(f"workers must be a whole number from 1 to 256, got {self.workers!r}")
        self._check_filters()

    def _check_filters(self) -> None:
        """Each filter in one canonical form (two spellings of one filter are one dataset)."""
        if self.view is not None and (
            isinstance(self.view, bool) or not isinstance(self.view, int) or not 1 <= self.view < 2**63
        ):
            raise ConfigurationError(f"view must be a Data Manager tab id (a whole number), got {self.view!r}")
        for option in ("finished", "reviewed"):
            check_choice(option, getattr(self, option), (None, *CHOICES[option]))
        if self.labels is not None:
            object.__setattr__(self, "labels", parse_names(self.labels, option="labels"))
        if self.annotator is not None:
            if not isinstance(self.annotator, str):
                raise ConfigurationError(f"annotator must be an email or a user id, got {self.annotator!r}")
            names = parse_names(self.annotator, option="annotator")
            object.__setattr__(self, "annotator", ",".join(name.lower() for name in names))
        if self.since is not None:
            if not isinstance(self.since, str):
                raise ConfigurationError(f"since must be an ISO date such as 2026-03-01, got {self.since!r}")
            object.__setattr__(self, "since", parse_since(self.since).isoformat())
        if self.ids is not None:
            if not isinstance(self.ids, str):
                raise ConfigurationError(f"ids must be task ids such as 1-900,1200, got {self.ids!r}")
            object.__setattr__(self, "ids", format_ids(parse_ids(self.ids)))

    def _check_split_choices(self) -> None:
        check_choice("stratify", self.stratify, (None, *CHOICES["stratify"]))
        if self.group_by is not None and not (isinstance(self.group_by, str) and _GROUP_BY.match(self.group_by)):
            raise ConfigurationError(f"group_by must be data.<key>, e.g. data.patient_id, got {self.group_by!r}")
        if (self.stratify or self.group_by) and not self.split:
            raise ConfigurationError("stratify and group_by choose how tasks are split: give a split too")

    def _filter_value(self, name: str) -> Any:
        value = getattr(self, name)
        return sorted(value) if name == "labels" and value is not None else value

    @property
    def filtered(self) -> bool:
        """Some filter chooses among the tasks."""
        return any(getattr(self, name) is not None for name in FILTERS)

    @property
    def group_key(self) -> str | None:
        """The task data key of ``group_by`` (``data.patient`` -> ``patient``)."""
        return self.group_by[len("data.") :] if self.group_by else None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    def convert_options(self, **extra: Any) -> ConvertOptions:
        return ConvertOptions(
            annotations=self.annotations,
            predictions=self.predictions,
            model_version=self.model_version,
            on_error=self.on_error,
            split_sentences=self.split_sentences,
            category_order=self.category_order,
            category_start=self.category_start,
            layout=self.layout,
            clips=self.clips,
            **extra,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What decides the dataset's content (not how it is built: workers, linking)."""
        return {
            "format": get_format(self.format).name,
            "annotations": self.annotations,
            "predictions": self.predictions,
            "model_version": self.model_version,
            "on_error": self.on_error,
            "split": dict(self.split) if self.split else None,
            "category_order": self.category_order,
            "category_start": self.category_start,
            "split_sentences": self.split_sentences,
            "layout": self.layout,
        } | {
            # Options added later count only when they differ from their default, so a dataset
            # built before they existed is still the same dataset (nothing is rebuilt).
            name: value
            for name, value, default in (
                ("frames", self.frames, _DEFAULT_FRAMES),
                ("stratify", self.stratify, None),
                ("group_by", self.group_by, None),
                ("clips", self.clips, False),
                *((name, self._filter_value(name), None) for name in FILTERS),
            )
            if value != default
        }


def with_format(options: DatasetOptions | None, format: str | None) -> DatasetOptions:
    """The options of a run given ``options`` and/or a ``format=`` keyword: the options are the one
    source of the format, so a keyword naming another format is a :class:`ConfigurationError`
    (naming both), not a silent override. A keyword alone, or one equal to the options' format
    (in any spelling), is accepted.

    >>> with_format(None, "YOLO").format
    'yolo'
    """
    if options is None:
        return DatasetOptions(format=format if format is not None else "json")
    if format is not None and normalize_format_name(str(format)) != options.format:
        raise ConfigurationError(
            f"format={format!r} conflicts with options.format={options.format!r}: give the format once, in the options"
        )
    return options


#: The options a client of the service may set (the rest are the server's business).
SERVICE_OPTIONS = (
    "annotations",
    "predictions",
    "model_version",
    "on_error",
    "split",
    "category_order",
    "category_start",
    "layout",
    "stratify",
    "group_by",
    "clips",
    "frames",
    *FILTERS,
)


def options_schema() -> dict[str, Any]:
    """The JSON Schema of a dataset request: ``format`` and :data:`SERVICE_OPTIONS`, with the
    enums of :data:`CHOICES`."""
    formats = sorted({*CHOICES["format"], *(name.upper() for name in CHOICES["format"])})
    properties: dict[str, Any] = {
        "format": {"type": "string", "enum": formats},
        "annotations": {"type": "string", "enum": list(CHOICES["annotations"])},
        "predictions": {"type": "boolean"},
        "model_version": {"type": ["string", "null"], "maxLength": 1000},
        "on_error": {"type": "string", "enum": list(CHOICES["on_error"])},
        "split": {
            "anyOf": [
                {"type": "string", "maxLength": 1000, "examples": ["train=0.8,val=0.2"]},
                {
                    "type": "object",
                    "propertyNames": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    "maxProperties": 16,
                },
                {"type": "null"},
            ]
        },
        "category_order": {"type": "string", "enum": list(CHOICES["category_order"])},
        "category_start": {"type": ["integer", "null"], "enum": [*CHOICES["category_start"], None]},
        "layout": {"type": "string", "enum": list(CHOICES["layout"])},
        "stratify": {"type": ["string", "null"], "enum": [*CHOICES["stratify"], None]},
        "group_by": {"type": ["string", "null"], "pattern": "^data[.].", "maxLength": 205},
        "clips": {"type": "boolean"},
        # checked by the same rule as ``--frames`` when the options are made (a message naming it)
        "frames": {"type": "string", "maxLength": 100, "examples": ["keyframes", "all", "every=5"]},
        "view": {"type": ["integer", "null"], "minimum": 1, "maximum": 2**63 - 1},
        "finished": {"type": ["string", "null"], "enum": [*CHOICES["finished"], None]},
        "reviewed": {"type": ["string", "null"], "enum": [*CHOICES["reviewed"], None]},
        "labels": {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": 10_000, "examples": ["cat,dog"]},
                {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 1000}, "minItems": 1},
                {"type": "null"},
            ]
        },
        "annotator": {"type": ["string", "null"], "minLength": 1, "maxLength": 10_000},
        "since": {"type": ["string", "null"], "maxLength": 100, "examples": ["2026-03-01"]},
        "ids": {"type": ["string", "null"], "maxLength": 100_000, "examples": ["1-900,1200"]},
    }
    assert set(properties) == {"format", *SERVICE_OPTIONS}
    return {"type": "object", "properties": properties, "required": ["format"], "additionalProperties": False}


__all__ = ["CHOICES", "FILTERS", "SERVICE_OPTIONS", "DatasetOptions", "options_schema", "parse_split", "with_format"]
