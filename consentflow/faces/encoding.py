"""128-d face encodings with dlib's ResNet (the model face_recognition uses).

Why crops are rescaled: dlib's landmark predictors and its 150x150 aligned
"face chip" work best when the face box is roughly 100-200 px wide. A small
face in a group photo (30 px) is first cut out with a margin and enlarged
(bicubic) so the landmark model sees a face of ``face_px`` pixels; a very
large face is reduced to the same size (Lanczos), which costs nothing in
accuracy (the chip is 150 px anyway) and keeps the work per face constant.
Enlarging cannot add detail: encodings of faces under ~40 px stay unreliable
and will usually end up "unknown", i.e. blurred, which is the safe side.

The dlib box geometry matters too: the landmark predictors were trained on
boxes from dlib's HOG detector. Boxes from CenterFace (taller: forehead to
chin) are converted to that geometry first (see ``to_dlib_geometry``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from consentflow.faces.detectors import DLIB_LOCK

EncodingModel = Literal["small", "large"]
Encoding = npt.NDArray[np.float64]

_MODEL_FILES = {
    "small": "shape_predictor_5_face_landmarks.dat",
    "large": "shape_predictor_68_face_landmarks.dat",
}
_RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"

# Margin around the box cut out before rescaling, as a fraction of the box
# side: the aligned chip adds 25% padding around the landmarks and tilted
# faces need room to be rotated upright.
_CROP_MARGIN = 0.6

_lock = threading.Lock()
_models: dict[tuple[int, str], tuple[Any, Any]] = {}


def _models_dir() -> Path:
    # Located without importing face_recognition_models: its import pulls in
    # the deprecated pkg_resources (a warning under filterwarnings=error).
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'face_recognition_models' package is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models"
        if (candidate / _RECOGNITION_FILE).is_file():
            return candidate
    raise RuntimeError("dlib model files not found in 'face_recognition_models'")


def _load(model: EncodingModel) -> tuple[Any, Any]:
    key = (os.getpid(), model)
    with _lock:
        loaded = _models.get(key)
        if loaded is None:
            import dlib

            directory = _models_dir()
            loaded = (
                dlib.shape_predictor(str(directory / _MODEL_FILES[model])),
                dlib.face_recognition_model_v1(str(directory / _RECOGNITION_FILE)),
            )
            _models[key] = loaded
        return loaded


@dataclass(frozen=True)
class BoxGeometry:
    """Affine map between two box conventions, relative to the box size.

    ``dst_cx = cx + dx * w``, ``dst_cy = cy + dy * h``,
    ``dst_w = sw * w``, ``dst_h = sh * h``.
    """

    dx: float
    dy: float
    sw: float
    sh: float

    def apply(
        self, left: float, top: float, right: float, bottom: float
    ) -> tuple[float, float, float, float]:
        w, h = right - left, bottom - top
        cx = (left + right) / 2 + self.dx * w
        cy = (top + bottom) / 2 + self.dy * h
        nw, nh = self.sw * w, self.sh * h
        return (cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2)


Crop = tuple[npt.NDArray[np.uint8], tuple[int, int, int, int]]


def _crop(image: Image.Image, box: tuple[float, float, float, float], face_px: int) -> Crop:
    """The face cut out with a margin and rescaled to ``face_px``, and its box in the crop."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top, 1.0)
    margin = side * _CROP_MARGIN
    c_left = int(max(0, np.floor(left - margin)))
    c_top = int(max(0, np.floor(top - margin)))
    c_right = int(min(image.width, np.ceil(right + margin)))
    c_bottom = int(min(image.height, np.ceil(bottom + margin)))
    zoom = face_px / side
    crop = image.crop((c_left, c_top, c_right, c_bottom))
    size = (max(1, round(crop.width * zoom)), max(1, round(crop.height * zoom)))
    resample = Image.Resampling.BICUBIC if zoom > 1 else Image.Resampling.LANCZOS
    pixels = np.asarray(crop.resize(size, resample))
    fx, fy = size[0] / crop.width, size[1] / crop.height
    rect = (
        round((left - c_left) * fx),
        round((top - c_top) * fy),
        round((right - c_left) * fx) - 1,
        round((bottom - c_top) * fy) - 1,
    )
    return pixels, rect


def describe(crops: Sequence[Crop], model: EncodingModel, jitters: int) -> list[Encoding]:
    """Landmarks and the dlib ResNet descriptor of each crop, in this process."""
    import dlib

    predictor, recogniser = _load(model)
    encodings: list[Encoding] = []
    for pixels, (left, top, right, bottom) in crops:
        rect = dlib.rectangle(left, top, right, bottom)
        with DLIB_LOCK:
            shape = predictor(pixels, rect)
            descriptor = recogniser.compute_face_descriptor(pixels, shape, jitters)
        encodings.append(np.array(descriptor, dtype=np.float64))
    return encodings


def encode_crops(
    rgb: npt.NDArray[np.uint8],
    dlib_boxes: Sequence[tuple[float, float, float, float]],
    model: EncodingModel = "small",
    jitters: int = 1,
    face_px: int = 150,
    processes: int = 1,
) -> list[Encoding]:
    """Encode each box (dlib HOG geometry, in ``rgb`` coordinates) of ``rgb``.

    With ``processes`` > 1 the crops are split into that many equal runs;
    all but the first go to helper processes (see ``encoding_pool``). Each
    crop is encoded by the same code either way, so the results are equal.
    """
    image = Image.fromarray(rgb)
    crops = [_crop(image, box, face_px) for box in dlib_boxes]
    if processes <= 1 or len(crops) < 2:
        return describe(crops, model, jitters)
    from consentflow.faces import encoding_pool

    return encoding_pool.describe_parallel(crops, model, jitters, processes)
