"""The CenterFace graph is made size-free: any padded input size runs, and a wrong input name is refused."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from consentflow.faces import detectors
from consentflow.faces._onnx import make_dynamic

OUTPUTS = ["537", "538", "539", "540"]


@pytest.fixture(scope="module")
def shipped() -> bytes:
    return detectors.centerface_model_path().read_bytes()


def test_the_shipped_graph_is_fixed_and_the_dynamic_one_takes_any_size(shipped: bytes) -> None:
    image = np.zeros((1, 3, 64, 96), dtype=np.float32)
    fixed = ort.InferenceSession(shipped, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        fixed.run(OUTPUTS, {"input.1": image})
    session = ort.InferenceSession(make_dynamic(shipped, "input.1", OUTPUTS),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input.1"]  # initializers are no inputs
    for height, width in ((64, 96), (128, 32)):
        heatmap, scale, offset, landmarks = session.run(
            OUTPUTS, {"input.1": np.zeros((1, 3, height, width), dtype=np.float32)})
        # Stride 4: one heatmap cell per 4x4 pixels; two scale and offset maps, ten landmark maps.
        assert heatmap.shape == (1, 1, height // 4, width // 4)
        assert scale.shape[1] == offset.shape[1] == 2 and landmarks.shape[1] == 10


def test_an_unknown_input_name_is_refused(shipped: bytes) -> None:
    with pytest.raises(ValueError, match="not found"):
        make_dynamic(shipped, "image", OUTPUTS)
