"""Which resources (files to fetch) a task references, and the task data with them replaced: one
walk over the data, which every caller asks (the fetch pipeline, the Ray reader, the CLI, the
service, ``ml-data doctor``), so all of them agree on what a task's files are.

- With a labeling config, the resources are the values under the keys of its media object tags
  (and of any tag with ``valueType="url"``), whatever they look like: a relative path is a file
  too (:func:`resource_keys`). A key is a path into the data, as Label Studio reads it:
  ``image``, ``meta.image``, ``pages[0].url``, and ``pages[*].url`` for a tag inside a
  ``<Repeater>`` (every item of the list).
- Without one, they are the values that look like a URL or a Label Studio path
  (:func:`looks_like_resource`), anywhere in the data (inside lists and objects); text to label
  is not.

Either way a list value counts item by item (``valueList``, a list of URLs). Pure: no disk, no
network.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ml_data.labelstudio.storages import storage_scheme
from ml_data.tasks.label_config import LabelConfig, ObjectTag

#: Object tags whose value is always a file to fetch; any other tag counts when valueType="url".
MEDIA_TAGS = frozenset({"Image", "Audio", "AudioPlus", "Video", "Pdf", "TimeSeries"})

#: Where a value sits in a task's data: the top-level key, then a key of an object or an index of
#: a list for each level below: ``("image",)``, ``("images", 2)``, ``("pages", 0, "url")``.
KeyPath = tuple[str | int, ...]

#: How deep the walk without a config goes into lists and objects (deeper values are not
#: resources): task data nests a few levels, never hundreds.
MAX_DEPTH = 32

_RESOURCE_PREFIXES = (
    "http://",
    "https://",
    "s3://",
    "gs://",
    "azure-blob://",
    "data:",
    "file://",
    "/data/",
    "upload/",
    "/upload/",
    "/tasks/",
    "/projects/",
    "/storage-data/",
)
_RESOURCE_MARKERS = ("/data/upload/", "/data/local-files", "/storage-data/uploaded")


def looks_like_resource(value: object) -> bool:
    """True for a task data value that names a resource (a URL or a Label Studio path), False for
    text such as a sentence to label. Plain local paths are not guessed at.

    >>> looks_like_resource("/data/upload/3/x.jpg"), looks_like_resource("a sentence")
    (True, False)
    """
    if not isinstance(value, str) or not value or "\n" in value:
        return False
    lowered = value[:32].lower()
    if lowered.startswith(_RESOURCE_PREFIXES) or any(marker in value for marker in _RESOURCE_MARKERS):
        return True
    # An object of any storage Label Studio knows (b2://bucket/key).
    return storage_scheme(value) is not None and "/" in value.partition("://")[2]


def resource_keys(config: LabelConfig | None) -> list[str] | None:
    """The task data keys that hold files: media object tags and tags with valueType="url", in
    the config's order (None without a config: then any value that looks like a URL counts)."""
    if config is None:
        return None
    keys = []
    for tag in config.objects.values():
        path = tag.data_path
        if path and (tag.type in MEDIA_TAGS or (tag.value_type or "").lower() == "url"):
            if path not in keys:
                keys.append(path)
    return keys


class DataValue(NamedTuple):
    """One value the walk visits: where it sits, the value, and whether it is a resource URL."""

    path: KeyPath
    value: Any
    resource: bool


