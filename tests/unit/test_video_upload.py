"""Video containers are recognised by their structure, never by their name (SPEC §4.1).

The files are built here byte by byte: a minimal but well-formed MP4/MOV
(ftyp + moov + mdat boxes), WebM/MKV (EBML header + segment) and AVI (RIFF).
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from consentflow.photos.imaging import (
    ImageRejected,
    Limits,
    validate_image,
    validate_video,
    video_container,
    video_placeholder,
)


def box(kind: bytes, body: bytes) -> bytes:
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def mp4(brand: bytes = b"isom", payload: bytes = b"\x00\x11\x22\x33" * 64) -> bytes:
    ftyp = box(b"ftyp", brand + (512).to_bytes(4, "big") + b"isomiso2avc1mp41")
    moov = box(b"moov", box(b"mvhd", bytes(100)))
    return ftyp + moov + box(b"mdat", payload)


def ebml(doctype: bytes = b"webm") -> bytes:
    children = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    header = b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(children)]) + children
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x15\x49\xa9\x66" + bytes(40)
    return header + segment


def avi() -> bytes:
    body = b"AVI " + b"LIST" + (4 + 56).to_bytes(4, "little") + b"hdrl" + bytes(56)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


@pytest.mark.parametrize(("data", "media_type"), [
    (mp4(), "video/mp4"),
    (mp4(b"qt  "), "video/quicktime"),
    (mp4(b"3gp5"), "video/3gpp"),
    (ebml(b"webm"), "video/webm"),
    (ebml(b"matroska"), "video/x-matroska"),
    (avi(), "video/x-msvideo"),
], ids=["mp4", "mov", "3gp", "webm", "mkv", "avi"])
def test_video_containers_are_accepted_with_their_media_type(data: bytes, media_type: str) -> None:
    info = validate_video(data)
    assert info.media_type == media_type
    assert info.sha256 == hashlib.sha256(data).hexdigest() and info.byte_size == len(data)


def test_a_renamed_html_page_is_not_a_video_or_an_image() -> None:
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    assert video_container(html[:16]) is None
    with pytest.raises(ImageRejected) as caught:
        validate_image(html)
    assert caught.value.code == "not_an_image"
    with pytest.raises(ImageRejected):
        validate_video(html)


@pytest.mark.parametrize("data", [
    mp4()[:-10],                                     # last box runs past the end
    box(b"ftyp", b"isom" + bytes(4)) + b"<html>",    # no movie box, junk after ftyp
    box(b"ftyp", b"isom" + bytes(4)) + box(b"mdat", bytes(32)),  # no movie box at all
    ebml(b"html"),                                   # unknown EBML document type
    ebml()[:ebml().index(b"\x18\x53\x80\x67")],      # no segment after the header
    b"RIFF" + (999_999).to_bytes(4, "little") + b"AVI LIST",  # RIFF size beyond the file
    mp4() + box(b"free", b"") * 120_000,             # a walk made long on purpose
], ids=["mp4-truncated", "mp4-junk", "mp4-no-moov", "ebml-doctype", "ebml-no-segment", "avi-size",
        "mp4-box-flood"])
def test_damaged_or_fake_containers_are_refused(data: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        validate_video(data)
    assert caught.value.code == "video_damaged"


def test_markup_hidden_in_a_video_is_refused_like_in_an_image() -> None:
    data = mp4(payload=b"<script>alert(1)</script>" + bytes(64))
    with pytest.raises(ImageRejected) as caught:
        validate_video(data)
    assert caught.value.code == "polyglot"


def test_heif_and_avif_brands_stay_images() -> None:
    for brand in (b"heic", b"mif1", b"avif"):
        assert video_container(box(b"ftyp", brand + bytes(4))[:16]) is None


def test_the_video_byte_limit_is_its_own() -> None:
    data = mp4()
    with pytest.raises(ImageRejected) as caught:
        validate_video(data, Limits(max_video_bytes=len(data) - 1))
    assert caught.value.code == "video_too_large"
    # The image limit does not apply to videos (and vice versa).
    assert validate_video(data, Limits(max_bytes=10, max_video_bytes=len(data))).byte_size == len(data)


def test_the_placeholder_is_a_plain_image() -> None:
    with Image.open(io.BytesIO(video_placeholder(480))) as image:
        assert image.format == "PNG" and image.size == (480, 270)
