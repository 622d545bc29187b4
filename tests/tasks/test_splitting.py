"""Stratified and grouped splits (ml_data.tasks.splitting): shares kept per class, stable as a
project grows, and no group across two splits."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.tasks.model import Annotation, Region
from ml_data.tasks.splitting import SplitItem, assign_splits, group_value, task_labels

FRACTIONS = {"train": 0.7, "val": 0.2, "test": 0.1}
#: five classes, the most common twenty times the rarest
CLASSES = {"car": 20, "person": 10, "dog": 5, "bike": 2, "boat": 1}


def skewed(first: int, count: int, seed: int) -> dict[str, SplitItem]:
    """Tasks with one class each (a fifth with two, a few with none), drawn with a 1:20 skew."""
    rng = random.Random(seed)
    names, weights = list(CLASSES), list(CLASSES.values())
    items = {}
    for task_id in range(first, first + count):
        roll = rng.random()
        labels = set() if roll < 0.05 else set(rng.choices(names, weights, k=2 if roll > 0.8 else 1))
        items[str(task_id)] = SplitItem(frozenset(labels))
    return items


def worst_gap(items: dict[str, SplitItem], splits: dict[str, str]) -> float:
    """The largest difference, over classes (and unlabelled tasks) and splits, between a class's
    share of a split's tasks and its share of all tasks."""
    worst = 0.0
    for label in [*CLASSES, None]:

        def has(task_id: str, label: str | None = label) -> bool:
            return label in items[task_id].labels if label else not items[task_id].labels

        overall = sum(map(has, items)) / len(items)
        for name in FRACTIONS:
            members = [task_id for task_id in items if splits[task_id] == name]
            worst = max(worst, abs(sum(map(has, members)) / len(members) - overall))
    return worst


def test_each_class_keeps_its_share_in_every_split_and_keeps_it_as_the_project_grows():
    items = skewed(1, 10_000, seed=3)
    splits = assign_splits(items, FRACTIONS, stratify=True)
    assert worst_gap(items, splits) <= 0.02
    # Better than a hash of the id can promise: a hash split of the same tasks strays further.
    assert worst_gap(items, splits) <= 0.005 < worst_gap(items, assign_splits(items, FRACTIONS))
    sizes = {name: sum(1 for split in splits.values() if split == name) for name in FRACTIONS}
    assert all(abs(sizes[name] - FRACTIONS[name] * len(items)) <= 0.01 * len(items) for name in FRACTIONS)

    grown = {**items, **skewed(10_001, 1_000, seed=4)}
    again = assign_splits(grown, FRACTIONS, splits, stratify=True)
    assert all(again[task_id] == splits[task_id] for task_id in items)
    assert worst_gap(grown, again) <= 0.02
    # Without the earlier splits, the grown project would have moved some earlier tasks.
    fresh = assign_splits(grown, FRACTIONS, stratify=True)
    assert any(fresh[task_id] != splits[task_id] for task_id in items)


def test_earlier_splits_that_are_not_split_names_are_ignored():
    items = skewed(1, 200, seed=5)
    splits = assign_splits(items, FRACTIONS, {"1": "holdout", "2": "val"}, stratify=True)
    assert splits["2"] == "val" and set(splits.values()) <= set(FRACTIONS)


ITEMS = st.dictionaries(
    st.integers(1, 10_000).map(str),
    st.builds(
        SplitItem,
        st.frozensets(st.sampled_from(list(CLASSES)), max_size=3),
        st.one_of(st.none(), st.sampled_from("abcdefgh")),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(
    items=ITEMS,
    earlier=st.dictionaries(st.integers(1, 10_000).map(str), st.sampled_from([*FRACTIONS, "old"]), max_size=60),
    stratify=st.booleans(),
)
def test_no_group_spans_two_splits(items, earlier, stratify):
    # Earlier splits that disagree within a group (its tasks' values were edited) do not split it.
    splits = assign_splits(items, FRACTIONS, earlier, stratify=stratify)
    assert set(splits) == set(items) and set(splits.values()) <= set(FRACTIONS)
    by_group: dict[str, set[str]] = {}
    for task_id, item in items.items():
        if item.group is not None:
            by_group.setdefault(item.group, set()).add(splits[task_id])
    assert all(len(names) == 1 for names in by_group.values())


@settings(max_examples=150, deadline=None)
@given(items=ITEMS, cut=st.integers(0, 10_000), stratify=st.booleans())
def test_adding_tasks_moves_no_earlier_task(items, cut, stratify):
    before = {task_id: item for task_id, item in items.items() if int(task_id) <= cut}
    splits = assign_splits(before, FRACTIONS, stratify=stratify)
    again = assign_splits(items, FRACTIONS, splits, stratify=stratify)
    assert all(again[task_id] == splits[task_id] for task_id in before)


def test_labels_of_regions_and_group_values():
    regions = (
        Region(None, "box", "image", "rectanglelabels", {"rectanglelabels": ["cat", "dog"]}),
        Region(None, "kind", "image", "choices", {"choices": ["indoor"]}),
        Region(None, "tax", "image", "taxonomy", {"taxonomy": [["animal", "cat"]]}),
        Region(None, "note", "image", "textarea", {"text": ["not a class"]}),
    )
    assert task_labels([Annotation(1, regions)]) == {"cat", "dog", "indoor", "animal/cat"}
    assert group_value({"patient": "p1"}, "patient") == group_value({"patient": "p1", "x": 1}, "patient")
    assert group_value({"patient": "p1"}, "patient") != group_value({"patient": "p2"}, "patient")
    assert group_value({"patient": None}, "patient") is None and group_value("text", "patient") is None
