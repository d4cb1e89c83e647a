"""The face engine: prepare an image, find every face, encode faces.

Pure: file or PIL image in, numpy arrays and frozen dataclasses out. No
Flask, no database. Detection is tuned for recall (a missed face is a child
published without consent): two different detectors run and their boxes are
united, and small faces in large photos get a second, tiled pass. The
defaults come from the measurements in ``bench/README.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageOps

from consentflow.faces import detectors
from consentflow.faces.encoding import BoxGeometry, Encoding, encode_crops
from consentflow.photos.imaging import to_rgb

pillow_heif.register_heif_opener()

ImageSource = str | Path | BinaryIO | Image.Image

# CenterFace boxes run from the forehead to the chin; dlib's HOG boxes from
# the brows to the lower lip/chin and are square. Both affine maps below are
# medians over the 36 annotated faces of /work/shared/faces that HOG finds
# (``bench/calibrate.py`` prints them). FaceBox uses the CenterFace geometry
# (the larger one, safer to blur); encoding converts to the dlib geometry.
HOG_TO_FACEBOX = BoxGeometry(dx=0.009, dy=-0.063, sw=0.950, sh=1.340)
FACEBOX_TO_DLIB = BoxGeometry(dx=-0.010, dy=0.049, sw=1.053, sh=0.746)


@dataclass(frozen=True)
class EngineSettings:
    """Every knob of detection and encoding; stored with each result for audit."""

    # Working resolution: the longer side the image is reduced to (never enlarged).
    max_side: int = 1600
    hog: bool = True
    # Each upsample doubles the image: dlib finds faces down to ~80/2**n px.
    hog_upsample: int = 0
    # dlib SVM decision threshold; below 0 finds more faces and more non-faces.
    hog_threshold: float = 0.0
    # HOG is the second, independent opinion on the faces CenterFace's full
    # pass also covers; it runs on a copy reduced to this longer side (0 =
    # working size). At 800 it still judges every face of at least 160
    # working px (its own minimum is ~80 px at its input): the large, clearly
    # recognisable faces where a miss would hurt most, at a quarter of the
    # cost. bench/recall.py: the same annotated faces found as at 1600.
    hog_side: int = 800
    centerface: bool = True
    centerface_threshold: float = 0.3
    centerface_threads: int = 1
    # Threads for detection within one photo: HOG, the CenterFace full pass and
    # the tiles run side by side (onnxruntime and dlib release the GIL in C++
    # code but a dlib call still holds it; the work is the same, only spread
    # over cores). 1 = strictly one after the other. Results are identical.
    detect_threads: int = 2
    # Second CenterFace pass over enlarged overlapping tiles, for small faces.
    tiling: bool = True
    # Longest tile side (working px). 1280 cuts a 1600-px working image into
    # two tiles across its longer side instead of 2x2: the overlap band is
    # paid once instead of twice, 12% less CPU for the whole detection, one
    # tile per detection thread, the same faces found (bench/recall.py). Each
    # enlarged tile (~1300x1800) costs onnxruntime ~420 MB at its peak.
    tile_size: int = 1280
    tile_overlap: int = 128
    tile_upscale: float = 1.5
    # With tiling on, the CenterFace full-image pass only has to find the faces
    # the tiles leave out (wider than ``tile_overlap``), so it runs on a copy
    # reduced to this longer side and keeps faces from half the overlap up
    # (0 = whole pass at working size). bench/recall.py: the same faces found,
    # at a quarter of the cost.
    full_pass_side: int = 800
    # Boxes (from any detector or tile) overlapping at least this much are one face.
    merge_iou: float = 0.3
    # Boxes narrower than this (original pixels) are dropped.
    min_face: int = 8
    encoding_jitters: int = 1
    encoding_model: Literal["small", "large"] = "small"
    # Face width (px) the crop is rescaled to before landmarks and encoding.
    encoding_face_px: int = 150
    # A photo with at least ``encoding_parallel_min`` faces is encoded by this
    # many processes (this one and helpers, see faces/encoding_pool.py):
    # dlib's ResNet holds the GIL and costs ~20 ms of CPU per face. Fewer
    # faces are not worth the hand-over. 1 = never. Results are identical.
    encoding_processes: int = 2
    encoding_parallel_min: int = 24

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy, for results and audit records."""
        return dict(asdict(self))


class BoxLike(Protocol):
    """Anything with pixel edges (right/bottom exclusive); ints or tracked float edges."""

    @property
    def left(self) -> float: ...
    @property
    def top(self) -> float: ...
    @property
    def right(self) -> float: ...
    @property
    def bottom(self) -> float: ...


