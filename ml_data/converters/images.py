"""What the image formats share: naming image files uniquely, iterating annotated images (every
item of a task whose image tag shows several: a ``valueList``, a ``<Repeater>``), and knowing
their size."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from ml_data.converters.base import Context, annotated_tasks, select_annotations
from ml_data.data_uris import data_uri_name
from ml_data.errors import InvalidExport
from ml_data.fsutil import MAX_FILENAME_BYTES, safe_filename
from ml_data.tasks.label_config import LabelConfig, ObjectTag
from ml_data.tasks.model import Annotation, Region, Task
from ml_data.tasks.resources import object_items

#: Which item of a task an image is: None for a task with one image, else the list index
#: (``valueList``) or the Repeater indices, outermost first.
Item = tuple[int, ...] | None


def item_label(item: Item) -> str | None:
    """An item as it is written in names and the manifest: ``2``, or ``0-3`` for nested
    Repeaters; None for a task's only image."""
    return None if item is None else "-".join(str(index) for index in item)


_SCHEME_AND_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")


@functools.lru_cache(maxsize=4)
def image_name(url: str) -> str:
    """The file name of an image URL or path (``/data/local-files/?d=dir/x.jpg`` -> ``x.jpg``).

    Split by hand rather than by ``urlsplit``, which raises on a malformed bracketed host
    (``http://[x/a.jpg``): a name needs no host, and naming never refuses a task. A ``data:``
    URI has no name of its own (its path is the base64 payload): its content names it. The last
    few answers are kept: a format asks for an image's stem and then its extension."""
    if url[:5].lower() == "data:":
        return data_uri_name(url)
    path, _, query = url.partition("#")[0].partition("?")
    authority = _SCHEME_AND_HOST.match(path)
    if authority is not None:
        path = path[authority.end() :]
    local_files = [value for key, value in parse_qsl(query) if key == "d"] if "local-files" in path else []
    path = local_files[-1] if local_files else unquote(path)
    return posixpath.basename(path) or "image"


class UniqueNames:
    """Stems made unique per task: the first task keeps ``frame``, another task's ``frame``
    becomes ``frame__task<id>`` (images of the same name in different folders are common), and
    ``frame__task<id>__2`` ... if that is taken too (a task without an id, an image that was
    named so, a name cut to fit). Stems are safe file names whatever the URL and the task id
    hold (``..``, ``/``, NUL, 300 characters): they become label files in the output.

    An image that is one ``item`` of several in its task (a page) is owned by its task and item:
    on a clash it becomes ``frame__task<id>__p<item>``. A caller whose names belong to something
    else (a file of a task: its URL and the task) says so with ``owner``."""

    def __init__(self) -> None:
        self._owner: dict[str, object] = {}

    def stem(self, url: str, task_id: object, item: str | None = None, *, owner: object = None) -> str:
        base = safe_filename(posixpath.splitext(image_name(url))[0], fallback="image")
        if owner is None:
            owner = task_id if item is None or task_id is None else (task_id, item)
        stem, number = base, 1
        # A task without an id owns nothing: its name must be new.
        while stem in self._owner and (task_id is None or self._owner[stem] != owner):
            number += 1
            suffix = "" if task_id is None else "__task" + _cut(safe_filename(str(task_id), fallback="id"), _MAX_SUFFIX)
            if item is not None:
                suffix += f"__p{_cut(safe_filename(item, fallback='item'), _MAX_SUFFIX)}"
            if task_id is None or number > 2:
                suffix += f"__{number}"
            stem = _with_suffix(base, suffix)
        self._owner[stem] = owner
        return stem

    @staticmethod
    def extension(url: str, default: str = ".jpg") -> str:
        extension = posixpath.splitext(safe_filename(image_name(url)))[1]
        return extension if extension and len(extension) <= 16 else default


#: A stem's suffix (``__task<id>``) is cut to this many bytes, the rest of it to
#: :data:`~ml_data.fsutil.MAX_FILENAME_BYTES` with the suffix whole (so names stay distinct).
_MAX_SUFFIX = 40


def _cut(text: str, size: int) -> str:
    """``text`` cut to ``size`` bytes of UTF-8 (whole characters), without a trailing dot or space."""
    return text.encode("utf-8")[:size].decode("utf-8", "ignore").rstrip(" .")


def _with_suffix(stem: str, suffix: str) -> str:
    return _cut(stem, MAX_FILENAME_BYTES - len(suffix.encode("utf-8"))) + suffix


def image_key(config: LabelConfig) -> str:
    """The task data key of the config's (first) Image object."""
    return next((tag.value_key for tag in config.objects.values() if tag.type == "Image"), None) or ""


def image_tag(config: LabelConfig) -> ObjectTag | None:
    """The config's (first) Image object."""
    return next((tag for tag in config.objects.values() if tag.type == "Image"), None)