def walk(data: object, keys: Sequence[str] | None) -> Iterator[DataValue]:
    """The values of a task's data that may be resources, each said to be one or not, in order.

    With ``keys`` (:func:`resource_keys`), the values under them, in that order; a non-blank string
    there is a resource. Without keys, every value of the data, in its order, inside lists and
    objects too; a string that :func:`looks_like_resource` is one. Items of a list value are
    visited one by one. Data that is not an object has no values.

    >>> [(v.path, v.resource) for v in walk({"text": "hi", "image": "/data/upload/1/a.jpg"}, None)]
    [(('text',), False), (('image',), True)]
    >>> [v.path for v in walk({"pages": [{"url": "a.png"}, {"url": "b.png"}]}, ["pages[*].url"])]
    [('pages', 0, 'url'), ('pages', 1, 'url')]
    """
    if not isinstance(data, Mapping):
        return
    if keys is None:
        for key, value in data.items():
            if isinstance(value, list | Mapping):
                yield from _everything(value, (key,))
            else:  # most values: no generator of their own
                yield DataValue((key,), value, looks_like_resource(value))
        return
    for key in keys:
        value = data.get(key, _ABSENT) if isinstance(key, str) else _ABSENT
        if isinstance(value, str):  # the common case, a key holding one URL: read at once
            yield DataValue((key,), value, _named(value))
            continue
        for path, _items, found in _under(data, key):
            yield DataValue(path, found, _named(found))


_ABSENT = object()


def _everything(value: Any, path: KeyPath) -> Iterator[DataValue]:
    """Every value at or below ``path``, lists and objects opened (down to :data:`MAX_DEPTH`)."""
    if isinstance(value, list) and len(path) < MAX_DEPTH:
        for index, item in enumerate(value):
            yield from _everything(item, (*path, index))
    elif isinstance(value, Mapping) and len(path) < MAX_DEPTH:
        for key, item in value.items():
            yield from _everything(item, (*path, key))
    else:
        yield DataValue(path, value, looks_like_resource(value))


#: One step of a key: a key of an object, an index of a list, or None for every item of a list.
Step = str | int | None
_STEP = re.compile(r"\[([^\[\]]*)\]|([^.\[\]]+)")


@functools.lru_cache(maxsize=256)
def key_steps(key: str) -> tuple[Step, ...]:
    """A key of the config read as steps into the data (Label Studio's ``a.b[0].c``; ``[*]``
    for every item of a list).

    >>> key_steps("pages[*].url"), key_steps("image")
    (('pages', None, 'url'), ('image',))
    """
    steps: list[Step] = []
    for found in _STEP.finditer(key):
        index, name = found.groups()
        if name is not None:
            steps.append(name)
        elif index.strip() == "*":
            steps.append(None)
        elif index.strip().isdigit():
            steps.append(int(index))
        else:
            steps.append(index.strip().strip("\"'"))
    return tuple(steps)


def _under(data: Mapping[str, Any], key: str) -> Iterator[tuple[KeyPath, tuple[int, ...], Any]]:
    """(path, item indices, value) of each value a key of the config reaches; a key the data has
    as it is (``"a.b"`` itself) is read as that key. A list at the end is opened item by item."""
    if key in data:
        yield from _steps(data[key], (), (key,), ())
        return
    steps = key_steps(key)
    if not steps or not isinstance(steps[0], str) or steps[0] not in data:
        return
    yield from _steps(data[steps[0]], steps[1:], (steps[0],), ())


def _steps(
    value: Any, steps: tuple[Step, ...], path: KeyPath, items: tuple[int, ...]
) -> Iterator[tuple[KeyPath, tuple[int, ...], Any]]:
    """Follow ``steps`` from ``value``, depth first, in the data's order. A loop with a stack, not
    recursion: a key of hundreds of steps into data nested as deep must not exhaust the stack."""
    stack: list[tuple[Any, int, KeyPath, tuple[int, ...]]] = [(value, 0, path, items)]
    while stack:
        value, at, path, items = stack.pop()
        if at == len(steps):
            if isinstance(value, list):
                for index, item in enumerate(value):
                    yield (*path, index), (*items, index), item
            else:
                yield path, items, value
            continue
        step = steps[at]
        if step is None:
            if isinstance(value, list):
                stack.extend(
                    (value[index], at + 1, (*path, index), (*items, index)) for index in reversed(range(len(value)))
                )
        elif isinstance(step, int):
            if isinstance(value, list) and 0 <= step < len(value):
                stack.append((value[step], at + 1, (*path, step), items))
        elif isinstance(value, Mapping) and step in value:
            stack.append((value[step], at + 1, (*path, step), items))


