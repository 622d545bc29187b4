"""VOC's SegmentationClass/SegmentationObject for brush projects, as datumaro's ``voc_segmentation``
and ``voc`` importers and torchvision's ``VOCSegmentation`` (Pillow, palette indices) read them."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml_data.converters import ConvertOptions, MediaHooks, convert
from ml_data.converters.voc_masks import voc_colormap
from ml_data.errors import FormatNotSupported
from tests.support.exports import brush_result

datumaro = pytest.importorskip("datumaro")
from datumaro.components.annotation import AnnotationType  # noqa: E402
from datumaro.components.dataset import Dataset  # noqa: E402
from datumaro.plugins.data_formats.voc.format import VocInstColormap  # noqa: E402

WIDTH, HEIGHT = 640, 427  # the size of the reference converter's brush fixture
CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='sign'/></RectangleLabels>"
    "<PolygonLabels name='poly' toName='image'><Label value='car'/></PolygonLabels>"
    "<BrushLabels name='brush' toName='image'><Label value='road'/><Label value='tree'/></BrushLabels></View>"
)
#: alphabetical from 1
CLASSES = ["background", "car", "road", "sign", "tree"]
SIZE = {"original_width": WIDTH, "original_height": HEIGHT}


def fixture_mask(fixtures: Path) -> np.ndarray:
    with Image.open(fixtures / "test_brush" / "test.png") as image:
        return ((np.asarray(image.convert("L")) > 128) * 255).astype(np.uint8)


def blob(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    y, x = rng.integers(0, HEIGHT - 60), rng.integers(0, WIDTH - 60)
    mask[y : y + rng.integers(20, 200), x : x + rng.integers(20, 300)] = 255
    mask[rng.random((HEIGHT, WIDTH)) < 0.01] = 255
    return mask


brush = brush_result


def polygon(region_id: str, points: list[list[float]]) -> dict:
    value = {"points": points, "polygonlabels": ["car"]}
    return {"id": region_id, "from_name": "poly", "to_name": "image", "type": "polygonlabels", **SIZE, "value": value}


def rectangle(region_id: str) -> dict:
    value = {"x": 5, "y": 5, "width": 20, "height": 10, "rotation": 0, "rectanglelabels": ["sign"]}
    return {"id": region_id, "from_name": "box", "to_name": "image", "type": "rectanglelabels", **SIZE, "value": value}


def task(task_id: int, regions: list[dict]) -> dict:
    return {
        "id": task_id,
        "data": {"image": f"/data/upload/1/{task_id}.jpg"},
        "annotations": [{"id": 1, "result": regions}],
    }


POINTS = [[50, 50], [90, 55], [70, 95]]


def polygon_pixels() -> np.ndarray:
    """The polygon filled as Pillow fills it (edges included), in pixels."""
    canvas = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(canvas).polygon([(x / 100 * WIDTH, y / 100 * HEIGHT) for x, y in POINTS], fill=1)
    return np.asarray(canvas) > 0


@pytest.fixture
def written(fixtures, tmp_path):  # type: ignore[no-untyped-def]
    """Four images: brushes and a polygon over each other; a box only; nothing (a background
    image); the fixture's mask."""
    road, tree = blob(1), blob(2)
    tasks = [
        task(1, [brush("a", road, "road"), rectangle("r"), polygon("p", POINTS), brush("b", tree, "tree")]),
        task(2, [rectangle("r")]),
        task(3, []),
        task(4, [brush("f", fixture_mask(fixtures), "tree")]),
    ]
    split = {1: "train", 2: "train", 3: "val", 4: "val"}
    media = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT), subset_of=split.get)
    options = ConvertOptions(layout="standard", subsets=("train", "val"))
    out = tmp_path / "voc"
    report = convert(tasks, "voc", out, config=CONFIG, options=options, media=media)
    expected = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    expected[road > 0] = CLASSES.index("road")
    expected[polygon_pixels()] = CLASSES.index("car")
    expected[tree > 0] = CLASSES.index("tree")
    fixture = np.where(fixture_mask(fixtures) > 0, CLASSES.index("tree"), 0).astype(np.uint8)
    return out, report, {"1": expected, "3": np.zeros_like(expected), "4": fixture}


