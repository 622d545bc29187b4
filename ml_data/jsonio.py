"""JSON in and out for values that come from exports, which may hold what orjson refuses: integers beyond
64 bits and lone surrogates (a JSON ``"\\ud800"``). orjson writes everything else, fast; the
standard library writes those, escaped, so one odd task never stops a dataset."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def dumps(value: Any, *, sort_keys: bool = False, indent: bool = False, non_str_keys: bool = False) -> bytes:
    """``value`` as JSON bytes: orjson's output when it can write it, else the standard library's
    (non-ASCII escaped, so lone surrogates survive as ``\\udXXX``)."""
    option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_INDENT_2 if indent else 0)
    option |= orjson.OPT_NON_STR_KEYS if non_str_keys else 0
    try:
        return orjson.dumps(value, option=option)
    except TypeError:
        text = json.dumps(_finite(value), sort_keys=sort_keys, indent=2 if indent else None, default=str)
        return text.encode("ascii")


def loads(data: bytes | str) -> Any:
    """JSON as :func:`dumps` writes it: orjson when it can read it, else the standard library
    (integers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _finite(value: Any) -> Any:
    """NaN and infinities as null, as orjson writes them (the standard library would write NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


__all__ = ["dumps", "loads"]
