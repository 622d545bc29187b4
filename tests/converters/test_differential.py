"""ml-data against Label Studio's own converter (label-studio-sdk) on generated exports: equal
where the reference is right, and a test for each place where it is not."""

from __future__ import annotations

import csv
import json

import pytest

from ml_data.converters import convert
from tests.support.exports import NER_CONFIG, write_export

reference = pytest.importorskip("label_studio_sdk.converter")


def run_reference(source, fmt, out, config=NER_CONFIG):  # type: ignore[no-untyped-def]
    converter = reference.Converter(config=config, project_dir=None, download_resources=False)
    converter.convert(str(source), str(out), fmt, is_dir=False)


@pytest.fixture(scope="module")
def export(tmp_path_factory):  # type: ignore[no-untyped-def]
    return write_export(tmp_path_factory.mktemp("exports") / "ner.json", "ner", 60, seed=3, annotations=2)


def test_json_min_equals_the_reference(export, tmp_path):
    run_reference(export, "JSON_MIN", tmp_path / "ref")
    convert(export, "json-min", tmp_path / "ours", config=NER_CONFIG)
    theirs = json.loads((tmp_path / "ref" / "result.json").read_text())
    ours = json.loads((tmp_path / "ours" / "result.json").read_text())
    assert len(ours) == 120
    assert ours == theirs


def test_csv_equals_the_reference(export, tmp_path):
    run_reference(export, "CSV", tmp_path / "ref")
    convert(export, "csv", tmp_path / "ours", config=NER_CONFIG)

    def rows(path):  # type: ignore[no-untyped-def]
        with open(path, encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))

    theirs, ours = rows(tmp_path / "ref" / "result.csv"), rows(tmp_path / "ours" / "result.csv")
    assert ours[0] == theirs[0]  # same header
    assert ours[1:] == theirs[1:]


def conll_documents(path):  # type: ignore[no-untyped-def]
    lines = path.read_text(encoding="utf-8").splitlines()
    documents, current = [], []
    for line in lines[1:]:
        if line.startswith("-DOCSTART-"):
            continue
        if not line:
            if current:
                documents.append(current)
            current = []
        else:
            token, tag = line.split(" -X- _ ")
            current.append((token, tag))
    return documents


def test_conll_equals_the_reference_on_token_aligned_spans(export, tmp_path):
    run_reference(export, "CONLL2003", tmp_path / "ref")
    convert(export, "conll2003", tmp_path / "ours", config=NER_CONFIG)
    ours = conll_documents(tmp_path / "ours" / "result.conll")
    assert len(ours) == 120
    assert ours == conll_documents(tmp_path / "ref" / "result.conll")
    # spaCy reads four columns on the DOCSTART line; the reference writes three.
    assert (tmp_path / "ours" / "result.conll").read_text().startswith("-DOCSTART- -X- O O\n")
    assert (tmp_path / "ref" / "result.conll").read_text().startswith("-DOCSTART- -X- O\n")


TWO_LABEL_TAGS = (
    "<View><Text name='text' value='$text'/><Labels name='people' toName='text'><Label value='PER'/></Labels>"
    "<Labels name='places' toName='text'><Label value='LOC'/></Labels></View>"
)


def test_conll_reference_drops_all_but_one_labels_tag(tmp_path):
    task = {
        "id": 1,
        "data": {"text": "Anna lives in Paris"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "from_name": "people",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 0, "end": 4, "labels": ["PER"]},
                    },
                    {
                        "from_name": "places",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 14, "end": 19, "labels": ["LOC"]},
                    },
                ],
            }
        ],
    }
    source = tmp_path / "two.json"
    source.write_text(json.dumps([task]))
    run_reference(source, "CONLL2003", tmp_path / "ref", config=TWO_LABEL_TAGS)
    convert(source, "conll2003", tmp_path / "ours", config=TWO_LABEL_TAGS)
    (theirs,) = conll_documents(tmp_path / "ref" / "result.conll")
    (ours,) = conll_documents(tmp_path / "ours" / "result.conll")
    assert [tag for _, tag in theirs].count("O") == 3  # one of the two entities is lost
    assert ours == [("Anna", "B-PER"), ("lives", "O"), ("in", "O"), ("Paris", "B-LOC")]


def test_conll_reference_keeps_unspaced_text_as_one_token(tmp_path):
    task = {
        "id": 1,
        "data": {"text": "我在北京工作"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 2, "end": 4, "labels": ["LOC"]},
                    }
                ],
            }
        ],
    }
    source = tmp_path / "zh.json"
    source.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    run_reference(source, "CONLL2003", tmp_path / "ref")
    convert(source, "conll2003", tmp_path / "ours", config=NER_CONFIG)
    (theirs,) = conll_documents(tmp_path / "ref" / "result.conll")
    (ours,) = conll_documents(tmp_path / "ours" / "result.conll")
    assert len(theirs) == 1  # the whole sentence tagged as one location
    assert [tag for _, tag in ours] == ["O", "O", "B-LOC", "I-LOC", "O", "O"]
