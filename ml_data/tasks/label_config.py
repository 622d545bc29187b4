"""The labeling config, parsed (pure): object tags, control tags, their labels and attributes.

Untrusted XML is parsed with defusedxml: no entity expansion, no external entities.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ml_data.errors import InvalidLabelConfig

OBJECT_TAGS = frozenset(
    {
        "Image",
        "Text",
        "HyperText",
        "Audio",
        "AudioPlus",
        "Video",
        "TimeSeries",
        "Paragraphs",
        "Table",
        "Pdf",
        "List",
        "Chat",
        "Markdown",
    }
)
CONTROL_TAGS = frozenset(
    {
        "RectangleLabels",
        "Rectangle",
        "PolygonLabels",
        "Polygon",
        "KeyPointLabels",
        "KeyPoint",
        "BrushLabels",
        "Brush",
        "EllipseLabels",
        "Ellipse",
        "Labels",
        "HyperTextLabels",
        "ParagraphLabels",
        "TimeSeriesLabels",
        "VideoRectangle",
        "TimelineLabels",
        "Choices",
        "TextArea",
        "Rating",
        "Number",
        "DateTime",
        "Taxonomy",
        "Ranker",
        "Relations",
        "Pairwise",
        "MagicWand",
        "BitmaskLabels",
        "Bitmask",
        "VectorLabels",
        "Vector",
    }
)
_LABEL_CHILDREN = frozenset({"Label", "Choice"})
_VARIABLE = re.compile(r"\{\{\s*\w+\s*\}\}")


@dataclass(frozen=True)
class ObjectTag:
    """A data tag: ``<Image name="img" value="$image"/>``; ``value_key`` is ``image``.

    An object may show several items of a task: every item of a list (``valueList="$images"``,
    ``value_list``), or one per item of a ``<Repeater>`` it sits in (``flags``: the index flags of
    the Repeaters around it, outermost first, as in ``name="page_{{idx}}"
    value="$pages[{{idx}}].url"``)."""

    name: str
    type: str
    value: str
    value_type: str | None = None
    #: every attribute as written (``timeColumn``, ``sep``, ...)
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: ``valueList="$images"``: the data key of a list, one item per entry
    value_list: str | None = None
    #: the ``indexFlag`` of each Repeater the tag is in, outermost first
    flags: tuple[str, ...] = ()

    @property
    def value_key(self) -> str | None:
        value = self.value or self.value_list or ""
        return value[1:] if value.startswith("$") else None

    @property
    def data_path(self) -> str | None:
        """Where the walk finds the tag's values: its key, with each Repeater index as ``[*]``
        (``pages[*].url``; see :mod:`ml_data.tasks.resources`)."""
        key = self.value_key
        if key is None:
            return None
        for flag in self.flags:
            key = key.replace(flag, "*")
        return key

    @property
    def multiple(self) -> bool:
        """Whether the tag shows several items of a task (a list, or inside a Repeater)."""
        return bool(self.flags) or (not self.value and self.value_list is not None)

    def item_of(self, to_name: str, item_index: object = None) -> tuple[int, ...] | None:
        """The item of this tag a result is on: from its ``to_name`` (``page_2`` -> ``(2,)``,
        inside a Repeater) and its ``item_index`` (a list); None when the result is on another
        object."""
        indices: tuple[int, ...] = ()
        if self.flags:
            found = _flag_pattern(self.name, self.flags).match(to_name)
            if found is None:
                return None
            numbers = found.groupdict()
            key = self.value_key or ""
            # The item is the indices its value is read at, in the order the key uses them.
            used = sorted((flag for flag in self.flags if flag in key), key=key.index)
            groups = [_group(flag, self.flags) for flag in used]
            indices = tuple(int(numbers[group]) for group in groups if numbers.get(group) is not None)
        elif to_name != self.name:
            return None
        if self.value_list is not None and not self.value:
            index = _item_index(item_index)
            if index is None:
                return None
            indices += (index,)
        return indices


@dataclass(frozen=True)
class LabelInfo:
    value: str
    #: explicit class id (``category="3"``), if any
    category: int | None = None
    #: keypoint order (``model_index="0"``), if any
    model_index: int | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlTag:
    """A control tag: ``<RectangleLabels name="label" toName="img">`` with its labels in config order."""

    name: str
    type: str
    to_names: tuple[str, ...]
    labels: tuple[LabelInfo, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def label_values(self) -> tuple[str, ...]:
        return tuple(label.value for label in self.labels)

    #: the ``indexFlag`` of each Repeater the tag is in, outermost first
    flags: tuple[str, ...] = ()

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """For tags inside a Repeater (``labels_{{idx}}``): the regex their results' names match."""
        if self.flags:
            return _flag_pattern(self.name, self.flags) if any(flag in self.name for flag in self.flags) else None
        if not _VARIABLE.search(self.name):
            return None
        parts = _VARIABLE.split(self.name)
        return re.compile(r"\d+".join(re.escape(part) for part in parts) + r"\Z")


