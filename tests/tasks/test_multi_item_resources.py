"""Tasks with several items: a ``valueList``, ``<Repeater>`` pages (nested, any index flag), lists
of objects. The one walk finds every item with a config and without one, and each result is put
on the item Label Studio drew it on."""

from __future__ import annotations

import copy
from typing import Any
from xml.sax.saxutils import quoteattr

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.tasks import parse_label_config
from ml_data.tasks.resources import (
    find_resources,
    object_items,
    resource_keys,
    rewrite_resources,
    task_resources,
    walk,
)

REPEATER = parse_label_config(
    '<View><Repeater on="$pages" indexFlag="{{idx}}">'
    '<Image name="page_{{idx}}" value="$pages[{{idx}}].url"/>'
    '<RectangleLabels name="labels_{{idx}}" toName="page_{{idx}}"><Label value="word"/></RectangleLabels>'
    "</Repeater></View>"
)
VALUE_LIST = parse_label_config(
    '<View><Image name="img" valueList="$images"/>'
    '<RectangleLabels name="box" toName="img"><Label value="cat"/></RectangleLabels></View>'
)
PAGES = {"pages": [{"url": "/data/upload/1/a.png", "n": 1}, {"url": "s3://b/p/b.png"}, {"url": "gs://c/c.png"}]}


def test_a_repeater_image_is_read_at_every_page():
    keys = resource_keys(REPEATER)
    assert keys == ["pages[*].url"]
    urls = ["/data/upload/1/a.png", "s3://b/p/b.png", "gs://c/c.png"]
    assert task_resources(PAGES, keys) == urls
    assert find_resources(PAGES, keys) == [(("pages", index, "url"), url) for index, url in enumerate(urls)]
    tag = REPEATER.objects["page_{{idx}}"]
    assert object_items(PAGES, tag) == [((index,), url) for index, url in enumerate(urls)]
    assert tag.item_of("page_2") == (2,) and tag.item_of("page_x") is None and tag.item_of("img") is None
    assert REPEATER.control_for("labels_12") is REPEATER.controls["labels_{{idx}}"]


def test_a_value_list_image_is_read_at_every_item_and_results_by_their_item_index():
    data = {"images": ["/data/upload/1/x.png", "/data/upload/1/y.png"]}
    assert resource_keys(VALUE_LIST) == ["images"]
    assert task_resources(data, resource_keys(VALUE_LIST)) == data["images"]
    tag = VALUE_LIST.objects["img"]
    assert tag.multiple and object_items(data, tag) == [((0,), data["images"][0]), ((1,), data["images"][1])]
    assert tag.item_of("img", 1) == (1,) and tag.item_of("img") == (0,) and tag.item_of("other", 1) is None


def test_without_a_config_lists_of_objects_are_walked_too():
    assert task_resources(PAGES, None) == task_resources(PAGES, resource_keys(REPEATER))
    assert [found.path for found in walk(PAGES, None)] == [
        ("pages", 0, "url"),
        ("pages", 0, "n"),
        ("pages", 1, "url"),
        ("pages", 2, "url"),
    ]


def test_keys_with_dots_and_indices_read_as_label_studio_reads_them():
    config = parse_label_config(
        '<View><Image name="i" value="$meta.scan"/><Image name="j" value="$pages[1].url"/></View>'
    )
    data = {"meta": {"scan": "s3://b/scan.png"}, "pages": PAGES["pages"]}
    assert task_resources(data, resource_keys(config)) == ["s3://b/scan.png", "s3://b/p/b.png"]
    # A key the data holds as it is, dot and all, is that key.
    assert task_resources({"meta.scan": "s3://b/flat.png", **data}, ["meta.scan"]) == ["s3://b/flat.png"]


def test_a_rewrite_reaches_every_page_and_leaves_the_callers_data_alone():
    before = copy.deepcopy(PAGES)
    links = {"s3://b/p/b.png": "media/b.png", "gs://c/c.png": "media/c.png"}
    rewritten = rewrite_resources(PAGES, resource_keys(REPEATER), links)
    assert PAGES == before
    assert rewritten == {
        "pages": [{"url": "/data/upload/1/a.png", "n": 1}, {"url": "media/b.png"}, {"url": "media/c.png"}]
    }
    assert rewritten["pages"][0] is not PAGES["pages"][0] or rewritten["pages"][0] == PAGES["pages"][0]


# -- nested Repeaters, any index flag ---------------------------------------------------------------

_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
_FLAG = st.builds(lambda form, name: form.format(name), st.sampled_from(["{{{{{}}}}}", "%{}%", "<{}>", "#{}#"]), _NAME)


