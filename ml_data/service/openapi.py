"""The OpenAPI document served at /v1/openapi.json."""

from __future__ import annotations

from typing import Any

from ml_data._version import __version__
from ml_data.service.schemas import DATASET, PREFETCH, WEBHOOK

_ERROR = {
    "description": "error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                "required": ["error", "message"],
            }
        }
    },
}
_JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string"},
        "state": {"type": "string", "enum": ["queued", "running", "done", "done_with_errors", "failed"]},
        "total": {"type": "integer"},
        "done": {"type": "integer"},
        "failed": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "created_at": {"type": "number"},
        "finished_at": {"type": ["number", "null"]},
        "result": {"type": ["object", "null"]},
    },
}
_ERRORS = {str(code): _ERROR for code in (400, 401, 403, 404, 409, 502, 504)}
#: A body not sent as Content-Type: application/json is a 415.
_BODY_ERRORS = {**_ERRORS, "415": _ERROR}
_PROJECT_ID = {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "ml-data sidecar", "version": __version__},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/healthz": {"get": {"security": [], "summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
        "/v1/info": {
            "get": {
                "summary": "Version, Label Studio URL, cache statistics",
                "responses": {"200": {"description": "info"}, "401": _ERROR},
            }
        },
        "/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
        "/v1/resources": {
            "get": {
                "summary": "A task resource, resolved through the cache (Range and If-None-Match honoured); "
                "with expires and signature (a link from ml_data.presign) no bearer token is needed",
                "security": [{"bearer": []}, {}],
                "parameters": [
                    {"name": "url", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "task_id", "in": "query", "schema": {"type": "integer"}},
                    {"name": "as", "in": "query", "schema": {"type": "string", "enum": ["path"]}},
                    {"name": "expires", "in": "query", "schema": {"type": "integer"}},
                    {"name": "signature", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "the file, or its local path as JSON with as=path"},
                    "206": {"description": "a range of the file"},
                    "304": {"description": "not modified"},
                    **_ERRORS,
                },
            }
        },
        "/v1/prefetch": {
            "post": {
                "summary": "Warm the cache in the background",
                "requestBody": {"required": True, "content": {"application/json": {"schema": PREFETCH}}},
                "responses": {
                    "202": {"description": "job", "content": {"application/json": {"schema": _JOB}}},
                    **_BODY_ERRORS,
                },
            }
        },
        "/v1/jobs/{job_id}": {
            "get": {
                "summary": "A background job's progress",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "job", "content": {"application/json": {"schema": _JOB}}},
                    **_ERRORS,
                },
            }
        },
        "/v1/projects/{project_id}/tasks": {
            "get": {
                "summary": "A page of the project's tasks from Label Studio; rewrite=true points resource URLs here",
                "parameters": [
                    _PROJECT_ID,
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "rewrite", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "200": {
                        "description": "tasks",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "tasks": {"type": "array", "items": {"type": "object"}},
                                        "total": {"type": "integer"},
                                        "page": {"type": "integer"},
                                        "page_size": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    **_ERRORS,
                },
            }
        },
        "/v1/projects/{project_id}/datasets": {
            "post": {
                "summary": "Build or update a dataset of the project with the fetch pipeline (a background job)",
                "parameters": [_PROJECT_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": DATASET}}},
                "responses": {
                    "202": {"description": "job", "content": {"application/json": {"schema": _JOB}}},
                    **_BODY_ERRORS,
                },
            }
        },
        "/v1/datasets/{job_id}/download": {
            "get": {
                "summary": "The dataset of a finished dataset job, as a zip (streamed)",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "zip", "content": {"application/zip": {}}},
                    **_ERRORS,
                },
            }
        },
        "/v1/webhooks/label-studio": {
            "post": {
                "summary": "Label Studio webhook receiver: prefetches the resources of the tasks in the event",
                "requestBody": {"required": True, "content": {"application/json": {"schema": WEBHOOK}}},
                "responses": {
                    "200": {"description": "nothing to do"},
                    "202": {"description": "prefetch job"},
                    **_BODY_ERRORS,
                },
            }
        },
    },
}
