"""A brush mask's outer contours, as the polygons of ``yolo-seg`` (OpenCV, the ``masks`` extra).

OpenCV's border following (``findContours``, Suzuki and Abe) is what Label Studio's own brush
export and Ultralytics use on masks; it is imported on first use, so ml-data installs without it.
A polygon runs through the centres of the part's boundary pixels (``x + 0.5`` in Label Studio's
continuous coordinates), with straight runs kept as their two ends. Filled as Ultralytics fills
a label (``cv2.fillPoly`` on the points times the image size), it gives back the part's pixels:
exactly for a rectangle, all of them but the holes for any part.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ml_data.errors import MissingDependency

INSTALL_HINT = "pip install 'ml-data[masks]'"


def load_cv2() -> Any:
    """The ``cv2`` module, or the error saying which extra brings it."""
    try:
        import cv2
    except ImportError:
        raise MissingDependency(f"brush masks as polygons need OpenCV: {INSTALL_HINT}") from None
    return cv2


class Outline(NamedTuple):
    """What a mask's contours are: one polygon per separate part (``(n, 2)`` pixel coordinates,
    ``n >= 3``), how many holes the parts have (left filled), and how many parts were too thin to
    be a polygon (a pixel, or a straight line one pixel wide: fewer than three corners)."""

    polygons: list[np.ndarray]
    holes: int
    thin: int


def outer_contours(mask: np.ndarray) -> Outline:
    """The outer contours of a 2-D mask's nonzero pixels.

    >>> mask = np.zeros((4, 6), np.uint8); mask[1:3, 1:5] = 255
    >>> outer_contours(mask).polygons[0].tolist()
    [[1.5, 1.5], [1.5, 2.5], [4.5, 2.5], [4.5, 1.5]]
    """
    cv2 = load_cv2()
    binary = np.ascontiguousarray(mask > 0, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return Outline([], 0, 0)
    parents = hierarchy[0][:, 3]
    polygons: list[np.ndarray] = []
    thin = 0
    for index, contour in enumerate(contours):
        if parents[index] >= 0:
            continue  # a hole's edge, or a part inside a hole: within the filled outer polygon
        points = contour.reshape(-1, 2)
        if len(points) < 3:
            thin += 1
            continue
        polygons.append(points.astype(np.float64) + 0.5)
    holes = sum(1 for parent in parents if parent >= 0 and parents[parent] < 0)
    return Outline(polygons, holes, thin)
