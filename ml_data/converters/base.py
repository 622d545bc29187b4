"""What every format shares: options, the run report, annotation selection and result shaping."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ml_data.converters.media import NO_MEDIA, MediaHooks
from ml_data.converters.merging import merge_files
from ml_data.errors import ConfigurationError, ConversionError, MlDataError
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation, Task, TaskSource

#: The reason a task is left out when an earlier task of the export has its id.
DUPLICATE_ID = "duplicate task id"

ANNOTATION_CHOICES = ("all", "latest", "first", "ground-truth")
ERROR_POLICIES = ("fail", "skip")
CATEGORY_ORDERS = ("alphabetical", "config")
#: "label-studio": the files Label Studio's own export writes (result.json, Annotations/, labels/);
#: "standard": the layout the training tools' readers take as it is (COCO's annotations/ and
#: images/<subset>/, VOC's JPEGImages/ and ImageSets/Main/, Ultralytics' images/<subset>/ and
#: labels/<subset>/). Formats without a standard layout of their own write the same in both, and
#: so do formats Label Studio does not export (Hugging Face's folders: always their own layout).
LAYOUTS = ("label-studio", "standard")


def check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    """A typed error naming the option and its choices, for a value that is not one of them."""
    # True == 1 in Python: a boolean is only one of the choices if it is one itself.
    is_choice = any(choice is value for choice in choices) if isinstance(value, bool) else value in choices
    if not is_choice:
        listed = ", ".join("none" if choice is None else str(choice) for choice in choices)
        raise ConfigurationError(f"{name} must be one of {listed}, got {value!r}")


@dataclass(frozen=True)
class ConvertOptions:
    """What a conversion exports and how it treats bad tasks: the user's choices only (what the
    caller knows about media comes apart, as :class:`~ml_data.converters.media.MediaHooks`).

    ``annotations``: which annotations of a task: ``all`` (newest first, as Label Studio's own
    exports), ``latest`` (most recently updated), ``first`` (earliest created), ``ground-truth``
    (those marked so; a task without one is skipped). Cancelled (skipped) annotations are never
    exported. ``predictions`` adds the task's predictions (only ``model_version`` ones, if given).
    ``on_error``: ``fail`` stops at the first bad task, naming it; ``skip`` records it and goes on.
    """

    annotations: str = "all"
    predictions: bool = False
    model_version: str | None = None
    on_error: str = "fail"
    #: CoNLL: a blank line between sentences, not only between tasks
    split_sentences: bool = False
    #: class ids: "alphabetical" (as Label Studio documents) or "config" order
    category_order: str = "alphabetical"
    #: COCO: the first automatically assigned category id; None: 1 (0 means background to
    #: torchvision's detection models and to datumaro); 0 gives Label Studio's own numbering
    category_start: int | None = None
    #: see :data:`LAYOUTS`
    layout: str = "label-studio"
    #: the standard layout's subsets, every name (which task is in which: the media hooks'
    #: ``subset_of``)
    subsets: tuple[str, ...] = ()
    #: ASR manifest: each labelled or transcribed segment cut into its own WAV file, one
    #: manifest line per segment (needs the media hooks' ``local_path``)
    clips: bool = False

    def __post_init__(self) -> None:
        check_choice("annotations", self.annotations, ANNOTATION_CHOICES)
        check_choice("on_error", self.on_error, ERROR_POLICIES)
        check_choice("category_order", self.category_order, CATEGORY_ORDERS)
        check_choice("layout", self.layout, LAYOUTS)
        check_choice("category_start", self.category_start, (None, 0, 1))


#: Reasons that say only that a task has nothing to export yet (nobody labelled it, or the
#: annotation choice took none of its annotations): a run that leaves out every task for these
#: alone wrote a true result, an empty dataset.
UNLABELLED = frozenset({"no annotation", "all annotations cancelled", "no ground-truth annotation"})


def why_nothing(tasks: int, items: int, skipped: Mapping[str, int]) -> str | None:
    """Why a run that wrote no item at all failed; None when it wrote something, or when every
    task is accounted for as having nothing to export yet (see :data:`UNLABELLED`).

    >>> why_nothing(0, 0, {})
    'the export holds no tasks'
    >>> why_nothing(3, 0, {"no annotation": 3}) is None
    True
    """
    if items:
        return None
    if tasks == 0:
        return "the export holds no tasks"
    others = Counter({reason: count for reason, count in skipped.items() if reason not in UNLABELLED})
    if not others and sum(skipped.values()) >= tasks:
        return None
    listed = "; ".join(f"{reason} ({count})" for reason, count in others.most_common(3))
    return f"no item was written from {tasks} task{'' if tasks == 1 else 's'}" + (f": {listed}" if listed else "")


@dataclass
class ConversionReport:
    """What a run wrote and what it left out, and why."""

    format: str
    output: Path
    tasks: int = 0
    items_written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    #: (task id, reason) of the first skipped tasks, for the user to look at
    examples: list[tuple[Any, str]] = field(default_factory=list)
    #: (URL, task id, path relative to the output) of every media file the output refers to,
    #: for the caller to place there (converters never copy media themselves)
    placements: list[tuple[str, Any, str]] = field(default_factory=list, repr=False)
    #: path relative to the output -> the item of its task it is (``2``, ``0-3``), for the media
    #: of tasks with several images (pages, a list); a task's only image has none
    placed_items: dict[str, str] = field(default_factory=dict, repr=False)
    #: video tasks written as frames: task id -> the video, the frames and fps decoded beside the
    #: config's ``frameRate`` and the annotations' ``framesCount``, and what differs (as a fetch's
    #: manifest records them)
    videos: dict[str, Any] = field(default_factory=dict)

    def skip(self, task_id: Any, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < 20:
            self.examples.append((task_id, reason))

    def warn(self, message: str) -> None:
        if len(self.warnings) < 100:
            self.warnings.append(message)

    @property
    def nothing_written(self) -> str | None:
        """Why this run wrote no item at all, when that is a failure (see :func:`why_nothing`);
        :func:`~ml_data.converters.convert` then raises :class:`~ml_data.errors.NothingToWrite`."""
        return why_nothing(self.tasks, self.items_written, self.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "output": str(self.output),
            "tasks": self.tasks,
            "items_written": self.items_written,
            "skipped": dict(self.skipped),
            "warnings": self.warnings,
            "examples": [{"task_id": task_id, "reason": reason} for task_id, reason in self.examples],
            **({"videos": self.videos} if self.videos else {}),
        }


@dataclass
class Context:
    """Handed to a format's ``write``: the tasks, the config (may be None), options, report, and
    what the caller knows about media."""

    tasks: TaskSource
    config: LabelConfig | None
    options: ConvertOptions
    report: ConversionReport
    #: called once per task read by the final pass (a progress bar)
    on_task: Callable[[], None] | None = None
    media: MediaHooks = NO_MEDIA

    def each_task(self) -> Iterator[Task]:
        """Tasks one by one; a task that cannot be read, or whose id an earlier task has, is
        skipped or stops the run (policy): two tasks of one id would write one file over the
        other, or list one image twice."""
        iterator = iter(self.tasks.raw())
        from ml_data.tasks.model import task_from_dict

        # Ids as the pipeline keys them (1 and "1" are one task); tasks without an id are not compared.
        seen: set[str] = set()
        while True:
            try:
                raw = next(iterator)
            except StopIteration:
                return
            self.report.tasks += 1
            if self.on_task is not None:
                self.on_task()
            try:
                task = task_from_dict(raw, position=self.report.tasks, source=self.tasks.name)
            except MlDataError as exc:
                self.fail_or_skip(exc.task_id, exc.message)
                continue
            if task.id is not None:
                key = str(task.id)
                if key in seen:
                    self.fail_or_skip(task.id, DUPLICATE_ID)
                    continue
                seen.add(key)
            yield task

    def place(self, url: str, task_id: Any, relative_path: str, item: str | None = None) -> str:
        """Record that the output refers to the media at ``url`` as ``relative_path``, the
        ``item`` of its task if it has several (kept only when the caller places media, so a
        plain conversion's memory stays flat)."""
        if self.media.places_media:
            self.report.placements.append((url, task_id, relative_path))
            if item is not None:
                self.report.placed_items[relative_path] = item
        return relative_path

    def subset(self, task_id: Any) -> str | None:
        """The subset (split) a task belongs to, or None when the dataset has no subsets."""
        subset_of = self.media.subset_of
        return subset_of(task_id) if subset_of is not None and self.options.subsets else None

    @contextlib.contextmanager
    def guard(self, task_id: Any) -> Iterator[None]:
        """Around one task's conversion: whatever its data makes go wrong (a wrong type, a number
        out of range, a broken RLE) fails the run naming the task, or skips it, by the policy.
        Formats write a task's output only once it is fully computed, so a skipped task leaves
        nothing behind."""
        try:
            yield
        except ConversionError:
            raise
        except MlDataError as exc:
            self.fail_or_skip(task_id, exc.message)
        except UNCONVERTIBLE as exc:
            self.fail_or_skip(task_id, f"the task's data cannot be converted ({type(exc).__name__}: {str(exc)[:200]})")

    def fail_or_skip(self, task_id: Any, reason: str) -> None:
        if self.options.on_error == "fail":
            raise ConversionError(reason, task_id=_printable_id(task_id)) from None
        self.report.skip(_printable_id(task_id), reason)


#: What malformed task data raises inside a format: each becomes a typed error naming the task.
UNCONVERTIBLE = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    UnicodeError,
    RecursionError,
)


