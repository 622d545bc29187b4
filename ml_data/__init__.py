"""ml-data: the data behind Label Studio tasks, for ML backends.

>>> from ml_data import get_local_path, resolve   # doctest: +SKIP
>>> resolve("/data/upload/3/x.jpg", task_id=12).path  # doctest: +SKIP
"""

from ml_data._version import __version__
from ml_data.backend import PredictReport, TrainingTrigger, predict_project
from ml_data.backend.predictions import ImportReport, import_predictions
from ml_data.backend.presign import presign
from ml_data.cache import Cache, CacheEntry
from ml_data.config import Settings
from ml_data.errors import (
    AccessDenied,
    AuthenticationFailed,
    CacheError,
    ConfigurationError,
    IncompleteDownload,
    InvalidPredictions,
    LabelStudioNotConfigured,
    MissingDependency,
    MissingTaskId,
    MlDataError,
    NotFound,
    RemoteNotFound,
    UnsafePath,
    UnsupportedURL,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ml_data.labelstudio import LabelStudioClient, Project
from ml_data.pipeline import DatasetOptions, DatasetReport, fetch_export, fetch_project
from ml_data.resolvers import (
    BulkResult,
    LocalFile,
    OpenedFile,
    Resolver,
    get_local_path,
    open_resource,
    resolve,
    resolve_many,
)
from ml_data.resolvers.parse import parse_ref
from ml_data.resolvers.refs import Ref
from ml_data.stats import DatasetStats, dataset_stats

__all__ = [
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
