"""Upload validation on real hostile files (tests/data/bad, see README there)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from consentflow.photos.imaging import ImageRejected, Limits, make_thumbnail, validate_image

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


@pytest.mark.parametrize(("name", "code"), [
    ("truncated.jpg", "truncated"),
    ("bomb.png", "too_many_pixels"),
    ("renamed_html.jpg", "not_an_image"),
    ("polyglot_html.jpg", "polyglot"),
    ("polyglot_zip.jpg", "polyglot"),
    ("png_trailing.png", "polyglot"),
    ("empty.jpg", "empty"),
])
def test_hostile_files_are_rejected_with_their_reason(name: str, code: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        validate_image((BAD / name).read_bytes())
    assert caught.value.code == code
    assert caught.value.message


def test_truncated_images_are_never_loaded_partially() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_bomb_is_refused_by_the_configured_pixel_limit_even_below_pillows() -> None:
    data = (FACES / "obama.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        pixels = im.size[0] * im.size[1]
    with pytest.raises(ImageRejected) as caught:
        validate_image(data, Limits(max_pixels=pixels - 1))
    assert caught.value.code == "too_many_pixels"
    assert validate_image(data, Limits(max_pixels=pixels)).width > 0


def test_byte_limit() -> None:
    data = (FACES / "obama.jpg").read_bytes()
    with pytest.raises(ImageRejected) as caught:
        validate_image(data, Limits(max_bytes=len(data) - 1))
    assert caught.value.code == "too_large"


def test_formats_outside_the_allowlist_are_refused() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buf, format="GIF")
    with pytest.raises(ImageRejected) as caught:
        validate_image(buf.getvalue())
    assert caught.value.code in ("not_an_image", "format_not_allowed")


def test_good_jpeg_reports_format_size_and_sha256() -> None:
    data = (FACES / "obama.jpg").read_bytes()
    info = validate_image(data)
    with Image.open(io.BytesIO(data)) as im:
        assert (info.width, info.height) == im.size
    assert info.format == "JPEG" and info.media_type == "image/jpeg"
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.byte_size == len(data)


def test_exif_orientation_swaps_the_reported_size() -> None:
    data = (BAD / "exif_rotated.jpg").read_bytes()
    info = validate_image(data)
    with Image.open(io.BytesIO(data)) as im:
        stored_w, stored_h = im.size
    assert info.orientation == 6
    assert (info.width, info.height) == (stored_h, stored_w)
    # The thumbnail is upright: same aspect as the validated size.
    with Image.open(io.BytesIO(make_thumbnail(data, 200))) as thumb:
        assert (thumb.width > thumb.height) == (info.width > info.height)


def test_cmyk_and_heic_are_accepted() -> None:
    assert validate_image((BAD / "cmyk.jpg").read_bytes()).format == "JPEG"
    heic = validate_image((BAD / "portrait.heic").read_bytes())
    assert heic.format == "HEIF" and heic.media_type == "image/heif"


def test_thumbnail_carries_no_metadata() -> None:
    thumb = make_thumbnail((BAD / "exif_rotated.jpg").read_bytes(), 120)
    with Image.open(io.BytesIO(thumb)) as im:
        assert max(im.size) <= 120
        assert not im.getexif()
        assert "exif" not in im.info


def test_camera_metadata_with_xmp_is_not_mistaken_for_a_polyglot() -> None:
    """Lightroom and phone exports carry XMP (XML) and comments; they are ordinary photos."""
    xmp = (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<dc:creator><rdf:Seq><rdf:li>J. Fotograaf</rdf:li></rdf:Seq></dc:creator>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
    )
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buf, "JPEG", xmp=xmp, comment=b"Sportdag <2026>")
    data = buf.getvalue()
    assert b"x:xmpmeta" in data
    info = validate_image(data, Limits())
    assert info.width == 64 and info.height == 48


def test_phone_jpeg_with_an_mpf_segment_is_a_jpeg() -> None:
    """iPhone/Samsung JPEGs carry an MPF second image; Pillow names them MPO. They are photos."""
    with Image.open(FACES / "obama.jpg") as face:
        first = face.convert("RGB")
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[first.resize((64, 48))])
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as probe:
        assert probe.format == "MPO"  # what a phone upload looks like to Pillow
    info = validate_image(data, Limits())
    assert (info.format, info.media_type) == ("JPEG", "image/jpeg")
    assert (info.width, info.height) == first.size
    with Image.open(io.BytesIO(make_thumbnail(data, max_side=100))) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 100
