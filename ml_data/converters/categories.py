"""Class ids for object-detection formats, from the shape-label tags of the labeling config.

Only shape tags count (RectangleLabels, PolygonLabels, KeyPointLabels, BrushLabels,
EllipseLabels, and Labels on an image), never Choices. Names are numbered alphabetically by
default, as Label Studio documents it, so ids stay those existing models were trained with;
``order="config"`` numbers them in config order. An explicit ``<Label value="x" category="N"/>``
keeps N; the other names take the lowest free ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ml_data.errors import ConfigurationError
from ml_data.tasks.label_config import LabelConfig

SHAPE_TAGS = ("RectangleLabels", "PolygonLabels", "KeyPointLabels", "BrushLabels", "EllipseLabels")


def shape_labels(config: LabelConfig, tags: tuple[str, ...] = SHAPE_TAGS) -> tuple[list[str], dict[str, int]]:
    """Label names of the shape tags in config order, and the explicit category ids."""
    images = {name for name, tag in config.objects.items() if tag.type == "Image"}
    names: list[str] = []
    explicit: dict[str, int] = {}
    for control in config.controls.values():
        on_image = control.type == "Labels" and any(target in images for target in control.to_names)
        if control.type not in tags and not on_image:
            continue
        for label in control.labels:
            if label.value not in names:
                names.append(label.value)
            if label.category is not None:
                explicit[label.value] = label.category
    return names, explicit


#: What a class name written one per line cannot hold: control characters (line feeds,
#: carriage returns, tabs, NUL, C1 controls such as NEL) and the Unicode line and paragraph
#: separators, which ``str.splitlines`` and many readers take as line ends.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def unwritable_name(names: Iterable[str], where: str) -> str | None:
    """Why one of ``names`` cannot be a class name in ``where`` (None: all of them can).

    >>> unwritable_name(["cat", "dog"], "classes.txt") is None
    True
    >>> unwritable_name(["cat", "dog\\rbird"], "classes.txt").startswith("class name 'dog\\\\rbird'")
    True
    """
    for name in names:
        if _NOT_ONE_LINE.search(name):
            return (
                f"class name {name[:60]!r} holds a line break or control character, which {where} cannot "
                "hold (one name per line): rename the label"
            )
    return None


#: The plain shape tags that take their classes from a ``Labels`` control on the same image
#: (Label Studio's OCR template: ``Rectangle`` and ``Polygon`` with ``Labels`` and a ``TextArea``).
GENERIC_SHAPES = {"RectangleLabels": "Rectangle", "PolygonLabels": "Polygon", "KeyPointLabels": "KeyPoint"}


def has_shape(config: LabelConfig, labelled_tag: str) -> bool:
    """True if the config labels that shape: ``RectangleLabels``, or a ``Rectangle`` on an image that a
    ``Labels`` control also targets (likewise Polygon, KeyPoint)."""
    if config.controls_of_type(labelled_tag):
        return True
    plain = GENERIC_SHAPES.get(labelled_tag)
    labelled = {target for control in config.controls_of_type("Labels") for target in control.to_names}
    return any(set(control.to_names) & labelled for control in config.controls_of_type(plain or ""))


def categories(
    config: LabelConfig, order: str = "alphabetical", *, start: int = 0, tags: tuple[str, ...] = SHAPE_TAGS
) -> dict[str, int]:
    """Label name -> class id.

    >>> from ml_data.tasks.label_config import parse_label_config
    >>> categories(parse_label_config('<View><Image name="i" value="$i"/><RectangleLabels name="b" '
    ...     'toName="i"><Label value="zebra"/><Label value="ant"/></RectangleLabels></View>'))
    {'ant': 0, 'zebra': 1}
    """
    if order not in ("alphabetical", "config"):
        raise ConfigurationError(f"order must be 'alphabetical' or 'config', got {order!r}")
    names, explicit = shape_labels(config, tags)
    used = set(explicit.values())
    ids: dict[str, int] = {}
    next_id = start
    for name in sorted(names) if order == "alphabetical" else names:
        if name in explicit:
            ids[name] = explicit[name]
            continue
        while next_id in used:
            next_id += 1
        ids[name] = next_id
        used.add(next_id)
    return ids


def keypoint_names(config: LabelConfig) -> list[str]:
    """Keypoint label names in ``model_index`` order (config order where it is missing)."""
    labels = [label for control in config.controls_of_type("KeyPointLabels") for label in control.labels]
    ordered = sorted(
        enumerate(labels), key=lambda item: (item[1].model_index is None, item[1].model_index or 0, item[0])
    )
    names: list[str] = []
    for _, label in ordered:
        if label.value not in names:
            names.append(label.value)
    return names