def object_items(data: object, tag: ObjectTag) -> list[tuple[tuple[int, ...], Any]]:
    """The values an object tag shows in a task, each with its item: ``()`` for a tag that
    shows one value, the list index (``valueList``) or the Repeater indices, outermost first,
    for one that shows several (see :meth:`~ml_data.tasks.label_config.ObjectTag.item_of`).

    >>> from ml_data.tasks.label_config import parse_label_config
    >>> tag = parse_label_config('<View><Image name="i" valueList="$images"/></View>').objects["i"]
    >>> object_items({"images": ["a.jpg", "b.jpg"]}, tag)
    [((0,), 'a.jpg'), ((1,), 'b.jpg')]
    """
    path = tag.data_path
    if not isinstance(data, Mapping) or path is None:
        return []
    # A valueList that holds no list has no items (Label Studio shows nothing either).
    # One index per Repeater (a ``[*]`` step; a ``*`` inside a key's own name is no step), one
    # more for a list.
    every = 0 if path in data else key_steps(path).count(None)
    wanted = every + (1 if tag.value_list is not None and not tag.value else 0)
    return [(items, value) for _path, items, value in _under(data, path) if len(items) >= wanted]


def _named(value: object) -> bool:
    """A value under a key the config names as a file: any string that is not blank."""
    return isinstance(value, str) and bool(value.strip())


def find_resources(data: object, keys: Sequence[str] | None) -> list[tuple[KeyPath, str]]:
    """Each resource of a task's data with where it sits (see :func:`walk`); a URL found at
    several places is listed at each.

    >>> find_resources({"images": ["s3://b/1.jpg", "s3://b/2.jpg"]}, ["images"])
    [(('images', 0), 's3://b/1.jpg'), (('images', 1), 's3://b/2.jpg')]
    """
    return [(found.path, found.value) for found in walk(data, keys) if found.resource]


def task_resources(data: object, keys: Sequence[str] | None) -> list[str]:
    """The resource URLs of a task's data (see :func:`walk`), each once, in order.

    >>> task_resources({"image": "/data/upload/1/a.jpg", "text": "hi"}, None)
    ['/data/upload/1/a.jpg']
    """
    return list(dict.fromkeys(found.value for found in walk(data, keys) if found.resource))


def rewrite_resources(data: Mapping[str, Any], keys: Sequence[str] | None, links: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a task's data with each resource URL that ``links`` maps replaced by its new URL,
    where the walk finds it (see :func:`walk`), and nowhere else: text that happens to equal a URL
    under a key that holds no files is left as it is. ``data`` and its lists are not changed.

    >>> rewrite_resources({"image": "s3://b/a.jpg", "text": "s3://b/a.jpg"}, ["image"], {"s3://b/a.jpg": "a.jpg"})
    {'image': 'a.jpg', 'text': 's3://b/a.jpg'}
    """
    rewritten = dict(data)
    # The lists and objects copied so far: each is copied once, at its first change on the way
    # down, so the caller's own stay as they were.
    copies = {id(rewritten)}
    for path, url in find_resources(data, keys):
        new = links.get(url)
        if new is None:
            continue
        node: Any = rewritten
        for step in path[:-1]:
            child = node[step]
            if id(child) not in copies:
                child = dict(child) if isinstance(child, Mapping) else list(child)
                node[step] = child
                copies.add(id(child))
            node = child
        node[path[-1]] = new
    return rewritten


__all__ = [
    "MEDIA_TAGS",
    "DataValue",
    "KeyPath",
    "find_resources",
    "key_steps",
    "looks_like_resource",
    "object_items",
    "resource_keys",
    "rewrite_resources",
    "task_resources",
    "walk",
]
