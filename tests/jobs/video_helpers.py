"""Helpers for the video product tests: a short clip of two real people, independent checks.

The clip is composed from the real portraits in tests/data/faces
(bench/videoclip.py): Obama (obama.jpg) walks left to right, Biden
(biden.jpg) right to left below him; 640x360, 10 fps, 2.5 s, with a tone as
sound. The checks read the published FILE only: PyAV for streams and
metadata, the project's own detector and matcher on every frame.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from bench.videoclip import Actor, compose_clip
from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 10, 2.5
ACTORS = (
    Actor(FACES / "obama.jpg", start=(130, 95), end=(420, 105), width=(70, 84)),
    Actor(FACES / "biden.jpg", start=(520, 265), end=(260, 260), width=(76, 70)),
)
METADATA = {"title": "Secret musical groep 7", "comment": "Secret recorded by juf Anne",
            "creation_time": "2021-06-01T10:00:00Z", "location": "+52.3702+004.8952/"}


def make_clip(path: Path) -> bytes:
    """The two-person clip with sound and revealing metadata; returns the file's bytes."""
    compose_clip(path, ACTORS, WIDTH, HEIGHT, FPS, SECONDS, audio=True, metadata=METADATA)
    return path.read_bytes()


def portrait_encoding(name: str) -> np.ndarray:
    settings = EngineSettings()
    prepared = prepare_image(Image.open(FACES / name), settings.max_side)
    encodings = encode_faces(prepared, detect_faces(prepared, settings), settings)
    assert len(encodings) == 1
    return np.asarray(encodings[0])


def frame_distances(path: Path, reference: np.ndarray) -> list[float]:
    """Per frame of the file: the smallest distance of any face found to ``reference`` (inf: none)."""
    settings = EngineSettings()
    best = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            prepared = prepare_image(frame.to_image(), settings.max_side)
            faces = detect_faces(prepared, settings)
            encodings = encode_faces(prepared, faces, settings) if faces else []
            best.append(min((float(np.linalg.norm(np.asarray(e) - reference)) for e in encodings),
                            default=float("inf")))
    return best


def streams_and_metadata(path: Path) -> tuple[list[str], dict[str, str]]:
    """The stream kinds of the file and every metadata entry of the container and its streams."""
    with av.open(str(path)) as container:
        kinds = [s.type for s in container.streams]
        meta = dict(container.metadata)
        for stream in container.streams:
            meta.update({f"{stream.type}:{k}": v for k, v in stream.metadata.items()})
    return kinds, meta


def leaked_metadata(meta: dict[str, str]) -> list[str]:
    """Entries that carry anything of the source's metadata."""
    secrets = [v for v in METADATA.values()] + ["Secret", "SecretCam", "2021"]
    return [f"{k}={v}" for k, v in meta.items() if any(s in str(v) for s in secrets)]
