"""Rules a dataset must pass, for CI: ``ml-data stats DATASET --fail-on leak --fail-on 'empty-images>5%'``.

A rule is ``NAME``, ``NAME>N`` or ``NAME>N%``; ``NAME`` alone means ``NAME>0``. It fires when what
it measures is above the bar: for the per-split rules, in any split (each split that fails is
named). A percentage is of the split's images (empty-images) or objects (small-boxes,
outside-boxes), or of the dataset's images (duplicates, leak).

=============  ==========  ==========================================================
rule           where       measures
=============  ==========  ==========================================================
duplicates     dataset     image files whose content (sha256) another image already has
leak           dataset     contents found in more than one split
missing-class  dataset     (class, split) pairs: a class with instances elsewhere, none there
unused-class   dataset     declared classes with no instance at all
malformed      dataset     faults in the dataset's files (lines, records, missing images)
empty-images   each split  images without objects
small-boxes    each split  boxes with a side under ``min_box_pixels``
outside-boxes  each split  boxes reaching outside their image
skew           each split  largest class's instances / smallest's (needs a bar: ``skew>20``)
=============  ==========  ==========================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ml_data.errors import ConfigurationError
from ml_data.stats.model import DatasetStats, SplitStats

_RULE = re.compile(r"\s*([a-z-]+)\s*(?:>\s*(\d+(?:\.\d+)?)\s*(%)?)?\s*\Z")

#: (what it measures, where, its count, the count a percentage is of (None: no percentage))
_Measure = Callable[[DatasetStats], list[tuple[str, float, int | None]]]


def _per_split(value: Callable[[SplitStats], float | None], base: Callable[[SplitStats], int] | None) -> _Measure:
    def measure(stats: DatasetStats) -> list[tuple[str, float, int | None]]:
        found = []
        for split in stats.splits:
            measured = value(split)
            if measured is not None:
                found.append((split.name, measured, base(split) if base else None))
        return found

    return measure


def _whole(value: Callable[[DatasetStats], float], percent_of_images: bool = False) -> _Measure:
    return lambda stats: [("the dataset", value(stats), stats.overall.images if percent_of_images else None)]


#: Every rule: what it measures, and whether it takes a percentage.
RULES: Mapping[str, _Measure] = MappingProxyType(
    {
        "duplicates": _whole(lambda s: sum(len(group.files) - 1 for group in s.duplicates), True),
        "leak": _whole(lambda s: len(s.leaks), True),
        "missing-class": _whole(lambda s: sum(len(split.missing_classes) for split in s.splits)),
        "unused-class": _whole(lambda s: len(s.unused_classes)),
        "malformed": _whole(lambda s: sum(finding.count for finding in s.problems())),
        "empty-images": _per_split(lambda split: split.empty_images, lambda split: split.images),
        "small-boxes": _per_split(lambda split: split.small_boxes, lambda split: split.objects),
        "outside-boxes": _per_split(lambda split: split.outside_boxes, lambda split: split.objects),
        "skew": _per_split(lambda split: split.skew, None),
    }
)
_WITH_PERCENT = frozenset({"duplicates", "leak", "empty-images", "small-boxes", "outside-boxes"})


@dataclass(frozen=True)
class Rule:
    """A parsed ``--fail-on`` rule: it fires when :attr:`name`'s measure is above ``threshold``
    (a percentage when ``percent``)."""

    name: str
    threshold: float = 0.0
    percent: bool = False

    def __str__(self) -> str:
        return f"{self.name}>{self.threshold:g}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class Fired:
    """A rule that fired, and where and why."""

    rule: Rule
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": str(self.rule), "message": self.message}


def parse_rule(text: str) -> Rule:
    """``"empty-images>5%"`` -> ``Rule("empty-images", 5.0, percent=True)``; a
    :class:`ConfigurationError` naming the known rules for anything else.

    >>> parse_rule("skew>20")
    Rule(name='skew', threshold=20.0, percent=False)
    """
    match = _RULE.match(text) if isinstance(text, str) else None
    if match is None or match.group(1) not in RULES:
        raise ConfigurationError(
            f"unknown rule {str(text)[:60]!r}: expected NAME, NAME>N or NAME>N% with NAME one of {', '.join(RULES)}"
        )
    name, number, percent = match.group(1), match.group(2), bool(match.group(3))
    if name == "skew" and number is None:
        raise ConfigurationError("skew needs a bar: e.g. skew>20 (the largest class over the smallest)")
    if percent and name not in _WITH_PERCENT:
        raise ConfigurationError(f"{name} takes a count, not a percentage (e.g. {name}>0)")
    threshold = float(number) if number is not None else 0.0
    if percent and threshold >= 100:
        raise ConfigurationError(f"{text.strip()}: a percentage bar must be under 100")
    return Rule(name, threshold, percent)


def check(stats: DatasetStats, rules: list[Rule] | tuple[Rule, ...]) -> list[Fired]:
    """The rules that fire on ``stats``, in the order given."""
    fired = []
    for rule in rules:
        failing = []
        for where, value, base in RULES[rule.name](stats):
            measured = 100 * value / base if rule.percent and base else (0.0 if rule.percent else value)
            if measured > rule.threshold:
                number = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
                shown = number + (f" of {base} ({measured:.1f}%)" if rule.percent else "")
                failing.append(f"{where}: {shown}")
        if failing:
            fired.append(Fired(rule, f"{rule}: {'; '.join(failing)}"))
    return fired


__all__ = ["RULES", "Fired", "Rule", "check", "parse_rule"]
