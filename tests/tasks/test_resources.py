"""The one resource walk: which files a task references (with a labeling config or without), and
its data with them replaced, never touching the caller's data."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.tasks import parse_label_config
from ml_data.tasks.resources import (
    find_resources,
    looks_like_resource,
    resource_keys,
    rewrite_resources,
    task_resources,
    walk,
)

CONFIG = parse_label_config(
    '<View><Text name="caption" value="$caption"/><Image name="image" value="$image"/>'
    '<Audio name="audio" value="$audio"/><HyperText name="page" value="$page" valueType="url"/>'
    '<Image name="again" value="$image"/></View>'
)


def test_the_config_names_its_media_keys_in_its_order_each_once():
    assert resource_keys(CONFIG) == ["image", "audio", "page"]
    assert resource_keys(None) is None


def test_with_a_config_every_non_blank_string_under_a_media_key_is_a_resource_and_nothing_else():
    data = {
        "caption": "https://example.com/a.jpg",  # a URL, but under a text key: not fetched
        "image": "photos/a.jpg",  # does not look like a URL, but the config says it is a file
        "audio": ["s3://b/1.wav", "  ", 5, "s3://b/1.wav"],
        "page": None,
    }
    keys = resource_keys(CONFIG)
    assert find_resources(data, keys) == [
        (("image",), "photos/a.jpg"),
        (("audio", 0), "s3://b/1.wav"),
        (("audio", 3), "s3://b/1.wav"),
    ]
    assert task_resources(data, keys) == ["photos/a.jpg", "s3://b/1.wav"]


def test_without_a_config_every_value_that_looks_like_a_url_is_a_resource_in_the_data_order():
    data = {"text": "a sentence", "b": "/data/upload/1/b.jpg", "a": ["gs://x/1", 3, "hello"], "n": None}
    assert [(found.path, found.resource) for found in walk(data, None)] == [
        (("text",), False),
        (("b",), True),
        (("a", 0), True),
        (("a", 1), False),
        (("a", 2), False),
        (("n",), False),
    ]
    assert task_resources(data, None) == ["/data/upload/1/b.jpg", "gs://x/1"]


@pytest.mark.parametrize("data", [None, "text", [1, 2], 5])
def test_data_that_is_not_an_object_has_no_resources(data):
    assert list(walk(data, None)) == [] == task_resources(data, ["image"]) == find_resources(data, None)


def test_a_rewrite_replaces_only_what_the_walk_found():
    data = {"caption": "s3://b/a.jpg", "image": "s3://b/a.jpg", "audio": ["s3://b/a.jpg", "s3://b/c.wav"]}
    rewritten = rewrite_resources(data, resource_keys(CONFIG), {"s3://b/a.jpg": "media/a.jpg"})
    assert rewritten == {"caption": "s3://b/a.jpg", "image": "media/a.jpg", "audio": ["media/a.jpg", "s3://b/c.wav"]}
    assert list(rewritten) == list(data)


_TEXT = st.text(max_size=12)
_URL = st.builds(
    lambda prefix, rest: prefix + rest, st.sampled_from(["s3://b/", "/data/upload/1/", "https://h/"]), _TEXT
)
_LEAF = st.one_of(_URL, _TEXT, st.integers(), st.none(), st.booleans())
_DATA = st.dictionaries(
    st.sampled_from(["image", "audio", "caption", "text", "page", "other"]),
    st.one_of(_LEAF, st.lists(_LEAF, max_size=4)),
    max_size=6,
)
_KEYS = st.one_of(st.none(), st.lists(st.sampled_from(["image", "audio", "page", "missing"]), unique=True))


@settings(max_examples=300, deadline=None)
@given(data=_DATA, keys=_KEYS, picked=st.data())
def test_a_rewrite_changes_exactly_the_walked_positions_and_never_the_input(data, keys, picked):
    found = find_resources(data, keys)
    urls = task_resources(data, keys)
    assert urls == list(dict.fromkeys(url for _path, url in found))
    mapped = picked.draw(st.lists(st.sampled_from(urls), unique=True) if urls else st.just([]))
    links = {url: f"new:{url}" for url in mapped}
    before = copy.deepcopy(data)
    rewritten = rewrite_resources(data, keys, links)
    assert data == before  # the caller's dict and lists are untouched
    changed = {path for path, url in found if url in links}
    for key, value in data.items():
        positions = [((key, index), item) for index, item in enumerate(value)] if isinstance(value, list) else []
        for path, item in positions or [((key,), value)]:
            new = rewritten[key][path[1]] if len(path) == 2 else rewritten[key]
            assert new == (links[item] if path in changed else item), (path, item)
            assert path not in changed or (keys is not None or looks_like_resource(item))