def _printable_id(task_id: Any) -> Any:
    """A task id fit for a report and a message (an export may put anything there)."""
    if task_id is None or (isinstance(task_id, int) and not isinstance(task_id, bool) and abs(task_id) < 2**63):
        return task_id
    text = str(task_id) if isinstance(task_id, str | int | float) else type(task_id).__name__
    return text.encode("utf-8", "replace").decode("utf-8")[:100]


class Format(Protocol):
    """One export format. ``check`` says why a config cannot be exported in it (None: it can).

    What the fetch pipeline asks of a format besides writing it: ``layouts`` (whether it has a
    standard layout of its own, see :data:`LAYOUTS`), ``keeps_task_data`` (the task data is
    written as it is: the resources then go to ``media/`` with the URLs rewritten),
    ``finish_splits`` (what to write once every split's folder is written, in Label Studio's
    layout), ``check_splits`` (why the format cannot write these split names, None when it can),
    and ``merge`` (one file as several shards of a distributed run wrote it, combined).
    :class:`FormatBase` has the defaults.
    """

    name: str
    layouts: tuple[str, ...]
    keeps_task_data: bool

    def check(self, config: LabelConfig | None) -> str | None: ...

    def write(self, context: Context, out: Path) -> None: ...

    def finish_splits(self, folder: Path, splits: list[str]) -> None: ...

    def check_splits(self, names: Sequence[str]) -> str | None: ...

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None: ...


