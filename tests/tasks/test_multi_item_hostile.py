"""Tasks with several items, every value hostile: a result's ``to_name`` and ``item_index`` put it
on the item Label Studio drew it on, or on none, and never stop the run."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ml_data.tasks import parse_label_config
from ml_data.tasks.resources import find_resources, object_items, resource_keys, rewrite_resources, task_resources

REPEATER = parse_label_config(
    '<View><Repeater on="$pages"><Image name="page_{{idx}}" value="$pages[{{idx}}].url"/></Repeater></View>'
).objects["page_{{idx}}"]
VALUE_LIST = parse_label_config('<View><Image name="img" valueList="$images"/></View>').objects["img"]


def test_a_page_is_the_number_label_studio_writes_and_nothing_like_it():
    assert REPEATER.item_of("page_0") == (0,) and REPEATER.item_of("page_12") == (12,)
    # Label Studio writes the index as a plain decimal: these name no page it made.
    for name in ("page_01", "page_\u0663", "page_-1", "page_1e9", "page_ 1", "page_1 ", "page_"):
        assert REPEATER.item_of(name) is None, name


def test_a_page_number_too_long_for_an_int_is_no_page_and_no_crash():
    assert REPEATER.item_of("page_" + "9" * 5000) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"\Apage_[0-9]{1,30}\Z"))
def test_any_to_name_is_a_page_whose_name_it_is_or_none(to_name):
    found = REPEATER.item_of(to_name)
    assert found is None or f"page_{found[0]}" == to_name


def test_an_item_index_is_a_whole_number_or_the_result_is_on_no_item():
    assert VALUE_LIST.item_of("img") == (0,)  # none given: the first item, as Label Studio does
    assert VALUE_LIST.item_of("img", 2) == (2,)
    assert VALUE_LIST.item_of("img", 2.0) == (2,)  # JSON's 2.0 is the number 2
    for bad in (True, False, "1", 1.5, float("nan"), float("inf"), [1], {"i": 1}):
        assert VALUE_LIST.item_of("img", bad) is None, bad


@settings(max_examples=300, deadline=None)
@given(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5))
def test_any_item_index_is_that_item_or_none(item_index):
    found = VALUE_LIST.item_of("img", item_index)
    if item_index is None:
        assert found == (0,)
    elif found is not None:
        assert not isinstance(item_index, bool | str) and found[0] == item_index


def test_a_key_as_deep_as_the_reader_decodes_is_followed_without_exhausting_the_stack():
    depth = 990  # the reader decodes tasks up to the recursion limit (1000): a config may reach that far
    data: dict = {}
    node = data
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    node["a"] = ["s3://b/x.jpg", "s3://b/y.jpg"]
    key = ".".join(["a"] * depth)
    found = find_resources(data, [key])
    assert [url for _path, url in found] == ["s3://b/x.jpg", "s3://b/y.jpg"]
    assert [len(path) for path, _url in found] == [depth + 1] * 2
    rewritten = rewrite_resources(data, [key], {"s3://b/y.jpg": "media/y.jpg"})
    for _ in range(depth):
        rewritten = rewritten["a"]
    assert rewritten == ["s3://b/x.jpg", "media/y.jpg"]


def test_a_thousand_nested_repeaters_name_their_item_by_every_index():
    depth = 1000
    xml = (
        "<View>"
        + "".join(f'<Repeater on="$p" indexFlag="{{{{i{k}}}}}">' for k in range(depth))
        + '<Image name="img_'
        + "_".join(f"{{{{i{k}}}}}" for k in range(depth))
        + '" value="$p'
        + "".join(f"[{{{{i{k}}}}}]" for k in range(depth))
        + '"/>'
        + "</Repeater>" * depth
        + "</View>"
    )
    (tag,) = parse_label_config(xml).objects.values()
    assert len(tag.flags) == depth
    assert tag.item_of("img_" + "_".join(["3"] * depth)) == (3,) * depth
    assert tag.item_of("img_" + "_".join(["3"] * (depth - 1))) is None


def test_a_star_in_a_data_key_is_part_of_its_name_not_every_item():
    config = parse_label_config('<View><Image name="img" valueList="$shots*"/></View>')
    data = {"shots*": ["s3://b/x.jpg", "s3://b/y.jpg"]}
    assert object_items(data, config.objects["img"]) == [((0,), "s3://b/x.jpg"), ((1,), "s3://b/y.jpg")]
    assert task_resources(data, resource_keys(config)) == data["shots*"]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="[].$"),
        min_size=1,
        max_size=8,
    )
)
def test_any_index_flag_names_every_page_by_its_index(flag):
    """Regex characters, braces, quotes, digits: a flag is matched as written, nothing more."""
    assume(all(flag not in text for text in ("page_", "$pages[", "].url")) and not flag.isspace())
    config = parse_label_config(
        f"<View><Repeater on={quoteattr('$pages')} indexFlag={quoteattr(flag)}>"
        f"<Image name={quoteattr('page_' + flag)} value={quoteattr('$pages[' + flag + '].url')}/></Repeater></View>"
    )
    (tag,) = config.objects.values()
    data = {"pages": [{"url": f"s3://b/{index}.png"} for index in range(12)]}
    assert [item for item, _url in object_items(data, tag)] == [(index,) for index in range(12)]
    assert [tag.item_of(f"page_{index}") for index in range(12)] == [(index,) for index in range(12)]
    assert tag.item_of("page_") is None
    assert flag.isdecimal() or tag.item_of("page_" + flag) is None
