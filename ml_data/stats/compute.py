"""The records a reader gives -> :class:`~ml_data.stats.model.DatasetStats`: counts per split,
duplicate files by sha256, and the findings. Pure: no file is read here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ml_data.stats.model import (
    EXAMPLES,
    FINDING_KINDS,
    DatasetStats,
    DuplicateGroup,
    Finding,
    ImageEntry,
    ItemRef,
    Listing,
    Problem,
    SplitStats,
)

#: A split's class skew above this is a finding (``--fail-on skew>N`` sets the bar for CI).
SKEW_FINDING = 10.0


@dataclass
class _Seen:
    """How many of something, and the first few of them."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def extend(self, other: _Seen) -> None:
        self.count += other.count
        self.examples.extend(other.examples[: EXAMPLES - len(self.examples)])


@dataclass
class _Tally:
    """What one split has counted so far."""

    images: int = 0
    empty: _Seen = field(default_factory=_Seen)
    objects: int = 0
    unmeasured: int = 0
    small: _Seen = field(default_factory=_Seen)
    outside: _Seen = field(default_factory=_Seen)
    instances: Counter[str] = field(default_factory=Counter)
    mask_images: int = 0
    mask_pixels: Counter[str] = field(default_factory=Counter)

    def add(self, entry: ImageEntry, min_box_pixels: float) -> None:
        self.images += 1
        if entry.mask is not None:
            self.mask_images += 1
            self.mask_pixels.update(entry.mask)
        if not entry.objects:
            self.empty.add(entry.path)
        for box in entry.objects:
            self.objects += 1
            self.instances[box.label] += 1
            if box.outside:
                self.outside.add(f"{entry.path} ({box.label})")
            if box.width is None or box.height is None:
                self.unmeasured += 1
            elif box.width < min_box_pixels or box.height < min_box_pixels:
                self.small.add(f"{entry.path} ({box.label} {box.width:.4g}x{box.height:.4g} px)")

    def merge(self, other: _Tally) -> None:
        self.images += other.images
        self.objects += other.objects
        self.unmeasured += other.unmeasured
        self.instances.update(other.instances)
        self.mask_images += other.mask_images
        self.mask_pixels.update(other.mask_pixels)
        self.empty.extend(other.empty)
        self.small.extend(other.small)
        self.outside.extend(other.outside)

    def stats(self, name: str, classes: tuple[str, ...], missing: tuple[str, ...], masks: bool) -> SplitStats:
        present = [count for count in self.instances.values() if count]
        return SplitStats(
            name=name,
            images=self.images,
            empty_images=self.empty.count,
            objects=self.objects,
            small_boxes=self.small.count,
            outside_boxes=self.outside.count,
            unmeasured_boxes=self.unmeasured,
            instances={label: self.instances[label] for label in classes},
            missing_classes=missing,
            skew=max(present) / min(present) if present else None,
            mask_images=self.mask_images if masks else None,
            mask_pixels={label: self.mask_pixels[label] for label in classes} if masks else None,
        )


def compute(listing: Listing, *, path: str, manifest: bool, min_box_pixels: float) -> DatasetStats:
    """Count ``listing``'s records (read once, as they come) into a :class:`DatasetStats`."""
    tallies: dict[str, _Tally] = {name: _Tally() for name in listing.splits}
    by_content: dict[str, list[ItemRef]] = {}
    #: (reason, split) -> where it occurs
    problems: dict[tuple[str, str | None], _Seen] = {}
    classes = dict.fromkeys(listing.classes)
    masks = listing.masks
    for record in listing.records:
        if isinstance(record, Problem):
            problems.setdefault((record.reason, record.split), _Seen()).add(record.where())
            continue
        tallies.setdefault(record.split, _Tally()).add(record, min_box_pixels)
        for box in record.objects:
            classes.setdefault(box.label)
        if record.mask is not None:
            masks = True
            for label in record.mask:
                classes.setdefault(label)
        if record.sha256 is not None:
            by_content.setdefault(record.sha256, []).append(ItemRef(record.split, record.path))
    names = tuple(classes)
    overall = _Tally()
    for tally in tallies.values():
        overall.merge(tally)
    splits = tuple(
        tally.stats(name, names, _missing(name, tallies, names) if len(tallies) > 1 else (), masks)
        for name, tally in tallies.items()
    )
    duplicates = tuple(DuplicateGroup(sha256, tuple(refs)) for sha256, refs in by_content.items() if len(refs) > 1)
    unused = tuple(name for name in names if not overall.instances[name])
    findings = [
        *_problem_findings(problems),
        *_duplicate_findings(duplicates),
        *_class_findings(splits, unused),
        *_split_findings(tallies, splits, min_box_pixels),
    ]
    findings.sort(key=lambda finding: FINDING_KINDS.index(finding.kind))
    return DatasetStats(
        path=path,
        format=listing.format,
        manifest=manifest,
        min_box_pixels=min_box_pixels,
        classes=names,
        splits=splits,
        overall=overall.stats("all", names, (), masks),
        unused_classes=unused,
        duplicates=duplicates,
        findings=tuple(findings),
    )


