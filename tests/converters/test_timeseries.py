"""Time series CSVs written back with a label column from TimeSeriesLabels ranges (``csv``):
generated series and ranges, every row's label checked against one computed by hand."""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.converters import ConvertOptions, MediaHooks, convert
from ml_data.converters.timeseries import Range, Series, label_file
from ml_data.errors import ConversionError


def _config(**attributes: str) -> str:
    written = " ".join(f'{key}="{value}"' for key, value in attributes.items())
    return (
        "<View><TimeSeriesLabels name='activity' toName='ts'><Label value='Run'/><Label value='Walk'/>"
        "<Label value='Rest'/></TimeSeriesLabels>"
        f"<TimeSeries name='ts' valueType='url' value='$csv' {written}><Channel column='x'/></TimeSeries></View>"
    )


def _region(region_id: str, start: float, end: float, label: str) -> dict:
    value = {"start": start, "end": end, "instant": start == end, "timeserieslabels": [label]}
    return {"id": region_id, "from_name": "activity", "to_name": "ts", "type": "timeserieslabels", "value": value}


def _task(task_id: int, url: str, regions: list[dict]) -> dict:
    return {"id": task_id, "data": {"csv": url}, "annotations": [{"id": task_id, "result": regions}]}


def _expected(times: list[float], regions: list[dict]) -> list[str]:
    """By hand: a row takes the label of the last region covering it; an instant one the nearest row."""
    labels = [""] * len(times)
    for region in regions:
        start, end, label = region["value"]["start"], region["value"]["end"], region["value"]["timeserieslabels"][0]
        if start == end:
            nearest = min(range(len(times)), key=lambda row: (abs(times[row] - start), row))
            labels[nearest] = label
            continue
        for row, time in enumerate(times):
            if start <= time <= end:
                labels[row] = label
    return labels


def _read(path: Path, sep: str) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=sep))


def _convert(tmp_path: Path, tasks: list[dict], config: str, files: dict[str, Path], **options):  # type: ignore[no-untyped-def]
    hooks = MediaHooks(local_path=lambda url, task_id: str(files[url]) if url in files else None)
    return convert(tasks, "csv", tmp_path / "out", config=config, media=hooks, options=ConvertOptions(**options))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_row_gets_the_hand_computed_label(tmp_path, seed):
    generator = random.Random(seed)
    times = sorted({round(generator.uniform(0, 500), 3) for _ in range(400)})
    source = tmp_path / "series.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["x", "Time", "note"])
        for time in times:
            writer.writerow([round(generator.gauss(0, 1), 4), time, "a;b" if time > 250 else "c"])
    regions = []
    for number in range(12):
        start = round(generator.uniform(-20, 480), 2)
        end = start if number % 5 == 0 else round(start + generator.uniform(0, 60), 2)
        regions.append(_region(f"r{number}", start, end, generator.choice(["Run", "Walk", "Rest"])))
    report = _convert(
        tmp_path,
        [_task(5, "/data/upload/1/series.csv", regions)],
        _config(timeColumn="time", sep=";"),
        {"/data/upload/1/series.csv": source},
    )
    written = _read(tmp_path / "out" / "timeseries" / "series.csv", ";")
    assert written[0] == ["x", "Time", "note", "label"]
    assert [row[:3] for row in written[1:]] == [row for row in _read(source, ";")[1:]]
    assert [row[3] for row in written[1:]] == _expected(times, regions)
    assert any(row[3] for row in written[1:]) and any(not row[3] for row in written[1:])
    # the tasks CSV is written as always, beside the series
    assert len(_read(tmp_path / "out" / "result.csv", ",")) == 2 and report.items_written == 1


