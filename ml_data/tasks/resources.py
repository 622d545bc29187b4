"""Which resources (files to fetch) a task references, and the task data with them replaced: one
walk over the data, which every caller asks (the fetch pipeline, the Ray reader, the CLI, the
service, ``ml-data doctor``), so all of them agree on what a task's files are.

- With a labeling config, the resources are the values under the keys of its media object tags
  (and of any tag with ``valueType="url"``), whatever they look like: a relative path is a file
  too (:func:`resource_keys`).
- Without one, they are the values that look like a URL or a Label Studio path
  (:func:`looks_like_resource`); text to label is not.

Either way a list value counts item by item. Pure: no disk, no network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ml_data.labelstudio.storages import storage_scheme
from ml_data.tasks.label_config import LabelConfig

#: Object tags whose value is always a file to fetch; any other tag counts when valueType="url".
MEDIA_TAGS = frozenset({"Image", "Audio", "AudioPlus", "Video", "Pdf", "TimeSeries"})

#: Where a value sits in a task's data: ``(key,)``, or ``(key, index)`` for an item of a list.
KeyPath = tuple[str] | tuple[str, int]

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
        if tag.value_key and (tag.type in MEDIA_TAGS or (tag.value_type or "").lower() == "url"):
            if tag.value_key not in keys:
                keys.append(tag.value_key)
    return keys


class DataValue(NamedTuple):
    """One value the walk visits: where it sits, the value, and whether it is a resource URL."""

    path: KeyPath
    value: Any
    resource: bool


def walk(data: object, keys: Sequence[str] | None) -> Iterator[DataValue]:
    """The values of a task's data that may be resources, each said to be one or not, in order.

    With ``keys`` (:func:`resource_keys`), the values under them, in that order; a non-blank string
    there is a resource. Without keys, every value of the data, in its order; a string that
    :func:`looks_like_resource` is one. Items of a list value are visited one by one. Data that is
    not an object has no values.

    >>> [(v.path, v.resource) for v in walk({"text": "hi", "image": "/data/upload/1/a.jpg"}, None)]
    [(('text',), False), (('image',), True)]
    """
    if not isinstance(data, Mapping):
        return
    if keys is None:
        items: Iterator[tuple[str, Any]] = iter(data.items())
        is_resource = looks_like_resource
    else:
        items = ((key, data[key]) for key in keys if key in data)
        is_resource = _named
    for key, value in items:
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield DataValue((key, index), item, is_resource(item))
        else:
            yield DataValue((key,), value, is_resource(value))


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
    for path, url in find_resources(data, keys):
        new = links.get(url)
        if new is None:
            continue
        if len(path) == 1:
            rewritten[path[0]] = new
            continue
        key, index = path
        items = rewritten[key]
        if items is data[key]:  # copied once, at its first change: the caller's list stays as it was
            items = rewritten[key] = list(items)
        items[index] = new
    return rewritten


__all__ = [
    "MEDIA_TAGS",
    "DataValue",
    "KeyPath",
    "find_resources",
    "looks_like_resource",
    "resource_keys",
    "rewrite_resources",
    "task_resources",
    "walk",
]
