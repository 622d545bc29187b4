from __future__ import annotations

import pytest

from ml_data.converters import ConvertOptions
from ml_data.converters.base import select_annotations
from ml_data.tasks.model import task_from_dict


def task(*annotations, predictions=()):  # type: ignore[no-untyped-def]
    return task_from_dict({"id": 1, "data": {}, "annotations": list(annotations), "predictions": list(predictions)})


A = {"id": 1, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-03-01T00:00:00Z", "result": []}
B = {
    "id": 2,
    "created_at": "2026-02-01T00:00:00Z",
    "updated_at": "2026-02-01T00:00:00Z",
    "result": [],
    "ground_truth": True,
}
C = {"id": 3, "created_at": "2026-04-01T00:00:00Z", "result": [], "was_cancelled": True}
P1 = {"id": 9, "model_version": "v1", "result": []}
P2 = {"id": 10, "model_version": "v2", "result": []}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("all", [2, 1]), ("latest", [1]), ("first", [1]), ("ground-truth", [2])],
)
def test_annotation_choice(choice, expected):
    chosen, reason = select_annotations(task(A, B, C), ConvertOptions(annotations=choice))
    assert [a.id for a in chosen] == expected and reason is None


def test_cancelled_only_is_skipped_with_a_reason():
    assert select_annotations(task(C), ConvertOptions()) == ([], "all annotations cancelled")


def test_no_ground_truth_is_a_reason():
    assert select_annotations(task(A), ConvertOptions(annotations="ground-truth")) == ([], "no ground-truth annotation")


def test_no_annotations_is_not_a_skip():
    assert select_annotations(task(), ConvertOptions()) == ([], None)


def test_predictions_optionally_by_model_version():
    assert [a.id for a in select_annotations(task(A, predictions=[P1, P2]), ConvertOptions())[0]] == [1]
    chosen, _ = select_annotations(task(A, predictions=[P1, P2]), ConvertOptions(predictions=True))
    assert [a.id for a in chosen] == [1, 9, 10]
    chosen, _ = select_annotations(task(predictions=[P1, P2]), ConvertOptions(predictions=True, model_version="v2"))
    assert [a.id for a in chosen] == [10] and chosen[0].is_prediction


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="annotations must be one of"):
        ConvertOptions(annotations="best")
    with pytest.raises(ValueError, match="on_error"):
        ConvertOptions(on_error="ignore")