def test_overlaps_are_reported_and_the_later_region_wins(tmp_path):
    source = tmp_path / "walk.csv"
    source.write_text("time,x\n" + "".join(f"{t},{t * 2}\n" for t in range(10)))
    regions = [_region("first", 1, 5, "Run"), _region("second", 4, 7, "Walk"), _region("third", 9, 9, "Rest")]
    report = _convert(
        tmp_path,
        [_task(3, "s3://bucket/walk.csv", regions)],
        _config(timeColumn="time"),
        {"s3://bucket/walk.csv": source},
    )
    rows = _read(tmp_path / "out" / "timeseries" / "walk.csv", ",")
    assert [row[2] for row in rows[1:]] == ["", "Run", "Run", "Run", "Walk", "Walk", "Walk", "Walk", "", "Rest"]
    assert [warning for warning in report.warnings if "overlap" in warning] == [
        "task 3: activity regions first, second overlap on 2 rows of s3://bucket/walk.csv; the later region's label is written"
    ]


def test_dates_are_parsed_with_the_time_format_and_compared_in_milliseconds(tmp_path):
    base = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    moments = [base + timedelta(seconds=15 * step) for step in range(20)]
    source = tmp_path / "dates.csv"
    source.write_text("stamp\tx\n" + "".join(f"{moment:%Y-%m-%d %H:%M:%S}.250\t1\n" for moment in moments))
    millis = [moment.timestamp() * 1000 + 250 for moment in moments]
    regions = [_region("a", millis[2], millis[6], "Walk"), _region("b", millis[10] + 1, millis[12] + 10, "Run")]
    config = _config(timeColumn="stamp", sep="tab", timeFormat="%Y-%m-%d %H:%M:%S.%L")
    _convert(tmp_path, [_task(1, "/data/upload/1/dates.csv", regions)], config, {"/data/upload/1/dates.csv": source})
    rows = _read(tmp_path / "out" / "timeseries" / "dates.csv", "\t")
    assert [row[-1] for row in rows[1:]] == _expected(millis, regions)
    assert [row[-1] for row in rows[1:]].count("Walk") == 5 and [row[-1] for row in rows[1:]].count("Run") == 2


def test_without_a_time_column_rows_are_numbered_and_a_headless_file_keeps_its_rows(tmp_path):
    source = tmp_path / "plain.csv"
    source.write_text("".join(f"{value},{value * 3}\n" for value in range(6)))
    regions = [_region("a", 2, 3, "Rest")]
    _convert(tmp_path, [_task(1, "/data/upload/1/plain.csv", regions)], _config(), {"/data/upload/1/plain.csv": source})
    rows = _read(tmp_path / "out" / "timeseries" / "plain.csv", ",")
    assert rows[0] == ["0", "1", "label"] and [row[-1] for row in rows[1:]] == ["", "", "Rest", "Rest", "", ""]
    assert len(rows) == 7


def test_a_missing_time_column_names_the_task_and_the_file(tmp_path):
    source = tmp_path / "odd.csv"
    source.write_text("when,x\n1,2\n")
    good = tmp_path / "good.csv"
    good.write_text("time,x\n1,2\n")
    tasks = [
        _task(7, "/data/upload/1/odd.csv", [_region("a", 0, 1, "Run")]),
        _task(8, "/data/upload/1/good.csv", [_region("a", 0, 1, "Run")]),
    ]
    files = {"/data/upload/1/odd.csv": source, "/data/upload/1/good.csv": good}
    with pytest.raises(ConversionError, match="odd.csv has no column 'time'") as info:
        _convert(tmp_path, tasks, _config(timeColumn="time"), files)
    assert info.value.task_id == 7 and not (tmp_path / "out").exists()
    report = _convert(tmp_path, tasks, _config(timeColumn="time"), files, on_error="skip")
    assert report.items_written == 1 and report.examples[0][0] == 7
    assert [path.name for path in (tmp_path / "out" / "timeseries").iterdir()] == ["good.csv"]
    with open(tmp_path / "out" / "result.csv", encoding="utf-8") as handle:
        assert [row["id"] for row in csv.DictReader(handle)] == ["8"]


