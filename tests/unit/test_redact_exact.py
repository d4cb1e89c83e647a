"""The redaction geometry and pixels, pinned on synthetic images (milliseconds, no detection).

test_redact.py proves on real photos that a blurred face is gone for the
face engine and that no metadata survives; here each rule of
consentflow.publish.redact gets exact expected values, so that breaking one
of them fails a test.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from consentflow.photos.boxes import Box
from consentflow.publish.redact import (
    JPEG_QUALITY,
    REDACTIONS,
    SOLID_FILL,
    PlannedFace,
    encode_jpeg,
    face_share,
    head_region,
    plan_redaction,
    redact,
    render_derivative,
)


def _noise(width: int = 400, height: int = 300, seed: int = 3) -> Image.Image:
    """High-contrast random pixels: any detail left behind shows."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _pixels(image: Image.Image, box: Box | None = None) -> np.ndarray:
    if box is not None:
        image = image.crop((box.left, box.top, box.right, box.bottom))
    return np.asarray(image, dtype=np.int16)


# --- geometry ---------------------------------------------------------------------


@pytest.mark.parametrize(("box", "redaction", "region"), [
    # 100 x 200 face: 45 % of the width on each side, 70 % of the height above, 40 % below.
    (Box(300, 300, 400, 500), "standard", Box(255, 160, 445, 580)),
    # "wide" and "solid" grow every margin by 1.6.
    (Box(300, 300, 400, 500), "wide", Box(228, 76, 472, 628)),
    (Box(300, 300, 400, 500), "solid", Box(228, 76, 472, 628)),
    # Clipped at the image's edges.
    (Box(10, 20, 110, 220), "standard", Box(0, 0, 155, 300)),
    (Box(900, 700, 1000, 800), "standard", Box(855, 630, 1000, 800)),
    # Fractions: the left and top edges round down, the right and bottom ones up.
    (Box(10, 10, 13, 17), "standard", Box(8, 5, 15, 20)),
    (Box(10, 10, 13, 17), "wide", Box(7, 2, 16, 22)),
])
def test_the_head_region_is_the_face_box_with_its_margins(box: Box, redaction: str, region: Box) -> None:
    assert head_region(box, 1000, 800, redaction) == region  # type: ignore[arg-type]


def test_the_standard_region_is_the_default() -> None:
    box = Box(300, 300, 400, 500)
    assert head_region(box, 1000, 800) == head_region(box, 1000, 800, "standard")
    assert REDACTIONS == ("standard", "wide", "solid")


def test_areas_and_shares() -> None:
    assert Box(0, 0, 10, 20).area == 200
    assert Box(10, 0, 0, 20).area == 0 and Box(0, 20, 10, 0).area == 0
    assert face_share(Box(0, 0, 10, 10), 100, 50) == 0.02
    assert face_share(Box(0, 0, 10, 10), 0, 50) == 0.0
    assert Box(0, 0, 10, 10).iou(Box(5, 0, 15, 10)) == pytest.approx(1 / 3)


# --- the plan -----------------------------------------------------------------------


def test_the_plan_blurs_every_face_not_shown_with_its_redaction_and_blocks_above_the_share() -> None:
    shown = PlannedFace(Box(0, 0, 50, 50), "show", "solid")
    unknown = PlannedFace(Box(100, 0, 130, 30), "blur_unknown")
    refused = PlannedFace(Box(200, 0, 240, 40), "blur_no_consent", "wide")
    plan = plan_redaction([shown, unknown, refused], 400, 100, block_face_share=0.04)
    assert plan.blur == (unknown.box, refused.box)
    assert plan.redactions == ("standard", "wide")
    assert plan.how() == {unknown.box: "standard", refused.box: "wide"}
    assert plan.largest_blur_share == 1600 / 40000
    # Exactly at the share: still published (blurred); above it: blocked.
    assert plan.blocked is False
    assert plan_redaction([refused], 400, 100, block_face_share=0.0399).blocked is True


def test_a_plan_without_blurred_faces_blocks_nothing() -> None:
    plan = plan_redaction([PlannedFace(Box(0, 0, 400, 100), "show")], 400, 100, block_face_share=0.0)
    assert (plan.blur, plan.blocked, plan.largest_blur_share, plan.redactions) == ((), False, 0.0, ())


# --- pixels -------------------------------------------------------------------------


def test_redaction_changes_exactly_the_head_region_and_leaves_no_detail() -> None:
    original = _noise()
    before = _pixels(original).copy()
    box = Box(150, 120, 200, 180)
    region = head_region(box, original.width, original.height)

    redacted = redact(original, [box])

    assert np.array_equal(_pixels(original), before)  # the original is untouched
    assert redacted.mode == "RGB" and redacted.size == original.size
    after = _pixels(redacted)
    inside = np.zeros(before.shape[:2], dtype=bool)
    inside[region.top:region.bottom, region.left:region.right] = True
    assert np.array_equal(after[~inside], before[~inside])
    changed = np.any(after != before, axis=2)
    assert changed[inside].mean() > 0.95
    # Random pixels differ by ~85 from their neighbours; the blurred region by almost nothing.
    patch = _pixels(redacted, region)
    assert np.abs(np.diff(patch, axis=1)).mean() < 3 and np.abs(np.diff(patch, axis=0)).mean() < 3
    assert np.abs(np.diff(_pixels(original, region), axis=1)).mean() > 60


