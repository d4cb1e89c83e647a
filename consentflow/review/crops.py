"""Face crops for the review grid: derived from the original, cached in storage.

A group photo's original is decoded once for all its faces, not once per
crop request. The copies live under ``disp/<sha[:2]>/<sha>_crop_...`` next to
the reviewer's display copy, so whatever removes a photo's derived copies
finds them by the original's hash (``derived_prefix``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PIL import Image

from consentflow.models import Face, Photo
from consentflow.photos.imaging import encode_clean_jpeg, load_upright
from consentflow.photos.storage import Storage

CROP_SIDE = 160


def derived_prefix(photo: Photo) -> str:
    """Storage keys of the reviewer's copies of this photo start with this."""
    return f"disp/{photo.sha256[:2]}/{photo.sha256}_"


def crop_key(photo: Photo, face: Face) -> str:
    # Derived from the original's hash and the box: a new box is a new crop.
    return (f"{derived_prefix(photo)}crop_{face.left}_{face.top}_{face.right}_{face.bottom}_"
            f"{CROP_SIDE}.jpg")


def face_crop(storage: Storage, photo: Photo, face: Face, siblings: Iterable[Face]) -> bytes:
    """The face with a third of its size as margin, at most CROP_SIDE pixels; cached.

    On a miss, every other uncached face of the photo is cropped from the
    same decode (``siblings``), so the grid's next requests are cache hits.
    """
    if photo.storage_key is None:
        raise FileNotFoundError("the original is no longer stored")
    key = crop_key(photo, face)
    if not storage.exists(key):
        upright = load_upright(storage.read(photo.storage_key))
        storage.put_at(key, _crop_jpeg(upright, face))
        for other in siblings:
            other_key = crop_key(photo, other)
            if not storage.exists(other_key):
                storage.put_at(other_key, _crop_jpeg(upright, other))
    return storage.read(key)


def _crop_jpeg(upright: Image.Image, face: Face) -> bytes:
    w, h = face.right - face.left, face.bottom - face.top
    box = (max(0, face.left - w // 3), max(0, face.top - h // 3),
           min(upright.width, face.right + w // 3), min(upright.height, face.bottom + h // 3))
    part = upright.crop(box)
    part.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.LANCZOS)
    return encode_clean_jpeg(part, quality=85)
