"""Photos per minute for the full engine work on ~12-MP event photos.

Each photo (4000x3000 JPEG, ~5 faces: two_people.jpg plus three portraits
enlarged into the quarters of the frame, see common.event_photo) goes
through prepare_image, detect_faces, encode_faces, a match against a
1,000-reference index (synthetic unit-norm encodings, 2 per person, built
once per process), classify and assign_unique. Worker processes are started
with "spawn" and each builds its own models and index before the clock
starts (model loading is reported separately). Wall time covers all photos.

Run: /work/main/.venv/bin/python bench/throughput.py [--photos 16] [--set name=value ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
from common import event_photo, machine, table

from consentflow.config import MATCH_DEFAULTS
from consentflow.faces.engine import (
    EngineSettings,
    detect_faces,
    encode_faces,
    prepare_image,
)
from consentflow.faces.matching import MatchThresholds, ReferenceIndex, assign_unique, classify

THRESHOLDS = MatchThresholds.from_config(MATCH_DEFAULTS)

_settings = EngineSettings()
_index: ReferenceIndex | None = None


def _init(settings: EngineSettings, warm_path: str) -> None:
    global _settings, _index
    _settings = settings
    rng = np.random.default_rng(7)
    refs = rng.normal(size=(1000, 128))
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    _index = ReferenceIndex((i // 2, r) for i, r in enumerate(refs))
    _process(warm_path)  # load HOG, CenterFace and dlib models now


def _process(path: str) -> tuple[int, float, float, float, float, float]:
    assert _index is not None
    cpu = time.process_time()
    t0 = time.perf_counter()
    prepared = prepare_image(path, _settings.max_side)
    t1 = time.perf_counter()
    faces = detect_faces(prepared, _settings)
    t2 = time.perf_counter()
    encodings = encode_faces(prepared, faces, _settings)
    t3 = time.perf_counter()
    if encodings:
        candidates = _index.match_many(np.stack(encodings), top_k=5)
        assign_unique([classify(c, THRESHOLDS) for c in candidates])
    t4 = time.perf_counter()
    stages = ((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t4 - t3) * 1000)
    return (len(faces), *stages, time.process_time() - cpu)


def _parse(values: list[str]) -> EngineSettings:
    settings = EngineSettings()
    for item in values:
        name, raw = item.split("=", 1)
        current = getattr(settings, name)
        value: object
        if isinstance(current, bool):
            value = raw.lower() in ("1", "true", "yes", "on")
        else:
            value = type(current)(raw)
        settings = dataclasses.replace(settings, **{name: value})
    return settings


def run(paths: list[Path], settings: EngineSettings, processes: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    with ctx.Pool(processes, initializer=_init, initargs=(settings, str(paths[0]))) as pool:
        # One warm-up task per worker waits for every initializer to finish.
        pool.map(_noop, range(processes), chunksize=1)
        loaded = time.perf_counter()
        results = pool.map(_process, [str(p) for p in paths], chunksize=1)
        finished = time.perf_counter()
    wall = finished - loaded
    stages = np.array([r[1:5] for r in results])
    cpu = float(np.mean([r[5] for r in results]))
    return {
        "photos/min": len(paths) / wall * 60,
        "s/photo (wall)": wall / len(paths),
        "faces/photo": float(np.mean([r[0] for r in results])),
        "startup s": loaded - started,
        "prepare ms": float(stages[:, 0].mean()),
        "detect ms": float(stages[:, 1].mean()),
        "encode ms": float(stages[:, 2].mean()),
        "match ms": float(stages[:, 3].mean()),
        # CPU seconds one photo costs its worker: wall time above this is
        # waiting for a core (other processes, or the workers competing).
        "cpu s/photo": cpu,
    }


def _noop(_: int) -> None:
    time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    settings = _parse(args.set)
    paths = [event_photo(i).path for i in range(args.photos)]
    before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    rows = []
    for processes in (1, 2):
        result = run(paths, settings, processes)
        rows.append([processes, *[round(v, 1) if v >= 1 else round(v, 2) for v in result.values()]])
    print(f"# throughput, {args.photos} event photos of 4000x3000; machine: {machine()}\n")
    print(f"load average before the runs: {before}\n")
    headers = ["processes", "photos/min", "s/photo (wall)", "faces/photo", "startup s"]
    headers += ["prepare ms", "detect ms", "encode ms", "match ms", "cpu s/photo"]
    print(table(headers, rows))
    changed = {k: v for k, v in settings.as_dict().items() if v != EngineSettings().as_dict()[k]}
    print("\nsettings: default" + (f" with {changed}" if changed else ""))


if __name__ == "__main__":
    main()
