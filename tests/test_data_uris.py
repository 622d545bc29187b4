"""A data: image in a task is named after its content, with its media type's extension: not after
the tail of its base64 (which every PNG shares) with ".jpg" whatever it holds."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data import Settings, resolve
from ml_data.converters import convert
from ml_data.data_uris import EXTENSIONS, data_uri_name
from ml_data.fsutil import safe_filename
from ml_data.pipeline import fetch_export

CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='cat'/></RectangleLabels></View>"
)


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _task(task_id: int, image: str) -> dict:
    box = {"x": 10, "y": 10, "width": 50, "height": 50, "rectanglelabels": ["cat"]}
    result = {"id": "a", "from_name": "box", "to_name": "image", "type": "rectanglelabels", "value": box}
    return {
        "id": task_id,
        "data": {"image": image},
        "annotations": [{"id": 1, "result": [{**result, "original_width": 4, "original_height": 2}]}],
    }


def test_a_data_png_is_named_by_its_content_in_coco(tmp_path):
    """Regression: the image was named after the end of its base64 text (from its last "/", else
    from "png;base64,"), with ".jpg" for a PNG."""
    first, second = _png(4, 2), _png(2, 4)
    uris = [f"data:image/png;base64,{base64.b64encode(png).decode()}" for png in (first, second)]
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_task(1, uris[0]), _task(2, uris[1])]))
    convert(export, "coco", tmp_path / "coco", config=CONFIG)
    images = json.loads((tmp_path / "coco" / "result.json").read_text())["images"]
    expected = [f"data-{hashlib.sha256(png).hexdigest()[:16]}.png" for png in (first, second)]
    assert [image["file_name"].rsplit("/", 1)[-1] for image in images] == expected


def test_the_name_is_the_start_of_the_sha256_ml_data_records(tmp_path):
    uri = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0 not really a jpeg").decode()
    local = resolve(uri, settings=Settings(cache_dir=tmp_path / "cache"))
    assert data_uri_name(uri) == f"data-{local.sha256[:16]}.jpg"


def test_a_fetched_dataset_places_data_media_under_their_content_name(tmp_path):
    png = _png(4, 2)
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_task(1, "data:image/png;base64," + base64.b64encode(png).decode())]))
    fetch_export(export, format="json", out=tmp_path / "dataset", settings=Settings(cache_dir=tmp_path / "cache"))
    name = f"data-{hashlib.sha256(png).hexdigest()[:16]}.png"
    assert (tmp_path / "dataset" / "media" / name).read_bytes() == png


def test_other_media_types_and_broken_payloads_still_get_a_name():
    assert data_uri_name("data:application/pdf;base64,JVBERi0=").endswith(".bin")
    assert data_uri_name("data:,hello") == f"data-{hashlib.sha256(b'hello').hexdigest()[:16]}.bin"
    broken = "data:image/png;base64,***"
    assert data_uri_name(broken) == f"data-{hashlib.sha256(broken.encode()).hexdigest()[:16]}.png"
    assert data_uri_name("data:no comma").startswith("data-")


@settings(max_examples=200, deadline=None)
@given(
    content=st.binary(max_size=64),
    media=st.sampled_from([*EXTENSIONS, "IMAGE/PNG", "text/plain", "", "x/y;charset=utf-8"]),
    wrap=st.integers(min_value=1, max_value=20),
)
def test_the_name_depends_on_the_bytes_only(content, media, wrap):
    """However the base64 is wrapped or padded, the name is the content's hash; the extension
    follows the media type; the name is a safe file name as it is."""
    encoded = base64.b64encode(content).decode()
    wrapped = "\n".join(encoded[i : i + wrap] for i in range(0, len(encoded), wrap)).rstrip("=")
    name = data_uri_name(f"data:{media};base64,{wrapped}")
    assert name == f"data-{hashlib.sha256(content).hexdigest()[:16]}{EXTENSIONS.get(media.lower(), '.bin')}"
    assert safe_filename(name) == name
