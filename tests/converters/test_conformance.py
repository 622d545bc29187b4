"""The reference converter's own test data, and what its tests assert (shared/fixtures INDEX.md)."""

from __future__ import annotations

import csv
import json

import pytest

from ml_data.converters import ConvertOptions, convert

OTHER_CONTROL = (
    "<View><Text name='text' value='$uri'/><Choices name='other' toName='text'><Choice value='a'/></Choices></View>"
)
TEXT_CHOICES = "<View><Text name='text' value='$text'/><Choices name='text_choice' toName='text'/></View>"


def read_csv(path, delimiter=","):  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_golden_tsv_is_byte_equal(fixtures, tmp_path):
    convert(fixtures / "test_export_csv" / "csv_test2.json", "TSV", tmp_path / "out", config=OTHER_CONTROL)
    produced = (tmp_path / "out" / "result.tsv").read_bytes()
    assert produced == (fixtures / "test_export_csv" / "csv_test2_result.csv").read_bytes()
    # ... and the older converter's golden file differs only in its line endings.
    legacy = (fixtures / "legacy-converter" / "test_export_csv" / "csv_test2_result.csv").read_bytes()
    assert legacy.replace(b"\r\n", b"\n") == produced
    rows = read_csv(tmp_path / "out" / "result.tsv", "\t")
    assert sum(1 for row in rows for value in row.values() if value == "") == 2
    assert json.loads(rows[0]["writers"])[0]["name"] == "JIN XING CHEN"


def test_csv_without_config_has_no_empty_cells(fixtures, tmp_path):
    convert(fixtures / "test_export_csv" / "csv_test.json", "csv", tmp_path / "out")
    rows = read_csv(tmp_path / "out" / "result.csv")
    assert len(rows) == 2
    assert all(value != "" for row in rows for value in row.values())
    assert json.loads(rows[0]["label"])[0]["rectanglelabels"]


@pytest.mark.parametrize("variant", ["test_export_csv", "legacy-converter/test_export_csv"])
def test_history_column(fixtures, tmp_path, variant):
    convert(fixtures / variant / "csv_test_history.json", "csv", tmp_path / "out")
    (row,) = read_csv(tmp_path / "out" / "result.csv")
    assert json.loads(row["history"])


def test_colliding_data_and_control_names(fixtures, tmp_path):
    convert(fixtures / "test_export_csv" / "csv_test_colliding_keys.json", "csv", tmp_path / "out")
    (row,) = read_csv(tmp_path / "out" / "result.csv")
    assert "_data_text" in row and "text" in row
    assert row["text"] != row["_data_text"]


def test_colliding_names_with_an_unannotated_task(fixtures, tmp_path):
    convert(fixtures / "test_export_csv" / "csv_test_colliding_keys_mixed.json", "csv", tmp_path / "out")
    rows = read_csv(tmp_path / "out" / "result.csv")
    assert len(rows) == 2
    fixed = {"annotator", "annotation_id", "created_at", "updated_at", "lead_time"}
    assert set(rows[0]) - fixed == {"_data_text", "text", "id"}
    unannotated = next(row for row in rows if row["annotation_id"] == "")
    assert unannotated["_data_text"] and unannotated["text"] == ""


def test_json_min_polygon_record(fixtures, tmp_path):
    folder = fixtures / "test_export_json_min"
    convert(folder / "data.json", "JSON_MIN", tmp_path / "out", config=(folder / "label_config.xml").read_text())
    (record,) = json.loads((tmp_path / "out" / "result.json").read_text())
    assert record["label"][0]["polygonlabels"] == ["Airplane"] and len(record["label"][0]["points"]) == 3
    assert record["image"] == "/data/upload/29/example.png"


def test_json_min_repeater_record(fixtures, tmp_path):
    config = (
        '<View><Repeater on="$images" indexFlag="{{idx}}"><Image name="page_{{idx}}" value="$images[{{idx}}].url"/>'
        '<RectangleLabels name="labels_{{idx}}" toName="page_{{idx}}"><Label value="Document Title"/>'
        '<Label value="Document Date"/></RectangleLabels>'
        '<Taxonomy name="categories_{{idx}}" toName="page_{{idx}}"><Choice value="Document Types"/></Taxonomy>'
        "</Repeater></View>"
    )
    convert(fixtures / "test_export_json_min" / "data_repeater.json", "json-min", tmp_path / "out", config=config)
    (record,) = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "labels_0" in record and "categories_0" in record
    assert record["labels_0"][0]["rectanglelabels"]


