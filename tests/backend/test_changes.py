"""Counting the tasks changed since the last dataset: what the manifest does not show yet."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ml_data.backend.changes import Change, changed_tasks, changes_from_event, changes_from_tasks, pending

T0 = "2026-01-01T10:00:00.000001Z"
T1 = "2026-01-01T10:05:00.000001Z"


def manifest(tasks: dict[int, list[tuple[int, str]]]) -> dict:
    return {
        "tasks": {str(t): {"annotations": [{"id": a, "updated_at": u} for a, u in anns]} for t, anns in tasks.items()}
    }


def saved(task: int, annotation: int, updated: str, at: float = 1.0) -> Change:
    return Change(task, annotation, updated, False, at)


def test_a_saved_annotation_counts_until_a_dataset_has_it_at_that_time():
    changes = [saved(1, 10, T0), saved(2, 20, T0)]
    assert changed_tasks(pending(changes, None)) == {1, 2}
    built = manifest({1: [(10, T0)], 2: []})
    assert changed_tasks(pending(changes, built)) == {2}
    # Updated after the build: counts again. The same time spelled otherwise does not.
    assert changed_tasks(pending([*changes, saved(1, 10, T1)], built)) == {1, 2}
    assert changed_tasks(pending([saved(1, 10, "2026-01-01T10:00:00.000001+00:00")], built)) == set()


def test_deletions_find_their_task_and_cancel_what_no_dataset_had():
    built = manifest({1: [(10, T0)], 2: []})
    deleted_built = Change(None, 10, None, True, 2.0)
    assert changed_tasks(pending([deleted_built], built)) == {1}
    # Saved then deleted between two builds: nothing changed for the dataset.
    assert changed_tasks(pending([saved(2, 20, T1), Change(None, 20, None, True, 2.0)], built)) == set()
    # A task deleted that the dataset has counts; one it never had does not.
    assert changed_tasks(pending([Change(1, None, None, True, 2.0), Change(9, None, None, True, 2.0)], built)) == {1}


def test_label_studio_events_read_into_changes():
    payload = {"annotation": {"id": 5, "task": 3, "project": 7, "updated_at": T0}, "project": {"id": 7}}
    assert changes_from_event("ANNOTATION_CREATED", payload, 1.0) == [saved(3, 5, T0)]
    assert changes_from_event("ANNOTATIONS_DELETED", {"annotations": [{"id": 5}, {"id": "x"}]}, 1.0) == [
        Change(None, 5, None, True, 1.0)
    ]
    assert changes_from_event("PROJECT_UPDATED", payload, 1.0) == []
    assert changes_from_event("ANNOTATION_UPDATED", {"annotation": "nonsense"}, 1.0) == []


def test_a_poll_sees_what_differs_from_the_manifest():
    built = manifest({1: [(10, T0)], 2: [(20, T0)], 3: []})
    tasks = [
        {"id": 1, "annotations": [{"id": 10, "updated_at": T0}]},
        {"id": 2, "annotations": [{"id": 21, "updated_at": T1}]},
    ]
    found = changes_from_tasks(tasks, built, 1.0)
    assert {(c.task, c.annotation, c.deleted) for c in found} == {(2, 21, False), (2, 20, True), (3, None, True)}


@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6), st.sampled_from([T0, T1, None])), max_size=30))
def test_after_a_build_of_everything_heard_nothing_is_pending(events):
    """Whatever was heard, a manifest made from the final state shows all of it."""
    changes, state = [], {}
    for at, (task, annotation, updated) in enumerate(events):
        task = state.get(annotation, (task, None))[0]  # an annotation stays on its task
        if updated is None:
            changes.append(Change(None, annotation, None, True, float(at)))
            state.pop(annotation, None)
        else:
            changes.append(saved(task, annotation, updated, float(at)))
            state[annotation] = (task, updated)
    final: dict[int, list[tuple[int, str]]] = {task: [] for task in range(1, 5)}
    for annotation, (task, updated) in state.items():
        final[task].append((annotation, updated))
    assert pending(changes, manifest(final)) == []
