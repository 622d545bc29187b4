"""The one-pass tokenizer against NLTK's Treebank tokenizer (with Label Studio's punctuation rules
and the split around unspaced scripts, as the CoNLL format applies them): the same spans on every
text, generated with every class of character, enumerated over small alphabets, and taken from
real exports."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ml_data.converters import treebank
from ml_data.converters.conll import tokenize
from tests.converters.conftest import FIXTURES
from tests.support.exports import tasks

ROOT = Path(__file__).resolve().parents[2]

PUNCTUATION = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
QUOTES = ["'", '"', "`", "``", "''", "'''", "\u2018", "\u2019", "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb"]
CONTRACTIONS = [
    *("can't", "won't", "don't", "isn't", "N'T", "n't", "'ll", "'LL", "'re", "'RE", "'ve", "'VE"),
    *("'s", "'S", "'m", "'M", "'d", "'D", "Jane's", "dogs'", "o'clock", "rock'n'roll", "'90s"),
    *("cannot", "CanNot", "gimme", "gonna", "Gonna", "gotta", "lemme", "wanna", "WANNA", "d'ye", "more'n"),
    *("'tis", "'Twas", "g\u0130mme", "g\u0131mme", "'ti\u017f"),  # dotted and dotless I, long s
]
NUMBERS = ["3", "3,000", "1,234.56", "3.14", "10:30", "1/2", "50%", "$5", "-7", "2,", "7.", ",5", "\u0e55", "\u0663"]
WEB = ["http://example.com/a?b=1&c=2#top", "www.example.org", "jane.doe@example.com", "@jane", "#tag", "e.g.", "U.S."]
ELLIPSES_DASHES = ["...", "....", ".....", "\u2026", "-", "--", "---", "\u2013", "\u2014", ".", "..", ".)", ".'", '."']
BRACKETS = list("()[]{}<>")
UNSPACED = ["\u5317\u4eac", "\u3072\u3089\u304c\u306a", "\ud55c\uad6d\uc5b4", "\u0e20\u0e32\u0e29\u0e32", "\u0e31"]
COMBINING = ["e\u0301", "\u0301", "a\u0308", "\u20dd"]
WHITESPACE = [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u00a0", "\u1680", "\u2000", "\u2028"]
WHITESPACE += ["\u2029", "\u202f", "\u3000", "\u200b"]  # the last is no whitespace to Python
WORDS = ["Jane", "the", "a", "x", "s", "t", "n", "N", "T", "ll", "re", "ve", "is", "was", "_", "Anna", "can", "not"]
PIECES = [
    *PUNCTUATION,
    *QUOTES,
    *CONTRACTIONS,
    *NUMBERS,
    *WEB,
    *ELLIPSES_DASHES,
    *BRACKETS,
    *UNSPACED,
    *COMBINING,
    *WHITESPACE,
    *WORDS,
    "",
]

any_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=30).map("".join)


def nltk_or_error(text: str) -> list[tuple[int, int]] | type[BaseException]:
    try:
        return treebank.nltk_spans(text)
    except Exception as exc:  # NLTK fails on a few texts; the tokenizer must fail the same way
        return type(exc)


def assert_like_nltk(text: str) -> None:
    expected = nltk_or_error(text)
    if isinstance(expected, list):
        assert treebank.span_tokenize(text) == expected, [text[s:e] for s, e in expected]
    else:
        with pytest.raises(expected):
            treebank.span_tokenize(text)


@settings(max_examples=1500, deadline=None)
@given(any_text)
@example("")
@example("Jane's dog, 3,000 km... 'Yes!' she said: \"gonna\" (maybe) -- can't/won't.")
@example('"Hello," said J. R. R. Tolkien\u2028on 10:30.\u00a0')
def test_the_tokens_are_nltks_on_any_text(text):
    assert_like_nltk(text)


# Texts the one pass tokenizes itself (no backticks, no doubled quotes or colons, rarely three
# quotes in a word): most of them stay on it, so these examples test it rather than the fallback.
QUOTED = [piece for piece in PIECES if "'" in piece and "''" not in piece]
UNQUOTED = [piece for piece in PIECES if "'" not in piece and "`" not in piece and piece not in (",", ":")]
ONE_PASS_PIECES = UNQUOTED * 6 + QUOTED + [",", ":"]
one_pass_text = st.lists(st.sampled_from(ONE_PASS_PIECES), max_size=25).map("".join)


@settings(max_examples=1500, deadline=None)
@given(one_pass_text)
def test_the_one_pass_equals_nltk_where_it_answers(text):
    assume(treebank._lexer_for(text) is not None)
    assert_like_nltk(text)


def test_most_generated_texts_stay_on_the_one_pass():
    rng = random.Random(1)
    texts = ["".join(rng.choices(ONE_PASS_PIECES, k=rng.randint(0, 25))) for _ in range(1000)]
    assert sum(treebank._lexer_for(text) is not None for text in texts) > 800


def enumerated(alphabet: list[str], length: int) -> Iterator[str]:
    for size in range(length + 1):
        for letters in itertools.product(alphabet, repeat=size):
            yield "".join(letters)


@pytest.mark.parametrize(
    "alphabet",
    [
        ["'", ".", ",", ":", "-", ")", '"', " ", "\n", "s", "n", "t", "5"],  # quotes, final periods, numbers
        ["can", "not", "wan", "na", "n't", "'", "s", " ", "\t", "-", "\u5317", "\u0301", "\u0131"],  # contractions
        ["'", "'s", "'ll", "n't", "--", ")", ";", '"', " ", "x", "."],  # two quotes in a word
    ],
)
def test_the_tokens_are_nltks_on_every_short_text(alphabet):
    for text in enumerated(alphabet, 4):
        assert treebank.span_tokenize(text) == treebank.nltk_spans(text), repr(text)


contraction_text = st.lists(st.sampled_from([*CONTRACTIONS, *WORDS, " ", "-", "I", "\u0130", "\u0131", "m", "e"]))


@settings(max_examples=1000, deadline=None)
@given(any_text | contraction_text.map("".join))
def test_texts_read_without_the_contraction_rules_hold_no_contraction(text):
    """The faster lexer is picked only where the full one finds the same tokens."""
    lexer = treebank._lexer_for(text)
    assert lexer in (None, treebank._TOKEN) or lexer.findall(text) == treebank._TOKEN.findall(text)


def export_strings() -> Iterator[str]:
    """Every string of the reference converter's test exports and of ml-data's examples."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    paths = sorted(FIXTURES.rglob("*.json")) + sorted((ROOT / "examples").rglob("*.json"))
    assert len(paths) > 15
    for path in paths:
        yield from strings(json.loads(path.read_text(encoding="utf-8")))
    for task in tasks("ner", 300, seed=7, annotations=2):
        yield task["data"]["text"]


