"""The filters' values parsed into one form, and TaskFilter judging raw tasks (pure)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.errors import ConfigurationError
from ml_data.pipeline import DatasetOptions
from ml_data.tasks.filtering import (
    FilterCounts,
    TaskFilter,
    finished,
    format_ids,
    in_ranges,
    parse_ids,
    parse_since,
    reviewed,
)

_ranges = st.lists(
    st.tuples(st.integers(1, 5000), st.integers(0, 300)).map(lambda pair: (pair[0], pair[0] + pair[1])),
    min_size=1,
    max_size=12,
)


def _text(ranges: list[tuple[int, int]], spaces: bool) -> str:
    gap = " " if spaces else ""
    return f"{gap},{gap}".join(str(low) if low == high else f"{low}{gap}-{gap}{high}" for low, high in ranges)


@settings(max_examples=300, deadline=None)
@given(_ranges, st.booleans(), st.randoms(use_true_random=False))
def test_ids_keep_exactly_the_ids_of_their_ranges_in_any_order_and_spelling(ranges, spaces, random):
    expected = {task_id for low, high in ranges for task_id in range(low, high + 1)}
    shuffled = list(ranges)
    random.shuffle(shuffled)
    parsed = parse_ids(_text(shuffled, spaces))

    covered = {task_id for low, high in parsed for task_id in range(low, high + 1)}
    assert covered == expected
    # canonical: sorted, disjoint and not adjacent, and its own text parses back to itself
    assert all(high + 1 < low for (_, high), (low, _) in zip(parsed, parsed[1:], strict=False))
    assert parse_ids(format_ids(parsed)) == parsed
    assert parse_ids(_text(ranges, not spaces)) == parsed
    probe = random.randint(0, 5400)
    assert in_ranges(probe, parsed) == (probe in expected)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "task ids"),
        ("1-", "not a task id"),
        ("a", "not a task id"),
        ("5-3", "ends before it starts"),
        ("0", "from 1"),
        ("1,,2", "not a task id"),
        ("-4", "not a task id"),
        ("1.5", "not a task id"),
        (str(2**63), "from 1"),
    ],
)
def test_bad_ids_name_the_option_and_the_part(text, words):
    with pytest.raises(ConfigurationError, match=words) as raised:
        DatasetOptions(ids=text)
    assert str(raised.value).startswith("ids:")


def test_ids_are_not_booleans_or_text_numbers():
    ranges = parse_ids("1-3")
    assert not in_ranges(True, ranges) and not in_ranges("2", ranges) and in_ranges(2, ranges)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01T12:30", "2026-03-01T12:30:00+00:00"),
        ("2026-03-01T12:30:00Z", "2026-03-01T12:30:00+00:00"),
        ("2026-03-01T12:30:00.5+02:00", "2026-03-01T12:30:00.500000+02:00"),
        (" 2026-03-01 ", "2026-03-01T00:00:00+00:00"),
    ],
)
def test_since_is_an_iso_date_in_utc_unless_it_names_its_zone(text, iso):
    assert parse_since(text).isoformat() == iso
    assert DatasetOptions(since=text).since == iso


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "01/03/2026", "2026-03-01T25:00"])
def test_a_bad_since_names_the_option(text):
    with pytest.raises(ConfigurationError, match="^since:"):
        DatasetOptions(since=text)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("finished", "yes", "finished"),
        ("reviewed", "only-ones", "reviewed"),
        ("view", 0, "view"),
        ("view", "3", "view"),
        ("view", True, "view"),
        ("labels", "cat,,dog", "labels"),
        ("labels", [], "labels"),
        ("annotator", " ", "annotator"),
        ("annotator", 5, "annotator"),
        ("since", 20260301, "since"),
        ("ids", 7, "ids"),
    ],
)
def test_bad_filter_values_are_configuration_errors_naming_the_option(option, value, words):
    with pytest.raises(ConfigurationError, match=words):
        DatasetOptions(**{option: value})


def test_without_filters_the_fingerprint_is_what_it_was():
    """Datasets built before the filters existed keep their fingerprint (nothing is rebuilt)."""
    assert DatasetOptions(format="yolo").fingerprint() == {
        "format": "yolo",
        "annotations": "all",
        "predictions": False,
        "model_version": None,
        "on_error": "fail",
        "split": None,
        "category_order": "alphabetical",
        "category_start": None,
        "split_sentences": False,
        "layout": "standard",
    }


def test_a_filter_enters_the_fingerprint_in_one_form_whatever_its_spelling():
    one = DatasetOptions(labels="dog, cat", ids="10-20,1-9", since="2026-03-01", annotator="Ann@Example.com")
    two = DatasetOptions(
        labels=["cat", "dog", "cat"], ids="1-20", since="2026-03-01T00:00:00Z", annotator="ann@example.com"
    )
    assert one.fingerprint() == two.fingerprint()
    assert one.fingerprint()["labels"] == ["cat", "dog"]
    assert one.fingerprint()["ids"] == "1-20"
    assert DatasetOptions(labels="cat").fingerprint() != DatasetOptions(labels="dog").fingerprint()
    assert DatasetOptions(view=3).fingerprint()["view"] == 3
    assert DatasetOptions(finished="only").fingerprint() != DatasetOptions(finished="exclude").fingerprint()


def _box(region_id, *labels, key="rectanglelabels"):
    return {"id": region_id, "type": key, "value": {"x": 1, key: list(labels)}}


def test_labels_keep_wanted_values_drop_regions_left_empty_their_companions_and_relations():
    task = {
        "id": 1,
        "annotations": [
            {
                "result": [
                    _box("a", "cat"),
                    _box("b", "dog"),
                    {"id": "b", "type": "textarea", "value": {"text": ["a dog"]}},
                    _box("c", "cat", "dog", key="choices"),
                    {"type": "relation", "from_id": "a", "to_id": "b"},
                    {"type": "relation", "from_id": "a", "to_id": "c"},
                    {"id": "n", "type": "rectangle", "value": {"x": 3}},
                ]
            },
        ],
    }
    counts = FilterCounts()
    kept = TaskFilter(labels=frozenset({"cat"})).apply(task, counts)
    assert kept is not None
    result = kept["annotations"][0]["result"]
    assert [(item.get("id"), item["type"]) for item in result] == [
        ("a", "rectanglelabels"),
        ("c", "choices"),
        (None, "relation"),
        ("n", "rectangle"),
    ]
    assert result[1]["value"]["choices"] == ["cat"]
    assert counts.regions == {"dog": 2}
    assert task["annotations"][0]["result"][1]["value"]["rectanglelabels"] == ["dog"]  # the input is untouched


def test_labels_count_predictions_only_when_they_are_exported_and_skip_cancelled_annotations():
    task = {
        "id": 1,
        "annotations": [{"was_cancelled": True, "result": [_box("a", "cat")]}],
        "predictions": [{"result": [_box("p", "cat"), _box("q", "dog")]}],
    }
    counts = FilterCounts()
    assert TaskFilter(labels=frozenset({"cat"})).apply(task, counts) is None
    assert counts.tasks == {"labels": 1} and not counts.regions
    kept = TaskFilter(labels=frozenset({"cat"}), predictions=True).apply(task, counts)
    assert kept is not None and [item["id"] for item in kept["predictions"][0]["result"]] == ["p"]
    taxonomy = {"id": 2, "annotations": [{"result": [_box("t", ["animal", "cat"], key="taxonomy")]}]}
    assert TaskFilter(labels=frozenset({"animal/cat"})).apply(taxonomy, FilterCounts()) is not None


def test_each_task_is_counted_under_the_first_filter_that_leaves_it_out():
    old = "2020-01-01T00:00:00Z"
    tasks = [
        {"id": 1, "created_at": old, "annotations": []},
        {"id": 50, "created_at": old, "annotations": []},
        {"id": 2, "created_at": old, "annotations": [{"completed_by": 7, "updated_at": "2026-05-01T00:00:00Z"}]},
        {"id": 3, "created_at": old, "annotations": [{"completed_by": {"id": 8, "email": "Bob@x.org"}}]},
    ]
    counts = FilterCounts()
    rule = TaskFilter(
        ids=parse_ids("1-10"),
        since=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        annotators=frozenset({"7"}),
    )
    kept = [task["id"] for task in tasks if rule.apply(task, counts) is not None]
    assert kept == [2]
    assert counts.tasks == {"ids": 1, "since": 2}
    by_email = TaskFilter(annotators=frozenset({"bob@x.org"}))
    assert [task["id"] for task in tasks if by_email.apply(task, FilterCounts()) is not None] == [3]


def test_finished_follows_label_studio_is_labeled_and_overlap():
    assert finished({"is_labeled": True, "annotations": []})
    assert not finished({"annotations": [{"was_cancelled": True}]})
    assert finished({"annotations": [{"was_cancelled": False}]})
    assert not finished({"overlap": 2, "annotations": [{}]})
    assert finished({"overlap": 2, "annotations": [{}, {}]})


def test_reviewed_reads_reviews_and_review_outcomes():
    assert not reviewed({"annotations": [{"last_action": "submitted"}]})
    assert reviewed({"annotations": [{"last_action": "rejected"}]})
    assert reviewed({"annotations": [{"reviews": [{"accepted": True}]}]})
    assert reviewed({"reviews_accepted": 1, "annotations": []})
    assert not reviewed({"reviews_accepted": 0, "annotations": []})


@pytest.mark.parametrize(
    ("task_filter", "annotation", "kept"),
    [
        # a region of another label whose id is a list: it goes, the cat stays
        (
            TaskFilter(labels=frozenset({"cat"})),
            {"result": [{"id": ["x"], "value": {"labels": ["dog"]}}, {"id": "a", "value": {"labels": ["cat"]}}]},
            True,
        ),
        # a relation whose end is a list points at no region
        (
            TaskFilter(labels=frozenset({"cat"})),
            {
                "result": [
                    {"id": "b", "value": {"labels": ["dog"]}},
                    {"id": "a", "value": {"labels": ["cat"]}},
                    {"type": "relation", "from_id": ["b"], "to_id": "a"},
                ]
            },
            True,
        ),
        (TaskFilter(labels=frozenset({"cat"})), {"result": 7}, False),
        (TaskFilter(reviewed="only"), {"last_action": ["accepted"]}, False),
        (TaskFilter(reviewed="exclude"), {"last_action": {"action": "accepted"}}, True),
    ],
)
def test_malformed_results_do_not_crash_the_filters(task_filter, annotation, kept):
    """A broken annotation is the format's to report (naming the task); the filters read past it."""
    task = {"id": 1, "annotations": [annotation]}
    assert (task_filter.apply(task, FilterCounts()) is not None) is kept
