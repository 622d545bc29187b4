"""CoNLL 2003 for named-entity recognition: one token per line, ``token -X- _ TAG`` with IOB tags
from the character offsets of every ``Labels`` span on the text, a blank line between documents
(and, with ``split_sentences``, between sentences), after the ``-DOCSTART- -X- O O`` line that
``spacy convert`` expects.

Tokens are those of NLTK's Treebank tokenizer with the punctuation rules Label Studio's own export
sets (it also splits on ``/``: ``1/2`` is ``1 / 2``), found in one pass (:mod:`.treebank`), with
every character of a script written without spaces (Chinese, Japanese, Thai ...) a token of its
own. A token that overlaps a span is tagged: ``B-`` for the span's first token, ``I-`` after.
Overlapping spans cannot be expressed in IOB: the first (longest at equal start) is kept and the
others are reported.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from ml_data.converters import treebank
from ml_data.converters.base import Context, FormatBase, annotated_tasks
from ml_data.converters.merging import append
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation

DOCSTART = "-DOCSTART- -X- O O\n\n"
_OUTSIDE = " -X- _ O\n"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def tokenize(text: str) -> list[tuple[int, int]]:
    """Token spans ``(start, end)`` of ``text``.

    >>> text = "Call Jane at 10."
    >>> [text[s:e] for s, e in tokenize(text)]
    ['Call', 'Jane', 'at', '10', '.']
    """
    return treebank.span_tokenize(text)


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
    """IOB tags for ``tokens`` from non-overlapping ``spans`` (start, end, label), both sorted:
    token by token, the definition :func:`lines` follows a run of tokens at a time."""
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
                # The task's lines are all computed before any is written: a task that fails
                # leaves nothing half-written. Its tokens are the same for every annotation.
                try:
                    parts = token_parts(text, split)
                    blocks = [lines(parts, self._spans(a, controls, text, context, task.id)) for a in selected]
                except Exception:
                    # The guard applies the error policy to what the task's data made go wrong;
                    # entered only then, it costs the tasks that convert nothing.
                    with context.guard(task.id):
                        raise
                    continue
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
        size = len(text)
        raw = []
        for region in annotation.result:
            if region.from_name not in controls:
                continue
            value = region.value
            start, end, labels = value.get("start"), value.get("end"), value.get("labels")
            if isinstance(start, int) and isinstance(end, int) and labels and 0 <= start < end <= size:
                raw.append((start, end, str(labels[0])))
            else:
                context.report.warn(f"task {task_id}: span without valid start/end/labels left out")
        if len(raw) < 2:
            return raw
        # By start, the longest first at equal starts (two stable sorts by C-level keys).
        raw.sort(key=itemgetter(1), reverse=True)
        raw.sort(key=itemgetter(0))
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


def token_parts(text: str, split: bool) -> list[tuple[int, list[str], list[int]]]:
    """The tokens of the text, or of each of its sentences with ``split``: ``(offset, words,
    starts)`` for each part that has tokens, ``starts`` relative to ``offset``."""
    parts = sentences(text) if split else [(0, len(text))]
    found = []
    for part_start, part_end in parts:
        words, starts = treebank.tokens(text[part_start:part_end] if split else text)
        if words:
            found.append((part_start, words, starts))
    return found


def lines(parts: list[tuple[int, list[str], list[int]]], spans: list[tuple[int, int, str]]) -> str:
    """The CoNLL lines of ``parts`` (:func:`token_parts`), tagged by ``spans`` (sorted, not
    overlapping) as :func:`iob_tags` tags them, a blank line after each part.

    The tokens between two spans are joined in one go: a span costs two binary searches, and a
    token no Python step of its own.
    """
    if len(parts) == 1:
        return _block(*parts[0], spans)
    return "".join([_block(offset, words, starts, spans) for offset, words, starts in parts])


def _block(offset: int, words: list[str], starts: list[int], spans: list[tuple[int, int, str]]) -> str:
    """One part's lines (see :func:`lines`)."""
    block = []
    done = 0  # tokens written so far
    for span_start, span_end, label in spans:
        start, end = span_start - offset, span_end - offset
        # The span's tokens: from the first that ends after its start (the last one starting at
        # or before it, if it reaches past it, else the next) to the last that starts before its
        # end; a token the span before already tagged stays that span's.
        first = bisect_right(starts, start)
        if first and starts[first - 1] + len(words[first - 1]) > start:
            first -= 1
        first = max(first, done)
        stop = bisect_left(starts, end, first)
        if first >= stop:
            continue
        if done < first:
            block.append(_OUTSIDE.join(words[done:first]))
            block.append(_OUTSIDE)
        block.append(f"{words[first]} -X- _ B-{label}\n")
        if first + 1 < stop:
            inside = f" -X- _ I-{label}\n"
            block.append(inside.join(words[first + 1 : stop]))
            block.append(inside)
        done = stop
    if done < len(words):
        block.append(_OUTSIDE.join(words[done:]))
        block.append(_OUTSIDE)
    block.append("\n")
    return "".join(block)