def test_the_tokens_are_nltks_on_the_texts_of_real_exports():
    texts = list(dict.fromkeys(export_strings()))
    assert len(texts) > 300
    for text in texts:
        assert_like_nltk(text)


def test_the_tokens_are_label_studios_on_the_texts_of_real_exports():
    """The reference converter's own tokens (its export has no split for unspaced scripts)."""
    utils = pytest.importorskip("label_studio_sdk.converter.utils")
    for text in dict.fromkeys(export_strings()):
        if treebank._UNSPACED.search(text):
            continue
        theirs, _tags = utils.create_tokens_and_tags(text, [])
        assert [text[s:e] for s, e in treebank.span_tokenize(text)] == list(theirs), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I cannot go", ["I", "can", "not", "go"]),
        ("Gonna, wanna? Gimme!", ["Gon", "na", ",", "wan", "na", "?", "Gim", "me", "!"]),
        ("gonna wanna gimme more", ["gon", "na", "wan", "na", "gim", "me", "more"]),
        ("we can't and gotta", ["we", "ca", "n't", "and", "got", "ta"]),
    ],
)
def test_contractions_inside_words_are_split(text, expected):
    """Regression: a text of letters and spaces only went around NLTK and kept ``cannot`` and
    ``gonna`` whole, where Label Studio's export (and NLTK) split them."""
    assert [text[s:e] for s, e in tokenize(text)] == expected
    utils = pytest.importorskip("label_studio_sdk.converter.utils")
    theirs, _tags = utils.create_tokens_and_tags(text, [])
    assert list(theirs) == expected


def test_megabyte_texts_are_tokenized():
    """A megabyte without spaces, of periods or of contractions: no recursion limit or stack in
    the way, every token found."""
    for text, count in [
        ("a" * 10**6, 1),
        ("x." * 500_000, 2),
        (". " * 200_000, 200_000),
        ("cannot " * 100_000, 200_000),
    ]:
        words, starts = treebank.tokens(text)
        assert len(words) == len(starts) == count