def test_chat_messages(fixtures, tmp_path):
    source = fixtures / "test_export_json_min" / "chat_data.json"
    config = "<View><Chat name='chat' value='$input_chat'/></View>"
    convert(source, "json-min", tmp_path / "min", config=config)
    (record,) = json.loads((tmp_path / "min" / "result.json").read_text())
    assert isinstance(record["chat"], list) and len(record["chat"]) == 4
    assert all(isinstance(message, dict) and "role" in message for message in record["chat"])
    convert(source, "csv", tmp_path / "csv", config=config)
    (row,) = read_csv(tmp_path / "csv" / "result.csv")
    assert len(json.loads(row["chat"])) == 4
    assert row["chat_transcript"].count("\n") == 3


NER = "<View><Text name='text' value='$text'/><Labels name='ner' toName='text'><Label value='X'/></Labels></View>"


def conll(tmp_path, text, spans, **options):  # type: ignore[no-untyped-def]
    result = [
        {"from_name": "ner", "to_name": "text", "type": "labels", "value": {"start": s, "end": e, "labels": [label]}}
        for s, e, label in spans
    ]
    task = {"id": 1, "data": {"text": text}, "annotations": [{"id": 1, "result": result}]}
    report = convert([task], "conll2003", tmp_path / "out", config=NER, options=ConvertOptions(**options))
    lines = (tmp_path / "out" / "result.conll").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "-DOCSTART- -X- O O" and lines[1] == ""
    return [tuple(line.split(" -X- _ ")) for line in lines[2:] if line], report


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("Hello\nJane\tDoe", [(6, 14, "PER")], [("Hello", "O"), ("Jane", "B-PER"), ("Doe", "I-PER")]),
        ("Hi Jane", [(4, 7, "PER")], [("Hi", "O"), ("Jane", "B-PER")]),  # part of a token
        ("Hi  Jane  now", [(3, 9, "PER")], [("Hi", "O"), ("Jane", "B-PER"), ("now", "O")]),  # spaces in span
        (
            "It is $3.99 now",
            [(6, 11, "MONEY")],
            [("It", "O"), ("is", "O"), ("$", "B-MONEY"), ("3.99", "I-MONEY"), ("now", "O")],
        ),
        ("a#b;c", [(0, 1, "A")], [("a", "B-A"), ("#", "O"), ("b", "O"), (";", "O"), ("c", "O")]),
        (
            "I like Turtles. Yes",
            [(7, 14, "ANIMAL")],
            [("I", "O"), ("like", "O"), ("Turtles.", "B-ANIMAL"), ("Yes", "O")],
        ),
    ],
)
def test_conll_tokenizer_cases(tmp_path, text, spans, expected):
    assert conll(tmp_path, text, spans)[0] == expected


def test_conll_text_without_spaces_is_tagged_per_character(tmp_path):
    tokens, _ = conll(tmp_path, "我在北京工作", [(2, 4, "LOC")])
    assert tokens == [("我", "O"), ("在", "O"), ("北", "B-LOC"), ("京", "I-LOC"), ("工", "O"), ("作", "O")]


def test_conll_overlapping_spans_are_reported(tmp_path):
    tokens, report = conll(tmp_path, "New York City", [(0, 13, "LOC"), (4, 8, "CITY")])
    assert [tag for _, tag in tokens] == ["B-LOC", "I-LOC", "I-LOC"]
    assert any("overlaps" in warning for warning in report.warnings)


def test_conll_sentence_splitting(tmp_path):
    convert(
        [{"id": 1, "data": {"text": "Jane runs. Bob swims."}, "annotations": [{"id": 1, "result": []}]}],
        "conll2003",
        tmp_path / "out",
        config=NER,
        options=ConvertOptions(split_sentences=True),
    )
    body = (tmp_path / "out" / "result.conll").read_text().split("\n\n")
    assert body[1].splitlines() == ["Jane -X- _ O", "runs -X- _ O", ". -X- _ O"]
    assert body[2].splitlines()[0] == "Bob -X- _ O"


def test_fast_path_tokenizes_like_treebank():
    import random

    from nltk.tokenize import TreebankWordTokenizer

    from ml_data.converters.conll import tokenize

    rng = random.Random(5)
    alphabet = "abcXYZ019éßж  \t\n"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert tokenize(text) == list(TreebankWordTokenizer().span_tokenize(text)), repr(text)


def test_results_of_controls_missing_from_the_config_are_reported(fixtures, tmp_path):
    report = convert(fixtures / "test_export_csv" / "csv_test2.json", "tsv", tmp_path / "out", config=OTHER_CONTROL)
    assert report.warnings == ["results of 'uri_selection', a control the labeling config does not have, were left out"]