def datumaro_class_masks(out: Path, fmt: str) -> dict[str, np.ndarray]:
    """item id -> the class of each pixel, from datumaro's masks of the item."""
    dataset = Dataset.import_from(str(out), fmt)
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    assert labels == CLASSES
    found = {}
    for item in dataset:
        masks = [ann for ann in item.annotations if ann.type == AnnotationType.mask]
        if not masks:
            continue
        canvas = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        for mask in masks:
            canvas[mask.image.astype(bool)] = mask.label
        found[item.id] = canvas
    return found


def test_datumaro_reads_the_classes_of_every_pixel(written):
    out, report, expected = written
    assert report.items_written == 4 and not report.skipped
    for fmt in ("voc_segmentation", "voc"):
        found = datumaro_class_masks(out, fmt)
        assert found.keys() == {"1", "4"}  # the background image has no mask annotation, only zeros
        for item_id in ("1", "4"):
            assert np.array_equal(found[item_id], expected[item_id]), (fmt, item_id)


def test_torchvision_reads_class_indices_from_the_palette(written):
    """VOCSegmentation opens the target with Pillow and keeps mode P: the indices are the classes."""
    out, _, expected = written
    for item_id, classes in expected.items():
        with Image.open(out / "SegmentationClass" / f"{item_id}.png") as target:
            assert target.mode == "P"
            assert np.array_equal(np.asarray(target), classes)
            palette = target.getpalette()
        assert palette is not None
        assert [tuple(palette[i : i + 3]) for i in range(0, 768, 3)] == [tuple(c) for c in VocInstColormap.values()]


def test_instances_are_the_positions_of_their_objects(written):
    out, _, _ = written
    root = ElementTree.parse(out / "Annotations" / "1.xml").getroot()
    assert root.findtext("segmented") == "1"
    names = [item.findtext("name") for item in root.findall("object")]
    assert names == ["road", "sign", "car", "tree"]
    with Image.open(out / "SegmentationObject" / "1.png") as image:
        objects = np.asarray(image)
    with Image.open(out / "SegmentationClass" / "1.png") as image:
        classes = np.asarray(image)
    assert set(np.unique(objects).tolist()) <= {0, 1, 3, 4}  # the box (2) is not painted
    for position in np.unique(objects)[1:]:
        assert set(np.unique(classes[objects == position]).tolist()) == {CLASSES.index(names[position - 1])}
    assert np.array_equal(objects > 0, classes > 0)
    tree = root.findall("object")[3]
    rows, columns = np.nonzero(blob(2))
    bounds = [int(tree.findtext(f"bndbox/{tag}")) for tag in ("xmin", "ymin", "xmax", "ymax")]
    assert bounds == [columns.min() + 1, rows.min() + 1, columns.max() + 1, rows.max() + 1]


def test_only_images_with_masks_are_listed_for_segmentation(written):
    out, _, _ = written
    lists = out / "ImageSets"
    assert (lists / "Segmentation" / "train.txt").read_text().split() == ["1"]
    assert (lists / "Segmentation" / "val.txt").read_text().split() == ["3", "4"]
    assert (lists / "Main" / "train.txt").read_text().split() == ["1", "2"]
    assert not (out / "SegmentationClass" / "2.png").exists()
    assert ElementTree.parse(out / "Annotations" / "2.xml").getroot().findtext("segmented") == "0"
    lines = (out / "labelmap.txt").read_text().splitlines()[1:]
    colours = voc_colormap(len(CLASSES))
    assert lines == [f"{name}:{r},{g},{b}::" for name, (r, g, b) in zip(CLASSES, colours, strict=True)]


