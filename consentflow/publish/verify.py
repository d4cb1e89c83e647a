"""The check after redaction: can the project's own engine still recognise a blurred person?

Pure (engine + numpy, no database). The engine runs on the derivative
exactly as on an upload: detect every face, encode it, and compare with

- the encodings of the blurred faces themselves, computed from the original
  in memory for this check only (never stored: unknown faces' encodings
  must not be kept), and
- the reference encodings of the people who were blurred, when known.

Any derivative face within the loose matching distance of either is a
blurred person the matcher still finds: publication must be refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from consentflow.faces.engine import (
    EngineSettings,
    FaceBox,
    detect_faces,
    encode_faces,
    prepare_image,
)
from consentflow.faces.matching import LOOSE_THRESHOLD
from consentflow.publish.redact import Box


@dataclass(frozen=True)
class Recognised:
    """A face in the derivative that is still close to a blurred face or person."""

    box: Box
    distance: float
    blurred_index: int | None  # which blurred face of the original it resembles
    person_id: int | None  # which blurred person's reference it matches


@dataclass(frozen=True)
class CheckResult:
    faces_in_derivative: int
    recognised: tuple[Recognised, ...]

    @property
    def ok(self) -> bool:
        return not self.recognised


def _to_facebox(box: Box) -> FaceBox:
    return FaceBox(box.left, box.top, box.right, box.bottom, score=1.0, detector="redaction")


def check_derivative(
    original: Image.Image,
    derivative: Image.Image,
    blurred: Sequence[Box],
    references: Sequence[tuple[int, npt.ArrayLike]] = (),
    settings: EngineSettings | None = None,
    tolerance: float = LOOSE_THRESHOLD,
) -> CheckResult:
    """Detect, encode and match on the derivative; list every blurred face still recognised."""
    settings = settings or EngineSettings()
    if not blurred and not references:
        return CheckResult(0, ())
    # Thread safety of the dlib calls is the engine's own concern (DLIB_LOCK).
    return _check(original, derivative, blurred, references, settings, tolerance)


def _check(
    original: Image.Image,
    derivative: Image.Image,
    blurred: Sequence[Box],
    references: Sequence[tuple[int, npt.ArrayLike]],
    settings: EngineSettings,
    tolerance: float,
) -> CheckResult:
    prepared = prepare_image(derivative, settings.max_side)
    found = detect_faces(prepared, settings)
    if not found:
        return CheckResult(0, ())
    found_enc = np.array(encode_faces(prepared, found, settings), dtype=np.float64)
    hits: list[Recognised] = []
    if blurred:
        original_prepared = prepare_image(original, settings.max_side)
        blurred_enc = np.array(
            encode_faces(original_prepared, [_to_facebox(b) for b in blurred], settings),
            dtype=np.float64,
        )
        distances = np.linalg.norm(found_enc[:, None, :] - blurred_enc[None, :, :], axis=2)
        for i, row in enumerate(distances):
            j = int(np.argmin(row))
            if row[j] < tolerance:
                hits.append(_hit(found[i], float(row[j]), j, None))
    for person_id, reference in references:
        ref = np.asarray(reference, dtype=np.float64).reshape(1, -1)
        distances_p = np.linalg.norm(found_enc - ref, axis=1)
        for i, distance in enumerate(distances_p):
            if distance < tolerance:
                hits.append(_hit(found[i], float(distance), None, person_id))
    return CheckResult(len(found), tuple(hits))


def _hit(face: FaceBox, distance: float, index: int | None, person_id: int | None) -> Recognised:
    return Recognised(Box(face.left, face.top, face.right, face.bottom), distance, index, person_id)