def test_solid_fills_the_wide_region_with_one_colour_and_wide_blurs_it() -> None:
    original = _noise()
    box = Box(150, 120, 200, 180)
    wide = head_region(box, original.width, original.height, "wide")
    standard = head_region(box, original.width, original.height)

    solid = redact(original, [box], {box: "solid"})
    assert (_pixels(solid, wide) == np.array(SOLID_FILL)).all()
    ring = _pixels(redact(original, [box], {box: "wide"}), wide)
    # The wide region is blurred to its corners, where the standard one does not reach.
    assert wide.left < standard.left and wide.top < standard.top
    assert np.abs(np.diff(ring, axis=1)).mean() < 3
    assert np.array_equal(_pixels(redact(original, [box], {})), _pixels(redact(original, [box])))


def test_a_box_outside_the_image_changes_nothing_and_any_mode_comes_out_rgb() -> None:
    grey = _noise().convert("L")
    out = redact(grey, [Box(500, 10, 520, 30)])
    assert out.mode == "RGB"
    assert np.array_equal(_pixels(out), _pixels(grey.convert("RGB")))


def test_a_tiny_region_is_reduced_and_blurred_without_error() -> None:
    original = _noise(40, 40)
    out = redact(original, [Box(20, 20, 22, 22)])
    region = head_region(Box(20, 20, 22, 22), 40, 40)
    assert not np.array_equal(_pixels(out, region), _pixels(original, region))


# --- the published file -------------------------------------------------------------


def test_the_derivative_is_a_clean_jpeg_of_the_redacted_pixels() -> None:
    original = _noise()
    box = Box(150, 120, 200, 180)
    source = io.BytesIO()
    original.save(source, "PNG")

    from_bytes = render_derivative(source.getvalue(), [box])
    from_image = render_derivative(original, [box])

    assert from_bytes.data == from_image.data
    assert from_bytes.sha256 == hashlib.sha256(from_bytes.data).hexdigest()
    assert (from_bytes.width, from_bytes.height) == original.size
    assert np.array_equal(_pixels(from_bytes.image), _pixels(redact(original, [box])))
    with Image.open(io.BytesIO(from_bytes.data)) as published:
        assert published.format == "JPEG" and published.mode == "RGB"
        assert not published.info.get("exif") and not published.info.get("icc_profile")
        assert not published.getexif()


def test_jpeg_quality_is_the_configured_one() -> None:
    image = _noise()
    assert encode_jpeg(image) == encode_jpeg(image, JPEG_QUALITY)
    assert len(encode_jpeg(image, 50)) < len(encode_jpeg(image))


def test_only_the_cell_averages_of_the_head_region_survive() -> None:
    """Shuffle the pixels inside each of the region's 4 x 4 cells: the redaction is the same.

    The box gives a 42 x 56 region, reduced to 3 x 4 cells of 14 x 14 px; a
    redaction that kept anything finer than a cell would tell the two apart.
    """
    original = _noise()
    box = Box(100, 100, 122, 126)
    region = head_region(box, original.width, original.height)
    assert (region.right - region.left, region.bottom - region.top) == (42, 56)
    shuffled = np.asarray(original).copy()
    rng = np.random.default_rng(11)
    for top in range(region.top, region.bottom, 14):
        for left in range(region.left, region.right, 14):
            cell = shuffled[top:top + 14, left:left + 14].reshape(-1, 3)
            shuffled[top:top + 14, left:left + 14] = rng.permutation(cell).reshape(14, 14, 3)
    assert not np.array_equal(shuffled, np.asarray(original))

    # Equal up to Pillow's fixed-point rounding (1 level of 255).
    difference = _pixels(redact(Image.fromarray(shuffled), [box]), region) - _pixels(
        redact(original, [box]), region)
    assert np.abs(difference).max() <= 1


def test_the_region_keeps_its_own_colour_not_the_rest_of_the_photo() -> None:
    pixels = np.full((300, 400, 3), 20, dtype=np.uint8)
    pixels[:, 200:] = 230  # a bright right half; the face is in it
    box = Box(280, 120, 320, 170)
    region = head_region(box, 400, 300)
    assert region.left >= 200
    assert _pixels(redact(Image.fromarray(pixels), [box]), region).mean() > 220


@pytest.mark.parametrize(("size", "box"), [((1, 40), Box(0, 10, 1, 20)), ((40, 1), Box(10, 0, 20, 1))])
def test_a_region_one_pixel_thin_is_still_redacted(size: tuple[int, int], box: Box) -> None:
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[::2] = 255  # alternate rows (or the one row's pixels) light and dark
    pixels[:, ::2] = 255 - pixels[:, ::2]
    original = Image.fromarray(pixels)
    region = head_region(box, *size)
    assert min(region.right - region.left, region.bottom - region.top) == 1
    assert not np.array_equal(_pixels(redact(original, [box]), region), _pixels(original, region))


def test_any_image_mode_is_encoded_as_rgb_jpeg() -> None:
    grey = _noise().convert("L")
    with Image.open(io.BytesIO(encode_jpeg(grey))) as decoded:
        assert decoded.mode == "RGB" and decoded.size == grey.size
