"""Treebank word tokens in one pass: the tokens of NLTK's ``TreebankWordTokenizer`` with the
punctuation rules Label Studio's converter sets, then split around characters of scripts written
without spaces (Chinese, Japanese, Thai ...), each of which is a token of its own.

NLTK gets its tokens by some twenty regular-expression substitutions that pad punctuation with
spaces, a ``split()`` and a search for every token in the text. Every substitution only inserts
spaces (double quotes aside, which it maps back), so its tokens are the text's non-space runs cut
where a space was inserted. :func:`_lexer` finds the same tokens directly, in one scan: each match
is a token, and lookaheads decide, character by character, whether one of NLTK's passes would
have put a space before it:

- always cut off, on both sides: ``; @ # $ / % & ? ! ( ) [ ] { } < > "``, ``...`` and ``--``
  (counted from the start of a run of periods or dashes);
- ``:`` and ``,`` unless a digit follows (``3,000`` and ``10:30`` stay whole);
- the last period of the text when only closing brackets, quotes and whitespace follow it;
- a single quote before a space or any of the above, alone or as ``'s 'm 'd 'll 're 've``
  (``Jane's`` is ``Jane 's``), and ``n't`` (``don't`` is ``do n't``), as the ending-quote rules
  split them when a space follows (or a second quote in the word that an earlier rule split off);
- ``cannot gimme gonna gotta lemme wanna`` in any case, as two tokens, where they are words of
  their own (``wanna`` only before a space).

The rest depends on how earlier passes paired characters or on splits made in the same pass:
backticks, two single quotes in a row or three in one word, ``:`` or ``,`` twice in a row, a
single quote before trailing whitespace other than a space, ``d'ye more'n 'tis 'twas``. A text with any
of them (:func:`_lexer_for` looks for them with a few substring tests) is tokenized by NLTK
itself, so the tokens are NLTK's on every text; the tests compare both on generated texts with
every class of character, on every short text over small alphabets, and on real exports.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize import TreebankWordTokenizer

__all__ = ["nltk_spans", "span_tokenize", "tokens"]

# Scripts that do not separate words with spaces: kana, Thai, Lao, CJK ideographs, Hangul.
_UNSPACED_CHARS = "\u0e00-\u0eff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff"
_UNSPACED = re.compile(f"[{_UNSPACED_CHARS}]")

# Characters NLTK pads with spaces wherever they are (the double quote becomes `` or '').
_ALONE = r";@#$/%&?!()\[\]{}<>\""
# The last period of the text, when only closing brackets, quotes and whitespace follow it.
_FINAL_PERIOD = r"\.(?=[\]\)}>\"']*\s*\Z)"
# Where NLTK has put a space before the next character by the time its ending-quote rules run
# (used right after a letter or a quote, so a run of periods, dashes or colons starts here), and
# where it has by the time it splits a quote off before a space among the punctuation rules.
_SPACE_AHEAD = rf"(?:[ {_ALONE}]|\Z|\.\.\.|--|[:,](?!\d)|{_FINAL_PERIOD})"
_SPACE_AHEAD_EARLY = rf"(?:[ ;@#$/%&?!]|\.\.\.|[:,](?!\d)|{_FINAL_PERIOD})"
# The ending-quote rules split off 's 'm 'd (first), then 'll 're 've and n't, and a lone quote,
# where a space follows; a second quote in the word may have had a space put before it by an
# earlier rule: split off before a space among the punctuation rules, or as 's 'm 'd or alone.
_SPACE_AHEAD_S = rf"(?:{_SPACE_AHEAD}|'(?={_SPACE_AHEAD_EARLY}))"
_SPACE_AHEAD_LL = rf"(?:{_SPACE_AHEAD_S}|'[sSmMdD]?{_SPACE_AHEAD})"
_QUOTE_SPLIT = rf"'(?:{_SPACE_AHEAD}|[sSmMdD]{_SPACE_AHEAD_S}|(?:ll|LL|re|RE|ve|VE){_SPACE_AHEAD_LL})"
_NT_SPLIT = rf"(?<!')(?:n't|N'T){_SPACE_AHEAD_LL}"  # not right after a quote
# The contractions NLTK splits in two, in any case, between word boundaries (``\b``). No pass
# puts a space between two letters before that one but the n't split: the boundary before is one
# in the text itself, the one after is in the text or made by a split n't. "wanna" is split only
# before whitespace, which every split inserts.
_BOUNDARY = rf"(?:(?!\w)|{_NT_SPLIT})"
_SPACE_AFTER = rf"(?:\s|\Z|[{_ALONE}]|\.\.\.|--|[:,](?!\d)|{_FINAL_PERIOD}|{_QUOTE_SPLIT}|{_NT_SPLIT})"
_CONTRACTION = (
    rf"(?<!\w)(?i:can(?=not{_BOUNDARY})|gim(?=me{_BOUNDARY})|gon(?=na{_BOUNDARY})|got(?=ta{_BOUNDARY})"
    rf"|lem(?=me{_BOUNDARY})|wan(?=na{_SPACE_AFTER}))"
)
# The second half, a token of its own right after the first.
_CONTRACTION_END = (
    r"(?i:not(?<=(?<!\w)cannot)|me(?<=(?<!\w)gimme|(?<!\w)lemme)|na(?<=(?<!\w)gonna|(?<!\w)wanna)"
    r"|ta(?<=(?<!\w)gotta))"
)


# Characters that join the token before them on a condition.
_JOINS_IF = (
    rf"(?!{_NT_SPLIT})[nN]"  # not the n of a split n't
    rf"|(?!{_QUOTE_SPLIT})'"  # a quote the ending-quote rules leave in the token
    r"|[:,](?=\d)"  # 3,000 and 10:30
    r"|-(?!-)"
    r"|(?<=\.)\.|\.(?!\.\.|[\]\)}>\"']*\s*\Z)"  # periods but the first of ... and the final one
)
_ALONE_TOKENS = rf"[{_ALONE}{_UNSPACED_CHARS}]|\.\.\.|--|[:,](?!\d)"


def _lexer(contractions: bool) -> re.Pattern[str]:
    """The one pass: each match a token. Without ``contractions`` for texts that have none of
    them, a quarter faster: characters that always join (letters but n, digits, most symbols)
    are taken in runs, the others one at a time on their condition."""
    if not contractions:
        joins = rf"[^\s{_ALONE}{_UNSPACED_CHARS}.\-:,'nN]"
        return re.compile(rf"(?=\S)(?:{_ALONE_TOKENS}|\S{joins}*(?:(?:{_JOINS_IF}){joins}*)*)")
    # A contraction starts after a character that is not part of a word: each run of word
    # characters checks for one first.
    joins = (
        rf"(?!{_CONTRACTION})[^\W{_UNSPACED_CHARS}nN]+"  # letters but n, digits, _
        rf"|[^\w\s{_ALONE}{_UNSPACED_CHARS}.\-:,']+"  # other symbols
        rf"|{_JOINS_IF}"
    )
    contraction = rf"(?=[cCgGlLwW]){_CONTRACTION}|(?=[nNmMtT]){_CONTRACTION_END}"
    return re.compile(rf"(?=\S)(?:{_ALONE_TOKENS}|{contraction}|\S(?:{joins})*)")


_TOKEN = _lexer(contractions=True)
_TOKEN_NO_CONTRACTIONS = _lexer(contractions=False)
# What the one pass leaves to NLTK (only looked for when the text has a single quote).
_QUOTE_NLTK_ONLY = re.compile(r"'(?:'|[^\s']*'[^\s']*'|[^\S ]\s*\Z|(?i:tis|twas|(?<=d')ye|(?<=more')n))")
_GROUP, _START = re.Match.group, re.Match.start


def tokens(text: str) -> tuple[list[str], list[int]]:
    """The tokens of ``text`` and their start offsets.

    >>> tokens("Jane's dog, 3,000 km.")
    (['Jane', "'s", 'dog', ',', '3,000', 'km', '.'], [0, 4, 7, 10, 12, 18, 20])
    """
    lexer = _lexer_for(text)
    if lexer is None:
        spans = nltk_spans(text)
        return [text[start:end] for start, end in spans], [start for start, _ in spans]
    matches = list(lexer.finditer(text))
    return list(map(_GROUP, matches)), list(map(_START, matches))


def _lexer_for(text: str) -> re.Pattern[str] | None:
    """The one pass for ``text``, or None where it is NLTK's to tokenize (see the module's
    docstring). Without the contraction rules when it cannot hold a contraction: in ASCII text,
    one would be there in lower case; elsewhere ``gimme`` may be spelled with a dotless or dotted
    capital i, which match ``i`` regardless of case and which lowering does not turn into ``i``."""
    if "`" in text or ",," in text or ",:" in text or ":," in text or "::" in text:
        return None
    if "'" in text and _QUOTE_NLTK_ONLY.search(text) is not None:
        return None
    if text.isascii():
        lowered = text.lower()
        if (
            "cannot" not in lowered
            and "gimme" not in lowered
            and "gonna" not in lowered
            and "gotta" not in lowered
            and "lemme" not in lowered
            and "wanna" not in lowered
        ):
            return _TOKEN_NO_CONTRACTIONS
    return _TOKEN


def span_tokenize(text: str) -> list[tuple[int, int]]:
    """Token spans ``(start, end)`` of ``text``.

    >>> text = "Call Jane at 10."
    >>> [text[s:e] for s, e in span_tokenize(text)]
    ['Call', 'Jane', 'at', '10', '.']
    """
    words, starts = tokens(text)
    return [(start, start + len(word)) for word, start in zip(words, starts, strict=True)]


def nltk_spans(text: str) -> list[tuple[int, int]]:
    """Token spans from NLTK's tokenizer itself, split around unspaced scripts' characters: what
    :func:`span_tokenize` returns, the slow way (its fallback and the tests' reference)."""
    spans: list[tuple[int, int]] = []
    for start, end in _nltk().span_tokenize(text):
        run_start = start
        for match in _UNSPACED.finditer(text, start, end):
            if run_start < match.start():
                spans.append((run_start, match.start()))
            spans.append((match.start(), match.end()))
            run_start = match.end()
        if run_start < end:
            spans.append((run_start, end))
    return spans


@cache
def _nltk() -> TreebankWordTokenizer:
    """NLTK's tokenizer with Label Studio's punctuation rules, built on first use (most texts
    never need it, and importing NLTK takes a while)."""
    from nltk.tokenize import TreebankWordTokenizer

    class LabelStudioTokenizer(TreebankWordTokenizer):
        """A class of ml-data's own: importing ``label_studio_sdk.converter`` replaces
        ``PUNCTUATION`` on NLTK's class for the whole process, which must not change ml-data's
        tokens."""

        PUNCTUATION = [
            (re.compile(r"([:,])([^\d])"), r" \1 \2"),
            (re.compile(r"([:,])$"), r" \1 "),
            (re.compile(r"\.\.\."), r" ... "),
            (re.compile(r"[;@#$/%&]"), r" \g<0> "),
            (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),  # the final period
            (re.compile(r"[?!]"), r" \g<0> "),
            (re.compile(r"([^'])' "), r"\1 ' "),
        ]

    return LabelStudioTokenizer()
