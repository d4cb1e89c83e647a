"""Redaction: the published derivative of a photo, for one purpose.

Pure Pillow. Every face that may not be shown is made irrecoverable: the
head region (the face box plus a generous margin, since detector boxes run
from forehead to chin and hair, ears and jaw also identify a child) is
reduced to a few pixels and blown up again with a blur, so no detail of
the face survives. The result is rebuilt from raw RGB pixels into a new
image, so no EXIF, GPS, XMP, IPTC, ICC profile, comment, thumbnail or
trailing bytes of the original can be carried into the published file.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageFilter

from consentflow.photos.boxes import Box
from consentflow.photos.decisions import Decision
from consentflow.photos.imaging import load_upright, to_rgb

# How a blurred face is made irrecoverable: the standard head region, a wider
# one (a reviewer's remedy when the check still found a face), or a wider one
# filled with a flat colour.
Redaction = Literal["standard", "wide", "solid"]
REDACTIONS: tuple[Redaction, ...] = ("standard", "wide", "solid")

# Margins around a face box, as a share of its width/height. Generous on
# purpose: over-blurring a bit of background costs nothing.
MARGIN_SIDE = 0.45
MARGIN_TOP = 0.7
MARGIN_BOTTOM = 0.4
# The head region is reduced to at most this many pixels on its longer side:
# 4 pixels carry a skin tone, not an identity.
CELLS = 4
# "wide" and "solid" grow every margin by this factor.
WIDE_FACTOR = 1.6
SOLID_FILL = (128, 128, 128)
JPEG_QUALITY = 88


@dataclass(frozen=True)
class PlannedFace:
    """One face of a photo and what the rules decided for it on one purpose."""

    box: Box
    decision: Decision
    redaction: Redaction = "standard"


@dataclass(frozen=True)
class RedactionPlan:
    """What to blur (and how), and whether the photo must be blocked for the purpose instead."""

    blur: tuple[Box, ...]
    blocked: bool
    largest_blur_share: float
    redactions: tuple[Redaction, ...] = ()

    def how(self) -> dict[Box, Redaction]:
        return dict(zip(self.blur, self.redactions))


def head_region(box: Box, width: int, height: int, redaction: Redaction = "standard") -> Box:
    """The face box grown to cover the whole head (more for "wide"/"solid"), clipped."""
    w = box.right - box.left
    h = box.bottom - box.top
    k = 1.0 if redaction == "standard" else WIDE_FACTOR
    return Box(
        left=max(0, int(box.left - k * MARGIN_SIDE * w)),
        top=max(0, int(box.top - k * MARGIN_TOP * h)),
        right=min(width, int(box.right + k * MARGIN_SIDE * w + 0.999)),
        bottom=min(height, int(box.bottom + k * MARGIN_BOTTOM * h + 0.999)),
    )


def face_share(box: Box, width: int, height: int) -> float:
    """The share of the image a face box covers (0..1)."""
    total = width * height
    return box.area / total if total else 0.0


def plan_redaction(
    faces: Iterable[PlannedFace], width: int, height: int, block_face_share: float
) -> RedactionPlan:
    """Blur every face that is not 'show'; block when a blurred face is the subject.

    Deny by default: any decision other than "show" is blurred.
    """
    hidden = [f for f in faces if f.decision != "show"]
    blur = tuple(f.box for f in hidden)
    largest = max((face_share(b, width, height) for b in blur), default=0.0)
    return RedactionPlan(blur=blur, blocked=largest > block_face_share, largest_blur_share=largest,
                         redactions=tuple(f.redaction for f in hidden))


def _obliterate(image: Image.Image, region: Box, solid: bool = False) -> None:
    width = region.right - region.left
    height = region.bottom - region.top
    if width <= 0 or height <= 0:
        return
    if solid:
        image.paste(SOLID_FILL, (region.left, region.top, region.right, region.bottom))
        return
    crop = image.crop((region.left, region.top, region.right, region.bottom))
    scale = CELLS / max(width, height)
    small = crop.resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX
    )
    # Back to size, then a blur as wide as a cell so the cells leave no edges.
    big = small.resize((width, height), Image.Resampling.BILINEAR)
    big = big.filter(ImageFilter.GaussianBlur(radius=max(2.0, max(width, height) / (2 * CELLS))))
    image.paste(big, (region.left, region.top))


def redact(image: Image.Image, blur: Sequence[Box],
           how: Mapping[Box, Redaction] | None = None) -> Image.Image:
    """A new RGB image with every head region in ``blur`` made irrecoverable.

    ``image`` must be the upright original (see ``imaging.load_upright``); it is not
    modified. ``how`` chooses a stronger redaction per box (default
    "standard"). The result is built from raw pixel bytes, so it carries no
    metadata of any kind.
    """
    work = image.convert("RGB").copy()
    how = how or {}
    for box in blur:
        mode = how.get(box, "standard")
        _obliterate(work, head_region(box, work.width, work.height, mode), solid=mode == "solid")
    return Image.frombytes("RGB", work.size, work.tobytes())


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """Encode as a baseline JPEG with nothing but pixels (no EXIF, ICC or comment)."""
    clean = Image.frombytes("RGB", image.size, image.convert("RGB").tobytes())
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True, exif=b"", icc_profile=None)
    return out.getvalue()


@dataclass(frozen=True)
class Derivative:
    data: bytes
    sha256: str
    width: int
    height: int
    image: Image.Image


def render_derivative(original: bytes | Image.Image, blur: Sequence[Box],
                      how: Mapping[Box, Redaction] | None = None) -> Derivative:
    """Decode, blur, rebuild and encode: the file that may be published.

    ``original`` is the stored file, or an image already made upright by
    ``consentflow.photos.imaging.load_upright`` (the one loader every
    served and published image goes through).
    """
    upright = load_upright(original) if isinstance(original, bytes) else to_rgb(original)
    redacted = redact(upright, blur, how)
    data = encode_jpeg(redacted)
    return Derivative(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=redacted.width,
        height=redacted.height,
        image=redacted,
    )
