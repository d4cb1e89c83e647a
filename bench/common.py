"""Shared helpers for the face-engine benchmarks.

Real images come from /work/shared/faces (override with
CONSENTFLOW_FACES_DIR). Derived images (downscaled copies, a 12-MP collage
"group photo", 12-MP "event photos") are generated here deterministically
into a cache directory (CONSENTFLOW_BENCH_CACHE, default
$TMPDIR/consentflow-bench) and never committed; their annotations are the
hand annotations of the source images mapped through the same transform.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

FACES_DIR = Path(os.environ.get("CONSENTFLOW_FACES_DIR", "/work/shared/faces"))
CACHE_DIR = Path(
    os.environ.get("CONSENTFLOW_BENCH_CACHE", Path(tempfile.gettempdir()) / "consentflow-bench")
)
ANNOTATIONS = Path(__file__).with_name("annotations.json")
# Bump when a generator changes so stale cached files are not reused.
GENERATOR_VERSION = 1
FOUND_IOU = 0.3

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sample:
    """An image file with its annotated faces (original pixel coordinates)."""

    name: str
    path: Path
    faces: list[Box]
    hard: list[Box] = field(default_factory=list)
    ignore: list[Box] = field(default_factory=list)
    derived: bool = False


def load_annotations() -> dict[str, dict[str, list[Box]]]:
    data = json.loads(ANNOTATIONS.read_text())
    images: dict[str, dict[str, list[Box]]] = {}
    for name, entry in data["images"].items():
        images[name] = {
            kind: [tuple(box) for box in entry.get(kind, [])]  # type: ignore[misc]
            for kind in ("faces", "hard", "ignore")
        }
    return images


def real_samples() -> list[Sample]:
    return [
        Sample(name, FACES_DIR / name, entry["faces"], entry["hard"], entry["ignore"])
        for name, entry in load_annotations().items()
    ]


def _sample(name: str) -> Sample:
    return next(s for s in real_samples() if s.name == name)


def _map(boxes: Sequence[Box], factor: float, dx: int = 0, dy: int = 0) -> list[Box]:
    return [
        (
            round(b[0] * factor) + dx,
            round(b[1] * factor) + dy,
            round(b[2] * factor) + dx,
            round(b[3] * factor) + dy,
        )
        for b in boxes
    ]


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        transposed = ImageOps.exif_transpose(image)
        return transposed.convert("RGB")


def _cached(name: str) -> Path:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR / f"v{GENERATOR_VERSION}-{name}"


def scaled(source: str, factor: float) -> Sample:
    """``source`` resized by ``factor`` (Lanczos), saved as JPEG quality 92."""
    base = _sample(source)
    stem = Path(source).stem
    name = f"{stem}@{factor:g}.jpg"
    path = _cached(name)
    if not path.exists():
        image = _open_rgb(base.path)
        size = (round(image.width * factor), round(image.height * factor))
        image.resize(size, Image.Resampling.LANCZOS).save(path, quality=92)
    return Sample(
        name,
        path,
        _map(base.faces, factor),
        _map(base.hard, factor),
        _map(base.ignore, factor),
        derived=True,
    )


def group_12mp() -> Sample:
    """A 4000x3000 collage: bald_guys.jpg at 0.48x repeated 4x4 (384 faces, 45-116 px wide).

    Stands in for a large group photo (the spec's 200-face case): at the
    default 1600 px working size these faces are 18-46 px wide.
    """
    base = _sample("bald_guys.jpg")
    factor = 0.48
    width, height = 4000, 3000
    cell_w, cell_h = round(1986 * factor), round(1545 * factor)
    x0, y0 = (width - 4 * cell_w) // 2, (height - 4 * cell_h) // 2
    path = _cached("group_12mp.jpg")
    if not path.exists():
        cell = _open_rgb(base.path).resize((cell_w, cell_h), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (width, height), (128, 128, 128))
        for row in range(4):
            for col in range(4):
                canvas.paste(cell, (x0 + col * cell_w, y0 + row * cell_h))
        canvas.save(path, quality=92)
    faces: list[Box] = []
    hard: list[Box] = []
    ignore: list[Box] = []
    for row in range(4):
        for col in range(4):
            dx, dy = x0 + col * cell_w, y0 + row * cell_h
            faces += _map(base.faces, factor, dx, dy)
            hard += _map(base.hard, factor, dx, dy)
            ignore += _map(base.ignore, factor, dx, dy)
    return Sample("group_12mp.jpg (collage)", path, faces, hard, ignore, derived=True)


# Each event photo: two_people.jpg (2 faces) plus three portraits, each
# enlarged into one quarter of a 4000x3000 frame.
_PORTRAITS = [
    "obama.jpg",
    "biden.jpg",
    "Tom_Cruise_avp_2014_4.jpg",
    "lin-manuel-miranda.png",
    "obama3.jpg",
    "obama2.jpg",
    "obama_small.jpg",
]


def event_photo(index: int) -> Sample:
    """A deterministic ~12-MP, ~5-face "event photo" built from the real images."""
    names = ["two_people.jpg"] + [_PORTRAITS[(index + k) % len(_PORTRAITS)] for k in range(3)]
    order = names[index % 4 :] + names[: index % 4]
    path = _cached(f"event_{index}.jpg")
    width, height = 4000, 3000
    cell_w, cell_h = width // 2, height // 2
    faces: list[Box] = []
    canvas = Image.new("RGB", (width, height), (90, 90, 90)) if not path.exists() else None
    for slot, name in enumerate(order):
        sample = _sample(name)
        with Image.open(sample.path) as probe:
            w, h = ImageOps.exif_transpose(probe).size
        factor = min(cell_w / w, cell_h / h)
        size = (round(w * factor), round(h * factor))
        dx = (slot % 2) * cell_w + (cell_w - size[0]) // 2
        dy = (slot // 2) * cell_h + (cell_h - size[1]) // 2
        faces += _map(sample.faces, factor, dx, dy)
        if canvas is not None:
            image = _open_rgb(sample.path).resize(size, Image.Resampling.LANCZOS)
            canvas.paste(image, (dx, dy))
    if canvas is not None:
        canvas.save(path, quality=90)
    return Sample(f"event_{index}.jpg", path, faces, derived=True)


def rotated(source: str, degrees: int) -> Sample:
    """``source`` rotated counter-clockwise (canvas enlarged, grey fill).

    Tilted faces: each annotated box keeps its size and is moved to where its
    centre rotates to (an upright box around the tilted face, not the
    larger bounding box of the rotated rectangle).
    """
    base = _sample(source)
    name = f"{Path(source).stem}@rot{degrees}.jpg"
    path = _cached(name)
    image = _open_rgb(base.path)
    out = image.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    if not path.exists():
        out.save(path, quality=92)
    angle = math.radians(degrees)
    cx, cy = image.width / 2, image.height / 2
    ox, oy = out.width / 2, out.height / 2

    def move(boxes: Sequence[Box]) -> list[Box]:
        moved: list[Box] = []
        for b in boxes:
            x, y = (b[0] + b[2]) / 2 - cx, (b[1] + b[3]) / 2 - cy
            # Image y grows downwards, so a counter-clockwise turn is
            # x' = x cos + y sin, y' = -x sin + y cos.
            nx = x * math.cos(angle) + y * math.sin(angle) + ox
            ny = -x * math.sin(angle) + y * math.cos(angle) + oy
            w, h = b[2] - b[0], b[3] - b[1]
            moved.append(
                (round(nx - w / 2), round(ny - h / 2), round(nx + w / 2), round(ny + h / 2))
            )
        return moved

    return Sample(name, path, move(base.faces), move(base.hard), move(base.ignore), derived=True)


def darkened(source: str, gain: float, gamma: float) -> Sample:
    """An under-exposed, low-contrast copy: ``255 * gain * (v/255) ** gamma``."""
    base = _sample(source)
    name = f"{Path(source).stem}@dark.jpg"
    path = _cached(name)
    if not path.exists():
        pixels = np.asarray(_open_rgb(base.path), dtype=np.float64) / 255.0
        dark = np.clip(255.0 * gain * pixels**gamma, 0, 255).astype(np.uint8)
        Image.fromarray(dark).save(path, quality=92)
    return Sample(name, path, list(base.faces), list(base.hard), list(base.ignore), derived=True)


def recall_samples() -> list[Sample]:
    """The recall set: every annotated real image plus the derived variants."""
    return real_samples() + [
        scaled("bald_guys.jpg", 0.35),
        scaled("bald_guys.jpg", 0.18),
        scaled("bald_guys.jpg", 0.08),
        scaled("bald_guys.jpg", 0.06),
        scaled("two_people.jpg", 0.12),
        scaled("two_people.jpg", 3.5),
        group_12mp(),
        rotated("bald_guys.jpg", 20),
        rotated("bald_guys.jpg", -35),
        rotated("two_people.jpg", 50),
        rotated("two_people.jpg", 90),
        darkened("bald_guys.jpg", 0.35, 1.6),
    ]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return np.array([[iou(x, y) for y in b] for x in a])


def machine() -> str:
    model = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
        f"load average now {load} (other work on the machine slows every figure)"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes straight into bench/README.md)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)
    ]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in text]
    return "\n".join(lines)