def test_voc_colormap_is_vocs():
    assert voc_colormap() == [tuple(colour) for colour in VocInstColormap.values()]


def test_an_unused_class_id_keeps_the_lines_in_step(tmp_path):
    config = CONFIG.replace("<Label value='tree'/>", "<Label value='tree' category='7'/>")
    mask = blob(3)
    options = ConvertOptions(layout="standard")
    convert([task(1, [brush("t", mask, "tree")])], "voc", tmp_path / "out", config=config, options=options)
    dataset = Dataset.import_from(str(tmp_path / "out"), "voc_segmentation")
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    assert labels[7] == "tree" and labels[5] == "unused_5"
    (item,) = dataset
    (found,) = [ann for ann in item.annotations if ann.type == AnnotationType.mask]
    assert found.label == 7 and np.array_equal(found.image.astype(bool), mask > 0)


def test_a_huge_recorded_image_size_fails_the_task_without_allocating_its_masks(tmp_path):
    """A polygon on an image that says it is 1,000,000 pixels square: no two terabyte masks."""
    huge = {**polygon("p", POINTS), "original_width": 1_000_000, "original_height": 1_000_000}
    tasks = [task(5, [huge]), task(6, [polygon("p", POINTS)])]
    options = ConvertOptions(layout="standard", on_error="skip")
    report = convert(tasks, "voc", tmp_path / "voc", config=CONFIG, options=options)
    assert report.items_written == 1 and report.examples[0][0] == 5 and "1000000x1000000" in report.examples[0][1]
    assert [path.name for path in (tmp_path / "voc" / "SegmentationClass").iterdir()] == ["6.png"]


def test_box_projects_and_the_label_studio_layout_get_no_masks(tmp_path):
    boxes = CONFIG.replace(
        "<BrushLabels name='brush' toName='image'><Label value='road'/><Label value='tree'/></BrushLabels>", ""
    )
    options = ConvertOptions(layout="standard")
    convert([task(1, [rectangle("r"), polygon("p", POINTS)])], "voc", tmp_path / "boxes", config=boxes, options=options)
    assert not (tmp_path / "boxes" / "SegmentationClass").exists()
    assert sorted(p.name for p in (tmp_path / "boxes" / "ImageSets").iterdir()) == ["Main"]
    report = convert([task(1, [rectangle("r"), brush("a", blob(1), "road")])], "voc", tmp_path / "ls", config=CONFIG)
    assert not (tmp_path / "ls" / "SegmentationClass").exists()
    assert report.skipped == {"brushlabels result left out of VOC (boxes only)": 1}


def test_brush_only_projects_need_the_standard_layout(tmp_path):
    config = "<View><Image name='image' value='$image'/><BrushLabels name='brush' toName='image'><Label value='road'/></BrushLabels></View>"
    tasks = [task(1, [brush("a", blob(1), "road")])]
    with pytest.raises(FormatNotSupported, match="standard layout"):
        convert(tasks, "voc", tmp_path / "ls", config=config)
    assert not (tmp_path / "ls").exists()
    convert(tasks, "voc", tmp_path / "std", config=config, options=ConvertOptions(layout="standard"))
    assert (tmp_path / "std" / "SegmentationClass" / "1.png").exists()


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("'tree:oak'", "tree:oak"),
        ("'tree' category='255'", "class 255"),
        ("'tree' category='0'", "class 0"),
        ("'background'", "second class 0"),
        ("'tree&#10;oak'", "line break"),
    ],
)
def test_classes_a_voc_mask_cannot_hold_are_refused_before_anything_is_written(tmp_path, label, reason):
    config = CONFIG.replace("'tree'", label)
    with pytest.raises(FormatNotSupported, match=reason):
        convert([task(1, [])], "voc", tmp_path / "out", config=config, options=ConvertOptions(layout="standard"))
    assert not (tmp_path / "out").exists()
