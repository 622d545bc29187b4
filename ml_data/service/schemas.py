"""The request bodies the service accepts: one JSON Schema each, used both to validate every body
(a 400 naming the first problem) and to write the OpenAPI document, so the two cannot drift apart.

Bodies are parsed strictly first: ``NaN``/``Infinity`` (which Python's JSON reader accepts and no
JSON writer should send), and nesting deeper than any real body, are refused before validation.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from ml_data.pipeline.options import options_schema
from ml_data.service.errors import ApiError

#: URLs (or tasks) in one prefetch request.
MAX_ITEMS = 100_000
#: Deeper JSON than this is refused (real bodies are a few levels deep).
MAX_DEPTH = 64

_TASK_ID = {"type": ["integer", "null"], "minimum": 0, "maximum": 2**63 - 1}
_URL = {"type": "string", "minLength": 1, "maxLength": 65_536}
_TASK = {
    "type": "object",
    "properties": {"id": _TASK_ID, "data": {"type": "object"}},
    "description": "a Label Studio task: its resources are the URLs among its data values",
}

PREFETCH: dict[str, Any] = {
    "type": "object",
    "description": "exactly one of: urls, tasks, project",
    "properties": {
        "urls": {
            "type": "array",
            "maxItems": MAX_ITEMS,
            "items": {
                "anyOf": [
                    _URL,
                    {
                        "type": "object",
                        "properties": {"url": _URL, "task_id": _TASK_ID},
                        "required": ["url"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
        "tasks": {"type": "array", "maxItems": MAX_ITEMS, "items": _TASK},
        "project": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    },
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}

WEBHOOK: dict[str, Any] = {
    "type": "object",
    "description": "a Label Studio webhook event; other keys (project, annotation, ...) are ignored",
    "properties": {
        "action": {"type": "string", "minLength": 1, "maxLength": 200},
        "tasks": {"type": "array", "maxItems": MAX_ITEMS, "items": _TASK},
        "task": {"anyOf": [_TASK, {"type": "null"}]},
    },
    "required": ["action"],
}

#: A dataset request: the pipeline's one options type publishes it.
DATASET: dict[str, Any] = options_schema()

_VALIDATORS = {id(schema): Draft202012Validator(schema) for schema in (PREFETCH, WEBHOOK, DATASET)}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(data: bytes, schema: dict[str, Any]) -> Any:
    """The request body as JSON, checked against ``schema``; :class:`ApiError` 400 otherwise."""
    try:
        body = json.loads(data, parse_constant=_no_constants)
    except RecursionError:
        raise ApiError(400, "bad_request", "the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", f"the body is not JSON ({exc})") from None
    if _depth(body) > MAX_DEPTH:
        raise ApiError(400, "bad_request", f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    error = next(iter(sorted(_VALIDATORS[id(schema)].iter_errors(body), key=lambda e: len(e.path))), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the body"
        raise ApiError(400, "bad_request", f"{where}: {_short(error.message)}")
    return body


def _short(message: str) -> str:
    return message if len(message) <= 300 else message[:297] + "..."


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (a body may be deep enough to exhaust the stack)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


__all__ = ["DATASET", "MAX_ITEMS", "PREFETCH", "WEBHOOK", "parse_body"]