@dataclass(frozen=True)
class LabelConfig:
    objects: Mapping[str, ObjectTag]
    controls: Mapping[str, ControlTag]
    xml: str = ""

    @property
    def data_keys(self) -> tuple[str, ...]:
        """The task data keys the object tags read, in config order."""
        keys: list[str] = []
        for tag in self.objects.values():
            if tag.value_key and tag.value_key not in keys:
                keys.append(tag.value_key)
        return tuple(keys)

    def control_for(self, from_name: str) -> ControlTag | None:
        """The control a result's ``from_name`` belongs to (Repeater names like ``labels_0`` too)."""
        control = self.controls.get(from_name)
        if control is not None:
            return control
        best: ControlTag | None = None
        for candidate in self.controls.values():
            pattern = candidate.pattern
            if pattern is not None and pattern.match(from_name):
                if best is None or len(candidate.name) > len(best.name):
                    best = candidate
        return best

    def controls_of_type(self, *types: str) -> list[ControlTag]:
        return [control for control in self.controls.values() if control.type in types]

    def controls_on(self, control_types: tuple[str, ...], object_types: tuple[str, ...]) -> dict[str, list[str]]:
        """Object name -> names of the controls of ``control_types`` on it, for objects of
        ``object_types`` (e.g. the Labels on each Text), in config order."""
        objects = {name for name, tag in self.objects.items() if tag.type in object_types}
        found: dict[str, list[str]] = {}
        for control in self.controls_of_type(*control_types):
            for target in control.to_names:
                if target in objects:
                    found.setdefault(target, []).append(control.name)
        return found


def _item_index(value: object) -> int | None:
    """A result's ``item_index``: absent means the first item (as Label Studio reads it), a whole
    number (``2``, or JSON's ``2.0``) that item; anything else (``true``, ``"1"``, ``1.5``) is on
    no item, rather than silently on the first."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _group(flag: str, flags: tuple[str, ...]) -> str:
    return f"i{flags.index(flag)}"


def _flag_pattern(template: str, flags: tuple[str, ...]) -> re.Pattern[str]:
    """The regex of a name with Repeater index flags in it: each flag is a whole number as Label
    Studio writes the item's index, from 0, where the flag was (ASCII digits, no leading zero, at
    most 18 of them: ``page_01``, ``page_\u0663`` or 5000 nines name no page); one flag seen twice
    must be the same number."""
    pieces = re.split("(" + "|".join(re.escape(flag) for flag in sorted(flags, key=len, reverse=True)) + ")", template)
    seen: set[str] = set()
    regex = []
    for piece in pieces:
        if piece in flags:
            group = _group(piece, flags)
            regex.append(f"(?P={group})" if group in seen else f"(?P<{group}>{_INDEX})")
            seen.add(group)
        else:
            regex.append(re.escape(piece))
    return re.compile("".join(regex) + r"\Z")


#: An item index as Label Studio writes it in a name; 18 digits are more items than any list has.
_INDEX = "0|[1-9][0-9]{0,17}"

#: Label Studio's index flag when a Repeater names none.
DEFAULT_INDEX_FLAG = "{{idx}}"


#: Largest explicit class id accepted: YOLO's classes.txt has a line for every id up to the largest.
MAX_CATEGORY = 99_999


#: What each numbered attribute of a ``<Label>`` is, for the messages.
_NUMBERED = {"category": "class ids", "model_index": "keypoint indices"}


def _number(label: str, attribute: str, value: str | None) -> int | None:
    """A ``<Label>``'s ``category`` or ``model_index``: None when absent or blank, else a whole
    number from 0 to :data:`MAX_CATEGORY`; anything else (``1e3``, ``-1``, ``2.0``, a huge
    number) is an :class:`InvalidLabelConfig` naming the label, the attribute and its value,
    never silently ignored."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 6 and int(text) <= MAX_CATEGORY:
        return int(text)
    raise InvalidLabelConfig(
        f"label {label[:40]!r}: {attribute}={value[:40]!r}: {_NUMBERED[attribute]} must be whole numbers "
        f"from 0 to {MAX_CATEGORY}"
    )


