"""Small, unique event photos with one real face each: fast to process, never duplicates.

The face is a real portrait (tests/data/faces), scaled small on a seeded
background, so detection and the publication check do real work in a
fraction of a second; every photo differs (seeded colours, position, size).
"""

from __future__ import annotations

import io
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
PORTRAITS = ("obama.jpg", "biden.jpg", "obama2.jpg")


@lru_cache(maxsize=None)
def _portrait(name: str) -> Image.Image:
    with Image.open(FACES / name) as image:
        return image.convert("RGB")


def event_photo(index: int, *, width: int = 480, height: int = 360) -> bytes:
    """Photo number ``index``: deterministic, unique, one face of 25-35 % of the height."""
    rng = random.Random(index)
    canvas = Image.new("RGB", (width, height), tuple(rng.randrange(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 90)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    portrait = _portrait(PORTRAITS[index % len(PORTRAITS)])
    side = int(height * rng.uniform(0.45, 0.6))
    face = portrait.resize((side * portrait.width // portrait.height, side))
    canvas.paste(face, (rng.randrange(0, width - face.width), rng.randrange(0, height - side)))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=85)
    return out.getvalue()
