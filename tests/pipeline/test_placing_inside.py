"""A placement a format records is written inside the dataset folder or refused, never outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_data.errors import OutputError
from ml_data.pipeline.placing import place_and_record
from ml_data.pipeline.report import DatasetReport


@pytest.mark.parametrize("relative", ["/abs/x.jpg", "../x.jpg", "images/../../x.jpg", "images//x.jpg", "./x.jpg", ""])
def test_a_place_outside_the_dataset_is_refused_and_nothing_is_written(tmp_path: Path, relative: str) -> None:
    source = tmp_path / "source.jpg"
    source.write_bytes(b"image")
    building = tmp_path / "out" / "building"
    building.mkdir(parents=True)
    with pytest.raises(OutputError, match="not a plain path inside the dataset"):
        place_and_record(
            building,
            tmp_path / "out",
            None,
            {relative: (source, None, None, 1, None)},
            link=False,
            report=DatasetReport(str(tmp_path / "out"), "yolo", {}),
        )
    written = {path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file()}
    assert written == {Path("source.jpg")}