class FormatBase:
    """The defaults of :class:`Format`'s pipeline hooks."""

    layouts: tuple[str, ...] = ("label-studio",)
    keeps_task_data = False

    def finish_splits(self, folder: Path, splits: list[str]) -> None:
        """Nothing to write beside the split folders."""

    def check_splits(self, names: Sequence[str]) -> str | None:
        """Any split names will do."""
        return None

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """Add ``parts`` (the file at ``relative`` as other shards wrote it, differently) to
        ``target``, the first shard's: JSON lists, tables and line files are combined, anything
        else is an :class:`~ml_data.errors.OutputError` (see :mod:`ml_data.converters.merging`).
        Files every shard wrote alike (``classes.txt``) never reach it."""
        merge_files(relative, target, parts)


def select_annotations(task: Task, options: ConvertOptions) -> tuple[list[Annotation], str | None]:
    """The annotations (and predictions) to export for a task, or a reason there are none."""
    live = [annotation for annotation in task.annotations if not annotation.was_cancelled]
    chosen: list[Annotation]
    reason: str | None = None
    if task.annotations and not live:
        reason = "all annotations cancelled"
    newest_first = sorted(live, key=lambda a: (a.created_at or "", a.id or 0), reverse=True)
    if options.annotations == "all":
        chosen = newest_first
    elif options.annotations == "latest":
        chosen = sorted(live, key=lambda a: (a.updated_at or a.created_at or "", a.id or 0))[-1:]
    elif options.annotations == "first":
        chosen = sorted(live, key=lambda a: (a.created_at or "", a.id or 0))[:1]
    else:
        chosen = [annotation for annotation in newest_first if annotation.ground_truth]
        if not chosen and reason is None:
            reason = "no ground-truth annotation"
    if options.predictions:
        chosen += [
            prediction
            for prediction in task.predictions
            if options.model_version is None or prediction.model_version == options.model_version
        ]
    return chosen, (None if chosen else reason)


