"""Decode-validate uploads and make thumbnails. Pure Pillow: no Flask, no database.

An upload is trusted only after Pillow, restricted to an allowlist of
formats, has fully decoded it within byte and pixel limits. Its name and
declared content type are ignored.

Polyglots (an image that is also HTML, script, SVG, PHP, PDF or a ZIP
archive) are REJECTED, not re-encoded: we keep the original byte-exact (it
is the evidence of what the maker delivered), so it must not carry a second
meaning. The whole file is walked (``consentflow.photos.containers``): data
after the image's end marker and signatures anywhere are refused. Defence in
depth: originals are never served inline from a static URL; downloads go
through a role-checked view as an attachment with the validated content type
and ``nosniff``; every served image is rebuilt from pixels.

Any failure while checking a file (a decoder exception, a tag of the wrong
type) is that file's rejection, never an error of the request.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from typing import IO, BinaryIO, ClassVar

import numpy as np
import pillow_heif
from PIL import Image, ImageDraw, ImageFile, UnidentifiedImageError

from consentflow.photos.containers import (
    EDGE_HEAD,
    EDGE_TAIL,
    ContainerProblem,
    check_single_image,
    check_video_edges,
)

pillow_heif.register_heif_opener()

# Never accept a half image: a truncated file must fail, not decode grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ALLOWED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
}
# Phones write JPEGs with an MPF segment (a second, depth or preview image);
# Pillow calls those "MPO". The first image is an ordinary JPEG.
CANONICAL_FORMATS = {"MPO": "JPEG"}
DEFAULT_MAX_BYTES = 60 * 1024 * 1024
DEFAULT_MAX_PIXELS = 80_000_000
DEFAULT_MAX_VIDEO_BYTES = 500 * 1024 * 1024
# Sides and shape, decided from the header before anything is decoded. 16,000 px
# holds every camera sensor (the largest, 102 MP medium format, is 11,648 px
# wide) and a phone panorama, and stays far below JPEG's 65,500 px limit (the
# publication format); 10:1 still allows a panorama but not a strip of pixels
# built to exhaust memory (1 x 79,000,000 px took 16 s and 1.2 GB to check).
DEFAULT_MAX_SIDE = 16_000
DEFAULT_MAX_ASPECT = 10.0

MESSAGES: dict[str, str] = {
    "empty": "The file is empty.",
    "too_large": "The file is larger than the upload limit.",
    "not_an_image": "The file is not a supported image (JPEG, PNG, WebP, HEIC/HEIF) or video "
                    "(MP4, MOV, WebM, MKV, AVI).",
    "format_not_allowed": "This image format is not accepted (use JPEG, PNG, WebP or HEIC/HEIF).",
    "too_many_pixels": "The image has too many pixels (possible decompression bomb).",
    "bad_dimensions": "The image is too wide or too tall, or too long and narrow, for a photo.",
    "truncated": "The image is truncated or damaged and cannot be decoded completely.",
    "polyglot": "The file contains data other than the image (e.g. HTML or an archive) and is refused.",
    "corrupt": "The image cannot be decoded.",
}


class CodedRejection(Exception):
    """A refused file: ``code`` keys the subclass's ``MESSAGES`` (English; the UI translates).

    ``detail`` is for logs only, never shown to a user.
    """

    MESSAGES: ClassVar[dict[str, str]] = {}

    def __init__(self, code: str, detail: str = "") -> None:
        message = self.MESSAGES.get(code, code)
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


class ImageRejected(CodedRejection):
    """An upload that is not an acceptable image."""

    MESSAGES = MESSAGES


@dataclass(frozen=True)
class ValidatedImage:
    """What we know about an upload once it decoded cleanly.

    ``width``/``height`` are after EXIF orientation (the coordinates face
    boxes use); ``orientation`` is the EXIF tag (1 = none).
    """

    format: str
    media_type: str
    width: int
    height: int
    sha256: str
    byte_size: int
    orientation: int


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_video_bytes: int = DEFAULT_MAX_VIDEO_BYTES
    max_side: int = DEFAULT_MAX_SIDE
    max_aspect: float = DEFAULT_MAX_ASPECT


def check_dimensions(width: int, height: int, limits: Limits = Limits()) -> None:
    """Refuse sizes no school photo has; cheap, from the header (or a stored row)."""
    if width <= 0 or height <= 0 or width * height > limits.max_pixels:
        raise ImageRejected("too_many_pixels", f"{width}x{height}")
    if max(width, height) > limits.max_side or \
            max(width, height) > limits.max_aspect * min(width, height):
        raise ImageRejected("bad_dimensions", f"{width}x{height}")


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation 1-8; anything else (text, a list, out of range) counts as 1."""
    value = image.getexif().get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def validate_image(data: bytes, limits: Limits = Limits()) -> ValidatedImage:
    """Decode the whole image with the allowlist and limits, or raise ``ImageRejected``.

    Whatever goes wrong inside (a decoder error, a malformed tag) is this
    file's rejection: the caller never sees another exception.
    """
    try:
        return _validate_image(data, limits)
    except ImageRejected:
        raise
    except Exception as err:  # noqa: BLE001 - deny by default, one file at a time
        raise ImageRejected("corrupt", f"{type(err).__name__}: {err}") from err


