"""Which tasks a run leaves out, and how a --model name is read."""

from __future__ import annotations

import pytest

from ml_data.backend.predict import has_version, is_labeled, load_function
from ml_data.errors import ConfigurationError


def test_tasks_left_out():
    assert has_version({"predictions": [{"model_version": "v4"}, {"model_version": "v5"}]}, "v5")
    assert not has_version({"predictions": [{"model_version": "v4"}, "v5", None]}, "v5")
    assert is_labeled({"annotations": [{"was_cancelled": False}]}) and is_labeled({"is_labeled": True})
    assert not is_labeled({"annotations": [{"was_cancelled": True}]}) and not is_labeled({"annotations": None})


@pytest.mark.parametrize("name", ["nomodule", "tests.support.predict_models:missing", "no_such_module_x:f", ":f"])
def test_a_model_name_that_names_no_function_is_a_configuration_error(name):
    with pytest.raises(ConfigurationError, match="--model"):
        load_function(name)
    assert load_function("tests.support.predict_models:by_size").__name__ == "by_size"