@st.composite
def repeated(draw: Any) -> tuple[str, dict, list[tuple[tuple[int, ...], str]], list[str]]:
    """A config with Repeaters nested ``depth`` deep (each its own index flag), the task data, the
    expected (item, URL) in order, and the flags."""
    depth = draw(st.integers(1, 3))
    flags = draw(st.lists(_FLAG, min_size=depth, max_size=depth, unique_by=lambda flag: flag[1:-1].strip("{}")))
    keys = draw(st.lists(st.sampled_from(["pages", "crops", "parts", "items"]), min_size=depth, max_size=depth))
    field = draw(st.sampled_from(["url", "image", "src"]))
    # The data: lists of objects, depth levels deep, the URL under ``field`` at the bottom.
    expected: list[tuple[tuple[int, ...], str]] = []

    def level(index: int, where: tuple[int, ...]) -> list[dict]:
        size = draw(st.integers(0, 3))
        items = []
        for position in range(size):
            here = (*where, position)
            if index == depth - 1:
                url = f"s3://bucket/{'/'.join(map(str, here))}.png"
                expected.append((here, url))
                items.append({field: url, "note": "text"})
            else:
                items.append({keys[index + 1]: level(index + 1, here)})
        return items

    data = {keys[0]: level(0, ()), "caption": "a sentence"}
    path = "$" + "".join(
        (f"{keys[index]}[{flag}]" if index == 0 else f".{keys[index]}[{flag}]") for index, flag in enumerate(flags)
    )
    name = "img_" + "_".join(flags)
    xml = f"<Image name={quoteattr(name)} value={quoteattr(path + '.' + field)}/>"
    xml += f"<RectangleLabels name={quoteattr('box_' + '_'.join(flags))} toName={quoteattr(name)}><Label value='a'/></RectangleLabels>"
    for index in reversed(range(depth)):
        on = "$" + ".".join(
            f"{keys[level]}[{flags[level]}]" if level < index else keys[level] for level in range(index + 1)
        )
        xml = f"<Repeater on={quoteattr(on)} indexFlag={quoteattr(flags[index])}>{xml}</Repeater>"
    return f"<View>{xml}</View>", data, expected, flags


@settings(max_examples=150, deadline=None)
@given(case=repeated())
def test_nested_repeaters_with_any_index_flag_find_every_item(case):
    xml, data, expected, flags = case
    config = parse_label_config(xml)
    (tag,) = config.objects.values()
    assert tag.flags == tuple(flags)
    urls = [url for _item, url in expected]
    assert task_resources(data, resource_keys(config)) == urls
    assert task_resources(data, None) == urls  # the walk without a config finds the same files
    assert object_items(data, tag) == expected
    for item, _url in expected:
        # The name Label Studio gives the item's image: every flag replaced by its index.
        name = tag.name
        for flag, index in zip(flags, item, strict=True):
            name = name.replace(flag, str(index))
        assert tag.item_of(name) == item
        control = config.control_for(name.replace("img_", "box_", 1))
        assert control is not None and control.type == "RectangleLabels"


_LEAF = st.one_of(
    st.sampled_from(["s3://b/1.png", "https://h/2.png", "/data/upload/1/3.png"]), st.text(max_size=5), st.none()
)
_TREE = st.recursive(
    _LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=12,
)


def _mapped(value: Any, links: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_mapped(item, links) for item in value]
    if isinstance(value, dict):
        return {key: _mapped(item, links) for key, item in value.items()}
    return links.get(value, value) if isinstance(value, str) else value


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["pages", "meta", "text"]), _TREE, max_size=3))
def test_a_rewrite_without_a_config_reaches_every_depth_and_copies_what_it_changes(data):
    before = copy.deepcopy(data)
    links = {url: f"media/{index}" for index, url in enumerate(task_resources(data, None))}
    assert rewrite_resources(data, None, links) == _mapped(data, links)
    assert data == before


def test_a_repeater_without_an_index_flag_uses_label_studios_default():
    config = parse_label_config(
        '<View><Repeater on="$images"><Image name="image_{{idx}}" value="$images[{{idx}}]"/></Repeater></View>'
    )
    tag = config.objects["image_{{idx}}"]
    assert tag.flags == ("{{idx}}",) and resource_keys(config) == ["images[*]"]
    data = {"images": ["s3://images/01.jpg", "s3://images/02.jpg"]}
    assert object_items(data, tag) == [((0,), "s3://images/01.jpg"), ((1,), "s3://images/02.jpg")]
    assert tag.item_of("image_1") == (1,)
