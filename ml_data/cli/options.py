"""The options of ``fetch`` and ``convert`` that mirror :class:`~ml_data.pipeline.DatasetOptions`
(and :class:`~ml_data.converters.ConvertOptions`) fields, from one table: each row names the
field, the option, its type or choices and its help; the default is the dataclass field's, so it
is written once, in the library."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from ml_data.pipeline import CHOICES, DatasetOptions

Command = Callable[..., None]

FORMAT_HELP = ", ".join(CHOICES["format"]) + " (case-insensitive; JSON_MIN works too)."


@dataclass(frozen=True)
class Row:
    """One option mirroring a field of the dataset options."""

    field: str
    flag: str
    help: str
    #: the key of its choices in :data:`~ml_data.pipeline.CHOICES`, if it has a fixed set
    choices: str | None = None
    type: Any = None
    is_flag: bool = False
    #: the command decides the default (None until then), not the dataclass
    command_default: bool = False
    #: the parameter the command receives it as (default: the field's name)
    param: str | None = None

    def default(self) -> Any:
        if self.command_default:
            return None
        return DatasetOptions.__dataclass_fields__[self.field].default

    def option(self, **overrides: Any) -> Callable[[Command], Command]:
        """The click option; ``overrides`` for what one command does differently (required)."""
        settings: dict[str, Any] = {"help": self.help}
        if self.is_flag:
            settings["is_flag"] = True
        elif self.choices == "category_start":  # numbers offered as words, handed on as numbers
            settings["type"] = click.Choice([str(value) for value in CHOICES[self.choices]])
            settings["callback"] = lambda _context, _param, value: None if value is None else int(value)
        elif self.choices:
            settings["type"] = click.Choice(CHOICES[self.choices])
        elif self.type is not None:
            settings["type"] = self.type
        default = self.default()
        if not self.is_flag and not overrides.get("required"):
            settings["default"] = default
            if default is not None:
                settings["show_default"] = True
        settings.update(overrides)
        return click.option(self.flag, self.param or self.field, **settings)


#: Every option mirroring a dataset option: ``CONVERSION`` rows are shared by ``fetch`` and
#: ``convert`` (the conversion's choices), the others are picked by name.
TABLE: tuple[Row, ...] = (
    Row("format", "--format", FORMAT_HELP, param="format_name"),
    Row("split", "--split", "Deterministic split by task id hash, e.g. train=0.8,val=0.2."),
    Row(
        "stratify",
        "--stratify",
        "With --split: each class keeps its share in every split; a task keeps its previous split.",
        choices="stratify",
    ),
    Row(
        "group_by", "--group-by", "With --split: tasks with one value of data.<key> (e.g. data.patient) share a split."
    ),
    Row("workers", "--workers", "Parallel downloads.", type=click.IntRange(1, 256)),
    Row(
        "frames",
        "--frames",
        "Video tasks (COCO/YOLO/VOC): the frames written as images: keyframes, all or every=N "
        "(pip install 'ml-data[video]').",
    ),
    Row("annotations", "--annotations", "Which annotations of each task.", choices="annotations"),
    Row("predictions", "--predictions", "Export predictions too.", is_flag=True),
    Row("model_version", "--model-version", "With --predictions: only this model version's."),
    Row(
        "on_error",
        "--on-error",
        "A task that cannot be converted: fail stops the run, skip leaves it out and reports it.",
        choices="on_error",
    ),
    Row("split_sentences", "--split-sentences", "CoNLL: a blank line between sentences.", is_flag=True),
    Row(
        "clips",
        "--clips",
        "asr-manifest: each labelled segment as its own WAV file (audio/<name>__<start>-<end>.wav), "
        "one manifest line each (pip install 'ml-data[audio]' for FLAC, OGG, MP3).",
        is_flag=True,
    ),
    Row(
        "category_order",
        "--category-order",
        "COCO/YOLO/VOC class ids: alphabetical (as Label Studio documents) or config order.",
        choices="category_order",
    ),
    Row(
        "category_start",
        "--category-start",
        "COCO: the first category id (default 1; 0 numbers them as Label Studio does).",
        choices="category_start",
    ),
    Row(
        "layout",
        "--layout",
        "COCO/VOC/YOLO files: 'standard' (what pycocotools, torchvision, detectron2, datumaro and "
        "Ultralytics read as it is; fetch's default) or 'label-studio' (Label Studio's export; convert's default).",
        choices="layout",
        command_default=True,
    ),
)
#: The options that choose which tasks and regions ``fetch`` takes.
FILTER_ROWS: tuple[Row, ...] = (
    Row(
        "view",
        "--view",
        "Only the tasks a Data Manager tab of the project shows (its id: /projects/<id>/data?tab=<ID>).",
        type=click.IntRange(1),
    ),
    Row(
        "finished",
        "--finished",
        "Only the tasks Label Studio counts as finished, or all but those.",
        choices="finished",
    ),
    Row("reviewed", "--reviewed", "Only the tasks with a review, or all but those.", choices="reviewed"),
    Row(
        "labels",
        "--labels",
        "Only tasks with these labels (a,b); regions of other labels are taken out and counted.",
    ),
    Row("annotator", "--annotator", "Only the annotations of this annotator (an email or a user id; a,b for several)."),
    Row(
        "since",
        "--since",
        "Only tasks created, updated or annotated at or after this ISO date or date and time (UTC unless it "
        "names its zone).",
    ),
    Row("ids", "--ids", "Only these task ids, e.g. 1-900,1200."),
)
TABLE += FILTER_ROWS
ROWS: Mapping[str, Row] = {row.field: row for row in TABLE}
#: the conversion's choices, which both commands offer
CONVERSION: tuple[str, ...] = ("annotations", "predictions", "model_version", "on_error", "split_sentences", "clips")
CONVERSION += ("category_order", "category_start", "layout")


def dataset_option(field: str, **overrides: Any) -> Callable[[Command], Command]:
    """The option of one dataset field (``overrides`` for what this command does differently)."""
    return ROWS[field].option(**overrides)


def filter_options(command: Command) -> Command:
    """The filters of ``fetch``, handed to the command as one ``filters`` mapping (field -> value)."""

    @functools.wraps(command)
    def with_filters(**kwargs: Any) -> None:
        command(filters={row.field: kwargs.pop(row.field) for row in FILTER_ROWS}, **kwargs)

    wrapped: Command = with_filters
    for row in reversed(FILTER_ROWS):
        wrapped = row.option()(wrapped)
    return wrapped


def conversion_options(command: Command) -> Command:
    """The options ``convert`` and ``fetch`` share, handed to the command as one ``choices``
    mapping (field -> value; a layout left to the command is left out), with ``--json``."""

    @functools.wraps(command)
    def with_choices(**kwargs: Any) -> None:
        choices = {field: kwargs.pop(field) for field in CONVERSION}
        if choices["layout"] is None:  # the command's default: the options' own
            del choices["layout"]
        command(choices=choices, **kwargs)

    wrapped: Command = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(with_choices)
    for field in reversed(CONVERSION):
        wrapped = ROWS[field].option()(wrapped)
    return wrapped
