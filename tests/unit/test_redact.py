"""Redaction on real photos: blurred faces are gone for our own matcher, and no metadata survives.

Images: tests/data/faces (see SOURCES.md). two_people.jpg shows Obama (left)
and Biden (right); biden.jpg and obama.jpg are their reference portraits.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import MatchThresholds, ReferenceIndex
from consentflow.photos.boxes import Box
from consentflow.publish.redact import PlannedFace, head_region, plan_redaction, redact, render_derivative
from consentflow.publish.verify import PhotoFace, check_derivative

LOOSE_THRESHOLD = MatchThresholds.defaults().loose

pytestmark = [pytest.mark.slow]

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
SETTINGS = EngineSettings()
OBAMA, BIDEN = 1, 2
OBAMA_BOX = Box(230, 21, 390, 231)
BIDEN_BOX = Box(781, 39, 951, 269)
TRAILER = b"SECRET-TRAILING-BYTES-after-EOI"


@pytest.fixture(scope="module")
def references() -> dict[int, np.ndarray]:
    refs = {}
    for person, name in ((OBAMA, "obama.jpg"), (BIDEN, "biden.jpg")):
        prepared = prepare_image(FACES / name, SETTINGS.max_side)
        faces = detect_faces(prepared, SETTINGS)
        assert len(faces) == 1
        refs[person] = encode_faces(prepared, faces, SETTINGS)[0]
    return refs


def _people_found(image: Image.Image, references: dict[int, np.ndarray]) -> set[int]:
    """Who our own engine recognises in ``image`` (distance below the loose threshold)."""
    prepared = prepare_image(image, SETTINGS.max_side)
    faces = detect_faces(prepared, SETTINGS)
    if not faces:
        return set()
    index = ReferenceIndex(references.items())
    found = set()
    for encoding in encode_faces(prepared, faces, SETTINGS):
        best = index.match(encoding, top_k=1)
        if best and best[0].distance < LOOSE_THRESHOLD:
            found.add(best[0].person_id)
    return found


def test_original_shows_both_people(references: dict[int, np.ndarray]) -> None:
    # The control: without redaction the matcher finds both, so the test below can fail.
    assert _people_found(Image.open(FACES / "two_people.jpg"), references) == {OBAMA, BIDEN}


def test_blurred_face_is_not_found_by_our_matcher(references: dict[int, np.ndarray]) -> None:
    original = (FACES / "two_people.jpg").read_bytes()
    derivative = render_derivative(original, [BIDEN_BOX])

    published = Image.open(io.BytesIO(derivative.data))
    assert _people_found(published, references) == {OBAMA}
    # The check publication runs agrees: nothing blurred is recognisable.
    result = check_derivative(published, shown=[PhotoFace(1, OBAMA_BOX, (OBAMA,))],
                              blurred=[PhotoFace(2, BIDEN_BOX, (BIDEN,))],
                              references=[(BIDEN, references[BIDEN])], tolerance=LOOSE_THRESHOLD)
    assert result.ok, result
    assert result.faces_in_derivative >= 1


def test_check_refuses_a_derivative_where_the_face_is_still_there(
    references: dict[int, np.ndarray],
) -> None:
    original = Image.open(FACES / "two_people.jpg")
    # A "redaction" of the wrong place leaves Biden intact: the check must catch it.
    result = check_derivative(original.copy(), shown=[PhotoFace(1, OBAMA_BOX, (OBAMA,))],
                              blurred=[PhotoFace(2, BIDEN_BOX, (BIDEN,))],
                              references=[(BIDEN, references[BIDEN])], tolerance=LOOSE_THRESHOLD)
    assert [(leak.face_id, leak.reason) for leak in result.leaks] == [(2, "on_blurred_region")]


def test_head_region_pixels_carry_no_detail() -> None:
    original = Image.open(FACES / "two_people.jpg").convert("RGB")
    redacted = redact(original, [BIDEN_BOX])
    region = head_region(BIDEN_BOX, *original.size)
    pixels = np.asarray(redacted.crop((region.left, region.top, region.right, region.bottom)),
                        dtype=np.float64)
    before = np.asarray(original.crop((region.left, region.top, region.right, region.bottom)),
                        dtype=np.float64)
    # Neighbouring pixels differ almost nowhere: no edges, no features.
    assert np.abs(np.diff(pixels, axis=1)).mean() < 0.25 * np.abs(np.diff(before, axis=1)).mean()
    assert np.abs(np.diff(pixels, axis=1)).max() < 12
    # The region covers more than the face box (margin for hair, ears, chin).
    assert region.area > 1.8 * BIDEN_BOX.area
    # Outside the region, nothing changed.
    left_part = (0, 0, region.left - 1, original.height)
    assert np.array_equal(np.asarray(redacted.crop(left_part)), np.asarray(original.crop(left_part)))


def test_plan_blurs_everything_not_shown_and_blocks_a_large_blurred_face() -> None:
    faces = [PlannedFace(OBAMA_BOX, "show"), PlannedFace(BIDEN_BOX, "blur_unknown")]
    plan = plan_redaction(faces, 1126, 661, block_face_share=0.12)
    assert plan.blur == (BIDEN_BOX,)
    assert not plan.blocked
    big = PlannedFace(Box(0, 0, 600, 400), "blur_no_consent")
    assert plan_redaction([*faces, big], 1126, 661, block_face_share=0.12).blocked
    # A large face that may be shown never blocks.
    assert not plan_redaction([PlannedFace(Box(0, 0, 600, 400), "show")], 1126, 661, 0.12).blocked


# --- metadata -------------------------------------------------------------------


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _hostile_jpeg() -> bytes:
    """two_people.jpg with EXIF+GPS, XMP, IPTC, an ICC profile, a comment and trailing bytes."""
    image = Image.open(FACES / "two_people.jpg")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 5.0, 0.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 0.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif.tobytes(), icc_profile=icc,
               comment=b"COMMENT-home-address")
    data = out.getvalue()
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>XMP-child-name</x:xmpmeta>")
    iptc = _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10IPTC-child-name")
    data = data[:2] + xmp + iptc + data[2:] + TRAILER
    return data


def _markers_before_scan(data: bytes) -> list[int]:
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
    return markers


def test_hostile_input_really_carries_the_metadata() -> None:
    data = _hostile_jpeg()
    image = Image.open(io.BytesIO(data))
    assert image.getexif().get_ifd(0x8825)
    assert "icc_profile" in image.info and image.info.get("comment")
    markers = _markers_before_scan(data)
    assert 0xE1 in markers and 0xED in markers and 0xFE in markers and 0xE2 in markers
    assert data.endswith(TRAILER)


def test_no_metadata_survives_in_the_derivative() -> None:
    derivative = render_derivative(_hostile_jpeg(), [BIDEN_BOX])
    data = derivative.data
    markers = _markers_before_scan(data)
    # Only the JFIF header (APP0), tables and frame: no APP1 (EXIF/XMP), APP2 (ICC),
    # APP13 (IPTC) or COM.
    assert not {0xE1, 0xE2, 0xED, 0xFE} & set(markers), [hex(m) for m in markers]
    assert all(not (0xE1 <= m <= 0xEF) for m in markers)
    # Nothing after the end-of-image marker.
    assert data.endswith(b"\xff\xd9")
    for secret in (TRAILER, b"SpyCam", b"XMP-child-name", b"IPTC-child-name",
                   b"COMMENT-home-address"):
        assert secret not in data
    published = Image.open(io.BytesIO(data))
    assert 0x8825 not in published.getexif()
    assert not published.getexif()
    assert "icc_profile" not in published.info
    assert "comment" not in published.info and "exif" not in published.info
    assert published.size == (1126, 661)


def test_orientation_is_applied_before_boxes() -> None:
    upright = Image.open(FACES / "two_people.jpg")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=95, exif=exif)
    derivative = render_derivative(out.getvalue(), [BIDEN_BOX])
    assert (derivative.width, derivative.height) == upright.size
    region = head_region(BIDEN_BOX, *upright.size)
    pixels = np.asarray(derivative.image.crop((region.left, region.top, region.right, region.bottom)),
                        dtype=np.float64)
    assert np.abs(np.diff(pixels, axis=1)).max() < 12


def test_a_16_bit_greyscale_original_is_published_with_its_tones_not_white() -> None:
    grey16 = (Path(__file__).resolve().parents[1] / "data" / "bad" / "grey16.png").read_bytes()
    with Image.open(io.BytesIO(grey16)) as source:
        expected = float((np.asarray(source, dtype=np.int64) >> 8).mean())
    derivative = render_derivative(grey16, [])
    published = np.asarray(Image.open(io.BytesIO(derivative.data)).convert("L"), dtype=np.float64)
    assert abs(float(published.mean()) - expected) < 8