def annotated_tasks(
    context: Context, key: str, what: str, *, non_empty: bool = False
) -> Iterator[tuple[Task, str, list[Annotation]]]:
    """(task, the string under ``key`` in its data, its selected annotations) for each task.

    A task without that string (``what`` names it in the message) fails or is skipped by the error
    policy; a task with nothing selected is skipped with the reason.
    """
    for task in context.each_task():
        value = task.data.get(key)
        if not isinstance(value, str) or (non_empty and not value):
            context.fail_or_skip(task.id, f"task data has no {what} under {key!r}")
            continue
        selected, reason = select_annotations(task, context.options)
        if not selected:
            context.report.skip(task.id, reason or "no annotation")
            continue
        yield task, value, selected


def annotation_outputs(annotation: Annotation, config: LabelConfig | None) -> dict[str, list[dict[str, Any]]]:
    """Result values by control name, each tagged with its control type (Label Studio's shape for
    JSON_MIN and CSV). Results of controls the config does not have are left out; without a
    config, every result is kept with its own type."""
    outputs: dict[str, list[dict[str, Any]]] = {}
    for region in annotation.result:
        if not region.from_name:
            continue
        if region.type == "chatmessage":
            kind = "chatmessage"
        elif config is None or not config.controls:
            kind = region.type or "unknown"
        else:
            control = config.control_for(region.from_name)
            if control is None:
                continue
            kind = control.type
        # A shallow copy: nested values are shared with the task, and nothing here changes them.
        value = dict(region.value)
        value["type"] = kind
        if region.original_width is not None:
            value["original_width"] = region.original_width
        if region.original_height is not None:
            value["original_height"] = region.original_height
        outputs.setdefault(region.from_name, []).append(value)
    return outputs


def prettify(values: list[dict[str, Any]]) -> Any:
    """A single choice or text as a plain string, chat messages as their message; else the list."""
    out = []
    kind = None
    for value in values:
        item = dict(value)
        kind = item.pop("type")
        if kind == "Choices" and len(item.get("choices") or []) == 1:
            out.append(item["choices"][0])
        elif kind == "TextArea" and len(item.get("text") or []) == 1:
            out.append(item["text"][0])
        elif kind in ("Chat", "chatmessage"):
            out.append(item.get("chatmessage", item))
        else:
            out.append(item)
    return out[0] if kind in ("Choices", "TextArea") and len(out) == 1 else out


def annotator(annotation: Annotation | None, *, int_id: bool) -> Any:
    """Who made the annotation: the email when the export has the user object, else the id; None
    (null, an empty cell) when the export does not say, as Label Studio writes it."""
    who = annotation.completed_by if annotation is not None else {}
    if type(who) is int:
        # The common case first: the Mapping check below costs an ABC lookup per annotation.
        return who if int_id else str(who)
    if isinstance(who, Mapping):
        email = who.get("email")
        return email if isinstance(email, str) else None
    if isinstance(who, int) and not isinstance(who, bool):
        return who if int_id else str(who)
    if isinstance(who, str):
        return who
    return None
