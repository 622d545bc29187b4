from __future__ import annotations

import json
from pathlib import Path

import pytest

#: The reference converter's own test data, copied into the repository (see its NOTICE.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "label-studio-sdk"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def write_json(path: Path, value) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