def _validate_image(data: bytes, limits: Limits) -> ValidatedImage:
    if not data:
        raise ImageRejected("empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: make it fatal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        except UnidentifiedImageError as err:
            raise ImageRejected("not_an_image", str(err)) from err
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ImageRejected("too_many_pixels", str(err)) from err
        with image:
            fmt = str(image.format or "")
            fmt = CANONICAL_FORMATS.get(fmt, fmt)
            if fmt not in ALLOWED_FORMATS:
                raise ImageRejected("format_not_allowed", fmt)
            width, height = image.size
            # Checked before decoding: a bomb or a strip is refused without allocating it.
            check_dimensions(width, height, limits)
            try:
                image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise ImageRejected("too_many_pixels", str(err)) from err
            except OSError as err:
                code = "truncated" if "truncated" in str(err).lower() else "corrupt"
                raise ImageRejected(code, str(err)) from err
            orientation = exif_orientation(image)
    try:
        check_single_image(data, fmt)
    except ContainerProblem as err:
        raise ImageRejected(err.code, str(err)) from err
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ValidatedImage(
        format=fmt,
        media_type=ALLOWED_FORMATS[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        byte_size=len(data),
        orientation=orientation,
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: convert("L") would clip at 255, keep the top byte.
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        grey = (values >> 8).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if values.size and float(values.max()) <= 1.0 else 255.0
        grey = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}


def load_upright(data: bytes, max_side: int | None = None) -> Image.Image:
    """Decode an original, turn it upright by its EXIF orientation, as 8-bit RGB.

    With ``max_side`` the whole image is fitted into ``max_side`` x
    ``max_side`` (never cropped); a JPEG is then decoded reduced in the DCT
    domain (a 12-MP photo several times faster).
    """
    with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
        if max_side is not None and CANONICAL_FORMATS.get(str(image.format),
                                                          image.format) == "JPEG":
            image.draft("RGB", (max_side * 2, max_side * 2))
        image.load()
        orientation = exif_orientation(image)
        rgb = to_rgb(image)
        if rgb is image:
            rgb = image.copy()
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    if max_side is not None:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def encode_clean_jpeg(image: Image.Image, quality: int = 85) -> bytes:
    """A JPEG of the pixels only: the image is rebuilt, so no EXIF, XMP, ICC or comment rides along."""
    clean = Image.frombytes("RGB", image.size, to_rgb(image).tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def make_thumbnail(data: bytes, max_side: int = 480, quality: int = 82) -> bytes:
    """A small JPEG of the upright image, fitted whole into ``max_side``, with no metadata."""
    return encode_clean_jpeg(load_upright(data, max_side), quality)


# --- video: container check at upload; decoding is the worker's (consentflow/video) ---
#
# No video decoder runs here: a video is recognised by its container's
# structure, not decoded, and is never processed automatically (faces in a
# video are neither detected nor blurred). It is stored as evidence and a
# person reviews it by hand. The structure checks exist so that a renamed
# HTML page or archive is refused like any other non-media file.


# ISO base media major brands of video files (MP4, MOV, M4V, 3GP). Image
# brands of the same container (HEIC "heic"/"mif1", AVIF "avif") are absent:
# those files go through the image decoder.
_MP4_BRANDS: dict[bytes, str] = {
    **{b: "video/mp4" for b in (b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6",
                                b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"mmp4",
                                b"MSNV", b"XAVC", b"f4v ", b"M4V ", b"M4VH", b"M4VP")},
    b"qt  ": "video/quicktime",
    **{b: "video/3gpp" for b in (b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"3ge6", b"3gs7")},
}
_BOX_TYPE = re.compile(rb"^[A-Za-z0-9 _\-\xa9]{4}$")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPES = {b"webm": "video/webm", b"matroska": "video/x-matroska"}
_MKV_SEGMENT = b"\x18\x53\x80\x67"

MESSAGES.update({
    "video_too_large": "The video is larger than the video upload limit.",
    "video_damaged": "The video file is damaged or not a complete MP4/MOV, WebM/MKV or AVI file.",
})


@dataclass(frozen=True)
class ValidatedVideo:
    """A video whose container structure checked out; it is not decoded (no pixels known)."""

    format: str
    media_type: str
    sha256: str
    byte_size: int


def video_container(head: bytes) -> str | None:
    """The container a file's first bytes announce (MP4, MKV, AVI), or None; cheap, for routing."""
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "MP4"
    if head.startswith(_EBML_MAGIC):
        return "MKV"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    return None


def _read_at(handle: BinaryIO, pos: int, length: int) -> bytes:
    handle.seek(pos)
    return handle.read(length)


def read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, read in 1 MB blocks.

    One ``read(limit)`` would reserve the whole limit in memory however small
    the file (60 MB for a portrait, 500 MB for a video).
    """
    chunks: list[bytes] = []
    wanted = limit
    while wanted > 0:
        block = stream.read(min(wanted, 1 << 20))
        if not block:
            break
        chunks.append(block)
        wanted -= len(block)
    return b"".join(chunks)


# A fragmented 10-minute recording in 0.1-s fragments has ~12,000 top-level boxes;
# a file of millions of empty boxes is built to keep the upload request busy.
_MP4_MAX_BOXES = 100_000


def _mp4_media_type(handle: BinaryIO, size: int) -> str:
    """Walk the top-level boxes: they must tile the file exactly and include a movie box.

    Only each box's header is read (the file is sought past its body), so a
    large video is walked without being held in memory.
    """
    pos = 0
    kinds: list[bytes] = []
    while pos < size:
        if len(kinds) >= _MP4_MAX_BOXES:
            raise ImageRejected("video_damaged", "too many top-level boxes")
        header_bytes = _read_at(handle, pos, 16)
        if len(header_bytes) < 8:
            raise ImageRejected("video_damaged", "truncated box header")
        box_size = int.from_bytes(header_bytes[0:4], "big")
        kind = header_bytes[4:8]
        header = 8
        if box_size == 1:  # 64-bit size follows
            if len(header_bytes) < 16:
                raise ImageRejected("video_damaged", "truncated large box header")
            box_size, header = int.from_bytes(header_bytes[8:16], "big"), 16
        elif box_size == 0:  # the last box runs to the end of the file
            box_size = size - pos
        if not _BOX_TYPE.match(kind) or box_size < header or pos + box_size > size:
            raise ImageRejected("video_damaged", f"bad box at offset {pos}")
        kinds.append(kind)
        pos += box_size
    brand = _read_at(handle, 8, 4)
    if not kinds or kinds[0] != b"ftyp" or b"moov" not in kinds and b"moof" not in kinds:
        raise ImageRejected("video_damaged", "no movie box")
    return _MP4_BRANDS[brand]


def _vint(data: bytes, pos: int) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length); the marker bit is removed."""
    if pos >= len(data) or data[pos] == 0:
        raise ImageRejected("video_damaged", "bad EBML number")
    length = 9 - data[pos].bit_length()
    if pos + length > len(data):
        raise ImageRejected("video_damaged", "truncated EBML number")
    value = data[pos] & (0xFF >> length)
    for byte in data[pos + 1:pos + length]:
        value = (value << 8) | byte
    return value, length


def _mkv_media_type(data: bytes) -> str:
    """The EBML header must name a WebM or Matroska document and be followed by a segment."""
    size, n = _vint(data, 4)
    start, end = 4 + n, 4 + n + size
    if size > 4096 or end > len(data):
        raise ImageRejected("video_damaged", "bad EBML header")
    doctype, pos = None, start
    while pos < end:
        id_len = 9 - data[pos].bit_length() if data[pos] else 9
        if id_len > 4:
            raise ImageRejected("video_damaged", "bad EBML element id")
        element = data[pos:pos + id_len]
        length, n = _vint(data, pos + id_len)
        value_at = pos + id_len + n
        if value_at + length > end:
            raise ImageRejected("video_damaged", "EBML element overruns the header")
        if element == b"\x42\x82":
            doctype = data[value_at:value_at + length].rstrip(b"\x00")
        pos = value_at + length
    if doctype not in _EBML_DOCTYPES or data[end:end + 4] != _MKV_SEGMENT:
        raise ImageRejected("video_damaged", "not a WebM/Matroska document")
    return _EBML_DOCTYPES[doctype]


def _avi_media_type(head: bytes, size: int) -> str:
    riff_size = int.from_bytes(head[4:8], "little")
    if 8 + riff_size > size or riff_size < 12 or head[12:16] != b"LIST":
        raise ImageRejected("video_damaged", "bad RIFF/AVI structure")
    return "video/x-msvideo"


# The EBML header of a WebM/MKV is at most 4 KB (checked) plus its id and size.
_VIDEO_HEAD = max(EDGE_HEAD, 4096 + 64)


def validate_video(source: bytes | BinaryIO, limits: Limits = Limits()) -> ValidatedVideo:
    """Check a video's container structure and byte limit, or raise ``ImageRejected``.

    ``source`` is the file's bytes or a seekable file (an upload spooled to
    disk): only headers and the first and last 64 KB are read, and the hash
    is taken block by block, so a video of hundreds of MB is never held in
    memory whole. A file is left at its start.
    """
    handle: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        raise ImageRejected("empty")
    head = _read_at(handle, 0, _VIDEO_HEAD)
    container = video_container(head[:16])
    if container is None:
        raise ImageRejected("not_an_image", "no known video container")
    if size > limits.max_video_bytes:
        raise ImageRejected("video_too_large", f"{size} bytes")
    if container == "MP4":
        media_type = _mp4_media_type(handle, size)
    elif container == "MKV":
        media_type = _mkv_media_type(head)
    else:
        media_type = _avi_media_type(head, size)
    try:
        check_video_edges(head, _read_at(handle, max(0, size - EDGE_TAIL), EDGE_TAIL))
    except ContainerProblem as err:
        raise ImageRejected(err.code, str(err)) from err
    handle.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    handle.seek(0)
    return ValidatedVideo(format=container, media_type=media_type,
                          sha256=digest.hexdigest(), byte_size=size)


def is_video_type(media_type: str) -> bool:
    return media_type.startswith("video/")


def video_placeholder(side: int = 480) -> bytes:
    """A neutral 16:9 PNG with a play sign: what a video shows where a photo shows a thumbnail."""
    width, height = side, side * 9 // 16
    image = Image.new("RGB", (width, height), (60, 64, 72))
    draw = ImageDraw.Draw(image)
    r = height // 5
    cx, cy = width // 2, height // 2
    draw.polygon([(cx - r * 2 // 3, cy - r), (cx - r * 2 // 3, cy + r), (cx + r, cy)],
                 fill=(235, 235, 235))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
