"""CoNLL 2003 for named-entity recognition: one token per line, ``token -X- _ TAG`` with IOB tags
from the character offsets of every ``Labels`` span on the text, a blank line between documents
(and, with ``split_sentences``, between sentences), after the ``-DOCSTART- -X- O O`` line that
``spacy convert`` expects.

Tokens come from NLTK's Treebank tokenizer with the punctuation rules Label Studio's own export sets
(it also splits on ``/``: ``1/2`` is ``1 / 2``), with a per-character fallback for scripts written
without spaces (Chinese, Japanese, Thai ...). A token that overlaps a
span is tagged: ``B-`` for the span's first token, ``I-`` after. Overlapping spans cannot be
expressed in IOB: the first (longest at equal start) is kept and the others are reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nltk.tokenize import TreebankWordTokenizer

from ml_data.converters.base import Context, FormatBase, annotated_tasks
from ml_data.converters.merging import append
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation

DOCSTART = "-DOCSTART- -X- O O\n\n"


class LabelStudioTokenizer(TreebankWordTokenizer):
    """NLTK's Treebank tokenizer with the punctuation rules of Label Studio's converter.

    A class of ml-data's own: importing ``label_studio_sdk.converter`` replaces ``PUNCTUATION`` on
    NLTK's class for the whole process, which must not change what ml-data writes.
    """

    PUNCTUATION = [
        (re.compile(r"([:,])([^\d])"), r" \1 \2"),
        (re.compile(r"([:,])$"), r" \1 "),
        (re.compile(r"\.\.\."), r" ... "),
        (re.compile(r"[;@#$/%&]"), r" \g<0> "),
        (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),  # the final period
        (re.compile(r"[?!]"), r" \g<0> "),
        (re.compile(r"([^'])' "), r"\1 ' "),
    ]


_TOKENIZER = LabelStudioTokenizer()
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


# Scripts that do not separate words with spaces: kana, Thai, Lao, CJK ideographs, Hangul.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff]"
)
_PLAIN = re.compile(r"[^\W_]+(?:\s+[^\W_]+)*\s*")


def tokenize(text: str) -> list[tuple[int, int]]:
    """Token spans ``(start, end)`` of ``text``.

    >>> text = "Call Jane at 10."
    >>> [text[s:e] for s, e in tokenize(text)]
    ['Call', 'Jane', 'at', '10', '.']
    """
    stripped = text.lstrip()
    if _PLAIN.fullmatch(stripped) and not _UNSPACED.search(text):
        # Only letters, digits and spaces: nothing for the Treebank rules to split, and the
        # whitespace split is the same tokens at a fraction of the cost.
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        return words
    spans: list[tuple[int, int]] = []
    for start, end in _TOKENIZER.span_tokenize(text):
        if not _UNSPACED.search(text, start, end):
            spans.append((start, end))
            continue
        run_start = start
        for match in _UNSPACED.finditer(text, start, end):
            if run_start < match.start():
                spans.append((run_start, match.start()))
            spans.append((match.start(), match.end()))
            run_start = match.end()
        if run_start < end:
            spans.append((run_start, end))
    return spans


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans: after ``.``, ``!`` or ``?`` and whitespace, and at blank lines."""
    bounds, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if text[start : match.start()].strip():
            bounds.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        bounds.append((start, len(text)))
    return bounds


def iob_tags(tokens: list[tuple[int, int]], spans: list[tuple[int, int, str]]) -> list[str]:
    """IOB tags for ``tokens`` from non-overlapping ``spans`` (start, end, label), both sorted."""
    tags = []
    index = 0
    previous_span = -1
    for start, end in tokens:
        while index < len(spans) and spans[index][1] <= start:
            index += 1
        if index < len(spans) and spans[index][0] < end and spans[index][1] > start:
            tags.append(("I-" if previous_span == index else "B-") + spans[index][2])
            previous_span = index
        else:
            tags.append("O")
    return tags


class ConllFormat(FormatBase):
    name = "conll2003"

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "CoNLL needs the labeling config (which text the spans are on)"
        if not self._text_controls(config):
            return "CoNLL needs a <Labels> control on a <Text> or <HyperText> object"
        return None

    @staticmethod
    def _text_controls(config: LabelConfig) -> dict[str, list[str]]:
        """Text object name -> the names of the Labels controls on it."""
        return config.controls_on(("Labels",), ("Text", "HyperText"))

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        targets = self._text_controls(config)
        text_name = next(iter(targets))
        if len(targets) > 1:
            context.report.warn(f"several texts carry Labels; exporting {text_name!r} only")
        key = config.objects[text_name].value_key or ""
        controls = set(targets[text_name])
        split = context.options.split_sentences
        with open(out / "result.conll", "w", encoding="utf-8", errors="replace") as handle:
            handle.write(DOCSTART)
            for task, text, selected in annotated_tasks(context, key, "text"):
                with context.guard(task.id):
                    # The task's lines are all computed before any is written: a task that fails
                    # leaves nothing half-written.
                    blocks = [
                        "".join(self._lines(text, self._spans(a, controls, text, context, task.id), split))
                        for a in selected
                    ]
                    for block in blocks:
                        handle.write(block)
                        context.report.items_written += 1

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """Shards' CoNLL files as one document: one ``-DOCSTART-`` line (the first shard's), each
        shard's sentences after a blank line."""
        if Path(relative).suffix.lower() != ".conll":
            super().merge(relative, target, parts)
            return
        for part in parts:
            body = part.read_bytes()
            if body.startswith(DOCSTART.encode()):
                body = body[len(DOCSTART) :]
            append(target, body, blank_line=True)  # CoNLL documents end on a blank line

    @staticmethod
    def _spans(annotation: Annotation, controls: set[str], text: str, context: Context, task_id: Any) -> list:
        raw = []
        for region in annotation.result:
            if region.from_name not in controls:
                continue
            value = region.value
            start, end, labels = value.get("start"), value.get("end"), value.get("labels") or []
            if (
                not isinstance(start, int)
                or not isinstance(end, int)
                or not labels
                or not 0 <= start < end <= len(text)
            ):
                context.report.warn(f"task {task_id}: span without valid start/end/labels left out")
                continue
            raw.append((start, end, str(labels[0])))
        raw.sort(key=lambda span: (span[0], -(span[1] - span[0])))
        kept: list[tuple[int, int, str]] = []
        for span in raw:
            if kept and span[0] < kept[-1][1]:
                context.report.warn(
                    f"task {task_id}: span {span[0]}-{span[1]} ({span[2]}) overlaps "
                    f"{kept[-1][0]}-{kept[-1][1]} ({kept[-1][2]}); IOB cannot hold both, kept the first"
                )
                continue
            kept.append(span)
        return kept

    @staticmethod
    def _lines(text: str, spans: list[tuple[int, int, str]], split: bool) -> Iterator[str]:
        parts = sentences(text) if split else [(0, len(text))]
        for part_start, part_end in parts:
            tokens = [(part_start + s, part_start + e) for s, e in tokenize(text[part_start:part_end])]
            if not tokens:
                continue
            for (start, end), tag in zip(tokens, iob_tags(tokens, spans), strict=True):
                yield f"{text[start:end]} -X- _ {tag}\n"
            yield "\n"
