"""The check after redaction: does the derivative still show anyone who must be blurred?

The engine runs on the derivative exactly as on an upload (detect every
face, encode it); ``find_leaks`` then decides, as one pure rule, which of
those faces are leaks. A face found in the derivative is a leak when

- it lies on a region that was meant to be blurred (the redaction did not
  hold there, whoever it looks like), or
- it is not a face shown on purpose and matches the reference encodings of
  a person who was blurred (e.g. a face a reviewer marked "not a face"), or
- it is not a face of the photo at all (nobody reviewed it: deny by default).

A face shown on purpose is never a leak, however much it resembles someone
blurred: in a group of look-alikes the shown person resembles the others,
and that says nothing about whether the blur held. The blurred faces' own
encodings are therefore not compared; their regions are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.photos.boxes import Box
from consentflow.publish.redact import head_region

LeakReason = Literal["on_blurred_region", "resembles_blurred_person", "unreviewed_face"]
# A detection on the derivative is the same face as a box of the photo when
# they overlap this much (the same engine ran on the same pixels).
SAME_FACE_IOU = 0.3


@dataclass(frozen=True)
class PhotoFace:
    """A face of the photo as publication treats it; ``person_ids`` who it is or may be."""

    face_id: int
    box: Box
    person_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class FoundFace:
    """A face the engine found in the derivative, with its encoding."""

    box: Box
    encoding: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Leak:
    """A face of the derivative that must not be published, and why."""

    box: Box  # where the engine found it in the derivative
    face_id: int | None  # the face of the photo it is attributed to (None: nobody reviewed it)
    reason: LeakReason
    person_id: int | None = None  # the blurred person it resembles
    distance: float | None = None


@dataclass(frozen=True)
class CheckResult:
    faces_in_derivative: int
    leaks: tuple[Leak, ...]

    @property
    def ok(self) -> bool:
        return not self.leaks


def _same_face(box: Box, faces: Sequence[PhotoFace]) -> tuple[PhotoFace | None, float]:
    best, best_iou = None, 0.0
    for face in faces:
        iou = box.iou(face.box)
        if iou > best_iou:
            best, best_iou = face, iou
    return (best, best_iou) if best_iou >= SAME_FACE_IOU else (None, best_iou)


def _centre_inside(box: Box, region: Box) -> bool:
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    return region.left <= cx < region.right and region.top <= cy < region.bottom


def find_leaks(
    found: Sequence[FoundFace],
    *,
    shown: Sequence[PhotoFace],
    blurred: Sequence[PhotoFace],
    references: Sequence[tuple[int, npt.ArrayLike]],
    tolerance: float,
    width: int,
    height: int,
    not_faces: Sequence[PhotoFace] = (),
) -> tuple[Leak, ...]:
    """Every face of the derivative that shows someone who must be blurred (see module doc)."""
    leaks: list[Leak] = []
    kind = {id(f): "shown" for f in shown} | {id(f): "blurred" for f in blurred}
    # Blurred first: a detection overlapping a blurred and a shown face
    # equally is taken for the blurred one (when in doubt, a leak).
    everyone = [*blurred, *shown, *not_faces]
    owner_of = {p: f.face_id for f in blurred for p in f.person_ids}
    refs = [(int(p), np.asarray(e, dtype=np.float64).reshape(-1)) for p, e in references]
    for face in found:
        same, _ = _same_face(face.box, everyone)
        if same is not None and kind.get(id(same)) == "shown":
            continue  # shown on purpose: never a leak
        if same is not None and kind.get(id(same)) == "blurred":
            leaks.append(Leak(face.box, same.face_id, "on_blurred_region"))
            continue
        region_owner = next((b for b in blurred
                             if _centre_inside(face.box, head_region(b.box, width, height))), None)
        if same is None and region_owner is not None:
            leaks.append(Leak(face.box, region_owner.face_id, "on_blurred_region"))
            continue
        match = _closest_reference(face.encoding, refs)
        if match is not None and match[1] < tolerance:
            person_id, distance = match
            leaks.append(Leak(face.box, same.face_id if same else owner_of.get(person_id),
                              "resembles_blurred_person", person_id, round(distance, 4)))
        elif same is None:
            leaks.append(Leak(face.box, None, "unreviewed_face"))
    return tuple(leaks)


def _closest_reference(
    encoding: npt.NDArray[np.float64], refs: Sequence[tuple[int, npt.NDArray[np.float64]]]
) -> tuple[int, float] | None:
    best: tuple[int, float] | None = None
    for person_id, reference in refs:
        distance = float(np.linalg.norm(encoding - reference))
        if best is None or distance < best[1]:
            best = (person_id, distance)
    return best


def check_derivative(
    derivative: Image.Image,
    *,
    shown: Sequence[PhotoFace],
    blurred: Sequence[PhotoFace],
    references: Sequence[tuple[int, npt.ArrayLike]],
    tolerance: float,
    settings: EngineSettings | None = None,
    not_faces: Sequence[PhotoFace] = (),
) -> CheckResult:
    """Detect and encode every face of the derivative, then apply ``find_leaks``."""
    settings = settings or EngineSettings()
    # Thread safety of the dlib calls is the engine's own concern (DLIB_LOCK).
    prepared = prepare_image(derivative, settings.max_side)
    detected = detect_faces(prepared, settings)
    if not detected:
        return CheckResult(0, ())
    encodings = encode_faces(prepared, detected, settings)
    found = [FoundFace(Box(d.left, d.top, d.right, d.bottom), np.asarray(e, dtype=np.float64))
             for d, e in zip(detected, encodings)]
    leaks = find_leaks(found, shown=shown, blurred=blurred, references=references,
                       tolerance=tolerance, width=derivative.width, height=derivative.height,
                       not_faces=not_faces)
    return CheckResult(len(found), leaks)
