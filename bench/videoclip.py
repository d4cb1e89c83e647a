"""Compose test videos from real face photos, with ground-truth face boxes per frame.

Used by bench/video.py and tests/unit/test_video_*.py. Deterministic: a
seeded background, actors moving and scaling linearly, encoded with the
same PyAV/libx264 build. Nothing is committed: callers write to a temp dir.

An actor is a head-and-shoulders cut-out of a real photo (the face box from
bench/annotations.json, hand-checked, FaceBox geometry: forehead to chin)
pasted on the background. Its ground-truth face box on a frame is that
annotation mapped through the same scale and offset, clipped to the frame;
``visible`` is the share of the box that is inside the frame and not
covered by an actor drawn later (in front).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

ANNOTATIONS = Path(__file__).resolve().parent / "annotations.json"


def face_box(image: Path) -> tuple[int, int, int, int]:
    """The hand-checked face box of a one-face image, by file name."""
    data = json.loads(ANNOTATIONS.read_text())["images"]
    faces = data[image.name]["faces"]
    if len(faces) != 1:
        raise ValueError(f"{image.name} has {len(faces)} annotated faces, need one")
    left, top, right, bottom = faces[0]
    return left, top, right, bottom


@dataclass(frozen=True)
class Actor:
    """A face moving from ``start`` to ``end`` (face centre, px) while its width goes w0 -> w1.

    ``enter``/``leave`` are the times (s) the actor is on screen.
    """

    image: Path
    start: tuple[float, float]
    end: tuple[float, float]
    width: tuple[float, float]
    enter: float = 0.0
    leave: float = math.inf


@dataclass(frozen=True)
class TruthBox:
    actor: int
    left: int
    top: int
    right: int
    bottom: int
    visible: float


def background(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A textured, deterministic stage: gradient plus soft coloured blocks and grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([60 + 80 * x / width, 90 + 60 * y / height, 110 - 40 * x / width], axis=2)
    for _ in range(12):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 12, width // 4), rng.integers(height // 12, height // 4)
        base[y0:y0 + h, x0:x0 + w] += rng.uniform(-40, 40, size=3)
    base += rng.normal(0, 4, size=base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


class _Sprite:
    def __init__(self, image: Path) -> None:
        left, top, right, bottom = face_box(image)
        with Image.open(image) as opened:
            photo = opened.convert("RGB")
        w, h = right - left, bottom - top
        self.crop = (max(0, int(left - 0.7 * w)), max(0, int(top - 0.8 * h)),
                     min(photo.width, int(right + 0.7 * w)), min(photo.height, int(bottom + 0.9 * h)))
        self.image = photo.crop(self.crop)
        self.face = (left - self.crop[0], top - self.crop[1], right - self.crop[0], bottom - self.crop[1])


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def compose_frame(
    sprites: Sequence[_Sprite], actors: Sequence[Actor], stage: np.ndarray, t: float, seconds: float
) -> tuple[np.ndarray, list[TruthBox]]:
    height, width = stage.shape[:2]
    frame = Image.fromarray(stage)
    placed: list[tuple[int, tuple[float, float, float, float], tuple[int, int, int, int]]] = []
    share = min(1.0, t / seconds) if seconds > 0 else 0.0
    for number, (sprite, actor) in enumerate(zip(sprites, actors)):
        if not actor.enter <= t < actor.leave:
            continue
        face_w = _lerp(actor.width[0], actor.width[1], share)
        scale = face_w / (sprite.face[2] - sprite.face[0])
        cx = _lerp(actor.start[0], actor.end[0], share)
        cy = _lerp(actor.start[1], actor.end[1], share)
        size = (max(1, round(sprite.image.width * scale)), max(1, round(sprite.image.height * scale)))
        fl, ft, fr, fb = (v * scale for v in sprite.face)
        ox, oy = round(cx - (fl + fr) / 2), round(cy - (ft + fb) / 2)
        frame.paste(sprite.image.resize(size, Image.Resampling.BILINEAR), (ox, oy))
        placed.append((number, (ox + fl, oy + ft, ox + fr, oy + fb), (ox, oy, ox + size[0], oy + size[1])))
    truth: list[TruthBox] = []
    for position, (number, (fl, ft, fr, fb), _) in enumerate(placed):
        box = (max(0, math.floor(fl)), max(0, math.floor(ft)),
               min(width, math.ceil(fr)), min(height, math.ceil(fb)))
        full = max(1.0, (fr - fl) * (fb - ft))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=bool)
        mask[:] = True
        for _, _, (sl, st, sr, sb) in placed[position + 1:]:
            mask[max(0, st - box[1]):max(0, sb - box[1]), max(0, sl - box[0]):max(0, sr - box[0])] = False
        truth.append(TruthBox(number, *box, visible=float(mask.sum()) / full))
    return np.asarray(frame), truth


def compose_clip(
    path: Path,
    actors: Sequence[Actor],
    width: int,
    height: int,
    fps: int,
    seconds: float,
    rotation: int = 0,
    audio: bool = False,
    metadata: dict[str, str] | None = None,
    faststart: bool = True,
    crf: int = 18,
) -> dict[int, list[TruthBox]]:
    """Write an H.264 MP4 (or any container PyAV infers from the suffix); truth per frame index.

    ``.webm``/``.mkv`` get VP9 and Opus; ``.avi`` gets MPEG-4 part 2 and PCM
    sound, as an older school camera records.

    ``rotation`` (90/180/270, counter-clockwise) stores the pixels turned the
    other way and sets the display matrix, as a phone does: a player (and
    the engine) must turn them back. ``metadata`` goes into the container
    and the video stream (title, creation_time, location, handler_name...).
    """
    sprites = [_Sprite(a.image) for a in actors]
    stage = background(width, height)
    frames = round(fps * seconds)
    truth: dict[int, list[TruthBox]] = {}
    options = {"movflags": "+faststart"} if faststart and path.suffix in (".mp4", ".mov") else {}
    webm = path.suffix in (".webm", ".mkv")
    avi = path.suffix == ".avi"
    with av.open(str(path), mode="w", options=options) as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        if avi:
            # FFmpeg's MPEG-4 encoder defaults to 200 kb/s: far below a camera's.
            stream = out.add_stream("mpeg4", rate=fps)
            stream.bit_rate = 8_000_000
        else:
            stream = out.add_stream("libvpx-vp9" if webm else "libx264", rate=fps,
                                    options={} if webm else {"crf": str(crf), "preset": "veryfast"})
        stored_w, stored_h = (height, width) if rotation in (90, 270) else (width, height)
        stream.width, stream.height, stream.pix_fmt = stored_w, stored_h, "yuv420p"
        for key, value in (metadata or {}).items():
            stream.metadata[key] = value
        if rotation:
            stream.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream("libopus" if webm else "pcm_s16le" if avi else "aac", rate=48000)
            sound.codec_context.layout = "mono"
        for index in range(frames):
            pixels, boxes = compose_frame(sprites, actors, stage, index / fps, seconds)
            truth[index] = boxes
            stored = np.ascontiguousarray(np.rot90(pixels, k=-(rotation // 90))) if rotation else pixels
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            samples = int(48000 * seconds)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            step, layout = (960, "flt") if webm else (1024, "fltp")
            for start in range(0, samples - step + 1, step):
                chunk = av.AudioFrame.from_ndarray(tone[None, start:start + step], format=layout,
                                                   layout="mono")
                chunk.sample_rate = 48000
                chunk.pts = start
                chunk.time_base = Fraction(1, 48000)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return truth
