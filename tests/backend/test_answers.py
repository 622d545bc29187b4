"""A model's answer is checked before anything reaches Label Studio: one list per task, objects
with a result list, scores from 0 to 1 (Label Studio drops others without a word), bounded sizes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_data.backend.answers import MAX_PREDICTIONS_PER_TASK, backend_results, predictions_for
from ml_data.errors import InvalidPredictions

REGION = {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}


def test_one_prediction_or_a_list_of_them_per_task():
    found = predictions_for(
        [1, 2], [{"result": [REGION], "score": 0.5}, [{"result": []}, {"result": [REGION]}]], source="m"
    )
    assert [(p.task, len(p.result), p.score) for p in found] == [(1, 1, 0.5), (2, 0, None), (2, 1, None)]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([{"result": []}], "1 results for 2 tasks"),
        ("oops", "not a list"),
        ([{"result": []}, "x"], "not a prediction object"),
        ([{"result": []}, {"score": 0.1}], "without a 'result' list"),
        ([{"result": []}, {"result": ["x"]}], "not an object"),
        ([{"result": []}, {"result": [], "score": 7}], "from 0 to 1"),
        ([{"result": []}, {"result": [], "score": math.nan}], "from 0 to 1"),
        ([{"result": []}, {"result": [], "score": True}], "from 0 to 1"),
        ([{"result": []}, [{"result": []}] * (MAX_PREDICTIONS_PER_TASK + 1)], "at most"),
    ],
)
def test_a_wrong_answer_is_a_typed_error_naming_the_task(answer, message):
    with pytest.raises(InvalidPredictions, match=message) as caught:
        predictions_for([1, 2], answer, source="the model")
    assert isinstance(caught.value, ValueError)


def test_the_backend_answer_must_hold_a_results_list():
    assert backend_results({"results": [1]}, url="http://b/predict") == [1]
    for body in ([], {"result": []}, {"results": "x"}):
        with pytest.raises(InvalidPredictions):
            backend_results(body, url="http://b/predict")


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=3),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["result", "score", "x"]), c, max_size=3),
        max_leaves=12,
    )
)
def test_any_answer_is_predictions_or_the_typed_error(answer):
    """Whatever a model answers, the outcome is checked predictions or InvalidPredictions, never a crash."""
    try:
        found = predictions_for([1, 2, 3], answer, source="m")
    except InvalidPredictions:
        return
    assert {p.task for p in found} <= {1, 2, 3}
    for prediction in found:
        assert isinstance(prediction.result, list) and all(isinstance(region, dict) for region in prediction.result)
        assert prediction.score is None or 0 <= prediction.score <= 1
