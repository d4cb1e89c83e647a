"""Upload validation against the probe's files: every bad file is its own clear rejection.

Real images only (tests/data/faces, tests/data/bad); the fuzz test mutates
real small JPEG/PNG/WebP/HEIC bytes and asserts the validator only ever
accepts or rejects.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from consentflow.photos.imaging import ImageRejected, Limits, ValidatedImage, validate_image

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


def _face(side: int = 240) -> Image.Image:
    image = Image.open(FACES / "obama.jpg").convert("RGB")
    image.thumbnail((side, side))
    return image


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _rejected(data: bytes, limits: Limits = Limits()) -> str:
    with pytest.raises(ImageRejected) as caught:
        validate_image(data, limits)
    assert caught.value.message
    return caught.value.code


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<p>hello</p>")
    return out.getvalue()


# --- 1. one bad value must not become an exception -----------------------------------


def test_text_in_the_exif_orientation_is_read_as_upright_not_an_error() -> None:
    info = validate_image((BAD / "exif_text_orientation.jpg").read_bytes())
    assert info.orientation == 1
    with Image.open(BAD / "exif_text_orientation.jpg") as im:
        assert (info.width, info.height) == im.size


# --- 2. extreme dimensions are refused from the header --------------------------------


def test_a_one_pixel_wide_strip_is_refused_from_its_header_without_decoding() -> None:
    data = (BAD / "strip_1x79m.png").read_bytes()
    started = time.perf_counter()
    assert _rejected(data) == "bad_dimensions"
    # Decoding it took 16 s; reading a header takes milliseconds (generous for a busy machine).
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(("size", "limits", "code"), [
    ((1200, 100), Limits(), "bad_dimensions"),            # 12:1 > 10:1
    ((100, 1200), Limits(), "bad_dimensions"),
    ((1000, 100), Limits(), None),                        # exactly 10:1 is a panorama
    ((400, 300), Limits(max_side=399), "bad_dimensions"),
    ((400, 300), Limits(max_side=400), None),
    ((400, 300), Limits(max_aspect=1.3), "bad_dimensions"),
    ((400, 300), Limits(max_pixels=400 * 300 - 1), "too_many_pixels"),
])
def test_side_aspect_and_pixel_limits(size: tuple[int, int], limits: Limits,
                                      code: str | None) -> None:
    data = _encode(_face().resize(size), "PNG")
    if code is None:
        assert validate_image(data, limits).width == size[0]
    else:
        assert _rejected(data, limits) == code


def test_the_default_limits_fit_school_photos_and_jpeg() -> None:
    limits = Limits()
    # Every camera sensor and phone panorama fits; JPEG cannot hold more than 65,500 px a side.
    assert 12_000 <= limits.max_side < 65_500
    assert limits.max_aspect == 10


# --- 3. polyglots: the whole file is checked ----------------------------------------


@pytest.mark.parametrize("name", ["polyglot_zip_plus1.jpg", "polyglot_zip_junk.jpg",
                                  "comment_script.jpg", "polyglot_html.jpg", "polyglot_zip.jpg",
                                  "png_trailing.png"])
def test_probe_polyglots_are_refused(name: str) -> None:
    assert _rejected((BAD / name).read_bytes()) == "polyglot"


def test_the_script_comment_sits_where_a_head_and_tail_check_cannot_see_it() -> None:
    data = (BAD / "comment_script.jpg").read_bytes()
    at = data.find(b"<script>")
    assert 64 * 1024 < at < len(data) - 64 * 1024


def _png_with_chunk(kind: bytes, payload: bytes) -> bytes:
    import zlib
    data = _encode(_face(120), "PNG")
    chunk = struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload))
    return data[:33] + chunk + data[33:]  # after the signature and IHDR


def _in_scan_data(payload: bytes) -> bytes:
    """A JPEG with ``payload`` inside its compressed pixels: still decodes (to noise)."""
    data = _encode(_face(), "JPEG")
    middle = (data.find(b"\xff\xda") + len(data)) // 2
    return data[:middle] + payload + data[middle:]


def test_a_script_inside_the_compressed_pixels_is_found() -> None:
    data = _in_scan_data(b"<script>alert(1)</script>")
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # a decoder accepts it: only a search of the whole file finds it
    assert _rejected(data) == "polyglot"


@pytest.mark.parametrize("make", [
    pytest.param(lambda: _encode(_face(), "JPEG", comment=b"<svg onload=alert(1)>"),
                 id="jpeg-comment-svg"),
    pytest.param(lambda: _png_with_chunk(b"tEXt", b"Comment\x00<svg/onload=alert(1)>"),
                 id="png-text-svg"),
    pytest.param(lambda: _png_with_chunk(b"tEXt", b"Comment\x00<html><script>x</script>"),
                 id="png-text-script"),
    pytest.param(lambda: _png_with_chunk(b"zzZz", _zip()), id="png-chunk-zip"),
    pytest.param(lambda: _encode(_face(), "JPEG", comment=b"%PDF-1.7 1 0 obj"), id="jpeg-pdf"),
    pytest.param(lambda: _encode(_face(), "JPEG", comment=b"<?php system($_GET[1]); ?>"),
                 id="jpeg-php"),
    pytest.param(lambda: _encode(_face(), "JPEG") + b"\x00" * 200, id="jpeg-200-bytes-after"),
    pytest.param(lambda: _encode(_face(), "WEBP") + b"<html><script>x</script></html>" * 20,
                 id="webp-trailing"),
    pytest.param(lambda: _encode(_face(), "WEBP") + _zip(), id="webp-zip"),
    pytest.param(lambda: (BAD / "portrait.heic").read_bytes() + _zip(), id="heic-zip"),
    pytest.param(lambda: (BAD / "portrait.heic").read_bytes() + b"\x01" * 500,
                 id="heic-trailing"),
])
def test_signatures_anywhere_and_trailing_data_are_refused(make) -> None:
    assert _rejected(make()) == "polyglot"


@pytest.mark.parametrize("make", [
    pytest.param(lambda: (FACES / "two_people.jpg").read_bytes(), id="jpeg"),
    pytest.param(lambda: (BAD / "exif_rotated.jpg").read_bytes(), id="exif-rotated"),
    pytest.param(lambda: (BAD / "cmyk.jpg").read_bytes(), id="cmyk"),
    pytest.param(lambda: (BAD / "metadata.jpg").read_bytes(), id="metadata"),
    pytest.param(lambda: (BAD / "portrait.heic").read_bytes(), id="heic"),
    pytest.param(lambda: (BAD / "grey16.png").read_bytes(), id="png16"),
    pytest.param(lambda: _encode(_face(), "JPEG", progressive=True), id="progressive"),
    pytest.param(lambda: _encode(_face(), "JPEG") + b"\x00" * 16, id="jpeg-padding"),
    pytest.param(lambda: _encode(_face(), "WEBP"), id="webp"),
    pytest.param(lambda: _encode(_face(), "WEBP", lossless=True), id="webp-lossless"),
    pytest.param(lambda: _encode(_face(), "MPO", save_all=True,
                                 append_images=[_face(120)]), id="mpo-phone"),
])
def test_real_photos_pass_the_whole_file_check(make) -> None:
    assert isinstance(validate_image(make()), ValidatedImage)


# --- fuzzing: accept or reject, never anything else ------------------------------------


def _seeds() -> list[bytes]:
    small = _face(48)
    return [_encode(small, "JPEG", quality=70), _encode(small, "PNG"),
            _encode(small, "WEBP", quality=60), _encode(small.convert("L"), "PNG")]


SEEDS = _seeds()
# EXIF/TIFF field types 1..12 (BYTE, ASCII, SHORT, LONG, RATIONAL, ... DOUBLE) and odd ones.
EXIF_TYPES = list(range(0, 14)) + [0xFFFF]
TAGS = [0x0112, 0x0100, 0x0101, 0x8769, 0x8825, 0xA002, 0x0132, 0x927C, 0x0000, 0xFFFF]


def _exif_block(entries: list[tuple[int, int, int, bytes]], big_endian: bool) -> bytes:
    end = ">" if big_endian else "<"
    body = struct.pack(end + "H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack(end + "HHI", tag, kind, count) + value[:4].ljust(4, b"\x00")
    return (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(end + "I", 8) + body + \
        struct.pack(end + "I", 0)


exif_entries = st.lists(st.tuples(st.sampled_from(TAGS), st.sampled_from(EXIF_TYPES),
                                  st.integers(0, 2**32 - 1), st.binary(max_size=4)),
                        min_size=1, max_size=6)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    if draw(st.booleans()):
        # EXIF of every type in the container's own place (APP1, eXIf, EXIF chunk).
        raw = _exif_block(draw(exif_entries), draw(st.booleans()))
        with Image.open(io.BytesIO(bytes(data))) as im:
            im.load()
            data = bytearray(_encode(im, str(im.format), exif=b"Exif\x00\x00" + raw))
    for position in draw(st.lists(st.integers(0, len(data) - 1), max_size=8)):
        data[position] ^= 1 << draw(st.integers(0, 7))
    cut = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        data = data[:cut]
    return bytes(data)


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzzed_files_are_only_ever_accepted_or_rejected(data: bytes) -> None:
    try:
        result = validate_image(data, Limits(max_bytes=1024 * 1024))
    except ImageRejected as err:
        assert err.code and err.message
    else:
        assert result.width > 0 and result.height > 0 and 1 <= result.orientation <= 8


# --- motion photos: a phone's declared video after the JPEG is part of the photo -----

MOTION_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
              b'1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:GCamera="http://ns.google.com/'
              b'photos/1.0/camera/" GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1"/>'
              b'</rdf:RDF></x:xmpmeta>')


def _mp4() -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_image(_face(64).resize((64, 64)).rotate(index * 10))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def test_a_declared_motion_photo_is_accepted_as_the_photo_it_is() -> None:
    photo = _encode(_face(), "JPEG", xmp=MOTION_XMP) + _mp4()
    assert isinstance(validate_image(photo), ValidatedImage)


def test_an_undeclared_video_or_a_declared_one_followed_by_more_is_refused() -> None:
    assert _rejected(_encode(_face(), "JPEG") + _mp4()) == "polyglot"
    assert _rejected(_encode(_face(), "JPEG", xmp=MOTION_XMP) + _mp4() + _zip()) == "polyglot"
    assert _rejected(_encode(_face(), "JPEG", xmp=MOTION_XMP) + _zip()) == "polyglot"