def parse_label_config(xml: str) -> LabelConfig:
    """Parse a labeling config.

    >>> config = parse_label_config('<View><Image name="i" value="$img"/>'
    ...     '<RectangleLabels name="b" toName="i"><Label value="cat"/></RectangleLabels></View>')
    >>> config.controls["b"].label_values, config.data_keys
    (('cat',), ('img',))
    """
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidLabelConfig("the labeling config is empty")
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidLabelConfig(f"the labeling config uses forbidden XML features ({type(exc).__name__})") from None
    except ParseError as exc:
        raise InvalidLabelConfig(f"the labeling config is not well-formed XML: {exc}") from None
    objects: dict[str, ObjectTag] = {}
    controls: dict[str, ControlTag] = {}
    _visit(root, (), objects, controls)
    return LabelConfig(objects=objects, controls=controls, xml=xml)


def _visit(
    root: Element, flags: tuple[str, ...], objects: dict[str, ObjectTag], controls: dict[str, ControlTag]
) -> None:
    """Every tag in document order, each knowing the index flags of the Repeaters around it.
    A loop with a stack of children, not recursion: a config may nest deeply."""
    stack: list[tuple[Element, tuple[str, ...]]] = [(root, flags)]
    while stack:
        element, around = stack.pop()
        _collect(element, around, objects, controls)
        if element.tag == "Repeater":
            flag = element.attrib.get("indexFlag") or DEFAULT_INDEX_FLAG
            around = (*around, flag) if flag not in around else around
        stack.extend((child, around) for child in reversed(list(element)))


def _collect(
    element: Element, flags: tuple[str, ...], objects: dict[str, ObjectTag], controls: dict[str, ControlTag]
) -> None:
    tag, attrs = element.tag, element.attrib
    name = attrs.get("name")
    if not name:
        return
    if tag in CONTROL_TAGS and ("toName" in attrs or tag == "Relations"):
        labels = tuple(
            _label(child.attrib)
            for child in element.iter()
            if child.tag in _LABEL_CHILDREN and (child.attrib.get("value") or child.attrib.get("alias"))
        )
        to_names = tuple(part.strip() for part in attrs.get("toName", "").split(",") if part.strip())
        controls[name] = ControlTag(
            name=name, type=tag, to_names=to_names, labels=labels, attributes=dict(attrs), flags=flags
        )
    elif tag in OBJECT_TAGS and ("value" in attrs or "valueList" in attrs):
        objects[name] = ObjectTag(
            name=name,
            type=tag,
            value=attrs.get("value", ""),
            value_type=attrs.get("valueType"),
            value_list=attrs.get("valueList"),
            flags=flags,
            attributes=dict(attrs),
        )


def _label(attrs: Mapping[str, str]) -> LabelInfo:
    value = attrs.get("value", attrs.get("alias", ""))
    return LabelInfo(
        value=value,
        category=_number(value, "category", attrs.get("category")),
        model_index=_number(value, "model_index", attrs.get("model_index")),
        attributes=dict(attrs),
    )