def annotated_images(
    context: Context, tag: ObjectTag | None, *, warn_many: bool = False
) -> Iterator[tuple[Task, str, Item, Annotation]]:
    """(task, image URL, item, annotation to export) for every image of an image format: one per
    task, or one per item of a task whose image tag shows several (``valueList``, a Repeater),
    each with the results on that item only (by ``item_index`` or by the Repeater's ``to_name``).

    A task without an image URL fails or is skipped (error policy); a task without a selected
    annotation is skipped with its reason; the first selected annotation is exported (``warn_many``
    reports tasks that had more).
    """
    if tag is None or not tag.multiple:
        key = (tag.value_key if tag is not None else None) or ""
        for task, url, selected in annotated_tasks(context, key, "image"):
            yield task, url, None, _first(context, task, selected, warn_many)
        return
    for task in context.each_task():
        items = [(item, url) for item, url in object_items(task.data, tag) if isinstance(url, str) and url]
        if not items:
            context.fail_or_skip(task.id, f"task data has no image under {tag.data_path!r}")
            continue
        selected, reason = select_annotations(task, context.options)
        if not selected:
            context.report.skip(task.id, reason or "no annotation")
            continue
        annotation = _first(context, task, selected, warn_many)
        on: dict[tuple[int, ...], list[Region]] = {}
        for region in annotation.result:
            found = tag.item_of(region.to_name, (region.raw or {}).get("item_index"))
            if found is not None:
                on.setdefault(found, []).append(region)
        for item, url in items:
            yield task, url, item, annotation._replace(result=tuple(on.get(item, ())))


def _first(context: Context, task: Task, selected: list[Annotation], warn_many: bool) -> Annotation:
    """The annotation exported (the first selected), its results in rectangle shape."""
    if warn_many and len(selected) > 1:
        context.report.warn(f"task {task.id}: {len(selected)} annotations, the first one exported")
    annotation = selected[0]
    return annotation._replace(result=shape_regions(annotation.result))


_PLAIN_SHAPES = {"rectangle": "rectanglelabels", "polygon": "polygonlabels", "keypoint": "keypointlabels"}


def shape_regions(regions: tuple[Region, ...]) -> tuple[Region, ...]:
    """Regions in the shape of ``RectangleLabels`` results, whatever tags made them.

    A plain ``Rectangle``/``Polygon``/``KeyPoint`` paired with ``Labels`` (Label Studio's OCR
    template) is exported as separate results sharing the region's id: the shape, its labels and,
    with a per-region ``TextArea``, its text. They become one ``rectanglelabels`` (...) region; a
    ``labels`` result that carries the geometry itself does too. The region's texts are kept in
    ``value["text"]`` (control name -> text) for formats that have room for them.
    """
    if not any(region.type.lower() in ("labels", "textarea") for region in regions):
        return regions
    labels: dict[Any, Any] = {}
    texts: dict[Any, dict[str, str]] = {}
    shaped: set[Any] = set()
    for region in regions:
        kind = region.type.lower()
        if region.id is None:
            continue
        if kind == "labels":
            labels[region.id] = region.value.get("labels")
        elif kind == "textarea":
            lines = region.value.get("text")
            text = "\n".join(str(line) for line in lines) if isinstance(lines, list) else str(lines or "")
            texts.setdefault(region.id, {})[region.from_name] = text
        elif kind in _PLAIN_SHAPES:
            shaped.add(region.id)
    merged = []
    for region in regions:
        kind = region.type.lower()
        target = None
        if kind in _PLAIN_SHAPES and region.id in labels:
            target = _PLAIN_SHAPES[kind]
        elif kind == "labels" and region.id not in shaped:
            if "points" in region.value:
                target = "polygonlabels"
            elif {"x", "y", "width", "height"} <= set(region.value):
                target = "rectanglelabels"
        if target is not None:
            value = {**region.value, target: labels.get(region.id)}
            if region.id in texts:
                value["text"] = texts[region.id]
            merged.append(region._replace(type=target, value=value))
        elif kind not in ("labels", "textarea") and not (kind in _PLAIN_SHAPES and region.id in labels):
            merged.append(region)
    return tuple(merged)


#: Result types that mark an object in the image (what detection and segmentation formats
#: export); choices, texts and ratings describe the image, they are not objects in it.
OBJECT_TYPES = frozenset(
    {
        *("rectanglelabels", "rectangle", "polygonlabels", "polygon", "keypointlabels", "keypoint"),
        *("brushlabels", "brush", "ellipselabels", "ellipse", "bitmasklabels", "bitmask"),
        *("vectorlabels", "vector", "magicwand"),
    }
)
#: The reason an image is left out when it has objects and none of them can be written: an
#: empty label file would teach a detector that the image shows nothing.
NOTHING_IN_FORMAT = "nothing in this format"


def has_objects(regions: Sequence[Region]) -> bool:
    """True if the annotation marks any object (an annotation without one is a background image)."""
    return any(region.type.lower() in OBJECT_TYPES for region in regions)


#: Larger than any real image side; a size past it is a broken export, not a picture.
MAX_IMAGE_SIDE = 1_000_000


def _dimension(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_IMAGE_SIDE:
        raise InvalidExport(f"original image size {str(value)[:40]!r} is not a positive number of pixels")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidExport(f"original image size {value!r} is not a whole number of pixels")
    return int(value)


def image_size(regions: Sequence[Region], url: str, task_id: Any, context: Context) -> tuple[int, int] | None:
    """The image's size: from the first result that records it, else the caller's size lookup;
    None (after failing or skipping the task, by policy) when neither knows it."""
    for region in regions:
        if region.original_width and region.original_height:
            return _dimension(region.original_width), _dimension(region.original_height)
    lookup = context.media.image_size
    size = lookup(url, task_id) if lookup is not None else None
    if size is None:
        if not regions:
            # A submitted annotation with no regions records no size: nothing is lost by leaving
            # that image out, so it is skipped with a warning rather than stopping the run.
            reason = "annotation without regions and without an image size (the image was not measured)"
            context.report.skip(task_id, reason)
            context.report.warn(f"task {task_id}: {reason}; fetch measures the image instead")
        else:
            context.fail_or_skip(task_id, "image size unknown (no original_width/height and no size lookup)")
    return size
