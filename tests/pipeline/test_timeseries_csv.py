"""``fetch --format csv`` of time series tasks: the CSVs from a real HTTP server, placed under
``media/`` and written back labelled under ``timeseries/``, again on an incremental run."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from ml_data.cli import main
from ml_data.pipeline import DatasetOptions, fetch_export

CONFIG = (
    "<View><TimeSeriesLabels name='event' toName='ts'><Label value='Spike'/><Label value='Calm'/></TimeSeriesLabels>"
    "<TimeSeries name='ts' valueType='url' value='$series' timeColumn='t' sep=';'><Channel column='v'/></TimeSeries>"
    "</View>"
)


def _task(task_id: int, url: str, ranges: list[tuple[float, float, str]]) -> dict:
    result = [
        {
            "id": f"r{index}",
            "from_name": "event",
            "to_name": "ts",
            "type": "timeserieslabels",
            "value": {"start": start, "end": end, "instant": start == end, "timeserieslabels": [label]},
        }
        for index, (start, end, label) in enumerate(ranges)
    ]
    return {"id": task_id, "data": {"series": url}, "annotations": [{"id": task_id, "result": result}]}


def _labels(path) -> list[str]:  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8", newline="") as handle:
        return [row["label"] for row in csv.DictReader(handle, delimiter=";")]


def test_fetch_writes_the_labelled_series_beside_the_tasks_csv(file_server, settings, tmp_path):
    for name in ("a", "b"):
        file_server.add(f"/ts/{name}.csv", body=("t;v\n" + "".join(f"{t / 2};{t}\n" for t in range(8))).encode())
    tasks = [
        _task(1, file_server.url("/ts/a.csv"), [(0.5, 1.5, "Spike")]),
        _task(2, file_server.url("/ts/b.csv"), [(2.0, 3.5, "Calm"), (3.0, 3.0, "Spike")]),
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / "ds"
    report = fetch_export(export, out=out, config=CONFIG, settings=settings, options=DatasetOptions(format="csv"))
    assert _labels(out / "timeseries" / "a.csv") == ["", "Spike", "Spike", "Spike", "", "", "", ""]
    assert _labels(out / "timeseries" / "b.csv") == ["", "", "", "", "Calm", "Calm", "Spike", "Calm"]
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert {"media/a.csv", "media/b.csv", "timeseries/a.csv", "timeseries/b.csv", "result.csv"} <= set(files)
    assert any("overlap" in warning for warning in report.conversions["all"].warnings)

    # Task 2 changes: task 1's file comes from the previous dataset, and is labelled again all the same.
    tasks[1] = _task(2, file_server.url("/ts/b.csv"), [(0.0, 0.5, "Spike")])
    export.write_text(json.dumps(tasks))
    again = fetch_export(export, out=out, config=CONFIG, settings=settings, options=DatasetOptions(format="csv"))
    assert again.tasks_changed == 1
    assert _labels(out / "timeseries" / "a.csv") == ["", "Spike", "Spike", "Spike", "", "", "", ""]
    assert _labels(out / "timeseries" / "b.csv") == ["Spike", "Spike", "", "", "", "", "", ""]


def test_cli_convert_resolves_and_labels_the_series(file_server, monkeypatch, tmp_path):
    file_server.add("/ts/c.csv", body=b"t;v\n0;1\n1;2\n2;3\n")
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_task(1, file_server.url("/ts/c.csv"), [(1, 2, "Calm")])]))
    (tmp_path / "config.xml").write_text(CONFIG)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    args = [
        "convert",
        str(export),
        "--config",
        str(tmp_path / "config.xml"),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "cv"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert _labels(tmp_path / "cv" / "timeseries" / "c.csv") == ["", "Calm", "Calm"]