def test_a_time_that_is_no_number_is_named_by_row(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("time,x\n1,2\nlater,3\n")
    with pytest.raises(ConversionError, match=r"bad.csv, data row 2: 'later' in 'time' is not a number"):
        _convert(
            tmp_path,
            [_task(1, "/data/upload/1/bad.csv", [_region("a", 0, 1, "Run")])],
            _config(timeColumn="time"),
            {"/data/upload/1/bad.csv": source},
        )


def test_an_unclosed_quote_is_a_typed_error_naming_the_task_and_file(tmp_path):
    """An unclosed quote makes the rest of the file one cell, past the csv module's cell limit."""
    source = tmp_path / "quoted.csv"
    source.write_text('time,x\n1,"2\n' + "3,4\n" * 40000)
    good = tmp_path / "good.csv"
    good.write_text("time,x\n1,2\n")
    tasks = [
        _task(3, "/data/upload/1/quoted.csv", [_region("a", 0, 1, "Run")]),
        _task(4, "/data/upload/1/good.csv", [_region("a", 0, 1, "Run")]),
    ]
    files = {"/data/upload/1/quoted.csv": source, "/data/upload/1/good.csv": good}
    with pytest.raises(ConversionError, match="quoted.csv") as info:
        _convert(tmp_path, tasks, _config(timeColumn="time"), files)
    assert info.value.task_id == 3 and not (tmp_path / "out").exists()
    report = _convert(tmp_path, tasks, _config(timeColumn="time"), files, on_error="skip")
    assert report.items_written == 1 and report.examples[0][0] == 3
    assert [path.name for path in (tmp_path / "out" / "timeseries").iterdir()] == ["good.csv"]


def test_series_names_from_the_config_cannot_lead_outside_the_output(tmp_path):
    """Two series on a task: each file is named by its object's name, made a safe file name."""
    names = ["up/../../../../escaped", "n" * 300]
    config = (
        "<View>"
        + "".join(
            f"<TimeSeriesLabels name='l{number}' toName='{name}'><Label value='Run'/></TimeSeriesLabels>"
            f"<TimeSeries name='{name}' valueType='url' value='$csv{number}'><Channel column='x'/></TimeSeries>"
            for number, name in enumerate(names)
        )
        + "</View>"
    )
    source = tmp_path / "in" / "s.csv"
    source.parent.mkdir()
    source.write_text("x\n1\n2\n")
    regions = [
        {
            "id": f"r{n}",
            "from_name": f"l{n}",
            "to_name": name,
            "type": "timeserieslabels",
            "value": {"start": 0, "end": 0, "timeserieslabels": ["Run"]},
        }
        for n, name in enumerate(names)
    ]
    task = {"id": 1, "data": {"csv0": "/d/s.csv", "csv1": "/d/s.csv"}, "annotations": [{"id": 1, "result": regions}]}
    _convert(tmp_path, [task], config, {"/d/s.csv": source})
    written = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.csv"))
    assert len(written) == 4 and all(name.startswith(("out/", "in/")) for name in written)
    series = sorted((tmp_path / "out" / "timeseries").iterdir())
    assert len(series) == 2 and all(len(path.name.encode()) <= 120 for path in series)
    assert all(_read(path, ",")[1] == ["1", "Run"] for path in series)


def test_a_task_whose_second_series_fails_leaves_no_file_of_its_first(tmp_path):
    config = (
        "<View>"
        + "".join(
            f"<TimeSeriesLabels name='l{n}' toName='ts{n}'><Label value='Run'/></TimeSeriesLabels>"
            f"<TimeSeries name='ts{n}' valueType='url' value='$csv{n}'><Channel column='x'/></TimeSeries>"
            for n in range(2)
        )
        + "</View>"
    )
    source = tmp_path / "s.csv"
    source.write_text("x\n1\n2\n")
    regions = [
        {
            "id": f"r{n}",
            "from_name": f"l{n}",
            "to_name": f"ts{n}",
            "type": "timeserieslabels",
            "value": {"start": 0, "end": 0, "timeserieslabels": ["Run"]},
        }
        for n in range(2)
    ]
    task = {"id": 9, "data": {"csv0": "/d/s.csv", "csv1": "/d/gone.csv"}, "annotations": [{"id": 1, "result": regions}]}
    good = {**task, "id": 8, "data": {"csv0": "/d/t.csv", "csv1": "/d/t.csv"}}
    files = {"/d/s.csv": source, "/d/t.csv": source}
    report = _convert(tmp_path, [task, good], config, files, on_error="skip")
    assert report.examples[0][0] == 9 and "gone.csv" in report.examples[0][1]
    assert sorted(path.name for path in (tmp_path / "out" / "timeseries").iterdir()) == ["t__ts0.csv", "t__ts1.csv"]


def test_without_a_media_lookup_the_tasks_csv_is_written_and_a_warning_says_why_no_series(tmp_path):
    task = _task(1, "/data/upload/1/x.csv", [_region("a", 0, 1, "Run")])
    report = convert([task], "csv", tmp_path / "out", config=_config(timeColumn="time"))
    assert report.items_written == 1 and not (tmp_path / "out" / "timeseries").exists()
    assert any("time series" in warning for warning in report.warnings)


def _by_hand(times: list[float], ranges: list[Range]) -> tuple[list[str], tuple[list, int] | None]:
    """Each row's label and the overlap, range by range over every row, as the editor's ranges
    read: the later range wins, an instant one takes the nearest row (the first of equals)."""
    chosen = [-1] * len(times)
    shared = [False] * len(times)
    involved: list = []
    for index, item in enumerate(ranges):
        if item.start == item.end:
            distances = [abs(time - item.start) for time in times]
            nan = [row for row, distance in enumerate(distances) if distance != distance]
            rows = nan[:1] or [min(range(len(times)), key=lambda row: (distances[row], row))]
        else:
            rows = [row for row, time in enumerate(times) if item.start <= time <= item.end]
        owners = sorted({chosen[row] for row in rows if chosen[row] >= 0})
        for row in rows:
            shared[row] = shared[row] or chosen[row] >= 0
        if owners:
            involved += [ranges[owner].region for owner in owners if ranges[owner].region not in involved]
            involved.append(item.region)
        for row in rows:
            chosen[row] = index
    labels = ["" if index < 0 else ranges[index].labels for index in chosen]
    return labels, ((involved, sum(shared)) if involved else None)


_times = st.lists(
    st.sampled_from([0.0, 1.0, 2.5, 3.0, -1.0, float("inf"), float("-inf"), float("nan")])
    | st.integers(-5, 12).map(float),
    min_size=1,
    max_size=30,
)
_ranges = st.lists(
    st.tuples(st.integers(-6, 13), st.integers(0, 6), st.booleans()).map(
        lambda spec: (spec[0] / 2, spec[0] / 2 if spec[2] else spec[0] / 2 + spec[1])
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(times=_times, spans=_ranges)
def test_rows_and_overlaps_equal_a_range_by_range_reading(tmp_path_factory, times, spans):
    folder = tmp_path_factory.mktemp("series")
    source = folder / "s.csv"
    source.write_text("time,x\n" + "".join(f"{time!r},{row}\n" for row, time in enumerate(times)))
    ranges = [Range(start, end, f"L{index}", f"r{index % 5}", "activity") for index, (start, end) in enumerate(spans)]
    series = Series("ts", "csv", ("activity",), "time", ",", None)
    overlaps = label_file(source, folder / "out.csv", series, {"activity": ranges}, name="s.csv", task_id=1)
    labels, overlap = _by_hand(times, ranges)
    assert [row[2] for row in _read(folder / "out.csv", ",")[1:]] == labels
    assert overlaps == ([("activity", *overlap)] if overlap else [])
