from __future__ import annotations

import pathlib

import numpy as np
import pytest

from tests.workflow.tasks_for_tests import Invert
from workflow import PortError
from workflow.core import ports
from workflow.core.results import ClassificationResult, ClassScore


def test_subtypes_are_accepted_and_supertypes_are_not():
    assert ports.Image.accepts(ports.AnnotatedImage)
    assert not ports.AnnotatedImage.accepts(ports.Image)
    assert ports.Path.accepts(ports.Model) and not ports.Model.accepts(ports.Dataset)
    assert ports.DataType.accepts(ports.Classification)


def test_resolve_data_type_suggests_a_label():
    assert ports.resolve_data_type("model") is ports.Model
    with pytest.raises(PortError, match=r"unknown data type 'imag' \(did you mean 'image'\?\)"):
        ports.resolve_data_type("imag")


def test_image_port_checks_shape_and_dtype():
    task = Invert(task_id="inv")
    with pytest.raises(
        PortError,
        match=r"task 'inv': input 'image' \(image\): expected an HxWx3 uint8 RGB array, got shape \(4, 4\)",
    ):
        task.set_input("image", np.zeros((4, 4), np.uint8))
    with pytest.raises(PortError, match="unknown|no input port 'img'"):
        task.set_input("img", np.zeros((4, 4, 3), np.uint8))


def test_path_ports_normalise_strings():
    assert ports.Model.check("a/b.pt") == pathlib.Path("a/b.pt")
    with pytest.raises(TypeError, match="expected a path"):
        ports.Model.check(3)


def test_classification_serialises_to_json():
    result = ClassificationResult([ClassScore("cat", 281, 0.9), ClassScore("dog", 5, 0.1)])
    assert ports.Classification.to_jsonable(result) == {
        "classes": [{"label": "cat", "index": 281, "score": 0.9}, {"label": "dog", "index": 5, "score": 0.1}]
    }
    assert result.top.label == "cat" and len(result) == 2
