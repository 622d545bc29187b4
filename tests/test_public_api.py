"""The public API is pinned: a change to it is a decision, not an accident."""

import ml_data


def test_all_is_pinned():
    assert sorted(ml_data.__all__) == sorted(
        [
            "AccessDenied",
            "AuthenticationFailed",
            "BulkResult",
            "Cache",
            "CacheEntry",
            "CacheError",
            "ConfigurationError",
            "DatasetOptions",
            "DatasetReport",
            "DatasetStats",
            "ImportReport",
            "IncompleteDownload",
            "InvalidPredictions",
            "LabelStudioClient",
            "LabelStudioNotConfigured",
            "LocalFile",
            "MissingDependency",
            "MissingTaskId",
            "MlDataError",
            "NotFound",
            "OpenedFile",
            "PredictReport",
            "Project",
            "Ref",
            "RemoteNotFound",
            "Resolver",
            "Settings",
            "TrainingTrigger",
            "UnsafePath",
            "UnsupportedURL",
            "UpstreamError",
            "UpstreamHTTPError",
            "UpstreamTimeout",
            "UpstreamUnavailable",
            "__version__",
            "dataset_stats",
            "fetch_export",
            "fetch_project",
            "get_local_path",
            "import_predictions",
            "open_resource",
            "parse_ref",
            "predict_project",
            "presign",
            "resolve",
            "resolve_many",
        ]
    )
    for name in ml_data.__all__:
        assert hasattr(ml_data, name), name


def test_resolve_uses_settings_passed_in(tmp_path):
    local = ml_data.resolve("data:text/plain,hi", settings=ml_data.Settings(cache_dir=tmp_path))
    assert local.path.is_relative_to(tmp_path) and local.path.read_bytes() == b"hi"


def test_resolve_reads_the_environment_when_no_settings_are_given(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "from-env"))
    local = ml_data.resolve("data:text/plain,env")
    assert local.path.is_relative_to(tmp_path / "from-env")


def test_typed_marker_is_shipped():
    from importlib.resources import files

    assert files("ml_data").joinpath("py.typed").is_file()
