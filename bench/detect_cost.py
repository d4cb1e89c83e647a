"""Where detection's time goes on the 12-MP group photo, and what tiling can and cannot buy.

Printed, each best of --rounds on the same image with the models loaded first:

1. CenterFace (onnxruntime, one intra-op thread) per megapixel of input by
   input size, alone and two calls side by side on the two cores: how much
   the second core and smaller inputs help the network itself;
2. the whole detection (``detect_faces``) with the tile pass cut into tiles
   of different sizes, and the recall on the annotated set for each (the
   recall run takes a few minutes; --no-recall skips it).

Run on a quiet machine: .venv/bin/python bench/detect_cost.py [--rounds 4] [--no-recall]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from common import machine, recall_samples, table
from group_photo import group_200
from recall import DEFAULT, evaluate

from consentflow.faces import detectors
from consentflow.faces.engine import detect_faces, prepare_image

SIZES = [(1824, 1312), (960, 960), (640, 480), (320, 320)]
TILES = [1280, 960, 640, 480]


def best_wall(rounds: int, work: Callable[[], object]) -> float:
    """The best wall time of ``rounds`` runs of ``work``, in seconds."""
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def network_cost(rounds: int) -> list[list[object]]:
    """ms per megapixel of CenterFace input, serial and two calls side by side."""
    model = detectors.centerface(1)
    pool = ThreadPoolExecutor(2)
    rng = np.random.default_rng(1)
    rows: list[list[object]] = []
    for height, width in SIZES:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        calls = max(2, round(2.4e6 / (height * width)) // 2 * 2)  # ~2.4 MP in total, even
        model(pixels, 0.3)
        def serial_calls(pixels: np.ndarray = pixels, calls: int = calls) -> object:
            return [model(pixels, 0.3) for _ in range(calls)]

        def paired_calls(pixels: np.ndarray = pixels, calls: int = calls) -> object:
            return list(pool.map(lambda _: model(pixels, 0.3), range(calls)))

        paired_calls()  # the pool's threads and their buffers exist before timing
        serial = best_wall(rounds, serial_calls)
        paired = best_wall(rounds, paired_calls)
        megapixels = calls * height * width / 1e6
        rows.append([f"{width}x{height} x{calls}", serial * 1000 / megapixels,
                     paired * 1000 / megapixels, serial / paired])
    return rows


def tiling_cost(rounds: int, recall: bool) -> list[list[object]]:
    """Detection wall time and recall by tile size (the engine's own code path)."""
    sample = group_200()
    prepared = prepare_image(sample.path, DEFAULT.max_side)
    samples = recall_samples() if recall else []
    rows: list[list[object]] = []
    for size in TILES:
        settings = dataclasses.replace(DEFAULT, tile_size=size)
        detect_faces(prepared, settings)
        wall = best_wall(rounds, lambda settings=settings: detect_faces(prepared, settings))
        tiles = len(detectors.tile_grid(prepared.width, prepared.height, size, settings.tile_overlap))
        found = faces = 0
        for each in samples:
            score, _ = evaluate(each, settings)
            found, faces = found + score.found, faces + score.faces
        rows.append([f"{size}{' (default)' if size == DEFAULT.tile_size else ''}", tiles,
                     wall * 1000, f"{found}/{faces}" if recall else "-"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-recall", action="store_true")
    args = parser.parse_args()
    print(f"# machine: {machine()}; best of {args.rounds} rounds\n")
    print("## CenterFace per megapixel of input (one intra-op thread per call)\n")
    print(table(["input x calls", "ms/MP serial", "ms/MP two side by side", "speed-up"],
                network_cost(args.rounds)))
    print("\n## Detection of the 12-MP group photo by tile size (overlap "
          f"{DEFAULT.tile_overlap} px, {DEFAULT.tile_upscale}x enlarged)\n")
    print(table(["tile side", "tiles", "detect ms", "annotated faces found"],
                tiling_cost(args.rounds, not args.no_recall)))


if __name__ == "__main__":
    main()
