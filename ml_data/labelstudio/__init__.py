"""Label Studio: its API client (projects, exports, the task list), its credentials, and the one
factory of an HTTP client that carries them."""

from ml_data.labelstudio.auth import http_client
from ml_data.labelstudio.client import LabelStudioClient, Project

__all__ = ["LabelStudioClient", "Project", "http_client"]
