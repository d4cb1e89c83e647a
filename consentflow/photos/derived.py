"""Images derived from an original for the pages: thumbnails, review copies, face crops.

Every served image is rebuilt from pixels (no EXIF, XMP, ICC profile or
comment survives: see ``imaging.encode_clean_jpeg``) and fits the whole
image (nothing is cropped away). The 480-px thumbnail and the 1,600-px
review copy are cached in storage under keys derived from the original's
sha256; retention and erasure delete them with ``delete_derived`` so no copy
outlives the original or a person's erasure. The review grid's face crops
(``consentflow.review.crops``) are cached under ``disp/<sha[:2]>/<sha>_``;
``delete_derived`` removes that prefix too.

Rows from before the size limits may describe images no page can render
(1 x 79,000,000 px): they get ``ImageUnavailable``, never a server error.
"""

from __future__ import annotations

from collections.abc import Iterable

from consentflow.errors import InvalidState
from consentflow.models import Photo
from consentflow.photos.imaging import (
    ImageRejected,
    Limits,
    check_dimensions,
    encode_clean_jpeg,
    is_video_type,
    load_upright,
)
from consentflow.photos.storage import Storage

THUMB_SIDE = 480
DISPLAY_SIDE = 1600
SIDES = (THUMB_SIDE, DISPLAY_SIDE)
# v2: copies rebuilt from pixels. Earlier copies (thumb/..., disp/...) could
# carry the original's comment; they are never read, only deleted.
_PREFIX = "derived/v2"
_LEGACY = {THUMB_SIDE: "thumb", DISPLAY_SIDE: "disp"}


class ImageUnavailable(InvalidState):
    """This photo cannot be shown (a video, no original any more, or an impossible size)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def derived_key(sha256: str, side: int) -> str:
    return f"{_PREFIX}/{sha256[:2]}/{sha256}_{side}.jpg"


def _keys(sha256: str) -> list[str]:
    keys = [derived_key(sha256, side) for side in SIDES]
    keys += [f"{prefix}/{sha256[:2]}/{sha256}_{side}.jpg" for side, prefix in _LEGACY.items()]
    return keys


def _prefixes(sha256: str) -> list[str]:
    # Face crops (review grid) and the legacy display copy share this prefix.
    return [f"disp/{sha256[:2]}/{sha256}_"]


def check_renderable(photo: Photo, limits: Limits = Limits()) -> None:
    """Refuse, with a clear reason, a photo no page can decode or encode safely."""
    if photo.storage_key is None or is_video_type(photo.media_type):
        raise ImageUnavailable("This photo has no image to show.")
    try:
        check_dimensions(photo.width, photo.height, limits)
    except ImageRejected as err:
        raise ImageUnavailable("This photo is too large to show; upload a smaller version.",
                               too_large=True) from err


def derived_image(storage: Storage, photo: Photo, side: int, limits: Limits = Limits()) -> bytes:
    """The photo fitted into ``side`` x ``side`` px as a clean JPEG; cached per original."""
    if side not in SIDES:
        raise ValueError(f"no derived size {side}")
    check_renderable(photo, limits)
    key = derived_key(photo.sha256, side)
    if storage.exists(key):
        return storage.read(key)
    assert photo.storage_key is not None  # checked by check_renderable
    image = load_upright(storage.read(photo.storage_key), side)
    data = encode_clean_jpeg(image, quality=82 if side == THUMB_SIDE else 85)
    storage.put_at(key, data)
    return data


def derived_copies(storage: Storage, sha256s: Iterable[str]) -> int:
    """How many cached copies of these originals exist (what ``delete_derived`` would delete)."""
    # Counts the fixed keys; crops under a prefix are counted when deleted.
    return sum(storage.exists(key) for sha256 in set(sha256s) for key in _keys(sha256))


def delete_derived(storage: Storage, sha256s: Iterable[str]) -> int:
    """Delete every cached copy of these originals; returns how many files existed."""
    deleted = 0
    for sha256 in set(sha256s):
        for key in _keys(sha256):
            if storage.exists(key):
                storage.delete(key)
                deleted += 1
        deleted += sum(storage.delete_prefix(prefix) for prefix in _prefixes(sha256))
    return deleted