def _missing(split: str, tallies: dict[str, _Tally], classes: tuple[str, ...]) -> tuple[str, ...]:
    """The classes with instances in another split and none in ``split``."""
    elsewhere = {name for other, tally in tallies.items() if other != split for name, n in tally.instances.items() if n}
    return tuple(name for name in classes if name in elsewhere and not tallies[split].instances[name])


def _listed(examples: list[str], count: int) -> str:
    shown = ", ".join(examples[:3])
    return shown + (f" and {count - 3} more" if count > 3 else "")


def _problem_findings(problems: dict[tuple[str, str | None], _Seen]) -> list[Finding]:
    """One finding per kind of fault and split, with the places it occurs."""
    return [
        Finding("malformed", f"{reason}: {_listed(seen.examples, seen.count)}", split, seen.count, tuple(seen.examples))
        for (reason, split), seen in problems.items()
    ]


def _duplicate_findings(groups: tuple[DuplicateGroup, ...]) -> list[Finding]:
    found = []
    for group in groups:
        paths = [f"{item.path} ({item.split})" if group.leak else item.path for item in group.files]
        if group.leak:
            message = f"the same file in {' and '.join(group.splits)}: {_listed(paths, len(paths))}"
            found.append(Finding("leak", message, None, len(paths), tuple(paths[:EXAMPLES])))
        else:
            message = f"the same file {len(paths)} times in {group.splits[0]}: {_listed(paths, len(paths))}"
            found.append(Finding("duplicate", message, group.splits[0], len(paths), tuple(paths[:EXAMPLES])))
    return found


def _class_findings(splits: tuple[SplitStats, ...], unused: tuple[str, ...]) -> list[Finding]:
    found = []
    for split in splits:
        for name in split.missing_classes:
            others = {other.name: other.instances[name] for other in splits if other.instances.get(name)}
            where = ", ".join(f"{count} in {other}" for other, count in others.items())
            message = f"class {name!r} has no instance in {split.name} ({where})"
            found.append(Finding("missing-class", message, split.name, sum(others.values())))
    for name in unused:
        found.append(Finding("unused-class", f"class {name!r} is declared but has no instance", None, 0))
    return found


def _split_findings(tallies: dict[str, _Tally], splits: tuple[SplitStats, ...], min_box_pixels: float) -> list[Finding]:
    found = []
    for split in splits:
        tally = tallies[split.name]
        if tally.empty.count:
            share = 100 * tally.empty.count / split.images
            message = f"{tally.empty.count} of {split.images} images in {split.name} have no objects ({share:.1f}%)"
            found.append(_seen_finding("empty-images", message, split.name, tally.empty, listed=False))
        if tally.small.count:
            under = f"a side under {min_box_pixels:g} px"
            message = f"{tally.small.count} of {split.objects} boxes in {split.name} have {under}"
            found.append(_seen_finding("small-boxes", message, split.name, tally.small))
        if tally.outside.count:
            message = f"{tally.outside.count} of {split.objects} boxes in {split.name} reach outside their image"
            found.append(_seen_finding("outside-boxes", message, split.name, tally.outside))
        if split.skew is not None and split.skew > SKEW_FINDING:
            present = {name: count for name, count in split.instances.items() if count}
            most, least = max(present, key=present.__getitem__), min(present, key=present.__getitem__)
            message = (
                f"class skew {split.skew:.1f} in {split.name}: {most!r} has {present[most]} instances, "
                f"{least!r} {present[least]}"
            )
            found.append(Finding("skew", message, split.name, split.objects))
    return found


def _seen_finding(kind: str, message: str, split: str, seen: _Seen, *, listed: bool = True) -> Finding:
    text = f"{message}: {_listed(seen.examples, seen.count)}" if listed else message
    return Finding(kind, text, split, seen.count, tuple(seen.examples))


__all__ = ["SKEW_FINDING", "compute"]
