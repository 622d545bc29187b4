"""CoNLL lines: written a run of tokens at a time, the same lines as tagging token by token."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ml_data.converters import ConvertOptions, convert
from ml_data.converters.conll import iob_tags, lines, sentences, token_parts, tokenize
from ml_data.errors import ConversionError
from tests.converters.test_treebank import any_text

NER = "<View><Text name='text' value='$text'/><Labels name='ner' toName='text'><Label value='X'/></Labels></View>"


def lines_token_by_token(text: str, spans: list[tuple[int, int, str]], split: bool) -> str:
    """The definition: every token's line with its tag from :func:`iob_tags`."""
    lines = []
    for part_start, part_end in sentences(text) if split else [(0, len(text))]:
        spans_of_tokens = [(part_start + s, part_start + e) for s, e in tokenize(text[part_start:part_end])]
        if not spans_of_tokens:
            continue
        for (start, end), tag in zip(spans_of_tokens, iob_tags(spans_of_tokens, spans), strict=True):
            lines.append(f"{text[start:end]} -X- _ {tag}\n")
        lines.append("\n")
    return "".join(lines)


@st.composite
def text_and_spans(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]]]:
    """A text and sorted spans on it that do not overlap (they may touch, cover whitespace only,
    or cut tokens), as ``ConllFormat._spans`` leaves them."""
    text = draw(any_text)
    bounds = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    labels = st.sampled_from(["PER", "LOC", "X", "a b"])
    spans = [(start, end, draw(labels)) for start, end in zip(bounds[::2], bounds[1::2], strict=False) if start < end]
    return text, spans


@settings(max_examples=1000, deadline=None)
@given(text_and_spans(), st.booleans())
@example(("Jane Smith went to Paris.", [(0, 10, "PER"), (19, 24, "LOC")]), False)
@example(("New York City", [(0, 6, "A"), (6, 13, "B")]), False)  # a token of two spans is the first's
@example(("Jane runs. Bob swims.", [(5, 14, "X")]), True)  # a span across two sentences
def test_lines_are_those_of_tagging_token_by_token(case, split):
    text, spans = case
    assert lines(token_parts(text, split), spans) == lines_token_by_token(text, spans, split)


def test_contractions_inside_words_are_split_in_the_conll_file(tmp_path):
    """Regression: ``cannot`` stayed one token in a text of letters and spaces only."""
    task = {
        "id": 1,
        "data": {"text": "I cannot go"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "from_name": "ner",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 2, "end": 8, "labels": ["X"]},
                    }
                ],
            }
        ],
    }
    convert([task], "conll2003", tmp_path / "out", config=NER)
    written = (tmp_path / "out" / "result.conll").read_text(encoding="utf-8").splitlines()
    assert written[2:] == ["I -X- _ O", "can -X- _ B-X", "not -X- _ I-X", "go -X- _ O", ""]


def ner_task(task_id: int, text: str, labels: object) -> dict:
    region = {
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": 0, "end": 4, "labels": labels},
    }
    return {"id": task_id, "data": {"text": text}, "annotations": [{"id": task_id, "result": [region]}]}


def test_a_task_that_cannot_be_converted_is_skipped_or_fails_the_run_by_the_policy(tmp_path):
    """A task whose data makes its lines fail (labels that are a number) goes to the error policy;
    the tasks around it are written whole."""
    batch = [ner_task(1, "Jane runs", ["X"]), ner_task(2, "Bob swims", 5), ner_task(3, "Ann sings", ["X"])]
    report = convert(batch, "conll2003", tmp_path / "skip", config=NER, options=ConvertOptions(on_error="skip"))
    assert [task_id for task_id, _reason in report.examples] == [2]
    assert "TypeError" in report.examples[0][1]
    written = (tmp_path / "skip" / "result.conll").read_text(encoding="utf-8")
    assert written == "-DOCSTART- -X- O O\n\nJane -X- _ B-X\nruns -X- _ O\n\nAnn -X- _ B-X\nsings -X- _ O\n\n"
    with pytest.raises(ConversionError) as raised:
        convert(batch, "conll2003", tmp_path / "fail", config=NER, options=ConvertOptions(on_error="fail"))
    assert raised.value.task_id == 2
    assert not (tmp_path / "fail").exists()