def box_iou(a: BoxLike, b: BoxLike) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    inter = max(0, w) * max(0, h)
    area_a = max(0, a.right - a.left) * max(0, a.bottom - a.top)
    area_b = max(0, b.right - b.left) * max(0, b.bottom - b.top)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FaceBox:
    """A face in ORIGINAL pixel coordinates of the EXIF-transposed image.

    ``right``/``bottom`` are exclusive. The box spans forehead to chin, not
    the whole head: redaction must add its own margin. ``score`` is the best
    member's confidence in 0..1 (CenterFace's probability; dlib's HOG
    decision value through a logistic, 0 -> 0.5). ``detector`` names every
    detector that found the face, e.g. ``"centerface+hog"``.
    """

    left: int
    top: int
    right: int
    bottom: int
    score: float
    detector: str

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with ``other``."""
        return box_iou(self, other)


@dataclass(frozen=True, eq=False)
class PreparedImage:
    """The working copy of an image and how it maps back to the original.

    ``pixels`` is RGB uint8 (H, W, 3), read-only, the EXIF-transposed image
    reduced so its longer side is at most ``max_side``. ``scale`` is
    working size / original size (1.0 if not reduced).
    """

    pixels: npt.NDArray[np.uint8]
    original_width: int
    original_height: int
    scale: float

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def _prepare(image: Image.Image, max_side: int, allow_draft: bool) -> PreparedImage:
    # Orientation tags 5-8 swap width and height.
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    scale = min(1.0, max_side / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    # "MPO" is a phone JPEG with an extra (depth/preview) image: draft-decodable too.
    if allow_draft and image.format in ("JPEG", "MPO") and scale <= 0.5:
        # Decode at 1/2, 1/4 or 1/8 in the DCT domain: several times faster
        # for 12-MP photos; Pillow keeps the result at least ``target``.
        swapped = target[::-1] if orientation in (5, 6, 7, 8) else target
        image.draft("RGB", swapped)
    image.load()
    transposed = ImageOps.exif_transpose(image) or image
    rgb = to_rgb(transposed)
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    pixels = np.array(rgb, dtype=np.uint8)
    pixels.setflags(write=False)
    return PreparedImage(pixels=pixels, original_width=width, original_height=height, scale=scale)


def prepare_image(source: ImageSource, max_side: int) -> PreparedImage:
    """Open (any Pillow/HEIF format), apply EXIF orientation, RGB, reduce to ``max_side``."""
    if isinstance(source, Image.Image):
        # Never draft a caller's image: that would shrink their image in place.
        return _prepare(source, max_side, allow_draft=False)
    with Image.open(source) as image:
        return _prepare(image, max_side, allow_draft=True)


def _hog_confidence(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-2.0 * value))


def _on_reduced(
    rgb: npt.NDArray[np.uint8], side: int, detect: Callable[[npt.NDArray[np.uint8]], detectors.Detections]
) -> detectors.Detections:
    """``detect`` on a copy reduced to ``side`` (longer side), boxes mapped back to ``rgb``."""
    height, width = rgb.shape[:2]
    if side <= 0 or max(width, height) <= side:
        return detect(rgb)
    factor = side / max(width, height)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    dets = detect(small).copy()
    dets[:, [0, 2]] *= width / size[0]
    dets[:, [1, 3]] *= height / size[1]
    return dets


def _hog_boxes(rgb: npt.NDArray[np.uint8], settings: EngineSettings) -> detectors.Detections:
    hog = _on_reduced(
        rgb, settings.hog_side,
        lambda pixels: detectors.hog_detect(pixels, settings.hog_upsample, settings.hog_threshold),
    )
    if not hog.size:
        return detectors.empty_detections()
    return np.array([[*HOG_TO_FACEBOX.apply(*row[:4]), _hog_confidence(row[4])] for row in hog])


def _full_pass(
    rgb: npt.NDArray[np.uint8], settings: EngineSettings, model: detectors.CenterFace
) -> detectors.Detections:
    """CenterFace on the whole image; on a reduced copy when the tiles cover small faces."""
    height, width = rgb.shape[:2]
    side = settings.full_pass_side
    if not settings.tiling or side <= 0 or max(width, height) <= side:
        return model(rgb, settings.centerface_threshold)
    dets = _on_reduced(rgb, side, lambda pixels: model(pixels, settings.centerface_threshold))
    # Small faces are the tiles' job (they keep every box up to tile_overlap
    # wide); on the reduced copy they come out badly placed and would stay
    # next to the tiles' box as a second, misplaced "face". Half the overlap
    # leaves a band that both passes cover.
    dets = dets[(dets[:, 2] - dets[:, 0]) >= settings.tile_overlap / 2]
    return detectors.clip_detections(dets, width, height)


def _run_detectors(
    prepared: PreparedImage, settings: EngineSettings
) -> list[tuple[detectors.Detections, str]]:
    """Raw detections per detector, in FaceBox geometry, working coordinates.

    Always in the same order (HOG, full pass, tiles) whether the passes run
    one after the other or side by side on ``detect_threads`` threads.
    """
    rgb = prepared.pixels
    pool = detectors.thread_pool(settings.detect_threads) if settings.detect_threads > 1 else None
    model = (
        detectors.centerface(settings.centerface_threads)
        if settings.centerface or settings.tiling
        else None
    )
    pending: list[tuple[Future[detectors.Detections], str]] = []

    def start(work: Callable[[], detectors.Detections], label: str) -> None:
        future: Future[detectors.Detections] = Future()
        if pool is None:
            future.set_result(work())
        else:
            future = pool.submit(work)
        pending.append((future, label))

    if settings.hog:
        start(lambda: _hog_boxes(rgb, settings), "hog")
    if model is not None and settings.centerface:
        start(lambda: _full_pass(rgb, settings, model), "centerface")
    tiled: detectors.Detections | None = None
    if model is not None and settings.tiling:
        threshold = settings.centerface_threshold
        tiled = detectors.detect_tiled(
            rgb,
            lambda tile: model(tile, threshold),
            settings.tile_size,
            settings.tile_overlap,
            settings.tile_upscale,
            mapper=pool.map if pool is not None else None,
        )
    found = [(future.result(), label) for future, label in pending]
    if tiled is not None:
        found.append((tiled, "centerface"))
    return [(dets, label) for dets, label in found if dets.size]


class _Merged(NamedTuple):
    left: float
    top: float
    right: float
    bottom: float
    score: float
    detector: str


def _merge(boxes: detectors.Detections, labels: list[str], iou: float) -> list[_Merged]:
    """Union of all detectors: overlapping boxes become one, nothing is dropped.

    Greedy clustering by score; a cluster's box is the score-weighted mean of
    its members, its score the best member's, its label all member labels.
    """
    order = np.argsort(-boxes[:, 4], kind="stable")
    taken = np.zeros(len(boxes), dtype=bool)
    overlaps = detectors.iou_matrix(boxes, boxes)
    merged: list[_Merged] = []
    for index in order:
        if taken[index]:
            continue
        members = np.nonzero(~taken & (overlaps[index] >= iou))[0]
        taken[members] = True
        weights = boxes[members, 4] + 1e-6
        left, top, right, bottom = (
            (boxes[members, :4] * weights[:, None]).sum(axis=0) / weights.sum()
        ).tolist()
        label = "+".join(sorted({labels[m] for m in members}))
        merged.append(_Merged(left, top, right, bottom, float(boxes[members, 4].max()), label))
    return merged


def detect_faces(prepared: PreparedImage, settings: EngineSettings) -> list[FaceBox]:
    """Every face found by any configured detector, in original coordinates."""
    found = _run_detectors(prepared, settings)
    if not any(dets.size for dets, _ in found):
        return []
    boxes = np.concatenate([dets for dets, _ in found if dets.size])
    labels = [label for dets, label in found for _ in range(len(dets))]
    # Map to original pixels per axis (sizes were rounded separately).
    fx = prepared.original_width / prepared.width
    fy = prepared.original_height / prepared.height
    boxes = boxes.copy()
    boxes[:, [0, 2]] *= fx
    boxes[:, [1, 3]] *= fy
    result: list[FaceBox] = []
    for m in _merge(boxes, labels, settings.merge_iou):
        box = FaceBox(
            left=max(0, math.floor(m.left)),
            top=max(0, math.floor(m.top)),
            right=min(prepared.original_width, math.ceil(m.right)),
            bottom=min(prepared.original_height, math.ceil(m.bottom)),
            score=round(m.score, 4),
            detector=m.detector,
        )
        if box.width >= settings.min_face and box.height >= settings.min_face:
            result.append(box)
    result.sort(key=lambda b: (b.top, b.left, b.bottom, b.right, b.detector))
    return result


def encode_faces(
    prepared: PreparedImage | Image.Image,
    boxes: Sequence[FaceBox],
    settings: EngineSettings,
) -> list[Encoding]:
    """One 128-d float64 encoding per box, in the order given.

    A PIL image is prepared with ``settings.max_side`` first; boxes are in
    original coordinates either way. See ``consentflow.faces.encoding`` for
    how crops are rescaled.
    """
    if isinstance(prepared, Image.Image):
        prepared = prepare_image(prepared, settings.max_side)
    fx = prepared.width / prepared.original_width
    fy = prepared.height / prepared.original_height
    dlib_boxes = [
        FACEBOX_TO_DLIB.apply(b.left * fx, b.top * fy, b.right * fx, b.bottom * fy) for b in boxes
    ]
    many = len(dlib_boxes) >= settings.encoding_parallel_min
    return encode_crops(
        prepared.pixels,
        dlib_boxes,
        model=settings.encoding_model,
        jitters=settings.encoding_jitters,
        face_px=settings.encoding_face_px,
        processes=settings.encoding_processes if many else 1,
    )


def detect_file(path: str | Path, settings: EngineSettings) -> dict[str, object]:
    """JSON-ready detection result for ``faces detect FILE --json``.

    Runs exactly ``prepare_image`` + ``detect_faces``, the pipeline's path.
    """
    started = time.perf_counter()
    prepared = prepare_image(path, settings.max_side)
    faces = detect_faces(prepared, settings)
    elapsed = (time.perf_counter() - started) * 1000.0
    return {
        "file": str(path),
        "width": prepared.original_width,
        "height": prepared.original_height,
        "faces": [
            {
                "left": f.left,
                "top": f.top,
                "right": f.right,
                "bottom": f.bottom,
                "score": f.score,
                "detector": f.detector,
            }
            for f in faces
        ],
        "settings": settings.as_dict(),
        "ms": round(elapsed, 1),
    }
