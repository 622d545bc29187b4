"""``--fail-on``: rules parsed once (a rule that is not one exits 2 before anything is read), a
rule that fires exits 1 naming it, and the JSON schema is pinned."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ml_data import ConfigurationError
from ml_data.cli import main
from ml_data.stats import RULES, Rule, parse_rule
from tests.support.planted import write_dataset


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("leak", Rule("leak")),
        ("duplicates>2", Rule("duplicates", 2.0)),
        ("empty-images>5%", Rule("empty-images", 5.0, percent=True)),
        (" small-boxes > 0.5 % ", Rule("small-boxes", 0.5, percent=True)),
        ("skew>20", Rule("skew", 20.0)),
        ("missing-class", Rule("missing-class")),
    ],
)
def test_rules_parse(text, rule):
    assert parse_rule(text) == rule


@pytest.mark.parametrize(
    "text",
    ["", "nope", "skew", "leak>", "leak<3", "missing-class>5%", "empty-images>100%", "leak>-1", "LEAK", "leak>1e3"],
)
def test_what_is_not_a_rule_is_a_configuration_error_naming_it(text):
    with pytest.raises(ConfigurationError):
        parse_rule(text)


@given(st.text(max_size=40))
def test_any_text_is_a_known_rule_or_a_configuration_error(text):
    try:
        rule = parse_rule(text)
    except ConfigurationError:
        return
    assert rule.name in RULES and rule.threshold >= 0


@pytest.fixture
def planted(tmp_path, file_server, settings):  # type: ignore[no-untyped-def]
    """The planted dataset with splits: 1 of 6 train images empty (16.7%), 1 small box in val, a
    leak, a duplicate in train, bird missing from val, fish unused."""
    return write_dataset(tmp_path, file_server, settings, "yolo", split=True)


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["stats", *args])


@pytest.mark.parametrize(
    ("rule", "fires", "where"),
    [
        ("leak", True, "the dataset: 1"),
        ("duplicates", True, "the dataset: 2"),
        ("duplicates>2", False, None),
        ("missing-class", True, "the dataset: 1"),
        ("unused-class", True, "the dataset: 1"),
        ("empty-images>10%", True, "train: 1 of 6 (16.7%)"),
        ("empty-images>20%", False, None),
        ("empty-images", True, "train: 1"),
        ("small-boxes>0", True, "val: 1"),
        ("outside-boxes", False, None),
        ("skew>20", False, None),
        ("skew>1.5", True, "train"),
        ("malformed", False, None),
    ],
)
def test_fail_on_exits_1_naming_the_rule_that_fires(planted, rule, fires, where):
    _, out = planted
    result = run(str(out), "--fail-on", rule)
    assert result.exit_code == (1 if fires else 0), result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    if fires:
        (line,) = failed
        assert line.startswith(f"failed: {parse_rule(rule)}: ") and where in line
    else:
        assert not failed


def test_rules_are_checked_together_and_each_named(planted):
    _, out = planted
    result = run(str(out), "--fail-on", "leak", "--fail-on", "outside-boxes", "--fail-on", "missing-class")
    assert result.exit_code == 1
    assert [line.split(":")[1].strip() for line in result.output.splitlines() if line.startswith("failed:")] == [
        "leak>0",
        "missing-class>0",
    ]


@pytest.mark.parametrize("rule", ["nope", "skew", "empty-images>5", "leak>5%x"])
def test_a_malformed_rule_exits_2_before_reading_anything(tmp_path, rule):
    result = run(str(tmp_path / "no-such-dataset"), "--fail-on", "leak", "--fail-on", rule)
    if rule == "empty-images>5":  # a count is a valid bar too: the dataset is then read (and missing)
        assert result.exit_code == 1 and "NotFound" in result.output
        return
    assert result.exit_code == 2, result.output
    assert "--fail-on" in result.output and "NotFound" not in result.output


def test_an_unreadable_dataset_exits_1(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(str(tmp_path / "empty"))
    assert result.exit_code == 1 and "InvalidDataset" in result.output


def test_the_text_output_has_a_table_per_split_and_the_findings(planted):
    plan, out = planted
    result = run(str(out))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(index for index, line in enumerate(lines) if line.split()[:2] == ["split", "images"])
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1 : header + 4]}
    assert rows["train"][0] == str(plan.images(True)["train"]) and rows["all"][0] == str(len(plan.tasks))
    assert rows["val"][3] == "1"  # the small box
    assert any(line.startswith("  leak: the same file in train and val") for line in lines)
    assert any(line.startswith("  missing-class [val]: class 'bird'") for line in lines)


#: The JSON schema (stats_version 1): a change to it is a decision, not an accident.
TOP_KEYS = {
    "stats_version",
    "path",
    "format",
    "manifest",
    "min_box_pixels",
    "classes",
    "splits",
    "overall",
    "unused_classes",
    "duplicates",
    "findings",
    "fail_on",
    "fired",
}
SPLIT_KEYS = {
    "name",
    "images",
    "empty_images",
    "objects",
    "small_boxes",
    "outside_boxes",
    "unmeasured_boxes",
    "instances",
    "missing_classes",
    "skew",
}


def test_the_json_schema_is_pinned(planted):
    plan, out = planted
    result = run(str(out), "--json", "--min-box-pixels", "1", "--fail-on", "leak")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == TOP_KEYS and report["stats_version"] == 1
    assert all(set(split) == SPLIT_KEYS for split in [*report["splits"], report["overall"]])
    assert [split["name"] for split in report["splits"]] == ["train", "val"]
    assert report["min_box_pixels"] == 1 and report["overall"]["small_boxes"] == 0  # 2x2 px is not under 1 px
    assert {tuple(group["files"][0]) for group in report["duplicates"]} == {("split", "path")}
    assert [group["leak"] for group in report["duplicates"]].count(True) == 1
    assert all(set(finding) == {"kind", "split", "count", "message", "examples"} for finding in report["findings"])
    assert report["fail_on"] == ["leak>0"] and [fired["rule"] for fired in report["fired"]] == ["leak>0"]
