from __future__ import annotations

import pytest

from ml_data.converters import parse_label_config, supported_formats
from ml_data.errors import InvalidLabelConfig

NER = """<View><Text name="text" value="$text"/>
<Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
<Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"""


def test_fixture_config_with_categories_and_model_index(fixtures):
    config = parse_label_config((fixtures / "test_export_coco" / "label_config.xml").read_text())
    assert config.data_keys == ("image",)
    assert config.objects["image"].type == "Image"
    keypoints = config.controls["keypoint_label"]
    assert keypoints.type == "KeyPointLabels" and keypoints.to_names == ("image",)
    assert [(label.value, label.model_index) for label in keypoints.labels] == [
        ("keypoint_label1", 0),
        ("keypoint_label2", 1),
    ]


def test_labels_in_config_order_with_category():
    config = parse_label_config(
        '<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
        '<Label value="zebra" category="10"/><Label value="ant" category="2"/><Label value="cat"/>'
        "</RectangleLabels></View>"
    )
    box = config.controls["box"]
    assert box.label_values == ("zebra", "ant", "cat")
    assert [label.category for label in box.labels] == [10, 2, None]


def test_repeater_names_match_indexed_results():
    config = parse_label_config(
        '<View><Repeater on="$images" indexFlag="{{idx}}"><Image name="page_{{idx}}" value="$images[{{idx}}].url"/>'
        '<RectangleLabels name="labels_{{idx}}" toName="page_{{idx}}"><Label value="Title"/></RectangleLabels>'
        '<Taxonomy name="categories_{{idx}}" toName="page_{{idx}}"><Choice value="A"/></Taxonomy>'
        "</Repeater></View>"
    )
    assert config.control_for("labels_0").name == "labels_{{idx}}"
    assert config.control_for("categories_12").type == "Taxonomy"
    assert config.control_for("labels_x") is None
    assert config.control_for("other") is None


@pytest.mark.parametrize(
    "xml",
    [
        "",
        "<View><Image name='i' value='$i'></View>",
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<View><Header value='&lol2;'/></View>",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]><View>&ext;</View>',
    ],
)
def test_bad_or_hostile_configs_are_refused(xml):
    with pytest.raises(InvalidLabelConfig):
        parse_label_config(xml)


def test_supported_formats_say_why_not():
    formats = supported_formats(parse_label_config(NER))
    assert formats["conll2003"] is None and formats["csv"] is None
    assert "Audio" in formats["asr-manifest"]
    image_only = supported_formats(
        parse_label_config(
            '<View><Image name="i" value="$i"/><Choices name="c" toName="i"><Choice value="a"/></Choices></View>'
        )
    )
    assert "Labels" in image_only["conll2003"]
    assert supported_formats(None)["conll2003"].startswith("CoNLL needs the labeling config")


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("model_index", "999999999999"),
        ("model_index", "-2"),
        ("category", "1e3"),
        ("category", "2.0"),
        ("category", "x"),
    ],
)
def test_a_label_number_that_is_not_a_whole_number_names_the_label_and_its_attribute(attribute, value):
    """Regression: model_index="999999999999" was reported as "category=", and category="1e3"
    was ignored without a word (the label then took an automatic id)."""
    with pytest.raises(InvalidLabelConfig) as info:
        parse_label_config(
            '<View><Image name="i" value="$i"/><KeyPointLabels name="k" toName="i">'
            f'<Label value="nose" {attribute}="{value}"/></KeyPointLabels></View>'
        )
    message = str(info.value)
    assert f"{attribute}={value!r}" in message and "'nose'" in message
    assert ("category" in message) == (attribute == "category")


def test_a_blank_label_number_is_no_number():
    config = parse_label_config(
        '<View><Image name="i" value="$i"/><RectangleLabels name="b" toName="i">'
        '<Label value="cat" category="" model_index=" "/><Label value="dog" category=" 7 "/></RectangleLabels></View>'
    )
    assert [(label.category, label.model_index) for label in config.controls["b"].labels] == [(None, None), (7, None)]
