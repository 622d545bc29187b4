"""A plain conversion's media hooks: URLs resolved through the cache, image sizes read from the
file's header, and every failure said through ``warn`` rather than stopping the conversion."""

from __future__ import annotations

import base64
import io

from PIL import Image

from ml_data.pipeline.media import resolving_hooks


def _data_uri(payload: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(payload).decode()}"


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_image_is_resolved_and_measured(resolver):
    warnings: list[str] = []
    hooks = resolving_hooks(resolver, warnings.append)
    assert hooks.image_size is not None and hooks.local_path is not None
    assert hooks.image_size(_data_uri(_png(7, 3), "image/png"), None) == (7, 3)
    assert warnings == []


def test_what_cannot_be_resolved_or_measured_is_a_warning_and_no_answer(resolver):
    warnings: list[str] = []
    hooks = resolving_hooks(resolver, warnings.append)
    assert hooks.image_size is not None and hooks.local_path is not None
    assert hooks.image_size(_data_uri(b"not an image at all", "image/png"), 1) is None
    assert warnings and warnings[-1].startswith("cannot read the size of ")
    assert hooks.local_path("gopher://example.invalid/a.png", 2) is None
    assert len(warnings) == 2
