"""The fast paths of the face engine give the results of the simple paths (real images, real models).

Detection may run its passes on several threads and encoding may hand runs
of faces to helper processes: both must change only the time, never a box
or an encoding. A helper that dies must cost time, never a face.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from consentflow.faces import encoding_pool
from consentflow.faces.engine import (
    EngineSettings,
    FaceBox,
    PreparedImage,
    detect_faces,
    encode_faces,
    prepare_image,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:pkg_resources is deprecated"),
]

ROOT = Path(__file__).resolve().parents[2]
FACES = ROOT / "tests" / "data" / "faces"
SERIAL = EngineSettings(detect_threads=1, encoding_processes=1)
# Parallel encoding from two faces on, so that the test photo takes that path.
PARALLEL = EngineSettings(detect_threads=2, encoding_processes=2, encoding_parallel_min=2)


@pytest.fixture(scope="module")
def group() -> tuple[PreparedImage, list[FaceBox]]:
    """bald_guys.jpg: 24 different people, detected the simple way."""
    prepared = prepare_image(FACES / "bald_guys.jpg", SERIAL.max_side)
    faces = detect_faces(prepared, SERIAL)
    assert len(faces) >= 24
    return prepared, faces


def test_threaded_detection_finds_exactly_the_serial_boxes(group) -> None:
    prepared, serial = group
    assert detect_faces(prepared, PARALLEL) == serial


def _annotated(name: str) -> list[FaceBox]:
    data = json.loads((ROOT / "bench" / "annotations.json").read_text())
    return [FaceBox(*box, score=1.0, detector="annotation") for box in data["images"][name]["faces"]]


def test_reduced_full_pass_keeps_every_annotated_face_of_the_full_size_pass(group) -> None:
    prepared, faces = group
    full_size = detect_faces(prepared, dataclasses.replace(SERIAL, full_pass_side=0))
    truth = _annotated("bald_guys.jpg")
    assert len(truth) == 24
    for person in truth:
        before = max(full_size, key=person.iou)
        assert person.iou(before) >= 0.3, person
        # The same face, at the same place, with the reduced full pass.
        assert max(before.iou(after) for after in faces) >= 0.7, before


def test_parallel_encoding_equals_serial_encoding(group) -> None:
    prepared, faces = group
    serial = np.stack(encode_faces(prepared, faces, SERIAL))
    parallel = np.stack(encode_faces(prepared, faces, PARALLEL))
    assert parallel.shape == serial.shape == (len(faces), 128)
    np.testing.assert_allclose(parallel, serial, rtol=0, atol=1e-9)


def test_a_dead_helper_costs_time_not_faces(group, monkeypatch) -> None:
    prepared, faces = group
    serial = np.stack(encode_faces(prepared, faces[:6], SERIAL))

    def dead_helper() -> subprocess.Popen[bytes]:
        # A real process that exits at once without answering.
        return subprocess.Popen(
            [sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    monkeypatch.setattr(encoding_pool, "_helpers", {})
    monkeypatch.setattr(encoding_pool, "_start_helper", dead_helper)
    parallel = np.stack(encode_faces(prepared, faces[:6], PARALLEL))
    np.testing.assert_allclose(parallel, serial, rtol=0, atol=1e-9)
