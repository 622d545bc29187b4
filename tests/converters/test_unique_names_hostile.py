"""Image names made unique whatever the URLs, task ids and items hold: a real file named like a
suffix (``x__task1__p0.jpg``), names and ids of hundreds of characters, items of nested Repeaters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.converters.images import UniqueNames
from ml_data.fsutil import MAX_FILENAME_BYTES

NAMES = st.sampled_from(["x", "x__task1", "x__task1__p0", "x__task1__p0__3", "x__task2__p1-0", "é" * 200, "x" * 300])
TASKS = st.none() | st.integers(min_value=0, max_value=3) | st.just("1") | st.text(max_size=60)
ITEMS = st.none() | st.lists(st.integers(min_value=0, max_value=10**18), min_size=1, max_size=30).map(
    lambda indices: "-".join(map(str, indices))
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(NAMES, TASKS, ITEMS), max_size=25))
def test_a_name_belongs_to_one_task_and_item_and_fits_a_file_name(calls):
    names = UniqueNames()
    owners: dict[str, object] = {}
    for name, task, item in calls:
        stem = names.stem(f"s3://b/{task}/{name}.jpg", task, item)
        assert len(stem.encode("utf-8")) <= MAX_FILENAME_BYTES  # room left for any extension
        owner = object() if task is None else (task, item)  # a task without an id owns nothing
        if stem in owners:
            assert task is not None and owners[stem] == owner, (stem, owners[stem], owner)
        owners[stem] = owner


def test_a_real_file_named_like_a_suffix_keeps_its_name_or_takes_a_new_one():
    names = UniqueNames()
    assert names.stem("s3://b/a/x__task1__p1.jpg", 2) == "x__task1__p1"
    assert names.stem("s3://b/a/x.jpg", 1, "0") == "x"
    assert names.stem("s3://b/b/x.jpg", 1, "1") not in ("x", "x__task1__p1")
