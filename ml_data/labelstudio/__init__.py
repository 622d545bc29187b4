"""The Label Studio API client: projects, exports (direct and snapshot), and the task list."""

from ml_data.labelstudio.client import LabelStudioClient, Project

__all__ = ["LabelStudioClient", "Project"]
